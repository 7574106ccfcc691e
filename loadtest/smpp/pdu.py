"""Raw SMPP 3.4 PDUs for the load tools (sink.py, esme.py): stdlib only.

Only what a load run needs: the 16-byte header, bind_transceiver,
submit_sm with a fixed body, and the responses a peer must send back
(enquire_link_resp, unbind_resp, deliver_sm_resp, generic_nack).
"""

import struct

RESP = 0x80000000
GENERIC_NACK = 0x80000000
BIND_RECEIVER, BIND_TRANSMITTER, BIND_TRANSCEIVER = 0x01, 0x02, 0x09
SUBMIT_SM, DELIVER_SM, UNBIND, ENQUIRE_LINK = 0x04, 0x05, 0x06, 0x15
SUBMIT_SM_RESP = SUBMIT_SM | RESP
BIND_TRANSCEIVER_RESP = BIND_TRANSCEIVER | RESP
UNBIND_RESP = UNBIND | RESP
ESME_RINVCMDID = 0x03
ESME_RTHROTTLED = 0x58

HEAD = struct.Struct(">IIII")
MAX_PDU = 64 * 1024


def pdu(cmd, status, seq, body=b""):
    return HEAD.pack(16 + len(body), cmd, status, seq) + body


def bind_transceiver(seq, system_id=b"load", password=b"pw"):
    body = system_id + b"\0" + password + b"\0" + b"\0" + bytes([0x34, 0, 0]) + b"\0"
    return pdu(BIND_TRANSCEIVER, 0, seq, body)


def submit_body(text=b"load test message 0123456789"):
    """service_type, source 1/1 "1000", destination 1/1 "2000", esm_class,
    protocol_id, priority, schedule, validity, registered_delivery 0,
    replace 0, data_coding 0, sm_default_msg_id 0, sm_length, text."""
    return (b"\0" + b"\x01\x011000\0" + b"\x01\x012000\0" + b"\0\0\0" + b"\0\0"
            + b"\0\0\0\0" + bytes([len(text)]) + text)


def split(buf):
    """Complete PDUs at the front of `buf` as (cmd, status, seq, start, end)
    tuples, and the number of bytes they take. A length below 16 or above
    MAX_PDU raises ValueError (the peer is broken: the caller closes)."""
    out, off, n = [], 0, len(buf)
    unpack = HEAD.unpack_from
    while n - off >= 16:
        length, cmd, status, seq = unpack(buf, off)
        if length < 16 or length > MAX_PDU:
            raise ValueError(f"bad command_length {length}")
        if n - off < length:
            break
        out.append((cmd, status, seq, off, off + length))
        off += length
    return out, off


def answer(cmd, seq):
    """What a peer answers to a request it does not otherwise handle, or
    None for a response."""
    if cmd & RESP:
        return None
    if cmd == ENQUIRE_LINK:
        return pdu(ENQUIRE_LINK | RESP, 0, seq)
    if cmd == UNBIND:
        return pdu(UNBIND_RESP, 0, seq)
    if cmd == DELIVER_SM:
        return pdu(DELIVER_SM | RESP, 0, seq, b"\0")
    return pdu(GENERIC_NACK, ESME_RINVCMDID, seq)
