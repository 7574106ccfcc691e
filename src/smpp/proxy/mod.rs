//! The per-shard SMPP balancer: ESMEs in, SMSCs out, sans-IO.
//!
//! The runtime owns the sockets and the clock. It tells [`SmppBalancer`]
//! what happened — an ESME connected ([`SmppBalancer::on_esme_connected`]),
//! bytes arrived ([`SmppBalancer::on_bytes`]), an outgoing connect finished
//! ([`SmppBalancer::on_connected`] / [`SmppBalancer::on_connect_failed`]),
//! a peer closed ([`SmppBalancer::on_closed`]), a deadline passed
//! ([`SmppBalancer::handle_timeout`]) — and executes the [`Action`]s
//! appended to the [`Actions`] it passes in, in order.
//!
//! # Modes
//! - **Regular** (default, the user guide's design): every ESME gets its own
//!   SMSC connection, chosen round robin over `remoteServers` and bound with
//!   the ESME's own bind PDU. The SMSC's `bind_resp` goes back with the
//!   ESME's sequence number (the original relayed it unchanged, with the
//!   balancer's number: that is the bind_resp bug fixed here). When the SMSC
//!   connection drops, the ESME goes `REBINDING` (requests answered
//!   `ESME_RSYSERR`) and after `reconnectPeriod` the balancer reconnects to
//!   the next server, trying each once; when none binds the ESME is sent an
//!   `unbind`.
//! - **Mux** (`muxMode: true`, the original HEAD's default): ESMEs with the
//!   same `system_id` share one transceiver connection per SMSC. Binds are
//!   answered locally (`system_id` "loadbalancer"); submits go round robin
//!   over the bound SMSC connections; SMSC requests go to the ESME that
//!   submitted the message when they are receipts (message id table),
//!   round robin over bound receivers otherwise.
//!
//! # Sequence numbers, windows, timers
//! Every forwarded request is renumbered from the outgoing connection's
//! counter; [`pending::Pending`] maps the new number back. Responses are
//! relayed with the original number; unknown numbers are dropped.
//! `generic_nack` is relayed as a response (the original renumbered it as a
//! request). `maxConnectionSize` is each session's window of outstanding
//! requests in each direction: a request beyond it is answered at once with
//! `ESME_RTHROTTLED` — not queued, so memory stays bounded and the sender,
//! which SMPP clients are built to handle, backs off. Requests unanswered
//! within `timeoutResponse` are answered `ESME_RSYSERR`.
//!
//! `Close` in [`Action`] means: send what is queued for the connection, then
//! close it. After `Close` the balancer has forgotten the connection; a later
//! `on_closed` for it is ignored.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::net::SocketAddr;
use std::ops::Range;
use std::time::{Duration, Instant};

use crate::config::SmppConfig;
use crate::smpp::command::CommandId;
use crate::smpp::framer::{self, Frame, DEFAULT_MAX_PDU_LEN};
use crate::smpp::header::Header;
use crate::smpp::matrix::BindState;
use crate::smpp::session::{ClientState, Keepalive, ServerState};
use crate::smpp::{reply, CommandStatus};
use msgid::MessageIds;
use pending::{Pending, SeqGen};
use slab::{Key, Slab};

mod esme;
mod group;
mod link;
mod msgid;
mod pending;
pub(crate) mod slab;
mod timers;

#[cfg(test)]
mod tests;

/// A connection, named by the runtime (accepted ESME connections and the
/// outgoing SMSC connections it opened for a [`Action::Connect`]).
pub type ConnId = u64;

/// One thing for the runtime to do.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Action {
    /// Write `Actions::buf[range]` to `conn`.
    Send {
        /// Connection.
        conn: ConnId,
        /// Bytes within [`Actions::buf`].
        range: Range<usize>,
    },
    /// Open a TCP connection to `addr`; answer with
    /// [`SmppBalancer::on_connected`] or [`SmppBalancer::on_connect_failed`]
    /// quoting `token`.
    Connect {
        /// Names this attempt.
        token: u64,
        /// SMSC address.
        addr: SocketAddr,
    },
    /// Flush what is queued for `conn`, then close it.
    Close {
        /// Connection.
        conn: ConnId,
    },
}

/// What the balancer asks for, appended by every call. The runtime executes
/// the list in order and then calls [`Actions::clear`]; capacity is kept.
#[derive(Debug, Default)]
pub struct Actions {
    /// Bytes of every `Send`.
    pub buf: Vec<u8>,
    /// Actions in order.
    pub list: Vec<Action>,
}

impl Actions {
    /// Empties both parts, keeping capacity.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.list.clear();
    }

    /// The bytes of a `Send`.
    pub fn bytes(&self, range: &Range<usize>) -> &[u8] {
        self.buf.get(range.clone()).unwrap_or_default()
    }

    fn send(&mut self, conn: ConnId, range: Range<usize>) {
        self.list.push(Action::Send { conn, range });
    }

    fn close(&mut self, conn: ConnId) {
        self.list.push(Action::Close { conn });
    }
}

/// Settings of the SMPP balancer (from [`SmppConfig`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Mux mode (shared SMSC connections per `system_id`) instead of regular.
    pub mux: bool,
    /// SMSCs, in round-robin order.
    pub servers: Vec<SocketAddr>,
    /// `timeoutResponse`.
    pub timeout_response: Duration,
    /// `timeoutConnection`.
    pub timeout_connection: Duration,
    /// `timeoutEnquire`.
    pub timeout_enquire: Duration,
    /// `reconnectPeriod`.
    pub reconnect_period: Duration,
    /// `timeoutConnectionCheckClientSide`.
    pub check_client_side: Duration,
    /// `timeoutConnectionCheckServerSide`.
    pub check_server_side: Duration,
    /// `maxConnectionSize`: outstanding requests per session and direction.
    pub window: usize,
    /// Largest `command_length` accepted.
    pub max_pdu_len: u32,
    /// ESME connections per shard; more are closed at once.
    pub max_esmes: usize,
    /// Mux: message ids remembered for receipt routing (per shard).
    pub message_ids: usize,
    /// Mux: how long a message id is remembered (at least).
    pub message_id_ttl: Duration,
}

impl Settings {
    /// Settings from the validated configuration, with this module's
    /// defaults for what the configuration does not name.
    pub fn from_config(c: &SmppConfig) -> Settings {
        Settings {
            mux: c.mux_mode,
            servers: c.remote_servers.clone(),
            timeout_response: c.timeout_response,
            timeout_connection: c.timeout_connection,
            timeout_enquire: c.timeout_enquire,
            reconnect_period: c.reconnect_period,
            check_client_side: c.timeout_connection_check_client_side,
            check_server_side: c.timeout_connection_check_server_side,
            window: c.max_connection_size.max(1),
            max_pdu_len: DEFAULT_MAX_PDU_LEN,
            max_esmes: 50_000,
            message_ids: 200_000,
            message_id_ttl: Duration::from_secs(3600),
        }
    }
}

/// Per-shard SMPP counters (plain integers; summed by the stats endpoint).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SmppCounters {
    /// Requests sent to SMSCs (binds and unbinds included, each counted
    /// when it is written to the SMSC).
    pub requests_to_server: u64,
    /// Requests sent to ESMEs.
    pub requests_to_client: u64,
    /// Responses relayed to SMSCs.
    pub responses_to_server: u64,
    /// Responses relayed to ESMEs.
    pub responses_to_client: u64,
    /// Bytes forwarded to SMSCs.
    pub bytes_to_server: u64,
    /// Bytes forwarded to ESMEs.
    pub bytes_to_client: u64,
    /// ESMEs closed for not binding within `timeoutConnection`.
    pub not_bind_clients: u64,
    /// Requests answered `ESME_RSYSERR` after `timeoutResponse`.
    pub not_responded: u64,
    /// Requests answered `ESME_RTHROTTLED`.
    pub throttled: u64,
    /// PDUs rejected (`generic_nack`, bind-state errors, `ESME_RSYSERR` while rebinding).
    pub rejected: u64,
    /// Broken streams and undecodable bind bodies.
    pub malformed: u64,
    /// Responses with no matching request (late or unknown).
    pub unmatched: u64,
    /// SMSC connections re-established after a loss.
    pub rebinds: u64,
    /// ESME connections refused (per-shard limit).
    pub refused: u64,
}

/// Which entity a connection or a timer belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Owner {
    Esme(Key),
    Link(Key),
}

/// What the ESME bound with, kept for the SMSC binds made on its behalf.
#[derive(Debug, Clone)]
struct BindInfo {
    id: CommandId,
    seq: u32,
    system_id: Vec<u8>,
    password: Vec<u8>,
    system_type: Vec<u8>,
    interface_version: u8,
    /// The whole bind PDU (regular mode binds the SMSC with it).
    raw: Vec<u8>,
}

impl BindInfo {
    fn bind_state(&self) -> BindState {
        match self.id {
            CommandId::BIND_TRANSMITTER => BindState::BoundTx,
            CommandId::BIND_RECEIVER => BindState::BoundRx,
            _ => BindState::BoundTrx,
        }
    }
}

/// An ESME connection (server side).
#[derive(Debug)]
struct Esme {
    conn: ConnId,
    peer: SocketAddr,
    state: ServerState,
    bind: Option<BindInfo>,
    group: Option<Key>,
    /// Numbers for PDUs sent to the ESME.
    seq: SeqGen,
    /// SMSC requests forwarded to this ESME.
    pending: Pending,
    /// This ESME's requests awaiting an SMSC response.
    outstanding: usize,
    keepalive: Option<Keepalive>,
    inbox: Vec<u8>,
    scheduled: Option<Instant>,
}

/// An SMSC connection (client side).
#[derive(Debug)]
struct Link {
    conn: Option<ConnId>,
    token: Option<u64>,
    state: ClientState,
    /// Index into `Settings::servers`.
    server: usize,
    /// Regular mode: where the current round of attempts began.
    first_server: usize,
    group: Key,
    /// Counts connections, so responses from an older one are not relayed.
    epoch: u32,
    seq: SeqGen,
    /// ESME requests forwarded on this connection.
    pending: Pending,
    keepalive: Option<Keepalive>,
    inbox: Vec<u8>,
    scheduled: Option<Instant>,
    /// Bound at least once (a later bind is a rebind).
    was_bound: bool,
}

/// ESMEs and the SMSC links serving them: one ESME and one link in regular
/// mode, a `system_id`'s UserSpace in mux mode.
#[derive(Debug)]
struct Group {
    /// Mux: the credentials the links bind with.
    creds: Option<BindInfo>,
    esmes: Vec<Key>,
    links: Vec<Key>,
    submit_rr: usize,
    deliver_rr: usize,
}

/// The SMPP balancer of one shard.
#[derive(Debug)]
pub struct SmppBalancer {
    settings: Settings,
    esmes: Slab<Esme>,
    links: Slab<Link>,
    groups: Slab<Group>,
    /// Mux: UserSpaces by `system_id`.
    by_system_id: HashMap<Box<[u8]>, Key, MixState>,
    conns: HashMap<ConnId, Owner, MixState>,
    tokens: HashMap<u64, Key, MixState>,
    timers: BinaryHeap<Reverse<(Instant, Owner)>>,
    message_ids: MessageIds,
    next_token: u64,
    next_server: usize,
    counters: SmppCounters,
}

// === impl SmppBalancer ===

impl SmppBalancer {
    /// A balancer with no connection yet.
    pub fn new(settings: Settings, now: Instant) -> SmppBalancer {
        let message_ids = MessageIds::new(settings.message_ids, settings.message_id_ttl, now);
        SmppBalancer {
            settings,
            esmes: Slab::default(),
            links: Slab::default(),
            groups: Slab::default(),
            by_system_id: HashMap::default(),
            conns: HashMap::default(),
            tokens: HashMap::default(),
            timers: BinaryHeap::new(),
            message_ids,
            next_token: 1,
            next_server: 0,
            counters: SmppCounters::default(),
        }
    }

    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Counters so far.
    pub fn counters(&self) -> &SmppCounters {
        &self.counters
    }

    /// Connected ESMEs and open or opening SMSC connections.
    pub fn connection_counts(&self) -> (usize, usize) {
        (self.esmes.len(), self.links.len())
    }

    /// Open SMPP connections: ESME connections and connected SMSC links
    /// (`NumberOfActiveSmppConnections`).
    pub fn open_connections(&self) -> usize {
        self.conns.len()
    }

    /// An ESME connection was accepted as `conn`.
    pub fn on_esme_connected(
        &mut self,
        conn: ConnId,
        peer: SocketAddr,
        now: Instant,
        out: &mut Actions,
    ) {
        if self.esmes.len() >= self.settings.max_esmes || self.conns.contains_key(&conn) {
            self.counters.refused += 1;
            out.close(conn);
            return;
        }
        let k = self.esmes.insert(Esme {
            conn,
            peer,
            state: ServerState::accepted(now, self.settings.timeout_connection),
            bind: None,
            group: None,
            seq: SeqGen::default(),
            pending: Pending::default(),
            outstanding: 0,
            keepalive: None,
            inbox: Vec::new(),
            scheduled: None,
        });
        self.conns.insert(conn, Owner::Esme(k));
        log::debug!("smpp: ESME {peer} connected as {conn}");
        self.schedule(Owner::Esme(k), now);
    }

    /// `data` arrived on `conn` (any split of the stream).
    pub fn on_bytes(&mut self, conn: ConnId, data: &[u8], now: Instant, out: &mut Actions) {
        let Some(&owner) = self.conns.get(&conn) else {
            return;
        };
        let Some(mut inbox) = self.inbox(owner).map(std::mem::take) else {
            return;
        };
        if inbox.is_empty() {
            let n = self.consume(owner, conn, data, now, out);
            inbox.extend_from_slice(data.get(n..).unwrap_or_default());
        } else {
            inbox.extend_from_slice(data);
            let n = self.consume(owner, conn, &inbox, now, out);
            inbox.drain(..n.min(inbox.len()));
        }
        if self.conns.get(&conn) == Some(&owner) {
            if let Some(slot) = self.inbox(owner) {
                *slot = inbox;
            }
        }
        self.schedule(owner, now);
    }

    /// The connect of `token` succeeded; the runtime named the new
    /// connection `conn`.
    pub fn on_connected(&mut self, token: u64, conn: ConnId, now: Instant, out: &mut Actions) {
        self.link_connected(token, conn, now, out);
    }

    /// The connect of `token` failed.
    pub fn on_connect_failed(&mut self, token: u64, now: Instant, out: &mut Actions) {
        let Some(lk) = self.tokens.remove(&token) else {
            return;
        };
        if let Some(l) = self.links.get_mut(lk) {
            l.token = None;
        }
        self.connect_failed(lk, now, out);
        self.schedule(Owner::Link(lk), now);
    }

    /// The peer closed `conn` (or it failed).
    pub fn on_closed(&mut self, conn: ConnId, now: Instant, out: &mut Actions) {
        match self.conns.remove(&conn) {
            Some(Owner::Esme(k)) => self.close_esme(k, false, now, out),
            Some(Owner::Link(k)) => {
                if let Some(l) = self.links.get_mut(k) {
                    l.conn = None;
                }
                self.link_lost(k, now, out);
                self.schedule(Owner::Link(k), now);
            }
            None => {}
        }
    }

    /// Frames and handles the PDUs at the start of `bytes`; returns how
    /// many bytes were used (all of them when the stream broke).
    fn consume(
        &mut self,
        owner: Owner,
        conn: ConnId,
        bytes: &[u8],
        now: Instant,
        out: &mut Actions,
    ) -> usize {
        let mut at = 0;
        while self.conns.get(&conn) == Some(&owner) {
            let rest = bytes.get(at..).unwrap_or_default();
            match framer::frame(rest, self.settings.max_pdu_len) {
                Ok(Frame::Complete { len }) => {
                    let pdu = rest.get(..len).unwrap_or_default();
                    self.on_pdu(owner, pdu, now, out);
                    at += len;
                }
                Ok(Frame::Incomplete { .. }) => return at,
                Err(e) => {
                    log::debug!("smpp: connection {conn}: {e:?}");
                    self.broken_stream(owner, conn, rest, now, out);
                    return bytes.len();
                }
            }
        }
        bytes.len()
    }

    fn on_pdu(&mut self, owner: Owner, pdu: &[u8], now: Instant, out: &mut Actions) {
        let Some(h) = Header::parse(pdu) else {
            return;
        };
        match owner {
            Owner::Esme(k) => self.esme_pdu(k, pdu, &h, now, out),
            Owner::Link(k) => self.link_pdu(k, pdu, &h, now, out),
        }
    }

    /// `command_length` out of bounds: `generic_nack` `ESME_RINVCMDLEN`, close.
    fn broken_stream(
        &mut self,
        owner: Owner,
        conn: ConnId,
        rest: &[u8],
        now: Instant,
        out: &mut Actions,
    ) {
        self.counters.malformed += 1;
        let seq = crate::smpp::header::be_u32(rest, 12).unwrap_or(0);
        let r = reply::generic_nack(&mut out.buf, CommandStatus::ESME_RINVCMDLEN, seq);
        out.send(conn, r);
        match owner {
            Owner::Esme(k) => self.close_esme(k, true, now, out),
            Owner::Link(k) => {
                self.drop_link_conn(k, out);
                self.link_lost(k, now, out);
            }
        }
    }

    fn inbox(&mut self, owner: Owner) -> Option<&mut Vec<u8>> {
        match owner {
            Owner::Esme(k) => self.esmes.get_mut(k).map(|e| &mut e.inbox),
            Owner::Link(k) => self.links.get_mut(k).map(|l| &mut l.inbox),
        }
    }

    /// Appends a copy of `pdu` renumbered `seq` and a `Send` to `conn`.
    fn forward(out: &mut Actions, conn: ConnId, pdu: &[u8], seq: u32) {
        let r = crate::smpp::header::copy_with_sequence(pdu, seq, &mut out.buf);
        out.send(conn, r);
    }
}

/// `BuildHasher` for the connection, token and sequence maps: SplitMix64
/// over the key (fixed, so behaviour is reproducible; these maps make no
/// routing decision).
type MixState = BuildHasherDefault<MixHasher>;

/// See [`MixState`].
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct MixHasher(u64);

impl Hasher for MixHasher {
    fn finish(&self) -> u64 {
        crate::balancer::hash::mix64(self.0)
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = crate::balancer::hash::Fnv64::new();
        h.write(&self.0.to_be_bytes());
        h.write(bytes);
        self.0 = h.finish();
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = self.0.rotate_left(5) ^ n;
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
}
