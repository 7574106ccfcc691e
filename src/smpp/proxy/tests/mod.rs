//! Balancer tests: ESMEs and two fake SMSCs as in-test state, a fake clock,
//! and the runtime's part played by [`Net`] (it executes the actions).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::{Action, Actions, ConnId, Settings, SmppBalancer};
use crate::smpp::command::CommandId as C;
use crate::smpp::framer::DEFAULT_MAX_PDU_LEN;
use crate::smpp::header::Header;

mod mux;
mod regular;

pub(super) const MS: Duration = Duration::from_millis(1);

pub(super) fn servers() -> Vec<SocketAddr> {
    vec![
        "127.0.0.1:10021".parse().unwrap(),
        "127.0.0.1:10022".parse().unwrap(),
    ]
}

pub(super) fn settings(mux: bool) -> Settings {
    Settings {
        mux,
        servers: servers(),
        timeout_response: 300 * MS,
        timeout_connection: 100 * MS,
        timeout_enquire: 1000 * MS,
        reconnect_period: 50 * MS,
        check_client_side: 200 * MS,
        check_server_side: 200 * MS,
        window: 3,
        max_pdu_len: DEFAULT_MAX_PDU_LEN,
        max_esmes: 100,
        message_ids: 1000,
        message_id_ttl: Duration::from_secs(60),
    }
}

/// A whole PDU.
pub(super) fn pdu(id: C, status: u32, seq: u32, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    Header {
        command_length: 16 + body.len() as u32,
        command_id: id,
        command_status: status,
        sequence_number: seq,
    }
    .write(&mut v);
    v.extend_from_slice(body);
    v
}

pub(super) fn bind(id: C, seq: u32, system_id: &str, password: &str) -> Vec<u8> {
    let body = [
        system_id.as_bytes(),
        b"\0",
        password.as_bytes(),
        b"\0",
        b"VMA\0\x34\x01\x01\0",
    ]
    .concat();
    pdu(id, 0, seq, &body)
}

pub(super) fn submit(seq: u32, text: &str) -> Vec<u8> {
    let body = [
        b"\0\x01\x011000\0\x01\x012000\0\0\0\0\0\0\x01\0\0\0".as_slice(),
        &[text.len() as u8],
        text.as_bytes(),
    ]
    .concat();
    pdu(C::SUBMIT_SM, 0, seq, &body)
}

/// A delivery receipt for `message_id` (TLV and text).
pub(super) fn receipt(seq: u32, message_id: &str) -> Vec<u8> {
    let text = format!("id:{message_id} sub:001 dlvrd:001 stat:DELIVRD");
    let mut body = b"\0\x01\x012000\0\x01\x011000\0\x04\0\0\0\0\0\0\0\0".to_vec();
    body.push(text.len() as u8);
    body.extend_from_slice(text.as_bytes());
    body.extend_from_slice(&[0x00, 0x1e]);
    body.extend_from_slice(&((message_id.len() + 1) as u16).to_be_bytes());
    body.extend_from_slice(message_id.as_bytes());
    body.push(0);
    pdu(C::DELIVER_SM, 0, seq, &body)
}

pub(super) fn hdr(p: &[u8]) -> Header {
    Header::parse(p).unwrap()
}

/// The runtime's part and the clock.
pub(super) struct Net {
    pub(super) lb: SmppBalancer,
    pub(super) now: Instant,
    out: Actions,
    next_conn: ConnId,
    /// PDUs written to each connection, oldest first.
    pub(super) rx: HashMap<ConnId, VecDeque<Vec<u8>>>,
    /// Connects asked for, oldest first.
    pub(super) connects: VecDeque<(u64, SocketAddr)>,
    /// Connections the balancer closed.
    pub(super) closed: Vec<ConnId>,
}

impl Net {
    pub(super) fn new(s: Settings) -> Net {
        let now = crate::test_epoch();
        Net {
            lb: SmppBalancer::new(s, now),
            now,
            out: Actions::default(),
            next_conn: 1,
            rx: HashMap::new(),
            connects: VecDeque::new(),
            closed: Vec::new(),
        }
    }

    fn run(&mut self) {
        for a in self.out.list.drain(..) {
            match a {
                Action::Send { conn, range } => {
                    let b = self.out.buf[range].to_vec();
                    assert!(!self.closed.contains(&conn), "send after close on {conn}");
                    self.rx.entry(conn).or_default().push_back(b);
                }
                Action::Connect { token, addr } => self.connects.push_back((token, addr)),
                Action::Close { conn } => self.closed.push(conn),
            }
        }
        self.out.buf.clear();
    }

    pub(super) fn accept(&mut self) -> ConnId {
        let c = self.next_conn;
        self.next_conn += 1;
        let peer = "127.0.0.1:40000".parse().unwrap();
        self.lb.on_esme_connected(c, peer, self.now, &mut self.out);
        self.run();
        c
    }

    pub(super) fn send(&mut self, conn: ConnId, bytes: &[u8]) {
        self.lb.on_bytes(conn, bytes, self.now, &mut self.out);
        self.run();
    }

    /// Answers the oldest connect: `Some(conn)` of the new connection, or
    /// a failure. Returns the address it was for.
    pub(super) fn answer_connect(&mut self, ok: bool) -> (SocketAddr, Option<ConnId>) {
        let (token, addr) = self.connects.pop_front().expect("a connect");
        if !ok {
            self.lb.on_connect_failed(token, self.now, &mut self.out);
            self.run();
            return (addr, None);
        }
        let c = self.next_conn;
        self.next_conn += 1;
        self.lb.on_connected(token, c, self.now, &mut self.out);
        self.run();
        (addr, Some(c))
    }

    pub(super) fn peer_closed(&mut self, conn: ConnId) {
        self.lb.on_closed(conn, self.now, &mut self.out);
        self.run();
    }

    /// Moves the clock and runs the due timers.
    pub(super) fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        while let Some(t) = self.lb.poll_timeout().filter(|&t| t <= end) {
            self.now = self.now.max(t);
            self.lb.handle_timeout(self.now, &mut self.out);
            self.run();
        }
        self.now = end;
    }

    /// The oldest PDU written to `conn`.
    pub(super) fn take(&mut self, conn: ConnId) -> Vec<u8> {
        self.rx
            .get_mut(&conn)
            .and_then(|q| q.pop_front())
            .unwrap_or_else(|| panic!("nothing sent to {conn}"))
    }

    pub(super) fn nothing_for(&self, conn: ConnId) -> bool {
        self.rx.get(&conn).is_none_or(|q| q.is_empty())
    }
}

/// A fake SMSC: answers what it is sent on its connections.
pub(super) struct FakeSmsc {
    pub(super) bind_status: u32,
    next_id: u32,
    pub(super) name: &'static str,
}

impl FakeSmsc {
    pub(super) fn new(name: &'static str) -> FakeSmsc {
        FakeSmsc {
            bind_status: 0,
            next_id: 0,
            name,
        }
    }

    /// Answers every PDU the balancer wrote to `conn`; returns what it got.
    pub(super) fn serve(&mut self, net: &mut Net, conn: ConnId) -> Vec<Vec<u8>> {
        let mut got = Vec::new();
        while !net.nothing_for(conn) {
            let p = net.take(conn);
            let h = hdr(&p);
            let reply = match h.command_id {
                id if id.is_bind() => {
                    let body = format!("{}\0", self.name);
                    Some(pdu(
                        id.response(),
                        self.bind_status,
                        h.sequence_number,
                        body.as_bytes(),
                    ))
                }
                C::SUBMIT_SM => {
                    self.next_id += 1;
                    let body = format!("{}-{}\0", self.name, self.next_id);
                    Some(pdu(
                        C::SUBMIT_SM_RESP,
                        0,
                        h.sequence_number,
                        body.as_bytes(),
                    ))
                }
                C::ENQUIRE_LINK | C::UNBIND => {
                    Some(pdu(h.command_id.response(), 0, h.sequence_number, b""))
                }
                _ => None,
            };
            got.push(p);
            if let Some(r) = reply {
                net.send(conn, &r);
            }
        }
        got
    }
}
