//! Node choice for the proxy: which node takes a client request, and which
//! node replaces a dead one for a response heading to it. [`Balancing`] is
//! the per-shard state of the configured algorithm (today Call-ID affinity:
//! the home shard's table plus rendezvous hashing).

use std::net::SocketAddr;
use std::time::Instant;

use super::message::Message;
use super::routes::{self, RouteInfo};
use crate::balancer::call_id_table::CallIdTable;
use crate::balancer::rendezvous;
use crate::config::Config;
use crate::registry::{Node, NodeSet};

/// Outcome of choosing a node for a client request.
pub(crate) enum Choice<'n> {
    Node(&'n Node),
    HandOff(usize),
    NoNode,
}

/// Inputs of the node choice that are not the tables.
pub(crate) struct ChoiceCtx {
    pub(crate) home: usize,
    pub(crate) shard: usize,
    pub(crate) handed_off: bool,
    /// `key_hash(Call-ID)`.
    pub(crate) key: u64,
    pub(crate) now: Instant,
}

/// Where a response heading for a node should go instead.
pub(crate) enum Retarget {
    Keep,
    To(SocketAddr),
    NoNode,
}

/// Per-shard state of the balancing algorithm.
#[derive(Debug)]
pub(crate) struct Balancing {
    table: CallIdTable,
}

impl Balancing {
    pub(crate) fn new(cfg: &Config, shards: usize, now: Instant) -> Balancing {
        let algo = &cfg.algorithm;
        let per_shard = (algo.call_id_affinity_max_entries / shards.max(1)).max(1);
        Balancing {
            table: CallIdTable::new(per_shard, algo.call_id_affinity_max_time_in_cache, now),
        }
    }

    /// Node for a client request: alive hint → explicitly addressed alive
    /// node → affinity table (on the home shard) → rendezvous hash over the
    /// live nodes of the dialog's version (new call or failover; recorded in
    /// the table).
    pub(crate) fn choose<'n>(
        &mut self,
        nodes: &'n NodeSet,
        _msg: &Message<'_>,
        routes: &RouteInfo<'_>,
        ctx: &ChoiceCtx,
    ) -> Choice<'n> {
        let table = &mut self.table;
        let version_ok = |n: &Node| routes.version.is_none_or(|v| v == n.version);
        if let Some(n) = routes
            .hint
            .and_then(|a| nodes.alive_by_addr(a.ip(), a.port()))
        {
            if version_ok(n) {
                return Choice::Node(n);
            }
        }
        let explicit = match routes.first_remaining {
            Some(r) => routes::uri_addr(&r.uri),
            None => routes.ruri.and_then(|u| routes::uri_addr(&u)),
        };
        if let Some(n) = explicit.and_then(|a| nodes.alive_by_addr(a.ip(), a.port())) {
            if version_ok(n) && n.source != crate::registry::NodeSource::Extra {
                return Choice::Node(n);
            }
        }
        if ctx.home != ctx.shard && !ctx.handed_off {
            return Choice::HandOff(ctx.home);
        }
        if let Some(n) = table.get(ctx.key, ctx.now).and_then(|id| nodes.get(id)) {
            if n.is_alive() {
                return Choice::Node(n);
            }
        }
        let version = routes.version.unwrap_or_else(|| nodes.latest_version());
        match rendezvous::pick(ctx.key, nodes.candidates(version)) {
            Some(n) => {
                table.insert(ctx.key, n.id, ctx.now);
                Choice::Node(n)
            }
            None => Choice::NoNode,
        }
    }

    /// A response going to node address `dst`: if that node is known and
    /// dead, the replacement is the rendezvous choice for the Call-ID
    /// (`key`) among the live nodes of the dialog's version — the same node
    /// in-dialog requests fail over to.
    pub(crate) fn failover_target(
        &self,
        nodes: &NodeSet,
        key: u64,
        dst: SocketAddr,
        version: u32,
    ) -> Retarget {
        match nodes.find_by_addr(dst.ip(), dst.port()) {
            Some(n) if !n.is_alive() => {
                match rendezvous::pick(key, nodes.candidates(version))
                    .and_then(|p| p.addr(crate::config::Transport::Udp))
                {
                    Some(addr) => Retarget::To(addr),
                    None => Retarget::NoNode,
                }
            }
            _ => Retarget::Keep,
        }
    }

    /// Run timers (affinity-table eviction) due at `now`.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        self.table.handle_timeout(now);
    }

    /// When `handle_timeout` should next run.
    pub(crate) fn poll_timeout(&self) -> Instant {
        self.table.poll_timeout()
    }

    /// Entries in this shard's affinity state.
    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }
}
