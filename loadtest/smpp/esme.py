#!/usr/bin/env python3
"""SMPP 3.4 ESME load generator (stdlib only).

  loadtest/smpp/esme.py --port 26130 --connections 4 --window 64 --seconds 10 [--procs 1]

Opens --connections TCP connections (spread over --procs forked processes),
binds each as a transceiver, and at a common start time keeps --window
submit_sm outstanding on every connection for --seconds: each
submit_sm_resp is answered by the next submit_sm, sent together with the
others of the same read. Stops sending at the deadline or when
--max-messages (over all connections) have been sent, waits up to --drain
seconds for the outstanding responses (what is still missing then counts
as a timeout), unbinds and prints one JSON object on stdout:

  ok, ok_in_window (status 0 answered before the deadline), rate
  (ok_in_window / measured seconds), statuses (non-zero command_status ->
  count; generic_nack counted there too), timeouts, unknown_seq, sent,
  bind_failed, peer_requests (enquire_link / deliver_sm / unbind the peer
  sent, all answered), latency_us p50/p90/p99/max (submit_sm written ->
  its response read, per read batch; every 16th sequence number), seconds,
  reads / writes (recv / send calls), closed_by_peer (connections the peer
  closed before our unbind), unbind_ok.

Answers every request from the peer (enquire_link_resp, deliver_sm_resp,
unbind_resp, generic_nack). Exit status 0 when every connection bound.
"""

import argparse
import array
import json
import os
import pickle
import selectors
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pdu as P  # noqa: E402


class Conn:
    __slots__ = ("sock", "inb", "out", "outst", "sent", "cap", "seq", "open", "unbound", "unbinding")

    def __init__(self, sock, cap):
        self.sock, self.inb, self.out = sock, bytearray(), bytearray()
        self.outst, self.sent, self.cap, self.seq = {}, 0, cap, 1
        self.open, self.unbound, self.unbinding = True, False, False


def bind(host, port, timeout):
    """A connected, bound transceiver socket, or None."""
    try:
        s = socket.create_connection((host, port), timeout=timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(P.bind_transceiver(1))
        buf = bytearray()
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            pdus, _ = P.split(buf)
            for cmd, status, seq, _a, _b in pdus:
                if cmd == P.BIND_TRANSCEIVER_RESP and seq == 1:
                    if status != 0:
                        s.close()
                        return None
                    s.setblocking(False)
                    return s
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        s.close()
    except (OSError, ValueError):
        pass
    return None


class Worker:
    """The connections of one process and their counters."""

    def __init__(self, args, n_conns, cap_per_conn):
        self.args = args
        self.sel = selectors.DefaultSelector()
        self.conns, self.bind_failed = [], 0
        for _ in range(n_conns):
            s = bind(args.host, args.port, args.bind_timeout)
            if s is None:
                self.bind_failed += 1
                continue
            c = Conn(s, cap_per_conn)
            self.conns.append(c)
            self.sel.register(s, selectors.EVENT_READ, c)
        self.body = P.submit_body()
        self.length = 16 + len(self.body)
        self.ok = self.ok_in_window = self.unknown = self.peer_requests = 0
        self.reads = self.writes = 0
        self.statuses = {}
        self.lat = array.array("I")
        self.last_ok = None

    def refill(self, c, now_ns, sending):
        if not sending or not c.open or c.unbound:
            return
        k = min(self.args.window - len(c.outst), c.cap - c.sent)
        if k <= 0:
            return
        pack, body, length, out, outst = P.HEAD.pack, self.body, self.length, c.out, c.outst
        seq = c.seq
        for _ in range(k):
            seq += 1
            out += pack(length, P.SUBMIT_SM, 0, seq)
            out += body
            outst[seq] = now_ns
        c.seq = seq
        c.sent += k

    def on_read(self, c, now_ns, in_window):
        try:
            data = c.sock.recv(262144)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            c.open = False
            return
        self.reads += 1
        buf = c.inb
        buf += data
        n, off, unpack = len(buf), 0, P.HEAD.unpack_from
        outst, lat, statuses = c.outst, self.lat, self.statuses
        ok = 0
        while n - off >= 16:
            length, cmd, status, seq = unpack(buf, off)
            if length < 16 or length > P.MAX_PDU:
                c.open = False
                break
            if n - off < length:
                break
            off += length
            if cmd == P.SUBMIT_SM_RESP or cmd == P.GENERIC_NACK:
                t = outst.pop(seq, None)
                if t is None:
                    self.unknown += 1
                    continue
                if not seq & 15:
                    lat.append((now_ns - t) // 1000)
                if status == 0 and cmd == P.SUBMIT_SM_RESP:
                    ok += 1
                else:
                    statuses[status] = statuses.get(status, 0) + 1
            elif cmd == P.UNBIND_RESP:
                c.unbound = True
            else:
                reply = P.answer(cmd, seq)
                if reply is not None:
                    self.peer_requests += 1
                    c.out += reply
                if cmd == P.UNBIND:
                    c.unbound = True
        del buf[:off]
        self.ok += ok
        if in_window and ok:
            self.ok_in_window += ok
            self.last_ok = now_ns

    def flush(self, c):
        if c.out and c.open:
            try:
                sent = c.sock.send(c.out)
                del c.out[:sent]
                self.writes += 1
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                c.open = False
        ev = selectors.EVENT_READ | (selectors.EVENT_WRITE if c.out else 0)
        if c.open:
            self.sel.modify(c.sock, ev, c)

    def loop(self, until, deadline_ns, sending, done):
        """Serve the connections until monotonic `until` or `done()`."""
        while time.monotonic() < until and not done():
            events = self.sel.select(0.05)
            now_ns = time.monotonic_ns()
            in_window = now_ns <= deadline_ns
            send_now = sending and in_window
            for key, ev in events:
                c = key.data
                if ev & selectors.EVENT_READ:
                    self.on_read(c, now_ns, in_window)
                self.refill(c, now_ns, send_now)
                self.flush(c)
            for c in [c for c in self.conns if not c.open]:
                self.sel.unregister(c.sock)
                c.sock.close()
                self.conns.remove(c)
                self.closed.append(c)
            if sending and not in_window:
                return

    def run(self, start_at, seconds):
        self.closed = []
        while time.monotonic() < start_at:
            time.sleep(min(0.01, max(0.0, start_at - time.monotonic())))
        t0_ns = time.monotonic_ns()
        deadline_ns = t0_ns + int(seconds * 1e9)
        for c in self.conns:
            self.refill(c, t0_ns, True)
            self.flush(c)
        self.loop(start_at + seconds + 1.0, deadline_ns, True, lambda: False)
        all_conns = lambda: self.conns + self.closed  # noqa: E731
        self.loop(time.monotonic() + self.args.drain, deadline_ns, False,
                  lambda: all(not c.outst for c in self.conns))
        timeouts = sum(len(c.outst) for c in all_conns())
        for c in self.conns:
            c.unbinding = True
            c.out += P.pdu(P.UNBIND, 0, c.seq + 1)
            self.flush(c)
        self.loop(time.monotonic() + 1.0, deadline_ns, False,
                  lambda: all(c.unbound for c in self.conns))
        for c in self.conns:
            c.sock.close()
        end_ns = min(deadline_ns, self.last_ok or deadline_ns)
        return {"ok": self.ok, "ok_in_window": self.ok_in_window, "statuses": self.statuses,
                "timeouts": timeouts, "unknown_seq": self.unknown,
                "sent": sum(c.sent for c in all_conns()), "bind_failed": self.bind_failed,
                "closed_by_peer": sum(1 for c in self.closed if not c.unbinding), "peer_requests": self.peer_requests,
                "reads": self.reads, "writes": self.writes,
                "unbind_ok": sum(1 for c in self.conns if c.unbound),
                "t0_ns": t0_ns, "end_ns": end_ns, "lat": self.lat}


def percentiles(vals):
    if not vals:
        return {}
    s = sorted(vals)
    pick = lambda p: s[min(len(s) - 1, int(p / 100.0 * len(s)))]  # noqa: E731
    return {"p50": pick(50), "p90": pick(90), "p99": pick(99), "max": s[-1], "n": len(s)}


def merge(parts, seconds):
    out = {"ok": 0, "ok_in_window": 0, "timeouts": 0, "unknown_seq": 0, "sent": 0,
           "bind_failed": 0, "closed_by_peer": 0, "peer_requests": 0, "reads": 0, "writes": 0, "unbind_ok": 0,
           "statuses": {}}
    lat = array.array("I")
    for p in parts:
        for k in ("ok", "ok_in_window", "timeouts", "unknown_seq", "sent", "bind_failed",
                  "closed_by_peer", "peer_requests", "reads", "writes", "unbind_ok"):
            out[k] += p[k]
        for st, n in p["statuses"].items():
            key = f"0x{st:08X}"
            out["statuses"][key] = out["statuses"].get(key, 0) + n
        lat.extend(p["lat"])
    t0 = min(p["t0_ns"] for p in parts)
    end = max(p["end_ns"] for p in parts)
    span = max(1e-9, (end - t0) / 1e9)
    out["seconds"] = round(span, 3)
    out["rate"] = round(out["ok_in_window"] / span, 1)
    out["latency_us"] = percentiles(lat)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--window", type=int, default=64, help="outstanding submit_sm per connection")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--max-messages", type=int, default=3_000_000, help="cap over all connections")
    ap.add_argument("--procs", type=int, default=1, help="generator processes")
    ap.add_argument("--drain", type=float, default=3.0, help="seconds to wait for late responses")
    ap.add_argument("--bind-timeout", type=float, default=5.0)
    ap.add_argument("--start-delay", type=float, default=1.0,
                    help="seconds from start to the common first submit (binds happen before)")
    ap.add_argument("--start-at", type=float, default=None,
                    help="CLOCK_MONOTONIC seconds of the first submit (a driver sampling CPU "
                         "over the window passes it); default now + --start-delay")
    args = ap.parse_args()
    procs = max(1, min(args.procs, args.connections))
    cap = -(-args.max_messages // args.connections)
    start_at = args.start_at if args.start_at is not None else time.monotonic() + args.start_delay
    shares = [args.connections // procs + (1 if i < args.connections % procs else 0) for i in range(procs)]
    kids = []
    for share in shares[1:]:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            res = Worker(args, share, cap).run(start_at, args.seconds)
            with os.fdopen(w, "wb") as f:
                pickle.dump(res, f)
            os._exit(0)
        os.close(w)
        kids.append((pid, r))
    parts = [Worker(args, shares[0], cap).run(start_at, args.seconds)]
    for pid, r in kids:
        with os.fdopen(r, "rb") as f:
            try:
                parts.append(pickle.load(f))
            except (EOFError, pickle.UnpicklingError):
                pass
        os.waitpid(pid, 0)
    res = merge(parts, args.seconds)
    res.update({"connections": args.connections, "window": args.window, "procs": procs})
    print(json.dumps(res), flush=True)
    return 0 if res["bind_failed"] == 0 and len(parts) == procs else 1


if __name__ == "__main__":
    sys.exit(main())
