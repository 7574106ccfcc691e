#!/usr/bin/env python3
"""A fast SMPP 3.4 SMSC sink for load runs (stdlib only).

  loadtest/smpp/sink.py --port 26140 [--procs 1] [--lifetime 600]

Accepts any bind (bind_resp OK, system_id "SINK"), answers every submit_sm
at once with submit_sm_resp OK (message id = 8 hex digits), enquire_link,
unbind, deliver_sm_resp to nothing (it sends no deliver_sm), generic_nack
ESME_RINVCMDID for anything else. No receipts, no per-PDU await: each
read is split into PDUs and all their answers leave in one send.

--procs N forks N processes, each with its own SO_REUSEPORT listener on the
port (the kernel spreads the connections). Prints {"listening": PORT} once
every listener is bound; on SIGTERM/SIGINT (or after --lifetime seconds)
prints one JSON line with the counters summed over the processes and exits.
tests/smpp/smsc.py is the functional simulator; this one only counts.
"""

import argparse
import json
import os
import selectors
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pdu as P  # noqa: E402

COUNTERS = ("connections", "binds", "submits", "enquire_links", "unbinds", "other", "bad", "reads")
OUT_HIGH = 4 * 1024 * 1024


class Conn:
    __slots__ = ("sock", "inb", "out", "reading")

    def __init__(self, sock):
        self.sock, self.inb, self.out, self.reading = sock, bytearray(), bytearray(), True


def listener(host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind((host, port))
    s.listen(1024)
    s.setblocking(False)
    return s


def serve(lsock, stop_at, stats):
    sel = selectors.DefaultSelector()
    sel.register(lsock, selectors.EVENT_READ, None)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(1))
    next_id = [0]
    while not stopping and time.monotonic() < stop_at:
        for key, ev in sel.select(0.2):
            if key.data is None:
                accept(lsock, sel, stats)
                continue
            c = key.data
            if ev & selectors.EVENT_READ and not on_readable(c, stats, next_id):
                close(sel, c)
                continue
            if not flush(sel, c):
                close(sel, c)
    for key in list(sel.get_map().values()):
        key.fileobj.close()


def accept(lsock, sel, stats):
    try:
        s, _ = lsock.accept()
    except (BlockingIOError, InterruptedError):
        return
    s.setblocking(False)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    stats["connections"] += 1
    sel.register(s, selectors.EVENT_READ, Conn(s))


def on_readable(c, stats, next_id):
    try:
        data = c.sock.recv(262144)
    except (BlockingIOError, InterruptedError):
        return True
    except OSError:
        return False
    if not data:
        return False
    stats["reads"] += 1
    c.inb += data
    try:
        pdus, used = P.split(c.inb)
    except ValueError:
        stats["bad"] += 1
        return False
    out, buf, pack = c.out, c.inb, P.HEAD.pack
    n = next_id[0]
    for cmd, _status, seq, _a, _b in pdus:
        if cmd == P.SUBMIT_SM:
            n += 1
            out += pack(25, P.SUBMIT_SM_RESP, 0, seq)
            out += b"%08x\0" % (n & 0xFFFFFFFF)
        elif cmd in (P.BIND_TRANSCEIVER, P.BIND_TRANSMITTER, P.BIND_RECEIVER):
            stats["binds"] += 1
            out += P.pdu(cmd | P.RESP, 0, seq, b"SINK\0")
        else:
            key = {P.ENQUIRE_LINK: "enquire_links", P.UNBIND: "unbinds"}.get(cmd, "other")
            stats[key] += 1
            reply = P.answer(cmd, seq)
            if reply is not None:
                out += reply
    stats["submits"] += n - next_id[0]
    next_id[0] = n
    del buf[:used]
    return True


def flush(sel, c):
    """Send what is queued; watch for writability while some is left and
    stop reading while too much is."""
    if c.out:
        try:
            sent = c.sock.send(c.out)
            del c.out[:sent]
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            return False
    want_read = len(c.out) < OUT_HIGH
    ev = (selectors.EVENT_READ if want_read else 0) | (selectors.EVENT_WRITE if c.out else 0)
    sel.modify(c.sock, ev or selectors.EVENT_READ, c)
    return True


def close(sel, c):
    try:
        sel.unregister(c.sock)
    except (KeyError, ValueError):
        pass
    c.sock.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--procs", type=int, default=1)
    ap.add_argument("--lifetime", type=float, default=600.0, help="exit after this many seconds")
    args = ap.parse_args()
    stop_at = time.monotonic() + args.lifetime
    socks = [listener(args.host, args.port) for _ in range(max(1, args.procs))]
    children = []
    for s in socks[1:]:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            stats = dict.fromkeys(COUNTERS, 0)
            serve(s, stop_at, stats)
            os.write(w, json.dumps(stats).encode())
            os._exit(0)
        os.close(w)
        s.close()
        children.append((pid, r))
    print(json.dumps({"listening": args.port, "procs": len(socks)}), flush=True)
    stats = dict.fromkeys(COUNTERS, 0)
    serve(socks[0], stop_at, stats)
    for pid, r in children:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        data = b""
        while True:
            chunk = os.read(r, 65536)
            if not chunk:
                break
            data += chunk
        os.waitpid(pid, 0)
        try:
            for k, v in json.loads(data or b"{}").items():
                stats[k] += v
        except ValueError:
            pass
    print(json.dumps(stats), flush=True)


if __name__ == "__main__":
    main()
