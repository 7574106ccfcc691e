#!/usr/bin/env python3
"""An ESME for tests, on the PyPI `smpplib` client (pip install smpplib).

Binds to HOST:PORT (directly to an SMSC or through the balancer) and
prints {"bound": STATUS} at once. With --wait-go it then waits for a line on
stdin. It submits N messages keeping at most --window outstanding (or, with
--steady S, one at a time every --interval ms for S seconds, whatever the
answers), optionally waits for the delivery receipts, listens --listen
seconds for deliver_sm, sends --enquire enquire_links, unbinds, and prints
one JSON object as its last line:

  {"bind": {"command", "status", "sent_seq", "got_seq", "system_id"},
   "submits": [{"t_ms", "sent_seq", "got_seq", "status", "message_id"}, ...],
   "receipts": [{"receipted_message_id", "text", "seq"}, ...],
   "messages": [{"text", "seq"}, ...],            # deliver_sm, not receipts
   "enquire_link": {"sent_seq", "got_seq", "status"}, "enquire_links": [...],
   "unbind": {"status"}, "ok": n, "errors": n}

Exit status 0 when the bind and every submit succeeded (and, with
--receipts, a receipt came for each message id; with --steady, every
submit was answered with its own sequence number, whatever the status);
1 otherwise.
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
    ap.add_argument("--wait-go", action="store_true", help="after the bind, wait for a stdin line")
    ap.add_argument("--steady", type=float, default=0.0,
                    help="submit one at a time for this many seconds instead of -n")
    ap.add_argument("--interval", type=float, default=50.0, help="ms between --steady submits")
    ap.add_argument("--listen", type=float, default=0.0,
                    help="read deliver_sm for this many seconds (ends early at --expect)")
    ap.add_argument("--expect", type=int, default=0, help="deliver_sm to wait for in --listen")
    ap.add_argument("--enquire", type=int, default=1, help="enquire_links to send")
    args = ap.parse_args()
    out = run(args)
    print(json.dumps(out), flush=True)
    sys.exit(0 if good(args, out) else 1)


def good(args, out):
    if out["bind"].get("status") != 0 or "error" in out:
        return False
    if args.steady:
        return all(s["sent_seq"] is not None for s in out["submits"])
    want_receipts = out["ok"] if args.receipts else 0
    want_ok = 0 if args.bind == "receiver" else args.n
    return (out["errors"] == 0 and out["ok"] == want_ok and len(out["receipts"]) >= want_receipts
            and len(out["receipts"]) + len(out["messages"]) >= args.expect)


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
    out = {"bind": {}, "submits": [], "receipts": [], "messages": [], "enquire_links": [],
           "ok": 0, "errors": 0}
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
        finally:
            print(json.dumps({"bound": out["bind"].get("status")}), flush=True)
        if args.wait_go:
            sys.stdin.readline()
        if args.steady:
            submit_steady(c, args, out)
        elif args.bind != "receiver":
            submit_all(c, args, out)
        if args.receipts:
            wait_receipts(c, args, out)
        if args.listen:
            listen(c, args, out)
        for _ in range(args.enquire):
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


def submit(c, args, n):
    return c.send_message(source_addr_ton=1, source_addr_npi=1, source_addr="1000",
                          dest_addr_ton=1, dest_addr_npi=1, destination_addr="2000",
                          short_message=f"message {n}".encode(),
                          registered_delivery=1 if args.receipts else 0)


def submit_resp(p, outstanding, t0):
    seq = int(p.sequence)
    return {"t_ms": round((time.monotonic() - t0) * 1000), "got_seq": seq, "status": int(p.status),
            "message_id": decode(getattr(p, "message_id", None)),
            "sent_seq": seq if seq in outstanding else None}


def submit_steady(c, args, out):
    """One submit at a time, every --interval ms for --steady seconds; the
    answers are recorded whatever their status."""
    t0 = time.monotonic()
    n = 0
    while time.monotonic() - t0 < args.steady:
        due = t0 + n * args.interval / 1000.0
        time.sleep(max(0.0, due - time.monotonic()))
        p = submit(c, args, n)
        outstanding = {int(p.sequence)}
        n += 1
        while True:
            r = c.read_pdu()
            if r.command == "submit_sm_resp":
                entry = submit_resp(r, outstanding, t0)
                out["submits"].append(entry)
                out["ok" if r.status == 0 else "errors"] += 1
                break
            on_other(c, r, out)


def submit_all(c, args, out):
    outstanding = {}
    sent = 0
    t0 = time.monotonic()
    while sent < args.n or outstanding:
        while sent < args.n and len(outstanding) < args.window:
            p = submit(c, args, sent)
            outstanding[int(p.sequence)] = sent
            sent += 1
        p = c.read_pdu()
        if p.command == "submit_sm_resp":
            entry = submit_resp(p, outstanding, t0)
            outstanding.pop(entry["got_seq"], None)
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


def listen(c, args, out):
    """Reads PDUs for --listen seconds, or until --expect deliver_sm came."""
    deadline = time.monotonic() + args.listen
    c._socket.settimeout(0.2)
    while time.monotonic() < deadline:
        if args.expect and len(out["receipts"]) + len(out["messages"]) >= args.expect:
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
        seq, text = int(p.sequence), decode(p.short_message)
        if rid is None and not int(p.esm_class) & 0x04:
            out["messages"].append({"text": text, "seq": seq})
        else:
            out["receipts"].append({"receipted_message_id": decode(rid), "text": text, "seq": seq})
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
            e = {"sent_seq": int(p.sequence), "got_seq": int(r.sequence), "status": int(r.status)}
            out.setdefault("enquire_link", e)
            out["enquire_links"].append(e)
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
