//! PDUs from ESMEs: bind, forward to the SMSC side, relay responses,
//! local answers and rejections.

use std::time::Instant;

use super::pending::Waiter;
use super::slab::Key;
use super::{Actions, BindInfo, Owner, SmppBalancer};
use crate::smpp::command::{CommandId, CommandStatus};
use crate::smpp::header::{Header, HEADER_LEN};
use crate::smpp::matrix::BindState;
use crate::smpp::pdu::Bind;
use crate::smpp::reply;
use crate::smpp::session::client::ClientState;
use crate::smpp::session::server::Step;

// === impl SmppBalancer: ESME side ===

impl SmppBalancer {
    pub(super) fn esme_pdu(
        &mut self,
        k: Key,
        pdu: &[u8],
        h: &Header,
        now: Instant,
        out: &mut Actions,
    ) {
        let t = self.settings.timeout_response;
        let Some(e) = self.esmes.get_mut(k) else {
            return;
        };
        if let Some(ka) = &mut e.keepalive {
            ka.on_rx(now);
        }
        let bind = e
            .bind
            .as_ref()
            .map_or(BindState::Open, BindInfo::bind_state);
        let (state, step) = e.state.on_pdu(h.command_id, bind, now, t);
        e.state = state;
        let conn = e.conn;
        log::debug!(
            "smpp: ESME {conn} {:?} seq {} → {step:?}",
            h.command_id,
            h.sequence_number
        );
        match step {
            Step::StartBind => self.start_bind(k, pdu, h, now, out),
            Step::Forward => self.forward_to_smsc(k, pdu, h, now, out),
            Step::Relay => {
                self.relay_to_smsc(k, pdu, h, now, out);
            }
            Step::AnswerEnquire => {
                let r = reply::enquire_link_resp(&mut out.buf, h.sequence_number);
                out.send(conn, r);
            }
            Step::EnquireAnswered => {
                if let Some(ka) = self.esmes.get_mut(k).and_then(|e| e.keepalive.as_mut()) {
                    ka.on_enquire_resp(now);
                }
            }
            Step::Unbind => self.esme_unbind(k, pdu, h, now, out),
            Step::UnbindLocal => {
                let r = reply::unbind_resp(&mut out.buf, h.sequence_number);
                out.send(conn, r);
                self.close_esme(k, true, now, out);
            }
            Step::UnbindAnswered => {
                self.relay_to_smsc(k, pdu, h, now, out);
                self.close_esme(k, true, now, out);
            }
            Step::Reject(status) => self.reject(conn, h, status, out),
            Step::Nack(status) => {
                self.counters.rejected += 1;
                let r = reply::generic_nack(&mut out.buf, status, h.sequence_number);
                out.send(conn, r);
            }
            Step::NackClose(status) => {
                self.counters.rejected += 1;
                let r = reply::generic_nack(&mut out.buf, status, h.sequence_number);
                out.send(conn, r);
                self.close_esme(k, true, now, out);
            }
            Step::Ignore => {}
        }
        self.schedule(Owner::Esme(k), now);
    }

    /// Answers request `h` on `conn` with its response carrying `status`.
    pub(super) fn reject(&mut self, conn: u64, h: &Header, status: u32, out: &mut Actions) {
        if status == CommandStatus::ESME_RTHROTTLED {
            self.counters.throttled += 1;
        } else {
            self.counters.rejected += 1;
        }
        let r = reply::error_response(&mut out.buf, h.command_id, status, h.sequence_number);
        out.send(conn, r);
    }

    /// A bind in `OPEN`: remember it and bind the SMSC side.
    fn start_bind(&mut self, k: Key, pdu: &[u8], h: &Header, now: Instant, out: &mut Actions) {
        let Ok(b) = Bind::parse(pdu.get(HEADER_LEN..).unwrap_or_default()) else {
            self.counters.malformed += 1;
            if let Some(e) = self.esmes.get(k) {
                let r = reply::generic_nack(
                    &mut out.buf,
                    CommandStatus::ESME_RINVCMDLEN,
                    h.sequence_number,
                );
                out.send(e.conn, r);
            }
            self.close_esme(k, true, now, out);
            return;
        };
        let info = BindInfo {
            id: h.command_id,
            seq: h.sequence_number,
            system_id: b.system_id.to_vec(),
            password: b.password.to_vec(),
            system_type: b.system_type.to_vec(),
            interface_version: b.interface_version,
            raw: pdu.to_vec(),
        };
        if let Some(e) = self.esmes.get_mut(k) {
            e.bind = Some(info);
        }
        if self.settings.servers.is_empty() {
            self.fail_bind(k, CommandStatus::ESME_RSYSERR, now, out);
        } else if self.settings.mux {
            self.mux_bind(k, now, out);
        } else {
            self.regular_bind(k, now, out);
        }
    }

    /// Answers the ESME's bind with `status` (system_id = its own, as the
    /// original) and returns it to `OPEN`.
    pub(super) fn fail_bind(&mut self, k: Key, status: u32, now: Instant, out: &mut Actions) {
        let tc = self.settings.timeout_connection;
        let Some(e) = self.esmes.get_mut(k) else {
            return;
        };
        e.state = e.state.on_bind_failed(now, tc);
        e.group = None;
        if let Some(b) = &e.bind {
            let r = reply::bind_resp(
                &mut out.buf,
                b.id,
                status,
                b.seq,
                &b.system_id,
                b.interface_version,
            );
            out.send(e.conn, r);
        }
        self.schedule(Owner::Esme(k), now);
    }

    /// A request from a bound ESME: renumber and send it on an SMSC link.
    fn forward_to_smsc(&mut self, k: Key, pdu: &[u8], h: &Header, now: Instant, out: &mut Actions) {
        let Some(e) = self.esmes.get(k) else {
            return;
        };
        let (conn, group) = (e.conn, e.group);
        if e.outstanding >= self.settings.window {
            return self.reject(conn, h, CommandStatus::ESME_RTHROTTLED, out);
        }
        let Some(lk) = group.and_then(|g| self.pick_link(g)) else {
            return self.reject(conn, h, CommandStatus::ESME_RSYSERR, out);
        };
        if self.send_request_to_link(lk, k, pdu, h, now, out) {
            if let Some(e) = self.esmes.get_mut(k) {
                e.outstanding += 1;
            }
        } else {
            self.reject(conn, h, CommandStatus::ESME_RSYSERR, out);
        }
    }

    /// Renumbers request `h` from ESME `from` onto link `lk`; false if the
    /// link has no connection.
    pub(super) fn send_request_to_link(
        &mut self,
        lk: Key,
        from: Key,
        pdu: &[u8],
        h: &Header,
        now: Instant,
        out: &mut Actions,
    ) -> bool {
        let deadline = now + self.settings.timeout_response;
        let Some(l) = self.links.get_mut(lk) else {
            return false;
        };
        let Some(conn) = l.conn else {
            return false;
        };
        let seq = l.seq.next();
        let waiter = Waiter {
            from,
            epoch: 0,
            seq: h.sequence_number,
            command: h.command_id,
        };
        l.pending.insert(seq, waiter, deadline);
        Self::forward(out, conn, pdu, seq);
        self.counters.requests_to_server += 1;
        self.counters.bytes_to_server += pdu.len() as u64;
        self.schedule(Owner::Link(lk), now);
        true
    }

    /// A response from the ESME to an SMSC request: back to that SMSC with
    /// its number. Returns the request's command id when relayed.
    fn relay_to_smsc(&mut self, k: Key, pdu: &[u8], h: &Header, now: Instant, out: &mut Actions) {
        let Some(w) = self
            .esmes
            .get_mut(k)
            .and_then(|e| e.pending.take(h.sequence_number))
        else {
            if h.command_id != CommandId::UNBIND_RESP {
                self.counters.unmatched += 1;
            }
            return;
        };
        if !answers(h.command_id, w.command) {
            self.counters.unmatched += 1;
            return;
        }
        let Some(l) = self.links.get(w.from) else {
            return;
        };
        let (Some(conn), true) = (l.conn, l.epoch == w.epoch) else {
            self.counters.unmatched += 1;
            return;
        };
        Self::forward(out, conn, pdu, w.seq);
        self.counters.responses_to_server += 1;
        self.counters.bytes_to_server += pdu.len() as u64;
        if w.command == CommandId::UNBIND {
            // regular mode: the SMSC's unbind, answered by the ESME
            self.close_link(w.from, now, out);
        }
    }

    /// `unbind` from a bound ESME.
    fn esme_unbind(&mut self, k: Key, pdu: &[u8], h: &Header, now: Instant, out: &mut Actions) {
        let t = self.settings.timeout_response;
        let Some(e) = self.esmes.get(k) else {
            return;
        };
        let conn = e.conn;
        let link = e.group.and_then(|g| self.pick_link(g));
        match link {
            Some(lk) if !self.settings.mux => {
                // regular: the SMSC answers; its unbind_resp closes both
                if self.send_request_to_link(lk, k, pdu, h, now, out) {
                    if let Some(l) = self.links.get_mut(lk) {
                        l.state = l.state.on_unbind_sent(now, t);
                    }
                    return;
                }
                let r = reply::unbind_resp(&mut out.buf, h.sequence_number);
                out.send(conn, r);
                self.close_esme(k, true, now, out);
            }
            _ => {
                let r = reply::unbind_resp(&mut out.buf, h.sequence_number);
                out.send(conn, r);
                self.close_esme(k, true, now, out);
            }
        }
    }

    /// A bound link of group `g` for the next request (round robin in mux).
    pub(super) fn pick_link(&mut self, g: Key) -> Option<Key> {
        let group = self.groups.get_mut(g)?;
        let n = group.links.len();
        for i in 0..n {
            let idx = (group.submit_rr + i) % n;
            let lk = *group.links.get(idx)?;
            if self
                .links
                .get(lk)
                .is_some_and(|l| l.state == ClientState::Bound)
            {
                group.submit_rr = idx + 1;
                return Some(lk);
            }
        }
        None
    }
}

/// Does response `resp` answer request `req`?
pub(super) fn answers(resp: CommandId, req: CommandId) -> bool {
    resp == req.response() || resp == CommandId::GENERIC_NACK
}
