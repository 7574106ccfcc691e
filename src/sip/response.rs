//! The response path: pop our Vias, send to the next Via (`received` /
//! `rport` honoured); a response heading for a node that has died is
//! re-targeted to the node that now owns the Call-ID (original §4.2); a
//! response from a client carries its source address to the node
//! ([`super::initial_remote`]); a response from a node gets the `publicIp`
//! patching ([`super::nat`]).

use std::time::Instant;

use super::choice::Retarget;
use super::initial_remote;
use super::message::Message;
use super::nat;
use super::proxy::{Datagram, Dest, LegId, Output, Proxy};
use super::reply;
use super::transport::{self, Transport};
use super::vias;
use crate::balancer::hash::key_hash;

// === impl Proxy: responses ===

impl Proxy {
    pub(crate) fn response(
        &mut self,
        msg: &Message<'_>,
        d: Datagram<'_>,
        now: Instant,
        out: &mut Output,
    ) {
        let Some(vias::Popped {
            version,
            next,
            conn,
        }) = vias::pop_ours(msg, &self.settings, &mut self.edits)
        else {
            self.counters.stray_responses += 1;
            log::debug!(
                "response from {} is not ours or has no next Via; dropped",
                d.src
            );
            return;
        };
        let Some(mut dst) = reply::via_target(&next) else {
            self.counters.dropped += 1;
            return;
        };
        let sender = self
            .nodes
            .find_by_addr(d.src.ip(), d.src.port())
            .map(|n| n.id);
        let from_node = if self.settings.two_entry {
            d.leg == LegId::Internal
        } else {
            sender.is_some()
        };
        if let Some(id) = sender {
            self.refresh(id, now, out);
        }
        self.balancing
            .response_seen(&self.nodes, sender, from_node, msg, now, &mut out.events);
        let leg = if from_node || !self.settings.two_entry {
            LegId::External
        } else {
            LegId::Internal
        };
        let mut retargeted = false;
        if !from_node {
            initial_remote::stamp(msg, d.src, &mut self.edits);
            match self.balancing.failover_target(
                &self.nodes,
                msg,
                key_hash(msg.call_id()),
                dst,
                version,
                self.settings
                    .two_entry
                    .then_some(self.settings.extra_server_nodes.as_slice()),
            ) {
                Retarget::Keep => {}
                Retarget::To(new) => {
                    vias::retarget(msg.buf(), &next, new.ip(), new.port(), &mut self.edits);
                    dst = new;
                    retargeted = true;
                }
                Retarget::NoNode => {
                    self.counters.no_node += 1;
                    return;
                }
            }
        }
        let transport = transport::parse_token(next.transport).unwrap_or(Transport::Udp);
        if from_node {
            if let Some(nat) = &self.settings.nat {
                let s = &self.settings;
                if !(s.rules_matter && s.rules.wants_real(dst.ip())) {
                    let contact = nat::response_contact_is_target(msg);
                    nat.patch(msg, transport, contact, &mut self.edits);
                }
            }
        }
        let conn = conn.filter(|c| c.transport() == transport && !retargeted);
        let start = out.buf.len();
        self.edits.apply(msg.buf(), &mut out.buf);
        let to = Dest {
            leg,
            dst,
            transport,
            conn,
        };
        out.emit(to, start);
        self.counters.responses_forwarded += 1;
        if let Some(code) = msg.status_code() {
            self.counters.count_response(code);
        }
        let body = msg.body();
        self.counters.body_bytes += u64::from(body.end.saturating_sub(body.start));
    }
}
