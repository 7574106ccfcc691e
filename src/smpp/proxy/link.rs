//! SMSC links: connect, bind, PDUs from the SMSC, loss and reconnect.

use std::time::Instant;

use super::esme::answers;
use super::pending::{Pending, SeqGen, Waiter};
use super::slab::Key;
use super::{Action, Actions, BindInfo, Link, Owner, SmppBalancer};
use crate::smpp::command::{CommandId, CommandStatus};
use crate::smpp::header::{Header, HEADER_LEN};
use crate::smpp::matrix::BindState;
use crate::smpp::pdu::{tlv, DataSm, MessageIdResp, Sm};
use crate::smpp::reply::{self, BindFields};
use crate::smpp::session::client::{ClientState, Step};
use crate::smpp::session::server::ServerState;
use crate::smpp::session::Keepalive;

// === impl SmppBalancer: SMSC side ===

impl SmppBalancer {
    /// A new link of group `g` to `server`, connecting.
    pub(super) fn new_link(&mut self, g: Key, server: usize, out: &mut Actions) -> Key {
        let lk = self.links.insert(Link {
            conn: None,
            token: None,
            state: ClientState::Initial,
            server,
            first_server: server,
            group: g,
            epoch: 0,
            seq: SeqGen::default(),
            pending: Pending::default(),
            keepalive: None,
            inbox: Vec::new(),
            scheduled: None,
            was_bound: false,
        });
        if let Some(group) = self.groups.get_mut(g) {
            group.links.push(lk);
        }
        self.connect(lk, out);
        lk
    }

    /// Asks the runtime to connect link `lk` to its current server.
    pub(super) fn connect(&mut self, lk: Key, out: &mut Actions) {
        let token = self.next_token;
        self.next_token += 1;
        let Some(l) = self.links.get_mut(lk) else {
            return;
        };
        let Some(&addr) = self.settings.servers.get(l.server) else {
            return;
        };
        l.token = Some(token);
        l.state = ClientState::Initial;
        self.tokens.insert(token, lk);
        out.list.push(Action::Connect { token, addr });
    }

    pub(super) fn link_connected(
        &mut self,
        token: u64,
        conn: u64,
        now: Instant,
        out: &mut Actions,
    ) {
        let lk = self.tokens.remove(&token);
        let Some((lk, l)) = lk.and_then(|k| self.links.get_mut(k).map(|l| (k, l))) else {
            out.close(conn);
            return;
        };
        if l.token != Some(token) || self.conns.contains_key(&conn) {
            out.close(conn);
            return;
        }
        l.token = None;
        l.conn = Some(conn);
        l.epoch = l.epoch.wrapping_add(1);
        l.seq = SeqGen::default();
        l.inbox.clear();
        l.state = l.state.on_connected();
        self.conns.insert(conn, Owner::Link(lk));
        self.send_bind(lk, now, out);
        self.schedule(Owner::Link(lk), now);
    }

    /// Writes the bind: the ESME's own (regular) or a transceiver bind with
    /// the UserSpace credentials (mux).
    fn send_bind(&mut self, lk: Key, now: Instant, out: &mut Actions) {
        let t = self.settings.timeout_response;
        let Some(l) = self.links.get_mut(lk) else {
            return;
        };
        let (Some(conn), g) = (l.conn, l.group) else {
            return;
        };
        let seq = l.seq.next();
        let Some(group) = self.groups.get(g) else {
            return self.close_link(lk, now, out);
        };
        let start = out.buf.len();
        if let Some(c) = &group.creds {
            let f = BindFields {
                system_id: &c.system_id,
                password: &c.password,
                system_type: &c.system_type,
            };
            let r = reply::bind_transceiver(&mut out.buf, seq, &f);
            out.send(conn, r);
        } else if let Some(b) = group
            .esmes
            .first()
            .and_then(|&e| self.esmes.get(e))
            .and_then(|e| e.bind.as_ref())
        {
            Self::forward(out, conn, &b.raw, seq);
        } else {
            return self.close_link(lk, now, out);
        }
        self.counters.requests_to_server += 1;
        self.counters.bytes_to_server += (out.buf.len() - start) as u64;
        if let Some(l) = self.links.get_mut(lk) {
            l.state = l.state.on_bind_sent(seq, now, t);
        }
    }

    /// The connect failed or the SMSC went away before binding.
    pub(super) fn connect_failed(&mut self, lk: Key, now: Instant, out: &mut Actions) {
        let (n, rp) = (self.settings.servers.len(), self.settings.reconnect_period);
        let Some(l) = self.links.get_mut(lk) else {
            return;
        };
        if self.settings.mux {
            l.state = l.state.on_lost(now, rp);
            return;
        }
        let next = (l.server + 1) % n.max(1);
        if next == l.first_server {
            log::debug!("smpp: no SMSC accepted the bind");
            return self.regular_exhausted(lk, now, out);
        }
        l.server = next;
        self.connect(lk, out);
    }

    pub(super) fn link_pdu(
        &mut self,
        lk: Key,
        pdu: &[u8],
        h: &Header,
        now: Instant,
        out: &mut Actions,
    ) {
        let t = self.settings.timeout_response;
        let bind = self.link_bind_state(lk);
        let Some(l) = self.links.get_mut(lk) else {
            return;
        };
        if let Some(ka) = &mut l.keepalive {
            ka.on_rx(now);
        }
        let (state, step) = l.state.on_pdu(h, bind, now, t);
        l.state = state;
        let Some(conn) = l.conn else {
            return;
        };
        log::debug!(
            "smpp: SMSC {conn} {:?} seq {} → {step:?}",
            h.command_id,
            h.sequence_number
        );
        match step {
            Step::BindOk => self.link_bound(lk, pdu, now, out),
            Step::BindFailed(status) => self.link_bind_failed(lk, pdu, status, now, out),
            Step::Forward => self.forward_to_esme(lk, pdu, h, now, out),
            Step::Relay => self.relay_to_esme(lk, pdu, h, now, out),
            Step::AnswerEnquire => {
                let r = reply::enquire_link_resp(&mut out.buf, h.sequence_number);
                out.send(conn, r);
            }
            Step::EnquireAnswered => {
                if let Some(ka) = self.links.get_mut(lk).and_then(|l| l.keepalive.as_mut()) {
                    ka.on_enquire_resp(now);
                }
            }
            Step::Unbind => self.link_unbind(lk, pdu, h, now, out),
            Step::UnbindAnswered => {
                self.relay_to_esme(lk, pdu, h, now, out);
                self.close_link(lk, now, out);
            }
            Step::Reject(status) => self.reject(conn, h, status, out),
            Step::Nack(status) => {
                self.counters.rejected += 1;
                let r = reply::generic_nack(&mut out.buf, status, h.sequence_number);
                out.send(conn, r);
            }
            Step::Ignore => {}
        }
        self.schedule(Owner::Link(lk), now);
    }

    /// The bind state the matrix checks SMSC PDUs against.
    fn link_bind_state(&self, lk: Key) -> BindState {
        if self.settings.mux {
            return BindState::BoundTrx;
        }
        self.links
            .get(lk)
            .and_then(|l| self.groups.get(l.group))
            .and_then(|g| g.esmes.first())
            .and_then(|&e| self.esmes.get(e))
            .and_then(|e| e.bind.as_ref())
            .map_or(BindState::BoundTrx, BindInfo::bind_state)
    }

    fn link_bound(&mut self, lk: Key, pdu: &[u8], now: Instant, out: &mut Actions) {
        let policy = self.link_policy();
        let Some(l) = self.links.get_mut(lk) else {
            return;
        };
        l.keepalive = Some(Keepalive::start(policy, now));
        l.first_server = l.server;
        if l.was_bound {
            self.counters.rebinds += 1;
        }
        l.was_bound = true;
        let g = l.group;
        if self.settings.mux {
            return self.mux_group_bound(g, now, out);
        }
        let Some(ek) = self.groups.get(g).and_then(|g| g.esmes.first().copied()) else {
            return self.close_link(lk, now, out);
        };
        let policy = self.esme_policy();
        let Some(e) = self.esmes.get_mut(ek) else {
            return self.close_link(lk, now, out);
        };
        if let (ServerState::Binding { .. }, Some(b)) = (e.state, &e.bind) {
            // The fix: the ESME gets its own sequence number back.
            Self::forward(out, e.conn, pdu, b.seq);
            self.counters.responses_to_client += 1;
            self.counters.bytes_to_client += pdu.len() as u64;
        }
        e.state = e.state.on_bound();
        e.keepalive = Some(Keepalive::start(policy, now));
        self.schedule(Owner::Esme(ek), now);
    }

    fn link_bind_failed(
        &mut self,
        lk: Key,
        pdu: &[u8],
        status: u32,
        now: Instant,
        out: &mut Actions,
    ) {
        let Some(g) = self.links.get(lk).map(|l| l.group) else {
            return;
        };
        if self.settings.mux {
            return self.mux_bind_failed(lk, g, status, now, out);
        }
        let ek = self.groups.get(g).and_then(|g| g.esmes.first().copied());
        self.close_link(lk, now, out);
        let Some(e) = ek.and_then(|k| self.esmes.get(k)) else {
            return;
        };
        match (e.state, &e.bind) {
            (ServerState::Binding { .. }, Some(b)) => {
                let (conn, seq) = (e.conn, b.seq);
                let tc = self.settings.timeout_connection;
                Self::forward(out, conn, pdu, seq);
                self.counters.responses_to_client += 1;
                self.counters.bytes_to_client += pdu.len() as u64;
                if let Some(e) = ek.and_then(|k| self.esmes.get_mut(k)) {
                    e.state = e.state.on_bind_failed(now, tc);
                    e.group = None;
                }
            }
            _ => self.unbind_esme(ek, now, out),
        }
        if let Some(ek) = ek {
            self.schedule(Owner::Esme(ek), now);
        }
    }

    /// Regular mode: no server took the connection or the bind.
    fn regular_exhausted(&mut self, lk: Key, now: Instant, out: &mut Actions) {
        let ek = self
            .links
            .get(lk)
            .and_then(|l| self.groups.get(l.group))
            .and_then(|g| g.esmes.first().copied());
        self.close_link(lk, now, out);
        let Some(ek) = ek else {
            return;
        };
        match self.esmes.get(ek).map(|e| e.state) {
            Some(ServerState::Binding { .. }) => {
                self.fail_bind(ek, CommandStatus::ESME_RSYSERR, now, out)
            }
            Some(_) => self.unbind_esme(Some(ek), now, out),
            None => {}
        }
    }

    /// A request from the SMSC: to the right ESME, renumbered.
    fn forward_to_esme(
        &mut self,
        lk: Key,
        pdu: &[u8],
        h: &Header,
        now: Instant,
        out: &mut Actions,
    ) {
        let Some((conn, epoch)) = self.links.get(lk).and_then(|l| Some((l.conn?, l.epoch))) else {
            return;
        };
        let Some(ek) = self.pick_esme(lk, pdu, h, now) else {
            if h.command_id.expects_response() {
                self.reject(conn, h, CommandStatus::ESME_RSYSERR, out);
            }
            return;
        };
        let (window, deadline) = (self.settings.window, now + self.settings.timeout_response);
        let Some(e) = self.esmes.get_mut(ek) else {
            return;
        };
        let seq = e.seq.next();
        if h.command_id.expects_response() {
            if e.pending.len() >= window {
                return self.reject(conn, h, CommandStatus::ESME_RTHROTTLED, out);
            }
            let waiter = Waiter {
                from: lk,
                epoch,
                seq: h.sequence_number,
                command: h.command_id,
            };
            e.pending.insert(seq, waiter, deadline);
        }
        Self::forward(out, e.conn, pdu, seq);
        self.counters.requests_to_client += 1;
        self.counters.bytes_to_client += pdu.len() as u64;
        self.schedule(Owner::Esme(ek), now);
    }

    /// A response from the SMSC: back to the ESME that asked, with its number.
    fn relay_to_esme(&mut self, lk: Key, pdu: &[u8], h: &Header, now: Instant, out: &mut Actions) {
        let Some(l) = self.links.get_mut(lk) else {
            return;
        };
        let server = l.server;
        let Some(w) = l.pending.take(h.sequence_number) else {
            if h.command_id != CommandId::UNBIND_RESP {
                self.counters.unmatched += 1;
            }
            return;
        };
        if !answers(h.command_id, w.command) {
            self.counters.unmatched += 1;
            return;
        }
        let Some(e) = self.esmes.get_mut(w.from) else {
            return;
        };
        e.outstanding = e.outstanding.saturating_sub(1);
        Self::forward(out, e.conn, pdu, w.seq);
        self.counters.responses_to_client += 1;
        self.counters.bytes_to_client += pdu.len() as u64;
        if self.settings.mux && h.command_id == CommandId::SUBMIT_SM_RESP && h.command_status == 0 {
            let body = pdu.get(HEADER_LEN..).unwrap_or_default();
            if let Ok(MessageIdResp {
                message_id: Some(id),
                ..
            }) = MessageIdResp::parse(body)
            {
                self.message_ids.insert(server, id, w.from, now);
            }
        }
        if w.command == CommandId::UNBIND {
            // regular mode: the ESME's unbind, answered by the SMSC
            self.close_esme(w.from, true, now, out);
        }
    }

    /// `unbind` from the SMSC.
    fn link_unbind(&mut self, lk: Key, pdu: &[u8], h: &Header, now: Instant, out: &mut Actions) {
        let Some(l) = self.links.get(lk) else {
            return;
        };
        let (conn, g) = (l.conn, l.group);
        let ek = self.groups.get(g).and_then(|g| g.esmes.first().copied());
        if !self.settings.mux {
            if let Some(ek) = ek.filter(|&k| self.esmes.get(k).is_some_and(|e| e.state.is_bound()))
            {
                // relay; the ESME's unbind_resp goes back and closes both
                self.forward_to_esme(lk, pdu, h, now, out);
                let t = self.settings.timeout_response;
                if let Some(e) = self.esmes.get_mut(ek) {
                    e.state = e.state.on_unbind_sent(now, t);
                }
                return;
            }
        }
        if let Some(conn) = conn {
            let r = reply::unbind_resp(&mut out.buf, h.sequence_number);
            out.send(conn, r);
        }
        self.close_link(lk, now, out);
        if self.settings.mux {
            self.mux_links_changed(g, CommandStatus::ESME_RSYSERR, now, out);
        } else {
            self.unbind_esme(ek, now, out);
        }
    }

    /// The SMSC connection of `lk` is gone (closed, dead or broken).
    pub(super) fn link_lost(&mut self, lk: Key, now: Instant, out: &mut Actions) {
        let (rp, n) = (self.settings.reconnect_period, self.settings.servers.len());
        let Some(l) = self.links.get_mut(lk) else {
            return;
        };
        let before = l.state;
        l.keepalive = None;
        l.inbox.clear();
        let waiters: Vec<Waiter> = l.pending.drain().collect();
        self.fail_waiters(&waiters, out);
        match before {
            ClientState::Unbinding { .. } | ClientState::Closed => self.close_link(lk, now, out),
            ClientState::Initial | ClientState::Open | ClientState::Binding { .. } => {
                self.connect_failed(lk, now, out)
            }
            ClientState::Bound => {
                let Some(l) = self.links.get_mut(lk) else {
                    return;
                };
                log::debug!("smpp: SMSC link to server {} lost", l.server);
                l.state = l.state.on_lost(now, rp);
                if !self.settings.mux {
                    l.server = (l.server + 1) % n.max(1);
                    l.first_server = l.server;
                }
                let g = l.group;
                self.group_link_lost(g, now);
            }
            ClientState::Rebinding { .. } => {}
        }
    }

    /// Answers the ESME requests that were waiting on a lost link.
    fn fail_waiters(&mut self, waiters: &[Waiter], out: &mut Actions) {
        for w in waiters {
            let Some(e) = self.esmes.get_mut(w.from) else {
                continue;
            };
            e.outstanding = e.outstanding.saturating_sub(1);
            self.counters.not_responded += 1;
            let r =
                reply::error_response(&mut out.buf, w.command, CommandStatus::ESME_RSYSERR, w.seq);
            out.send(e.conn, r);
        }
    }

    /// Closes the connection of `lk` (keeping the link).
    pub(super) fn drop_link_conn(&mut self, lk: Key, out: &mut Actions) {
        if let Some(conn) = self.links.get_mut(lk).and_then(|l| l.conn.take()) {
            self.conns.remove(&conn);
            out.close(conn);
        }
    }

    /// Removes link `lk` for good: closes its connection, forgets its connect.
    pub(super) fn close_link(&mut self, lk: Key, _now: Instant, out: &mut Actions) {
        self.drop_link_conn(lk, out);
        let Some(mut l) = self.links.remove(lk) else {
            return;
        };
        if let Some(t) = l.token {
            self.tokens.remove(&t);
        }
        let waiters: Vec<Waiter> = l.pending.drain().collect();
        self.fail_waiters(&waiters, out);
        if let Some(g) = self.groups.get_mut(l.group) {
            g.links.retain(|&k| k != lk);
        }
    }

    /// Which ESME gets a request from link `lk`.
    fn pick_esme(&mut self, lk: Key, pdu: &[u8], h: &Header, now: Instant) -> Option<Key> {
        let l = self.links.get(lk)?;
        let (g, server) = (l.group, l.server);
        if self.settings.mux {
            if let Some(ek) = self.receipt_owner(server, g, pdu, h, now) {
                return Some(ek);
            }
        }
        let group = self.groups.get_mut(g)?;
        let n = group.esmes.len();
        for i in 0..n {
            let idx = (group.deliver_rr + i) % n;
            let ek = *group.esmes.get(idx)?;
            if self
                .esmes
                .get(ek)
                .is_some_and(|e| can_receive(e.state, e.bind.as_ref()))
            {
                group.deliver_rr = idx + 1;
                return Some(ek);
            }
        }
        None
    }

    /// Mux: the ESME that submitted the message a receipt is about.
    fn receipt_owner(
        &mut self,
        server: usize,
        g: Key,
        pdu: &[u8],
        h: &Header,
        now: Instant,
    ) -> Option<Key> {
        let body = pdu.get(HEADER_LEN..)?;
        let id = match h.command_id {
            CommandId::DELIVER_SM => {
                let sm = Sm::parse(body).ok()?;
                match sm.tlvs.find(tlv::RECEIPTED_MESSAGE_ID) {
                    Some(t) => tlv::cstr_value(t.value),
                    None if sm.esm_class & 0x3C == 0x04 => receipt_text_id(sm.short_message)?,
                    None => return None,
                }
            }
            CommandId::DATA_SM => {
                let d = DataSm::parse(body).ok()?;
                tlv::cstr_value(d.tlvs.find(tlv::RECEIPTED_MESSAGE_ID)?.value)
            }
            _ => return None,
        };
        let ek = self.message_ids.get(server, id, now)?;
        let e = self.esmes.get(ek)?;
        (e.group == Some(g) && can_receive(e.state, e.bind.as_ref())).then_some(ek)
    }
}

/// Bound, and bound as receiver or transceiver.
fn can_receive(state: ServerState, bind: Option<&BindInfo>) -> bool {
    state.is_bound() && bind.is_some_and(|b| b.id != CommandId::BIND_TRANSMITTER)
}

/// The `id:` field of a receipt's text (SMPP 3.4 appendix B).
pub(super) fn receipt_text_id(text: &[u8]) -> Option<&[u8]> {
    let at = memchr::memmem::find(text, b"id:")?;
    let rest = text.get(at + 3..)?;
    let end = memchr::memchr(b' ', rest).unwrap_or(rest.len());
    rest.get(..end).filter(|id| !id.is_empty())
}
