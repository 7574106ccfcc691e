#!/usr/bin/env python3
"""An ESME for tests, on the PyPI `smpplib` client (pip install smpplib).

Binds to HOST:PORT (directly to an SMSC or through the balancer), submits N
messages keeping at most --window outstanding, optionally waits for the
delivery receipts, unbinds, and prints one JSON object:

  {"bind": {"command", "status", "sent_seq", "got_seq", "system_id"},
   "submits": [{"sent_seq", "got_seq", "status", "message_id"}, ...],
   "receipts": [{"receipted_message_id", "text"}, ...],
   "enquire_link": {"sent_seq", "got_seq"}, "unbind": {"status"},
   "ok": n, "errors": n}

Exit status 0 when the bind and every submit succeeded (and, with
--receipts, a receipt came for each message id); 1 otherwise.
"""

import argparse
import json
import socket
import ssl
import sys
import time

import smpplib.client
import smpplib.consts
import smpplib.smpp


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--system-id", default="esme")
    ap.add_argument("--password", default="pw")
    ap.add_argument("--bind", choices=["transmitter", "receiver", "transceiver"], default="transceiver")
    ap.add_argument("-n", type=int, default=10, help="messages to submit")
    ap.add_argument("--window", type=int, default=1, help="outstanding submits at most")
    ap.add_argument("--receipts", action="store_true", help="ask for and wait for receipts")
    ap.add_argument("--first-seq", type=int, default=1, help="first sequence number used")
    ap.add_argument("--timeout", type=float, default=5.0)
    ap.add_argument("--tls-ca", help="connect over TLS, trusting this CA (PEM)")
    args = ap.parse_args()
    out = run(args)
    print(json.dumps(out), flush=True)
    want_receipts = out["ok"] if args.receipts else 0
    good = (out["bind"].get("status") == 0 and out["errors"] == 0 and out["ok"] == args.n
            and len(out["receipts"]) >= want_receipts)
    sys.exit(0 if good else 1)


class Seq:
    """smpplib sequence generator starting where the test says."""

    def __init__(self, first):
        self._seq = first - 1

    @property
    def sequence(self):
        return self._seq

    def next_sequence(self):
        self._seq += 1
        return self._seq


def run(args):
    out = {"bind": {}, "submits": [], "receipts": [], "ok": 0, "errors": 0}
    ctx = None
    if args.tls_ca:
        ctx = ssl.create_default_context(cafile=args.tls_ca)
        # smpplib wraps the socket without a server name: the chain is
        # still verified against the CA, the name cannot be.
        ctx.check_hostname = False
    c = smpplib.client.Client(args.host, args.port, timeout=args.timeout,
                              sequence_generator=Seq(args.first_seq), allow_unknown_opt_params=True,
                              ssl_context=ctx)
    c.connect()
    try:
        bind = getattr(c, "bind_" + args.bind)
        sent_seq = c.sequence + 1
        try:
            resp = bind(system_id=args.system_id, password=args.password)
            out["bind"] = {"command": resp.command, "status": int(resp.status), "sent_seq": sent_seq,
                           "got_seq": int(resp.sequence), "system_id": decode(resp.system_id)}
        except smpplib.exceptions.PDUError as e:
            out["bind"] = {"status": int(e.args[1]) if len(e.args) > 1 else -1, "sent_seq": sent_seq}
            out["errors"] += 1
            return out
        if args.bind != "receiver":
            submit_all(c, args, out)
        if args.receipts:
            wait_receipts(c, args, out)
        enquire(c, out)
        try:
            r = c.unbind()
            out["unbind"] = {"status": int(r.status), "command": r.command}
        except (smpplib.exceptions.ConnectionError, smpplib.exceptions.PDUError) as e:
            out["unbind"] = {"error": str(e)}
    except (smpplib.exceptions.ConnectionError, socket.timeout, OSError) as e:
        out["error"] = repr(e)
        out["errors"] += 1
    finally:
        c.disconnect()
    return out


def submit_all(c, args, out):
    outstanding = {}
    sent = 0
    while sent < args.n or outstanding:
        while sent < args.n and len(outstanding) < args.window:
            p = c.send_message(source_addr_ton=1, source_addr_npi=1, source_addr="1000",
                               dest_addr_ton=1, dest_addr_npi=1, destination_addr="2000",
                               short_message=f"message {sent}".encode(),
                               registered_delivery=1 if args.receipts else 0)
            outstanding[int(p.sequence)] = sent
            sent += 1
        p = c.read_pdu()
        if p.command == "submit_sm_resp":
            seq = int(p.sequence)
            entry = {"got_seq": seq, "status": int(p.status),
                     "message_id": decode(getattr(p, "message_id", None))}
            entry["sent_seq"] = seq if seq in outstanding else None
            outstanding.pop(seq, None)
            out["submits"].append(entry)
            out["ok" if p.status == 0 and entry["sent_seq"] is not None else "errors"] += 1
        else:
            on_other(c, p, out)


def wait_receipts(c, args, out):
    wanted = {s["message_id"] for s in out["submits"] if s["status"] == 0}
    if args.bind == "receiver":
        wanted = None  # we submitted nothing: take what comes within the timeout
    deadline = time.monotonic() + args.timeout
    c._socket.settimeout(0.2)
    while time.monotonic() < deadline:
        if wanted is not None and wanted <= {r["receipted_message_id"] for r in out["receipts"]}:
            break
        try:
            p = c.read_pdu()
        except socket.timeout:
            continue
        on_other(c, p, out)
    c._socket.settimeout(args.timeout)


def on_other(c, p, out):
    if p.command == "deliver_sm":
        rid = getattr(p, "receipted_message_id", None)
        out["receipts"].append({"receipted_message_id": decode(rid), "text": decode(p.short_message),
                                "seq": int(p.sequence)})
        r = smpplib.smpp.make_pdu("deliver_sm_resp", client=c)
        r.sequence = p.sequence
        c.send_pdu(r)
    elif p.command == "enquire_link":
        r = smpplib.smpp.make_pdu("enquire_link_resp", client=c)
        r.sequence = p.sequence
        c.send_pdu(r)
    else:
        out.setdefault("other", []).append({"command": p.command, "status": int(p.status),
                                            "seq": int(p.sequence)})
        out["errors"] += 1


def enquire(c, out):
    p = smpplib.smpp.make_pdu("enquire_link", client=c)
    c.send_pdu(p)
    while True:
        r = c.read_pdu()
        if r.command == "enquire_link_resp":
            out["enquire_link"] = {"sent_seq": int(p.sequence), "got_seq": int(r.sequence)}
            return
        on_other(c, r, out)


def decode(v):
    if v is None:
        return None
    if isinstance(v, bytes):
        return v.rstrip(b"\0").decode(errors="replace")
    return str(v)


if __name__ == "__main__":
    main()
