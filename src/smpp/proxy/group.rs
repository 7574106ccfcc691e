//! Groups: the ESME(s) and SMSC link(s) that serve each other.
//!
//! Regular mode: one ESME, one link, created at bind, deleted when either
//! side ends. Mux mode: a UserSpace per `system_id` with one link per SMSC,
//! created by the first bind and deleted when its last ESME leaves.

use std::time::Instant;

use super::slab::Key;
use super::{Actions, Group, Owner, SmppBalancer};
use crate::smpp::command::CommandStatus;
use crate::smpp::reply;
use crate::smpp::session::client::ClientState;
use crate::smpp::session::keepalive::Policy;
use crate::smpp::session::server::ServerState;
use crate::smpp::session::Keepalive;

/// `system_id` of the balancer's own bind responses (mux mode).
pub(super) const LB_SYSTEM_ID: &[u8] = b"loadbalancer";

// === impl SmppBalancer: groups ===

impl SmppBalancer {
    /// A reloaded `remoteServers` (regular mode; mux mode keeps one link
    /// per server and group, so there it needs a restart). Connections
    /// under way stay where they are; a link's server is renumbered to its
    /// address's place in the new list, or — when that server was removed —
    /// to the same place modulo the new length, where it goes if it must
    /// reconnect. New ESMEs are spread round robin over the new list.
    /// Returns `false` (nothing changed) in mux mode.
    pub fn set_servers(&mut self, servers: Vec<std::net::SocketAddr>) -> bool {
        if self.settings.mux {
            return false;
        }
        let old = std::mem::replace(&mut self.settings.servers, servers);
        let new = &self.settings.servers;
        let n = new.len().max(1);
        let place = |i: usize| {
            old.get(i)
                .and_then(|a| new.iter().position(|b| b == a))
                .unwrap_or(i % n)
        };
        for l in self.links.values_mut() {
            l.server = place(l.server);
            l.first_server = place(l.first_server);
        }
        self.next_server %= n;
        true
    }

    /// Regular mode: a link of its own for ESME `ek`, to the next server.
    pub(super) fn regular_bind(&mut self, ek: Key, _now: Instant, out: &mut Actions) {
        let n = self.settings.servers.len().max(1);
        let server = self.next_server % n;
        self.next_server = (server + 1) % n;
        let g = self.groups.insert(Group {
            creds: None,
            esmes: vec![ek],
            links: Vec::new(),
            submit_rr: 0,
            deliver_rr: 0,
        });
        if let Some(e) = self.esmes.get_mut(ek) {
            e.group = Some(g);
        }
        self.new_link(g, server, out);
    }

    /// Mux mode: join (or create) the UserSpace of the ESME's `system_id`.
    pub(super) fn mux_bind(&mut self, ek: Key, now: Instant, out: &mut Actions) {
        let Some(bind) = self.esmes.get(ek).and_then(|e| e.bind.clone()) else {
            return;
        };
        if let Some(&g) = self.by_system_id.get(bind.system_id.as_slice()) {
            if let Some(group) = self.groups.get_mut(g) {
                group.esmes.push(ek);
            }
            if let Some(e) = self.esmes.get_mut(ek) {
                e.group = Some(g);
            }
            if self.has_bound_link(g) {
                self.mux_answer(ek, g, now, out);
            }
            return;
        }
        let g = self.groups.insert(Group {
            creds: Some(bind.clone()),
            esmes: vec![ek],
            links: Vec::new(),
            submit_rr: 0,
            deliver_rr: 0,
        });
        self.by_system_id
            .insert(bind.system_id.into_boxed_slice(), g);
        if let Some(e) = self.esmes.get_mut(ek) {
            e.group = Some(g);
        }
        for server in 0..self.settings.servers.len() {
            self.new_link(g, server, out);
        }
    }

    fn has_bound_link(&self, g: Key) -> bool {
        self.groups.get(g).is_some_and(|group| {
            group.links.iter().any(|&l| {
                self.links
                    .get(l)
                    .is_some_and(|l| l.state == ClientState::Bound)
            })
        })
    }

    /// Mux mode: answer ESME `ek`'s bind locally.
    fn mux_answer(&mut self, ek: Key, g: Key, now: Instant, out: &mut Actions) {
        let policy = self.esme_policy();
        let tc = self.settings.timeout_connection;
        let password = self
            .groups
            .get(g)
            .and_then(|g| g.creds.as_ref())
            .map(|c| c.password.clone());
        let Some(e) = self.esmes.get_mut(ek) else {
            return;
        };
        let Some(b) = &e.bind else {
            return;
        };
        let ok = password.as_deref() == Some(b.password.as_slice());
        let status = if ok {
            CommandStatus::ESME_ROK
        } else {
            CommandStatus::ESME_RINVPASWD
        };
        let r = reply::bind_resp(
            &mut out.buf,
            b.id,
            status,
            b.seq,
            LB_SYSTEM_ID,
            b.interface_version,
        );
        out.send(e.conn, r);
        self.counters.responses_to_client += 1;
        if ok {
            e.state = e.state.on_bound();
            e.keepalive = Some(Keepalive::start(policy, now));
        } else {
            e.state = e.state.on_bind_failed(now, tc);
            e.group = None;
            self.leave_group(g, ek, now, out);
        }
        self.schedule(Owner::Esme(ek), now);
    }

    /// Mux mode: a link of `g` bound; answer the waiting ESMEs, end rebinding.
    pub(super) fn mux_group_bound(&mut self, g: Key, now: Instant, out: &mut Actions) {
        let policy = self.esme_policy();
        let esmes = self
            .groups
            .get(g)
            .map(|g| g.esmes.clone())
            .unwrap_or_default();
        for ek in esmes {
            match self.esmes.get(ek).map(|e| e.state) {
                Some(ServerState::Binding { .. }) => self.mux_answer(ek, g, now, out),
                Some(ServerState::Rebinding) => {
                    if let Some(e) = self.esmes.get_mut(ek) {
                        e.state = e.state.on_bound();
                        e.keepalive = Some(Keepalive::start(policy, now));
                    }
                }
                _ => {}
            }
        }
    }

    /// Mux mode: the SMSC of `lk` refused the bind with `status`.
    pub(super) fn mux_bind_failed(
        &mut self,
        lk: Key,
        g: Key,
        status: u32,
        now: Instant,
        out: &mut Actions,
    ) {
        if matches!(
            status,
            CommandStatus::ESME_RINVPASWD | CommandStatus::ESME_RINVSYSID
        ) {
            self.close_link(lk, now, out);
            return self.mux_links_changed(g, status, now, out);
        }
        // transient: reconnect and bind again after reconnectPeriod
        self.drop_link_conn(lk, out);
        let rp = self.settings.reconnect_period;
        if let Some(l) = self.links.get_mut(lk) {
            l.state = l.state.on_lost(now, rp);
        }
    }

    /// Mux mode: links of `g` were removed. With none left, the first
    /// binding ESME gets `status`, bound ESMEs are unbound, and the next
    /// binding ESME (if any) starts a new attempt with its credentials.
    pub(super) fn mux_links_changed(
        &mut self,
        g: Key,
        status: u32,
        now: Instant,
        out: &mut Actions,
    ) {
        let Some(group) = self.groups.get(g) else {
            return;
        };
        if !group.links.is_empty() {
            return;
        }
        let esmes = group.esmes.clone();
        let binding = |s: &Self, k: Key| {
            s.esmes
                .get(k)
                .is_some_and(|e| matches!(e.state, ServerState::Binding { .. }))
        };
        let (waiting, bound): (Vec<Key>, Vec<Key>) =
            esmes.into_iter().partition(|&k| binding(self, k));
        for &ek in &bound {
            self.unbind_esme(Some(ek), now, out);
        }
        let mut waiting = waiting.into_iter();
        if let Some(first) = waiting.next() {
            self.fail_bind(first, status, now, out);
            self.forget_member(g, first);
        }
        let rest: Vec<Key> = waiting.collect();
        self.delete_group(g, now, out);
        // the rest bind again, the first of them with its own credentials
        for ek in rest {
            if let Some(e) = self.esmes.get_mut(ek) {
                e.group = None;
            }
            self.mux_bind(ek, now, out);
        }
    }

    /// A bound link of `g` was lost: ESMEs left with no bound link rebind.
    pub(super) fn group_link_lost(&mut self, g: Key, now: Instant) {
        if self.has_bound_link(g) {
            return;
        }
        let esmes = self
            .groups
            .get(g)
            .map(|g| g.esmes.clone())
            .unwrap_or_default();
        for ek in esmes {
            if let Some(e) = self.esmes.get_mut(ek) {
                e.state = e.state.on_link_lost();
                if e.state == ServerState::Rebinding {
                    e.keepalive = None;
                }
            }
            self.schedule(Owner::Esme(ek), now);
        }
    }

    /// Sends ESME `ek` an `unbind` and detaches it from its group; it is
    /// closed on its `unbind_resp` or after `timeoutResponse`.
    pub(super) fn unbind_esme(&mut self, ek: Option<Key>, now: Instant, out: &mut Actions) {
        let t = self.settings.timeout_response;
        let Some(ek) = ek else {
            return;
        };
        let Some(e) = self.esmes.get_mut(ek) else {
            return;
        };
        let seq = e.seq.next();
        let r = reply::unbind(&mut out.buf, seq);
        out.send(e.conn, r);
        e.state = e.state.on_unbind_sent(now, t);
        e.keepalive = None;
        let g = e.group.take();
        if let Some(g) = g {
            self.leave_group(g, ek, now, out);
        }
        self.schedule(Owner::Esme(ek), now);
    }

    /// Removes ESME `ek`; `emit_close` unless the peer already closed.
    pub(super) fn close_esme(
        &mut self,
        ek: Key,
        emit_close: bool,
        now: Instant,
        out: &mut Actions,
    ) {
        let Some(mut e) = self.esmes.remove(ek) else {
            return;
        };
        if self.conns.get(&e.conn) == Some(&Owner::Esme(ek)) {
            self.conns.remove(&e.conn);
        }
        if emit_close {
            out.close(e.conn);
        }
        // SMSC requests this ESME will never answer
        for w in e.pending.drain() {
            let Some(l) = self.links.get(w.from) else {
                continue;
            };
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
        if let Some(g) = e.group {
            self.leave_group(g, ek, now, out);
        }
    }

    /// ESME `ek` leaves group `g`; an empty (or regular) group is deleted.
    pub(super) fn leave_group(&mut self, g: Key, ek: Key, now: Instant, out: &mut Actions) {
        self.forget_member(g, ek);
        let empty = self.groups.get(g).is_some_and(|g| g.esmes.is_empty());
        if empty || !self.settings.mux {
            self.delete_group(g, now, out);
        }
    }

    fn forget_member(&mut self, g: Key, ek: Key) {
        if let Some(group) = self.groups.get_mut(g) {
            group.esmes.retain(|&k| k != ek);
        }
    }

    /// Deletes group `g`: bound links are unbound (and closed on their
    /// `unbind_resp` or after `timeoutResponse`), the others closed now.
    fn delete_group(&mut self, g: Key, now: Instant, out: &mut Actions) {
        let t = self.settings.timeout_response;
        let Some(group) = self.groups.remove(g) else {
            return;
        };
        if let Some(c) = &group.creds {
            if self.by_system_id.get(c.system_id.as_slice()) == Some(&g) {
                self.by_system_id.remove(c.system_id.as_slice());
            }
        }
        for ek in group.esmes {
            if let Some(e) = self.esmes.get_mut(ek) {
                e.group = None;
            }
        }
        for lk in group.links {
            let Some(l) = self.links.get_mut(lk) else {
                continue;
            };
            match (l.state, l.conn) {
                (ClientState::Bound, Some(conn)) => {
                    let seq = l.seq.next();
                    let r = reply::unbind(&mut out.buf, seq);
                    out.send(conn, r);
                    l.state = l.state.on_unbind_sent(now, t);
                    l.keepalive = None;
                    self.counters.requests_to_server += 1;
                    self.schedule(Owner::Link(lk), now);
                }
                (ClientState::Unbinding { .. }, Some(_)) => {}
                _ => self.close_link(lk, now, out),
            }
        }
    }

    /// Supervision of ESME connections.
    pub(super) fn esme_policy(&self) -> Policy {
        let s = &self.settings;
        if s.mux {
            Policy::WhenIdle {
                period: s.timeout_enquire,
                check_every: s.timeout_connection,
                threshold: s.check_server_side,
            }
        } else {
            Policy::Always {
                period: s.timeout_enquire,
                answer_within: s.check_client_side,
            }
        }
    }

    /// Supervision of SMSC connections.
    pub(super) fn link_policy(&self) -> Policy {
        let s = &self.settings;
        if s.mux {
            Policy::WhenIdle {
                period: s.timeout_enquire,
                check_every: s.timeout_connection,
                threshold: s.check_client_side,
            }
        } else {
            Policy::Always {
                period: s.timeout_enquire,
                answer_within: s.check_client_side,
            }
        }
    }
}
