//! Byte-exact round trips of every SMPP 3.4 PDU, TLVs kept, and malformed
//! bodies rejected with the right error.

use super::*;
use crate::smpp::command::CommandId as C;

/// A whole PDU: header with the right length, then `body`.
fn pdu(id: C, status: u32, seq: u32, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&(16 + body.len() as u32).to_be_bytes());
    v.extend_from_slice(&id.0.to_be_bytes());
    v.extend_from_slice(&status.to_be_bytes());
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(body);
    v
}

/// Decodes, checks the command id, re-encodes and compares the bytes.
fn round_trip(bytes: &[u8]) -> Pdu<'_> {
    let p = Pdu::decode(bytes).unwrap_or_else(|e| panic!("{e:?} for {bytes:02x?}"));
    assert_eq!(p.command_id().0.to_be_bytes(), bytes[4..8]);
    let mut out = vec![0xEE]; // encode appends: the prefix must survive
    p.encode(&mut out);
    assert_eq!(&out[1..], bytes, "{:?}", p.command_id());
    assert_eq!(out[0], 0xEE);
    p
}

const BIND: &[u8] = b"esme1\0secret\0VMA\0\x34\x01\x01^123\0";
const SM: &[u8] = b"CMT\0\x01\x01123\0\x00\x00456\0\x04\x00\x01\0\0\x01\x00\x00\x00\x05hello\
\x00\x1e\x00\x04ab1\0\x14\x01\x00\x02\xff\xee";
const TLV_RECEIPT: &[u8] = b"\x00\x1e\x00\x04ab1\0";

#[test]
fn header_only_pdus() {
    for id in [
        C::GENERIC_NACK,
        C::UNBIND,
        C::UNBIND_RESP,
        C::ENQUIRE_LINK,
        C::ENQUIRE_LINK_RESP,
        C::CANCEL_SM_RESP,
        C::REPLACE_SM_RESP,
    ] {
        let b = pdu(id, 3, 0x7fff_ffff, b"");
        let p = round_trip(&b);
        assert_eq!((p.command_status, p.sequence_number), (3, 0x7fff_ffff));
        let extra = pdu(id, 0, 1, b"x");
        assert_eq!(
            Pdu::decode(&extra),
            Err(DecodeError::TrailingBytes { at: 0 })
        );
    }
}

#[test]
fn binds_and_their_responses() {
    for id in [C::BIND_RECEIVER, C::BIND_TRANSMITTER, C::BIND_TRANSCEIVER] {
        let b = pdu(id, 0, 1, BIND);
        let p = round_trip(&b);
        let (Body::BindReceiver(x) | Body::BindTransmitter(x) | Body::BindTransceiver(x)) = p.body
        else {
            panic!("{p:?}")
        };
        assert_eq!(x.system_id, b"esme1");
        assert_eq!(x.password, b"secret");
        assert_eq!(x.system_type, b"VMA");
        assert_eq!((x.interface_version, x.addr_ton, x.addr_npi), (0x34, 1, 1));
        assert_eq!(x.address_range, b"^123");
        assert!(x.tlvs.is_empty());
    }
    let ok = pdu(
        C::BIND_TRANSCEIVER_RESP,
        0,
        1,
        b"smsc\0\x02\x10\x00\x01\x34",
    );
    let Body::BindTransceiverResp(r) = round_trip(&ok).body else {
        panic!()
    };
    assert_eq!(r.system_id, Some(&b"smsc"[..]));
    assert_eq!(
        r.tlvs.find(tlv::SC_INTERFACE_VERSION).unwrap().value,
        [0x34]
    );
    for id in [C::BIND_RECEIVER_RESP, C::BIND_TRANSMITTER_RESP] {
        let b = pdu(id, 0x0e, 1, b"");
        let (Body::BindReceiverResp(r) | Body::BindTransmitterResp(r)) = round_trip(&b).body else {
            panic!()
        };
        assert_eq!(r.system_id, None);
    }
    let o = pdu(C::OUTBIND, 0, 9, b"smsc\0pw\0");
    assert_eq!(
        round_trip(&o).body,
        Body::Outbind(Outbind {
            system_id: b"smsc",
            password: b"pw"
        })
    );
}

#[test]
fn submit_and_deliver_keep_tlvs_byte_exact() {
    for id in [C::SUBMIT_SM, C::DELIVER_SM] {
        let b = pdu(id, 0, 42, SM);
        let (Body::SubmitSm(s) | Body::DeliverSm(s)) = round_trip(&b).body else {
            panic!()
        };
        assert_eq!(s.service_type, b"CMT");
        assert_eq!(s.source.addr, b"123");
        assert_eq!((s.dest.ton, s.dest.npi, s.dest.addr), (0, 0, &b"456"[..]));
        assert_eq!(s.esm_class, 4);
        assert_eq!(s.priority_flag, 1);
        assert_eq!(s.registered_delivery, 1);
        assert_eq!(s.short_message, b"hello");
        let tags: Vec<u16> = s.tlvs.iter().map(|t| t.tag).collect();
        assert_eq!(tags, [tlv::RECEIPTED_MESSAGE_ID, 0x1401]);
        assert_eq!(s.tlvs.find(0x1401).unwrap().value, [0xff, 0xee]);
    }
}

#[test]
fn message_id_responses() {
    for id in [C::SUBMIT_SM_RESP, C::DELIVER_SM_RESP, C::DATA_SM_RESP] {
        let b = pdu(id, 0, 2, b"msg-17\0");
        let (Body::SubmitSmResp(r) | Body::DeliverSmResp(r) | Body::DataSmResp(r)) =
            round_trip(&b).body
        else {
            panic!()
        };
        assert_eq!(r.message_id, Some(&b"msg-17"[..]));
        let b = pdu(id, 8, 2, b"");
        let (Body::SubmitSmResp(r) | Body::DeliverSmResp(r) | Body::DataSmResp(r)) =
            round_trip(&b).body
        else {
            panic!()
        };
        assert_eq!(r.message_id, None);
    }
    let d = pdu(
        C::DATA_SM_RESP,
        0,
        2,
        &[b"m\0".as_slice(), TLV_RECEIPT].concat(),
    );
    let Body::DataSmResp(r) = round_trip(&d).body else {
        panic!()
    };
    assert_eq!(r.tlvs.as_bytes(), TLV_RECEIPT);
}

#[test]
fn data_sm() {
    let body = [
        b"\0\x01\x01from\0\x02\x02to\0\x00\x01\x08".as_slice(),
        TLV_RECEIPT,
    ]
    .concat();
    let b = pdu(C::DATA_SM, 0, 5, &body);
    let Body::DataSm(d) = round_trip(&b).body else {
        panic!()
    };
    assert_eq!((d.source.addr, d.dest.addr), (&b"from"[..], &b"to"[..]));
    assert_eq!(
        (d.esm_class, d.registered_delivery, d.data_coding),
        (0, 1, 8)
    );
    assert_eq!(d.tlvs.as_bytes(), TLV_RECEIPT);
}

#[test]
fn submit_multi_and_response() {
    let body =
        b"\0\x01\x01src\0\x02\x01\x01\x01111\0\x02list\0\x00\x00\x00\0\0\x00\x00\x00\x00\x02hi\
\x14\x01\x00\x00";
    let b = pdu(C::SUBMIT_MULTI, 0, 6, body);
    let Body::SubmitMulti(m) = round_trip(&b).body else {
        panic!()
    };
    let dests: Vec<_> = m.dests().collect();
    assert_eq!(
        dests,
        [
            DestAddress::Sme(Address {
                ton: 1,
                npi: 1,
                addr: b"111"
            }),
            DestAddress::DistributionList(b"list"),
        ]
    );
    assert_eq!(m.short_message, b"hi");
    assert_eq!(m.tlvs.iter().count(), 1);
    let bad_flag = b"\0\x01\x01src\0\x01\x03";
    assert_eq!(
        Pdu::decode(&pdu(C::SUBMIT_MULTI, 0, 6, bad_flag)),
        Err(DecodeError::BadDestFlag { at: 8 })
    );
    let resp = b"mid\0\x01\x01\x01222\0\x00\x00\x00\x0b";
    let b = pdu(C::SUBMIT_MULTI_RESP, 0, 6, resp);
    let Body::SubmitMultiResp(r) = round_trip(&b).body else {
        panic!()
    };
    assert_eq!(r.message_id, Some(&b"mid"[..]));
    let u: Vec<_> = r.unsuccess().collect();
    assert_eq!(u.len(), 1);
    assert_eq!(
        (u[0].address.addr, u[0].error_status_code),
        (&b"222"[..], 0x0b)
    );
    round_trip(&pdu(C::SUBMIT_MULTI_RESP, 8, 6, b""));
}

#[test]
fn query_cancel_replace_alert() {
    let q = pdu(C::QUERY_SM, 0, 7, b"mid\0\x01\x01src\0");
    let Body::QuerySm(q) = round_trip(&q).body else {
        panic!()
    };
    assert_eq!((q.message_id, q.source.addr), (&b"mid"[..], &b"src"[..]));
    let qr = pdu(C::QUERY_SM_RESP, 0, 7, b"mid\0\0\x02\x00");
    let Body::QuerySmResp(QuerySmResp(Some(r))) = round_trip(&qr).body else {
        panic!()
    };
    assert_eq!(
        (r.message_state, r.error_code, r.final_date),
        (2, 0, &b""[..])
    );
    round_trip(&pdu(C::QUERY_SM_RESP, 0x67, 7, b""));
    let c = pdu(C::CANCEL_SM, 0, 8, b"\0mid\0\x01\x01a\0\x01\x01b\0");
    let Body::CancelSm(c) = round_trip(&c).body else {
        panic!()
    };
    assert_eq!((c.message_id, c.dest.addr), (&b"mid"[..], &b"b"[..]));
    let r = pdu(C::REPLACE_SM, 0, 9, b"mid\0\x01\x01a\0\0\0\x01\x00\x03new");
    let Body::ReplaceSm(r) = round_trip(&r).body else {
        panic!()
    };
    assert_eq!(r.short_message, b"new");
    let a = pdu(
        C::ALERT_NOTIFICATION,
        0,
        10,
        b"\x01\x01ms\0\x01\x01esme\0\x04\x22\x00\x01\x00",
    );
    let Body::AlertNotification(a) = round_trip(&a).body else {
        panic!()
    };
    assert_eq!((a.source.addr, a.esme.addr), (&b"ms"[..], &b"esme"[..]));
    assert_eq!(a.tlvs.find(0x0422).unwrap().value, [0]);
}

#[test]
fn every_command_has_a_round_trip_above() {
    // Guard: the tests above cover each of the 27 ids at least once.
    let covered = [
        C::GENERIC_NACK,
        C::UNBIND,
        C::UNBIND_RESP,
        C::ENQUIRE_LINK,
        C::ENQUIRE_LINK_RESP,
        C::CANCEL_SM_RESP,
        C::REPLACE_SM_RESP,
        C::BIND_RECEIVER,
        C::BIND_TRANSMITTER,
        C::BIND_TRANSCEIVER,
        C::BIND_RECEIVER_RESP,
        C::BIND_TRANSMITTER_RESP,
        C::BIND_TRANSCEIVER_RESP,
        C::OUTBIND,
        C::SUBMIT_SM,
        C::DELIVER_SM,
        C::SUBMIT_SM_RESP,
        C::DELIVER_SM_RESP,
        C::DATA_SM_RESP,
        C::DATA_SM,
        C::SUBMIT_MULTI,
        C::SUBMIT_MULTI_RESP,
        C::QUERY_SM,
        C::QUERY_SM_RESP,
        C::CANCEL_SM,
        C::REPLACE_SM,
        C::ALERT_NOTIFICATION,
    ];
    let mut all = C::ALL.to_vec();
    all.sort();
    let mut c = covered.to_vec();
    c.sort();
    assert_eq!(all, c);
}

#[test]
fn malformed_pdus_are_errors_not_panics() {
    assert_eq!(Pdu::decode(&[0; 15]), Err(DecodeError::NoHeader));
    let mut b = pdu(C::ENQUIRE_LINK, 0, 1, b"");
    b[3] = 17;
    assert_eq!(
        Pdu::decode(&b),
        Err(DecodeError::LengthMismatch {
            command_length: 17,
            actual: 16
        })
    );
    assert_eq!(
        Pdu::decode(&pdu(C(0x99), 0, 1, b"")),
        Err(DecodeError::UnknownCommand(C(0x99)))
    );
    // system_id without NUL within 16 bytes
    let long = pdu(C::BIND_TRANSMITTER, 0, 1, b"0123456789abcdefgh\0");
    assert_eq!(
        Pdu::decode(&long),
        Err(DecodeError::FieldTooLong { at: 0, max: 16 })
    );
    // short_message longer than the body
    let mut sm = SM[..SM.len() - 17].to_vec();
    sm.truncate(sm.len() - 2);
    assert!(matches!(
        Pdu::decode(&pdu(C::SUBMIT_SM, 0, 1, &sm)),
        Err(DecodeError::Truncated { .. })
    ));
    // a TLV whose length runs past the end
    let bad = [SM, b"\x00\x1e\x00\x09ab"].concat();
    assert!(matches!(
        Pdu::decode(&pdu(C::DELIVER_SM, 0, 1, &bad)),
        Err(DecodeError::BadTlv { .. })
    ));
    // every prefix of every valid body fails cleanly
    for body in [BIND, SM] {
        for n in 0..body.len() {
            let _ = Pdu::decode(&pdu(C::SUBMIT_SM, 0, 1, &body[..n]));
            let _ = Pdu::decode(&pdu(C::BIND_TRANSCEIVER, 0, 1, &body[..n]));
        }
    }
}
