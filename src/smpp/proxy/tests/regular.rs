//! Regular mode: one SMSC connection per ESME.

use super::*;
use crate::smpp::command::CommandStatus as S;

/// An ESME bound through the balancer to the SMSC at `server`.
struct Bound {
    esme: ConnId,
    smsc: ConnId,
}

fn bound(net: &mut Net, smsc: &mut FakeSmsc, seq: u32, server: usize) -> Bound {
    let esme = net.accept();
    net.send(esme, &bind(C::BIND_TRANSCEIVER, seq, "esme", "pw"));
    let (addr, conn) = net.answer_connect(true);
    assert_eq!(addr, servers()[server]);
    let conn = conn.unwrap();
    smsc.serve(net, conn);
    let resp = net.take(esme);
    assert_eq!(hdr(&resp).command_id, C::BIND_TRANSCEIVER_RESP);
    Bound { esme, smsc: conn }
}

#[test]
fn bind_goes_to_the_smsc_with_the_esme_credentials_and_its_sequence_comes_back() {
    let mut net = Net::new(settings(false));
    let esme = net.accept();
    let b = bind(C::BIND_TRANSMITTER, 7, "esme", "pw");
    net.send(esme, &b);
    let (addr, smsc) = net.answer_connect(true);
    assert_eq!(addr, servers()[0]);
    let smsc = smsc.unwrap();
    let sent = net.take(smsc);
    let mut want = b.clone();
    want[12..16].copy_from_slice(&1u32.to_be_bytes()); // the balancer's own number
    assert_eq!(sent, want);
    let resp = pdu(
        C::BIND_TRANSMITTER_RESP,
        0,
        1,
        b"SMSC1\0\x02\x10\x00\x01\x34",
    );
    net.send(smsc, &resp);
    let got = net.take(esme);
    assert_eq!(
        hdr(&got).sequence_number,
        7,
        "bind_resp carries the ESME's number"
    );
    assert_eq!(got[16..], resp[16..]);
}

#[test]
fn submits_are_renumbered_and_responses_restored() {
    let mut net = Net::new(settings(false));
    let mut smsc = FakeSmsc::new("A");
    let b = bound(&mut net, &mut smsc, 1, 0);
    net.send(b.esme, &[submit(100, "one"), submit(101, "two")].concat());
    let got = smsc.serve(&mut net, b.smsc);
    let seqs: Vec<u32> = got.iter().map(|p| hdr(p).sequence_number).collect();
    assert_eq!(seqs, [2, 3]);
    assert_eq!(got[0][16..], submit(100, "one")[16..], "body untouched");
    let r1 = net.take(b.esme);
    let r2 = net.take(b.esme);
    assert_eq!(
        (hdr(&r1).sequence_number, hdr(&r2).sequence_number),
        (100, 101)
    );
    assert_eq!(&r1[16..], b"A-1\0");
    assert_eq!(hdr(&r2).command_id, C::SUBMIT_SM_RESP);
    // a response nobody asked for is dropped
    net.send(b.smsc, &pdu(C::SUBMIT_SM_RESP, 0, 77, b"x\0"));
    assert!(net.nothing_for(b.esme));
    assert_eq!(net.lb.counters().unmatched, 1);
}

#[test]
fn esmes_are_spread_round_robin_over_the_servers() {
    let mut net = Net::new(settings(false));
    let mut smsc = FakeSmsc::new("A");
    bound(&mut net, &mut smsc, 1, 0);
    bound(&mut net, &mut smsc, 1, 1);
    bound(&mut net, &mut smsc, 1, 0);
}

#[test]
fn deliver_sm_goes_to_the_esme_renumbered_and_its_response_back() {
    let mut net = Net::new(settings(false));
    let mut smsc = FakeSmsc::new("A");
    let b = bound(&mut net, &mut smsc, 1, 0);
    net.send(b.smsc, &receipt(900, "A-1"));
    let d = net.take(b.esme);
    assert_eq!(hdr(&d).command_id, C::DELIVER_SM);
    assert_eq!(
        hdr(&d).sequence_number,
        1,
        "the ESME side has its own numbers"
    );
    assert_eq!(d[16..], receipt(900, "A-1")[16..]);
    net.send(b.esme, &pdu(C::DELIVER_SM_RESP, 0, 1, b"\0"));
    let r = net.take(b.smsc);
    assert_eq!(
        (hdr(&r).command_id, hdr(&r).sequence_number),
        (C::DELIVER_SM_RESP, 900)
    );
}

#[test]
fn enquire_link_is_answered_locally() {
    let mut net = Net::new(settings(false));
    let mut smsc = FakeSmsc::new("A");
    let b = bound(&mut net, &mut smsc, 1, 0);
    net.send(b.esme, &pdu(C::ENQUIRE_LINK, 0, 55, b""));
    let r = net.take(b.esme);
    assert_eq!(r, pdu(C::ENQUIRE_LINK_RESP, 0, 55, b""));
    net.send(b.smsc, &pdu(C::ENQUIRE_LINK, 0, 66, b""));
    assert_eq!(net.take(b.smsc), pdu(C::ENQUIRE_LINK_RESP, 0, 66, b""));
    assert!(net.nothing_for(b.smsc) && net.nothing_for(b.esme));
}

#[test]
fn invalid_commands_get_generic_nack() {
    let mut net = Net::new(settings(false));
    let mut smsc = FakeSmsc::new("A");
    let b = bound(&mut net, &mut smsc, 1, 0);
    net.send(b.esme, &pdu(C(0x99), 0, 12, b""));
    assert_eq!(
        net.take(b.esme),
        pdu(C::GENERIC_NACK, S::ESME_RINVCMDID, 12, b"")
    );
    net.send(b.esme, &pdu(C::DELIVER_SM, 0, 13, b"")); // ESMEs never send deliver_sm
    assert_eq!(
        net.take(b.esme),
        pdu(C::GENERIC_NACK, S::ESME_RINVCMDID, 13, b"")
    );
    assert!(net.nothing_for(b.smsc));
    // before bind: generic_nack and close
    let e = net.accept();
    net.send(e, &submit(3, "x"));
    assert_eq!(net.take(e), pdu(C::GENERIC_NACK, S::ESME_RINVCMDID, 3, b""));
    assert!(net.closed.contains(&e));
}

#[test]
fn broken_length_is_nacked_and_closed_and_split_pdus_are_reassembled() {
    let mut net = Net::new(settings(false));
    let mut smsc = FakeSmsc::new("A");
    let b = bound(&mut net, &mut smsc, 1, 0);
    let s = submit(40, "split");
    for byte in &s {
        net.send(b.esme, std::slice::from_ref(byte));
    }
    let got = smsc.serve(&mut net, b.smsc);
    assert_eq!(got.len(), 1);
    assert_eq!(hdr(&net.take(b.esme)).sequence_number, 40);
    net.send(b.esme, &[0, 0, 0, 8, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 9]);
    assert_eq!(
        net.take(b.esme),
        pdu(C::GENERIC_NACK, S::ESME_RINVCMDLEN, 9, b"")
    );
    assert!(net.closed.contains(&b.esme));
    assert_eq!(net.lb.counters().malformed, 1);
}

#[test]
fn smsc_loss_rebinds_to_the_next_server_and_requests_meanwhile_get_syserr() {
    let mut net = Net::new(settings(false));
    let mut a = FakeSmsc::new("A");
    let mut bsmsc = FakeSmsc::new("B");
    let b = bound(&mut net, &mut a, 1, 0);
    // one request in flight when the SMSC dies: answered RSYSERR at once
    net.send(b.esme, &submit(10, "lost"));
    let _ = net.take(b.smsc);
    net.peer_closed(b.smsc);
    assert_eq!(
        net.take(b.esme),
        pdu(C::SUBMIT_SM_RESP, S::ESME_RSYSERR, 10, b"")
    );
    net.send(b.esme, &submit(11, "during"));
    assert_eq!(
        net.take(b.esme),
        pdu(C::SUBMIT_SM_RESP, S::ESME_RSYSERR, 11, b"")
    );
    net.send(b.esme, &pdu(C::ENQUIRE_LINK, 0, 12, b""));
    assert_eq!(hdr(&net.take(b.esme)).command_id, C::ENQUIRE_LINK_RESP);
    assert!(net.connects.is_empty(), "waits reconnectPeriod");
    net.advance(49 * MS);
    assert!(net.connects.is_empty());
    net.advance(MS);
    let (addr, conn) = net.answer_connect(true);
    assert_eq!(addr, servers()[1], "the next server");
    let conn = conn.unwrap();
    let rebind = bsmsc.serve(&mut net, conn);
    assert_eq!(
        rebind[0][16..],
        bind(C::BIND_TRANSCEIVER, 1, "esme", "pw")[16..]
    );
    assert!(net.nothing_for(b.esme), "no second bind_resp to the ESME");
    net.send(b.esme, &submit(13, "after"));
    bsmsc.serve(&mut net, conn);
    let r = net.take(b.esme);
    assert_eq!((hdr(&r).sequence_number, &r[16..]), (13, &b"B-1\0"[..]));
    assert_eq!(net.lb.counters().rebinds, 1);
}

#[test]
fn rebind_to_no_server_unbinds_the_esme() {
    let mut net = Net::new(settings(false));
    let mut a = FakeSmsc::new("A");
    let b = bound(&mut net, &mut a, 1, 0);
    net.peer_closed(b.smsc);
    net.advance(50 * MS);
    assert_eq!(net.answer_connect(false).0, servers()[1]);
    assert_eq!(net.answer_connect(false).0, servers()[0]);
    assert!(net.connects.is_empty());
    let u = net.take(b.esme);
    assert_eq!(hdr(&u).command_id, C::UNBIND);
    net.send(
        b.esme,
        &pdu(C::UNBIND_RESP, 0, hdr(&u).sequence_number, b""),
    );
    assert!(net.closed.contains(&b.esme));
}

#[test]
fn bind_errors_reach_the_esme_with_its_sequence() {
    let mut net = Net::new(settings(false));
    let mut a = FakeSmsc::new("A");
    a.bind_status = S::ESME_RINVPASWD;
    let esme = net.accept();
    net.send(esme, &bind(C::BIND_RECEIVER, 4, "esme", "bad"));
    let smsc = net.answer_connect(true).1.unwrap();
    a.serve(&mut net, smsc);
    let r = net.take(esme);
    assert_eq!(
        (hdr(&r).command_id, hdr(&r).command_status),
        (C::BIND_RECEIVER_RESP, S::ESME_RINVPASWD)
    );
    assert_eq!(hdr(&r).sequence_number, 4);
    assert!(net.closed.contains(&smsc));
    // all servers unreachable: bind_resp ESME_RSYSERR
    net.send(esme, &bind(C::BIND_RECEIVER, 5, "esme", "pw"));
    net.answer_connect(false);
    net.answer_connect(false);
    let r = net.take(esme);
    assert_eq!(
        (hdr(&r).command_status, hdr(&r).sequence_number),
        (S::ESME_RSYSERR, 5)
    );
    assert_eq!(&r[16..], b"esme\0\x02\x10\x00\x01\x34");
}

#[test]
fn unbind_goes_through_and_closes_both() {
    let mut net = Net::new(settings(false));
    let mut a = FakeSmsc::new("A");
    let b = bound(&mut net, &mut a, 1, 0);
    net.send(b.esme, &pdu(C::UNBIND, 0, 30, b""));
    let got = a.serve(&mut net, b.smsc);
    assert_eq!(hdr(&got[0]).command_id, C::UNBIND);
    assert_eq!(net.take(b.esme), pdu(C::UNBIND_RESP, 0, 30, b""));
    assert!(net.closed.contains(&b.esme) && net.closed.contains(&b.smsc));
    assert_eq!(net.lb.connection_counts(), (0, 0));
}

#[test]
fn unbind_from_the_smsc_is_relayed_and_answered() {
    let mut net = Net::new(settings(false));
    let mut a = FakeSmsc::new("A");
    let b = bound(&mut net, &mut a, 1, 0);
    net.send(b.smsc, &pdu(C::UNBIND, 0, 800, b""));
    let u = net.take(b.esme);
    assert_eq!(hdr(&u).command_id, C::UNBIND);
    net.send(
        b.esme,
        &pdu(C::UNBIND_RESP, 0, hdr(&u).sequence_number, b""),
    );
    assert_eq!(net.take(b.smsc), pdu(C::UNBIND_RESP, 0, 800, b""));
    assert!(net.closed.contains(&b.esme) && net.closed.contains(&b.smsc));
}

#[test]
fn timers_bind_response_window_and_keepalive() {
    let mut net = Net::new(settings(false));
    // no bind within timeoutConnection: closed
    let idle = net.accept();
    net.advance(99 * MS);
    assert!(!net.closed.contains(&idle));
    net.advance(MS);
    assert!(net.closed.contains(&idle));
    assert_eq!(net.lb.counters().not_bind_clients, 1);

    let mut a = FakeSmsc::new("A");
    let b = bound(&mut net, &mut a, 1, 0);
    // window of 3: the 4th outstanding request is throttled
    for seq in 1..=4 {
        net.send(b.esme, &submit(seq, "w"));
    }
    assert_eq!(
        net.take(b.esme),
        pdu(C::SUBMIT_SM_RESP, S::ESME_RTHROTTLED, 4, b"")
    );
    // unanswered for timeoutResponse: ESME_RSYSERR, late answers dropped
    net.advance(299 * MS);
    assert!(net.nothing_for(b.esme));
    net.advance(MS);
    for seq in 1..=3 {
        assert_eq!(
            net.take(b.esme),
            pdu(C::SUBMIT_SM_RESP, S::ESME_RSYSERR, seq, b"")
        );
    }
    assert_eq!(net.lb.counters().not_responded, 3);
    net.rx.get_mut(&b.smsc).unwrap().clear();
    // enquire_link every timeoutEnquire to both sides
    net.advance(700 * MS);
    let e = net.take(b.esme);
    assert_eq!(hdr(&e).command_id, C::ENQUIRE_LINK);
    net.send(
        b.esme,
        &pdu(C::ENQUIRE_LINK_RESP, 0, hdr(&e).sequence_number, b""),
    );
    let s = net.take(b.smsc);
    assert_eq!(hdr(&s).command_id, C::ENQUIRE_LINK);
    // the SMSC does not answer within timeoutConnectionCheckClientSide: lost
    net.advance(200 * MS);
    assert!(net.closed.contains(&b.smsc));
    net.send(b.esme, &submit(9, "x"));
    assert_eq!(
        net.take(b.esme),
        pdu(C::SUBMIT_SM_RESP, S::ESME_RSYSERR, 9, b"")
    );
    assert!(!net.closed.contains(&b.esme));
}

#[test]
fn counters_count_each_relayed_pdu_once_with_its_bytes() {
    let mut net = Net::new(settings(false));
    let mut smsc = FakeSmsc::new("A");
    let esme = net.accept();
    net.send(esme, &bind(C::BIND_TRANSCEIVER, 1, "esme", "pw"));
    let conn = net.answer_connect(true).1.unwrap();
    let mut to_smsc = smsc.serve(&mut net, conn);
    let mut to_esme = vec![net.take(esme)];
    assert_eq!(net.lb.open_connections(), 2);
    net.send(esme, &submit(2, "x"));
    to_smsc.extend(smsc.serve(&mut net, conn));
    to_esme.push(net.take(esme));
    net.send(conn, &receipt(900, "A-1"));
    to_esme.push(net.take(esme));
    net.send(esme, &pdu(C::DELIVER_SM_RESP, 0, 1, b"\0"));
    to_smsc.push(net.take(conn));
    // answered by the balancer itself: not counted
    net.send(esme, &pdu(C::ENQUIRE_LINK, 0, 3, b""));
    assert_eq!(hdr(&net.take(esme)).command_id, C::ENQUIRE_LINK_RESP);
    let c = net.lb.counters();
    assert_eq!((c.requests_to_server, c.responses_to_server), (2, 1));
    assert_eq!((c.requests_to_client, c.responses_to_client), (1, 2));
    let len = |v: &[Vec<u8>]| v.iter().map(Vec::len).sum::<usize>() as u64;
    assert_eq!(c.bytes_to_server, len(&to_smsc));
    assert_eq!(c.bytes_to_client, len(&to_esme));
}

#[test]
fn reloaded_servers_take_new_esmes_and_sessions_under_way_stay() {
    let mut net = Net::new(settings(false));
    let mut smsc = FakeSmsc::new("A");
    let b = bound(&mut net, &mut smsc, 1, 0);
    let c: SocketAddr = "127.0.0.1:10023".parse().unwrap();
    assert!(net.lb.set_servers(vec![c, servers()[0]]));
    net.send(b.esme, &submit(100, "still here"));
    assert_eq!(smsc.serve(&mut net, b.smsc).len(), 1, "session kept");
    assert_eq!(hdr(&net.take(b.esme)).command_id, C::SUBMIT_SM_RESP);
    let mut seen = Vec::new();
    for _ in 0..2 {
        let esme = net.accept();
        net.send(esme, &bind(C::BIND_TRANSCEIVER, 1, "esme", "pw"));
        seen.push(net.answer_connect(true).0);
    }
    seen.sort();
    assert_eq!(seen, [servers()[0], c], "round robin over the new list");
    assert!(
        !Net::new(settings(true)).lb.set_servers(vec![c]),
        "mux: restart"
    );
}
