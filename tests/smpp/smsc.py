#!/usr/bin/env python3
"""A small SMPP 3.4 SMSC simulator for tests (asyncio, no dependency).

It accepts binds (any credentials, or answers --bind-status), answers
submit_sm with message ids "<name>-<n>", answers enquire_link and unbind,
and can send deliver_sm: a delivery receipt for every submit_sm that asked
for one (--receipts; on another bind of the same system_id with
--receipts-elsewhere), or a mobile-originated message on command.

Control lines on stdin:
  deliver <text>   send a deliver_sm with <text> to every bound receiver
  die              close every connection and the listener, exit 0
  stats            print the counters as one JSON line (PDUs by kind, the
                   system_ids bound, bytes_in / bytes_out of every PDU)
It also dies by itself after --die-after submits (0 = never).

The first stdout line is {"listening": PORT}; on exit a summary JSON line
{"name":..., "binds":..., "submits":..., ...} is printed.
"""

import argparse
import asyncio
import json
import ssl
import struct
import sys
import threading

GENERIC_NACK = 0x80000000
BIND_RECEIVER, BIND_TRANSMITTER, BIND_TRANSCEIVER = 0x01, 0x02, 0x09
SUBMIT_SM, DELIVER_SM, UNBIND, ENQUIRE_LINK = 0x04, 0x05, 0x06, 0x15
DATA_SM, QUERY_SM, CANCEL_SM, REPLACE_SM, SUBMIT_MULTI = 0x103, 0x03, 0x08, 0x07, 0x21
RESP = 0x80000000
ESME_RINVCMDID = 0x03
RECEIPTED_MESSAGE_ID = 0x001E


def pdu(cmd, status, seq, body=b""):
    return struct.pack(">IIII", 16 + len(body), cmd, status, seq) + body


def cstr(body, at):
    end = body.index(b"\0", at)
    return body[at:end], end + 1


class Smsc:
    def __init__(self, args):
        self.args = args
        self.name = args.name
        self.sessions = set()
        self.stats = {"name": self.name, "connections": 0, "binds": 0, "submits": 0,
                      "deliver_sent": 0, "deliver_resp": 0, "enquire_links": 0,
                      "unbinds": 0, "unknown": 0, "bind_systems": [],
                      "bytes_in": 0, "bytes_out": 0}
        self.next_id = 0
        self.seq = 0x10000
        self.server = None
        self.done = asyncio.Event()

    def next_seq(self):
        self.seq += 1
        return self.seq

    async def handle(self, reader, writer):
        self.stats["connections"] += 1
        sess = {"writer": writer, "bound": None}
        self.sessions.add(id(sess))
        self._by_id = getattr(self, "_by_id", {})
        self._by_id[id(sess)] = sess
        try:
            while True:
                head = await reader.readexactly(16)
                length, cmd, status, seq = struct.unpack(">IIII", head)
                body = await reader.readexactly(length - 16) if length > 16 else b""
                self.stats["bytes_in"] += max(length, 16)
                if not await self.on_pdu(sess, cmd, status, seq, body):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.sessions.discard(id(sess))
            self._by_id.pop(id(sess), None)
            writer.close()

    async def on_pdu(self, sess, cmd, status, seq, body):
        w = Counted(sess["writer"], self.stats)
        if cmd in (BIND_RECEIVER, BIND_TRANSMITTER, BIND_TRANSCEIVER):
            system_id, _ = cstr(body, 0)
            self.stats["binds"] += 1
            self.stats["bind_systems"].append(system_id.decode(errors="replace"))
            st = self.args.bind_status
            if st == 0:
                sess["bound"] = cmd
                sess["system_id"] = system_id
            w.write(pdu(cmd | RESP, st, seq, self.name.encode() + b"\0"))
        elif cmd == SUBMIT_SM:
            self.stats["submits"] += 1
            self.next_id += 1
            mid = f"{self.name}-{self.next_id}"
            w.write(pdu(SUBMIT_SM_RESP, 0, seq, mid.encode() + b"\0"))
            if self.args.receipts and registered_delivery(body) & 1:
                to = self.receipt_session(sess)
                Counted(to["writer"], self.stats).write(self.receipt(mid))
                self.stats["deliver_sent"] += 1
                if to is not sess:
                    await to["writer"].drain()
            if self.args.die_after and self.stats["submits"] >= self.args.die_after:
                await w.drain()
                await self.die()
                return False
        elif cmd in (DATA_SM, QUERY_SM, CANCEL_SM, REPLACE_SM, SUBMIT_MULTI):
            w.write(pdu(cmd | RESP, 0, seq, b"\0" if cmd in (DATA_SM, SUBMIT_MULTI) else b""))
        elif cmd == ENQUIRE_LINK:
            self.stats["enquire_links"] += 1
            w.write(pdu(ENQUIRE_LINK | RESP, 0, seq))
        elif cmd == UNBIND:
            self.stats["unbinds"] += 1
            w.write(pdu(UNBIND | RESP, 0, seq))
            await w.drain()
            return False
        elif cmd == DELIVER_SM | RESP:
            self.stats["deliver_resp"] += 1
        elif cmd & RESP:
            pass
        else:
            self.stats["unknown"] += 1
            w.write(pdu(GENERIC_NACK, ESME_RINVCMDID, seq))
        await w.drain()
        return True

    def receipt_session(self, sess):
        """Where the receipt of a submit on `sess` goes: `sess` itself, or
        with --receipts-elsewhere, as a real SMSC may, the next other
        receiver bind of the same system_id (round robin), if there is one."""
        if not self.args.receipts_elsewhere:
            return sess
        same = [s for s in getattr(self, "_by_id", {}).values()
                if s is not sess and s.get("system_id") == sess.get("system_id")
                and s["bound"] in (BIND_RECEIVER, BIND_TRANSCEIVER)]
        if not same:
            return sess
        self.rr = getattr(self, "rr", 0) + 1
        return same[self.rr % len(same)]

    def receipt(self, mid):
        text = f"id:{mid} sub:001 dlvrd:001 submit date:2601010000 done date:2601010000 stat:DELIVRD err:000 text:"
        return self.deliver(text.encode(), 0x04, mid)

    def deliver(self, text, esm_class=0, mid=None):
        body = b"\0" + b"\x01\x012000\0" + b"\x01\x011000\0"
        body += bytes([esm_class, 0, 0]) + b"\0\0" + bytes([0, 0, 0, 0, len(text)]) + text
        if mid is not None:
            v = mid.encode() + b"\0"
            body += struct.pack(">HH", RECEIPTED_MESSAGE_ID, len(v)) + v
        return pdu(DELIVER_SM, 0, self.next_seq(), body)

    async def deliver_all(self, text):
        for sess in list(getattr(self, "_by_id", {}).values()):
            if sess["bound"] in (BIND_RECEIVER, BIND_TRANSCEIVER):
                Counted(sess["writer"], self.stats).write(self.deliver(text.encode()))
                self.stats["deliver_sent"] += 1
                await sess["writer"].drain()

    async def die(self):
        if self.server is not None:
            self.server.close()
        for sess in list(getattr(self, "_by_id", {}).values()):
            sess["writer"].close()
        self.done.set()

    async def control(self):
        """Stdin commands, read by a daemon thread (never blocks exit)."""
        loop = asyncio.get_running_loop()
        lines = asyncio.Queue()

        def reader():
            for line in sys.stdin:
                loop.call_soon_threadsafe(lines.put_nowait, line)

        threading.Thread(target=reader, daemon=True).start()
        while not self.done.is_set():
            line = await lines.get()
            cmd, _, rest = line.strip().partition(" ")
            if cmd == "die":
                await self.die()
            elif cmd == "deliver":
                await self.deliver_all(rest)
            elif cmd == "stats":
                print(json.dumps(self.stats), flush=True)


SUBMIT_SM_RESP = SUBMIT_SM | RESP


class Counted:
    """A stream writer that adds what it writes to stats["bytes_out"]."""

    def __init__(self, writer, stats):
        self.writer, self.stats = writer, stats

    def write(self, data):
        self.stats["bytes_out"] += len(data)
        self.writer.write(data)

    async def drain(self):
        await self.writer.drain()


def registered_delivery(body):
    """registered_delivery of a submit_sm body (0 if it does not parse)."""
    try:
        _, at = cstr(body, 0)          # service_type
        _, at = cstr(body, at + 2)     # source
        _, at = cstr(body, at + 2)     # destination
        at += 3                        # esm_class, protocol_id, priority
        _, at = cstr(body, at)         # schedule_delivery_time
        _, at = cstr(body, at)         # validity_period
        return body[at]
    except (ValueError, IndexError):
        return 0


async def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--name", default="SMSC")
    ap.add_argument("--bind-status", type=lambda s: int(s, 0), default=0)
    ap.add_argument("--receipts", action="store_true", help="send a receipt per submit asking for one")
    ap.add_argument("--receipts-elsewhere", action="store_true",
                    help="send each receipt on another bind of the same system_id, when there is one")
    ap.add_argument("--die-after", type=int, default=0, help="die after this many submits")
    ap.add_argument("--lifetime", type=float, default=300.0, help="exit after this many seconds")
    ap.add_argument("--tls-cert", help="serve TLS with this PEM chain (and --tls-key)")
    ap.add_argument("--tls-key")
    args = ap.parse_args()
    smsc = Smsc(args)
    ctx = None
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
    smsc.server = await asyncio.start_server(smsc.handle, args.host, args.port, ssl=ctx)
    port = smsc.server.sockets[0].getsockname()[1]
    print(json.dumps({"listening": port, "name": args.name}), flush=True)
    asyncio.ensure_future(smsc.control())
    try:
        await asyncio.wait_for(smsc.done.wait(), args.lifetime)
    except asyncio.TimeoutError:
        await smsc.die()
    print(json.dumps(smsc.stats), flush=True)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
