//! Mux mode: ESMEs of one `system_id` share one connection per SMSC.

use super::*;
use crate::smpp::command::CommandStatus as S;

/// Binds the first ESME: both SMSCs are connected and bound.
fn first(net: &mut Net, a: &mut FakeSmsc, b: &mut FakeSmsc) -> (ConnId, ConnId, ConnId) {
    let esme = net.accept();
    net.send(esme, &bind(C::BIND_TRANSCEIVER, 3, "sys", "pw"));
    let (addr_a, la) = net.answer_connect(true);
    let (addr_b, lb) = net.answer_connect(true);
    assert_eq!((addr_a, addr_b), (servers()[0], servers()[1]));
    let (la, lb) = (la.unwrap(), lb.unwrap());
    let binds = a.serve(net, la);
    let Ok(crate::smpp::pdu::Pdu {
        body: crate::smpp::pdu::Body::BindTransceiver(bt),
        ..
    }) = crate::smpp::pdu::Pdu::decode(&binds[0])
    else {
        panic!("a transceiver bind")
    };
    assert_eq!((bt.system_id, bt.password), (&b"sys"[..], &b"pw"[..]));
    let r = net.take(esme);
    assert_eq!(hdr(&r).sequence_number, 3);
    assert_eq!(&r[16..], b"loadbalancer\0\x02\x10\x00\x01\x34");
    b.serve(net, lb);
    assert!(net.nothing_for(esme), "answered once");
    (esme, la, lb)
}

#[test]
fn binds_are_answered_locally_and_later_esmes_join_at_once() {
    let mut net = Net::new(settings(true));
    let (mut a, mut b) = (FakeSmsc::new("A"), FakeSmsc::new("B"));
    first(&mut net, &mut a, &mut b);
    let second = net.accept();
    net.send(second, &bind(C::BIND_TRANSMITTER, 8, "sys", "pw"));
    assert!(net.connects.is_empty(), "no new SMSC connection");
    let r = net.take(second);
    assert_eq!(
        (hdr(&r).command_id, hdr(&r).command_status),
        (C::BIND_TRANSMITTER_RESP, 0)
    );
    let third = net.accept();
    net.send(third, &bind(C::BIND_TRANSMITTER, 9, "sys", "wrong"));
    let r = net.take(third);
    assert_eq!(
        (hdr(&r).command_status, hdr(&r).sequence_number),
        (S::ESME_RINVPASWD, 9)
    );
}

#[test]
fn submits_round_robin_and_responses_find_their_esme() {
    let mut net = Net::new(settings(true));
    let (mut a, mut b) = (FakeSmsc::new("A"), FakeSmsc::new("B"));
    let (e1, la, lb) = first(&mut net, &mut a, &mut b);
    let e2 = net.accept();
    net.send(e2, &bind(C::BIND_TRANSCEIVER, 1, "sys", "pw"));
    net.take(e2);
    net.send(e1, &submit(5, "x"));
    net.send(e2, &submit(5, "y"));
    assert_eq!(a.serve(&mut net, la).len(), 1);
    assert_eq!(b.serve(&mut net, lb).len(), 1);
    let (r1, r2) = (net.take(e1), net.take(e2));
    assert_eq!((hdr(&r1).sequence_number, &r1[16..]), (5, &b"A-1\0"[..]));
    assert_eq!((hdr(&r2).sequence_number, &r2[16..]), (5, &b"B-1\0"[..]));
}

#[test]
fn receipts_go_to_the_esme_that_submitted() {
    let mut net = Net::new(settings(true));
    let (mut a, mut b) = (FakeSmsc::new("A"), FakeSmsc::new("B"));
    let (e1, la, lb) = first(&mut net, &mut a, &mut b);
    let e2 = net.accept();
    net.send(e2, &bind(C::BIND_TRANSCEIVER, 1, "sys", "pw"));
    net.take(e2);
    // e2 submits through A (the round robin is at A again): id A-1
    net.send(e1, &submit(1, "via A"));
    a.serve(&mut net, la);
    net.send(e2, &submit(1, "via B"));
    b.serve(&mut net, lb);
    net.send(e2, &submit(2, "via A"));
    a.serve(&mut net, la);
    for e in [e1, e2, e2] {
        net.take(e);
    }
    // receipts of A-2 (e2's) and B-1 (e2's) both reach e2, A-1 reaches e1
    for (link, id, want) in [
        (la, "A-2", e2),
        (lb, "B-1", e2),
        (la, "A-1", e1),
        (la, "A-2", e2),
    ] {
        net.send(link, &receipt(70, id));
        let d = net.take(want);
        assert_eq!(hdr(&d).command_id, C::DELIVER_SM, "{id}");
        let other = if want == e1 { e2 } else { e1 };
        assert!(net.nothing_for(other), "{id}");
        net.send(
            want,
            &pdu(C::DELIVER_SM_RESP, 0, hdr(&d).sequence_number, b"\0"),
        );
        assert_eq!(net.take(link), pdu(C::DELIVER_SM_RESP, 0, 70, b"\0"));
    }
    // same id from the other SMSC is another message: round robin
    net.send(lb, &receipt(71, "A-1"));
    assert!(!net.nothing_for(e1) || !net.nothing_for(e2));
}

#[test]
fn losing_every_link_rebinds_and_requests_get_syserr() {
    let mut net = Net::new(settings(true));
    let (mut a, mut b) = (FakeSmsc::new("A"), FakeSmsc::new("B"));
    let (e1, la, lb) = first(&mut net, &mut a, &mut b);
    net.peer_closed(la);
    net.send(e1, &submit(1, "still B"));
    assert_eq!(b.serve(&mut net, lb).len(), 1);
    assert_eq!(hdr(&net.take(e1)).command_status, 0);
    net.peer_closed(lb);
    net.send(e1, &submit(2, "none"));
    assert_eq!(
        net.take(e1),
        pdu(C::SUBMIT_SM_RESP, S::ESME_RSYSERR, 2, b"")
    );
    net.advance(50 * MS);
    let (addr, la2) = net.answer_connect(true);
    assert_eq!(addr, servers()[0], "each link reconnects to its own SMSC");
    let la2 = la2.unwrap();
    a.serve(&mut net, la2);
    assert!(net.nothing_for(e1), "rebind is silent");
    net.send(e1, &submit(3, "back"));
    a.serve(&mut net, la2);
    assert_eq!(hdr(&net.take(e1)).command_status, 0);
}

#[test]
fn last_esme_leaving_unbinds_the_smscs() {
    let mut net = Net::new(settings(true));
    let (mut a, mut b) = (FakeSmsc::new("A"), FakeSmsc::new("B"));
    let (e1, la, lb) = first(&mut net, &mut a, &mut b);
    net.send(e1, &pdu(C::UNBIND, 0, 4, b""));
    assert_eq!(net.take(e1), pdu(C::UNBIND_RESP, 0, 4, b""));
    assert!(net.closed.contains(&e1));
    for l in [la, lb] {
        let got = a.serve(&mut net, l);
        assert_eq!(hdr(&got[0]).command_id, C::UNBIND);
        assert!(net.closed.contains(&l));
    }
    assert_eq!(net.lb.connection_counts(), (0, 0));
}

#[test]
fn wrong_credentials_at_every_smsc_fail_the_bind() {
    let mut net = Net::new(settings(true));
    let (mut a, mut b) = (FakeSmsc::new("A"), FakeSmsc::new("B"));
    a.bind_status = S::ESME_RINVSYSID;
    b.bind_status = S::ESME_RINVSYSID;
    let esme = net.accept();
    net.send(esme, &bind(C::BIND_RECEIVER, 6, "nobody", "pw"));
    let la = net.answer_connect(true).1.unwrap();
    let lb = net.answer_connect(true).1.unwrap();
    a.serve(&mut net, la);
    assert!(net.nothing_for(esme));
    b.serve(&mut net, lb);
    let r = net.take(esme);
    assert_eq!(
        (hdr(&r).command_id, hdr(&r).command_status),
        (C::BIND_RECEIVER_RESP, S::ESME_RINVSYSID)
    );
    assert_eq!(hdr(&r).sequence_number, 6);
    assert_eq!(net.lb.connection_counts(), (1, 0));
}

#[test]
fn receipt_text_id_is_read_from_the_short_message() {
    use crate::smpp::proxy::link::receipt_text_id;
    assert_eq!(
        receipt_text_id(b"id:A-7 sub:001 stat:DELIVRD"),
        Some(&b"A-7"[..])
    );
    assert_eq!(receipt_text_id(b"id:XYZ"), Some(&b"XYZ"[..]));
    assert_eq!(receipt_text_id(b"id: sub:001"), None);
    assert_eq!(receipt_text_id(b"hello"), None);
}
