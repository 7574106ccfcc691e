//! Deadlines: one lazily cleaned heap entry per entity.
//!
//! Each ESME session and SMSC link knows its next deadline (its state's
//! timer, its oldest outstanding request, its keep-alive). The heap holds
//! `(deadline, owner)`; an entity records the deadline it is queued under,
//! and a popped entry that no longer matches is stale and skipped. A new
//! entry is pushed only when an entity's deadline moves earlier, so steady
//! traffic (each request due later than the oldest) pushes nothing.

use std::cmp::Reverse;
use std::time::{Duration, Instant};

use super::slab::Key;
use super::{Actions, Owner, SmppBalancer};
use crate::smpp::command::{CommandId, CommandStatus};
use crate::smpp::reply;
use crate::smpp::session::client::ClientState;
use crate::smpp::session::keepalive::Step;
use crate::smpp::session::server::ServerState;

// === impl SmppBalancer: timers ===

impl SmppBalancer {
    /// When [`SmppBalancer::handle_timeout`] should next be called. May be
    /// early (a stale entry); never late.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((t, _))| *t)
    }

    /// Runs every deadline that has passed at `now`.
    pub fn handle_timeout(&mut self, now: Instant, out: &mut Actions) {
        while let Some(&Reverse((t, owner))) = self.timers.peek() {
            if t > now {
                break;
            }
            self.timers.pop();
            if self.scheduled_mut(owner).map(|s| *s) != Some(Some(t)) {
                continue;
            }
            if let Some(s) = self.scheduled_mut(owner) {
                *s = None;
            }
            match owner {
                Owner::Esme(k) => self.esme_timeout(k, now, out),
                Owner::Link(k) => self.link_timeout(k, now, out),
            }
            // whatever is still due is retried a millisecond later, so a
            // handler that could not make progress cannot spin this loop
            self.schedule_not_before(owner, Some(now + Duration::from_millis(1)));
        }
    }

    /// Makes sure `owner`'s next deadline is in the heap.
    pub(super) fn schedule(&mut self, owner: Owner, _now: Instant) {
        self.schedule_not_before(owner, None);
    }

    fn schedule_not_before(&mut self, owner: Owner, floor: Option<Instant>) {
        let Some(d) = self.next_deadline(owner) else {
            return;
        };
        let d = floor.map_or(d, |f| d.max(f));
        let Some(slot) = self.scheduled_mut(owner) else {
            return;
        };
        if slot.is_none_or(|s| d < s) {
            *slot = Some(d);
            self.timers.push(Reverse((d, owner)));
        }
    }

    fn scheduled_mut(&mut self, owner: Owner) -> Option<&mut Option<Instant>> {
        match owner {
            Owner::Esme(k) => self.esmes.get_mut(k).map(|e| &mut e.scheduled),
            Owner::Link(k) => self.links.get_mut(k).map(|l| &mut l.scheduled),
        }
    }

    fn next_deadline(&self, owner: Owner) -> Option<Instant> {
        let (a, b, c) = match owner {
            Owner::Esme(k) => {
                let e = self.esmes.get(k)?;
                (
                    e.state.deadline(),
                    e.pending.deadline(),
                    e.keepalive.as_ref().map(|k| k.deadline()),
                )
            }
            Owner::Link(k) => {
                let l = self.links.get(k)?;
                (
                    l.state.deadline(),
                    l.pending.deadline(),
                    l.keepalive.as_ref().map(|k| k.deadline()),
                )
            }
        };
        [a, b, c].into_iter().flatten().min()
    }

    fn esme_timeout(&mut self, ek: Key, now: Instant, out: &mut Actions) {
        self.expire_esme_requests(ek, now, out);
        let Some(e) = self.esmes.get_mut(ek) else {
            return;
        };
        if e.state.deadline().is_some_and(|d| d <= now) {
            match e.state {
                ServerState::Open { .. } => {
                    self.counters.not_bind_clients += 1;
                    return self.close_esme(ek, true, now, out);
                }
                ServerState::Binding { .. } => {
                    let g = e.group;
                    self.fail_bind(ek, CommandStatus::ESME_RSYSERR, now, out);
                    if let Some(g) = g {
                        self.leave_group(g, ek, now, out);
                    }
                }
                _ => return self.close_esme(ek, true, now, out),
            }
        }
        let Some(e) = self.esmes.get_mut(ek) else {
            return;
        };
        match e.keepalive.as_mut().map(|k| k.poll(now)) {
            Some(Step::SendEnquire) => {
                let seq = e.seq.next();
                let r = reply::enquire_link(&mut out.buf, seq);
                out.send(e.conn, r);
            }
            Some(Step::Dead) => {
                log::debug!("smpp: ESME {} stopped answering enquire_link", e.peer);
                self.close_esme(ek, true, now, out);
            }
            _ => {}
        }
    }

    /// SMSC requests the ESME did not answer in time: `ESME_RSYSERR` to the SMSC.
    fn expire_esme_requests(&mut self, ek: Key, now: Instant, out: &mut Actions) {
        while let Some(w) = self
            .esmes
            .get_mut(ek)
            .and_then(|e| e.pending.pop_expired(now))
        {
            self.counters.not_responded += 1;
            if let Some(l) = self.links.get(w.from) {
                if let (Some(conn), true) = (l.conn, l.epoch == w.epoch) {
                    let r = reply::error_response(
                        &mut out.buf,
                        w.command,
                        CommandStatus::ESME_RSYSERR,
                        w.seq,
                    );
                    out.send(conn, r);
                }
            }
            if w.command == CommandId::UNBIND {
                self.close_link(w.from, now, out);
                return self.close_esme(ek, true, now, out);
            }
        }
    }

    fn link_timeout(&mut self, lk: Key, now: Instant, out: &mut Actions) {
        self.expire_link_requests(lk, now, out);
        let Some(l) = self.links.get_mut(lk) else {
            return;
        };
        if l.state.deadline().is_some_and(|d| d <= now) {
            match l.state {
                ClientState::Binding { .. } => {
                    self.drop_link_conn(lk, out);
                    return self.link_lost(lk, now, out);
                }
                ClientState::Rebinding { .. } => {
                    l.state = l.state.on_reconnect();
                    return self.connect(lk, out);
                }
                _ => return self.close_link(lk, now, out),
            }
        }
        let (Some(conn), Some(ka)) = (l.conn, l.keepalive.as_mut()) else {
            return;
        };
        match ka.poll(now) {
            Step::SendEnquire => {
                let seq = l.seq.next();
                let r = reply::enquire_link(&mut out.buf, seq);
                out.send(conn, r);
            }
            Step::Dead => {
                log::debug!(
                    "smpp: SMSC server {} stopped answering enquire_link",
                    l.server
                );
                self.drop_link_conn(lk, out);
                self.link_lost(lk, now, out);
            }
            Step::Nothing => {}
        }
    }

    /// ESME requests the SMSC did not answer in time: `ESME_RSYSERR` to the ESME.
    fn expire_link_requests(&mut self, lk: Key, now: Instant, out: &mut Actions) {
        while let Some(w) = self
            .links
            .get_mut(lk)
            .and_then(|l| l.pending.pop_expired(now))
        {
            self.counters.not_responded += 1;
            let Some(e) = self.esmes.get_mut(w.from) else {
                continue;
            };
            e.outstanding = e.outstanding.saturating_sub(1);
            let r =
                reply::error_response(&mut out.buf, w.command, CommandStatus::ESME_RSYSERR, w.seq);
            out.send(e.conn, r);
            if w.command == CommandId::UNBIND {
                self.close_esme(w.from, true, now, out);
            }
        }
    }
}
