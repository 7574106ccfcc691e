//! Node choice for the proxy: which node takes a client request, and which
//! node replaces a dead one for a response heading to it. [`Balancing`] is
//! the per-shard state of the configured [`Algorithm`]
//! (`algorithm.algorithmClass`, see [`crate::balancer::catalog`]).
//!
//! For a client request, in order: an alive node named by our Route hint
//! (same version; skipped by algorithms that do not follow hints) → an
//! alive node the request is explicitly addressed to (first remaining
//! Route, else Request-URI; never an `extraServerNodes` entry) → a hop to
//! the key's home shard for stateful algorithms → the algorithm. New calls
//! (no Route `version`) choose among the nodes of
//! [`NodeSet::new_call_version`]; dialogs stay in their version.
//!
//! Health: every non-ACK client request placed on a node and every response
//! a node sends are counted ([`HealthTally`]) and reported to the registry
//! as [`Event::Health`] through the `events` the proxy hands in.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::message::{Message, Method};
use super::routes::{self, RouteInfo};
use crate::balancer::algorithm::{Algorithm, Request, Setup};
use crate::balancer::catalog;
use crate::balancer::health_tally::HealthTally;
use crate::balancer::key::AffinityKey;
use crate::config::{AlgorithmConfig, Config};
use crate::registry::{Event, Node, NodeId, NodeSet};

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

/// An `assignToNode` for the key's home shard: `req` goes to `node`.
#[derive(Debug, Clone, Copy)]
pub struct Assign {
    /// The request as the algorithm sees it (key, Call-ID, version).
    pub req: Request,
    /// The node its hint named.
    pub node: NodeId,
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
    algo: Box<dyn Algorithm>,
    /// The `algorithm` section the algorithm was built from (a reload
    /// compares against it).
    config: AlgorithmConfig,
    key: AffinityKey,
    /// The key is the Call-ID: the caller's Call-ID hash is the key.
    key_is_call_id: bool,
    shards: usize,
    /// Snapshot generation the lifecycle hooks were last run for.
    generation: u64,
    /// Nodes taking new calls in that snapshot, by id.
    eligible: Vec<NodeId>,
    /// Scratch list for the next snapshot (kept to reuse its allocation).
    scratch: Vec<NodeId>,
    /// Counts for the registry's health checks.
    tally: HealthTally,
    /// Next wake-up when the algorithm has no timers: an hour after the
    /// last `handle_timeout`, so an idle shard is not woken for nothing.
    idle_deadline: Instant,
}

/// What [`Balancing::reconfigure`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Reconfigured {
    /// A new algorithm instance was built.
    pub(crate) changed: bool,
    /// Affinity entries moved to it.
    pub(crate) carried: usize,
    /// Affinity entries of the old instance not moved (another key).
    pub(crate) dropped: usize,
}

/// Whether two `algorithm` sections extract the same header key.
fn same_header_key(a: &AlgorithmConfig, b: &AlgorithmConfig) -> bool {
    a.sip_header_affinity_key == b.sip_header_affinity_key
        && a.sip_header_affinity_exclusion_pattern == b.sip_header_affinity_exclusion_pattern
        && a.sip_header_affinity_fallback_key == b.sip_header_affinity_fallback_key
}

/// Wake-up period of a shard whose algorithm has no timers.
const IDLE_WAKE: Duration = Duration::from_secs(3600);

impl Balancing {
    pub(crate) fn new(cfg: &Config, shards: usize, now: Instant) -> Balancing {
        let shards = shards.max(1);
        let setup = Setup {
            config: &cfg.algorithm,
            shards,
            now,
        };
        let algo = catalog::build(&setup);
        let key = AffinityKey::from_config(&cfg.algorithm);
        let key_is_call_id = !algo.keyed_by_header() || key.is_call_id();
        Balancing {
            algo,
            config: cfg.algorithm.clone(),
            key,
            key_is_call_id,
            shards,
            generation: 0,
            eligible: Vec::new(),
            scratch: Vec::new(),
            idle_deadline: now + IDLE_WAKE,
            tally: HealthTally::new(&cfg.registry.health),
        }
    }

    /// Rebuild the algorithm for a reloaded `algorithm` section (nothing if
    /// it is unchanged). The old affinity table moves to the new algorithm
    /// when both keep one under the same key (Call-ID, or the same header
    /// key settings), with the new size and idle bounds, so dialogs under
    /// way keep their node; otherwise it is dropped and dialogs go on by
    /// their Route hints. Cold path (a SIGHUP), allocates.
    pub(crate) fn reconfigure(&mut self, cfg: &AlgorithmConfig, now: Instant) -> Reconfigured {
        if *cfg == self.config {
            return Reconfigured::default();
        }
        let setup = Setup {
            config: cfg,
            shards: self.shards,
            now,
        };
        let mut algo = catalog::build(&setup);
        let key = AffinityKey::from_config(cfg);
        let key_is_call_id = !algo.keyed_by_header() || key.is_call_id();
        let same_key = key_is_call_id == self.key_is_call_id
            && (key_is_call_id || same_header_key(&self.config, cfg));
        let held = self.algo.len();
        let mut carried = 0;
        if let (true, Some(old), Some(new)) =
            (same_key, self.algo.affinity_table(), algo.affinity_table())
        {
            std::mem::swap(old, new);
            let per_shard = (cfg.call_id_affinity_max_entries / self.shards).max(1);
            new.set_limits(per_shard, cfg.call_id_affinity_max_time_in_cache, now);
            carried = new.len();
        }
        self.algo = algo;
        self.key = key;
        self.key_is_call_id = key_is_call_id;
        self.config = cfg.clone();
        // The new instance hears of every node taking new calls.
        self.generation = 0;
        self.eligible.clear();
        Reconfigured {
            changed: true,
            carried,
            dropped: held.saturating_sub(carried),
        }
    }

    /// Node for a client request (see the module documentation); health
    /// reports due are pushed to `events`.
    pub(crate) fn choose<'n>(
        &mut self,
        nodes: &'n NodeSet,
        msg: &Message<'_>,
        routes: &RouteInfo<'_>,
        ctx: &ChoiceCtx,
        events: &mut Vec<Event>,
    ) -> Choice<'n> {
        let choice = self.decide(nodes, msg, routes, ctx);
        if let Choice::Node(n) = &choice {
            if msg.method() != Some(Method::Ack) {
                self.tally.request_sent(n.id);
            }
        }
        self.tally.flush(ctx.now, events);
        choice
    }

    /// A response `msg` arrived from `sender`, the node at its source
    /// address if any (`from_node`: it came from the node side): count it
    /// for the health checks, tell the algorithm, push the reports due to
    /// `events`.
    pub(crate) fn response_seen(
        &mut self,
        nodes: &NodeSet,
        sender: Option<NodeId>,
        from_node: bool,
        msg: &Message<'_>,
        now: Instant,
        events: &mut Vec<Event>,
    ) {
        let sender = sender.filter(|_| from_node);
        if let (Some(id), Some(status)) = (sender, msg.status_code()) {
            self.tally.response_seen(id, status);
            if let Some(n) = nodes.get(id) {
                self.algo.response_seen(n, status, now);
            }
        }
        self.tally.flush(now, events);
    }

    /// A non-ACK request (either direction) whose Route hint names the
    /// alive `node` of its version (original §2.5 step 7, `assignToNode`):
    /// the stateful algorithms remember the node for the request's key.
    /// Done here on the key's home shard; for another shard the
    /// assignment is returned, to be sent there.
    pub(crate) fn assign(
        &mut self,
        nodes: &NodeSet,
        msg: &Message<'_>,
        node: &Node,
        ctx: &ChoiceCtx,
    ) -> Option<(usize, Assign)> {
        let req = self.request(msg, ctx.key, node.version);
        let home = if self.key_is_call_id {
            ctx.home
        } else {
            (req.key % self.shards as u64) as usize
        };
        let a = Assign { req, node: node.id };
        if home != ctx.shard && !ctx.handed_off {
            return Some((home, a));
        }
        self.apply_assign(nodes, a, ctx.now);
        None
    }

    /// Whether the algorithm keeps per-key state (assignments matter).
    pub(crate) fn stateful(&self) -> bool {
        self.algo.stateful()
    }

    /// Apply an assignment made here or sent by another shard.
    pub(crate) fn apply_assign(&mut self, nodes: &NodeSet, a: Assign, now: Instant) {
        self.sync(nodes, now);
        if let Some(n) = nodes.get(a.node).filter(|n| n.is_alive()) {
            self.algo.assign(&a.req, n, now);
        }
    }

    fn decide<'n>(
        &mut self,
        nodes: &'n NodeSet,
        msg: &Message<'_>,
        routes: &RouteInfo<'_>,
        ctx: &ChoiceCtx,
    ) -> Choice<'n> {
        self.sync(nodes, ctx.now);
        let version_ok = |n: &Node| routes.version.is_none_or(|v| v == n.version);
        if self.algo.follows_hints() {
            if let Some(n) = routes
                .hint
                .and_then(|a| nodes.alive_by_addr(a.ip(), a.port()))
            {
                if version_ok(n) {
                    return Choice::Node(n);
                }
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
        let version = routes.version.unwrap_or_else(|| nodes.new_call_version());
        let req = self.request(msg, ctx.key, version);
        if self.algo.stateful() && !ctx.handed_off {
            let home = if self.key_is_call_id {
                ctx.home
            } else {
                (req.key % self.shards as u64) as usize
            };
            if home != ctx.shard {
                return Choice::HandOff(home);
            }
        }
        match self.algo.choose(&req, nodes, ctx.now) {
            Some(n) => Choice::Node(n),
            None => Choice::NoNode,
        }
    }

    /// A response `msg` from outside going to `dst`, the address in the
    /// node's Via (`call_id` = Call-ID hash, `version` from our Via): an
    /// alive node there keeps it. Else (original §4.2
    /// `processExternalResponse`: "the Via is not an alive node") the
    /// replacement is the node the dialog's next request goes to: the
    /// algorithm's failover for a known dead node, its first candidate for
    /// an address no node has (the node left the set, or this balancer
    /// restarted and has not heard of it yet) when `unknown` is given: two
    /// entry points, where the leg tells the direction (with one, an unknown
    /// sender may be a node not registered yet, answering a client); it
    /// lists the `extraServerNodes`, which are never re-targeted.
    pub(crate) fn failover_target(
        &self,
        nodes: &NodeSet,
        msg: &Message<'_>,
        call_id: u64,
        dst: SocketAddr,
        version: u32,
        unknown: Option<&[SocketAddr]>,
    ) -> Retarget {
        let req = self.request(msg, call_id, version);
        let new = match nodes.find_by_addr(dst.ip(), dst.port()) {
            Some(n) if n.is_alive() => return Retarget::Keep,
            Some(dead) => self.algo.failover(&req, dead, nodes),
            None if unknown.is_none_or(|extra| extra.contains(&dst)) => return Retarget::Keep,
            None => self.algo.candidates(&req, nodes).next(),
        };
        match new.and_then(|p| p.addr(crate::config::Transport::Udp)) {
            Some(addr) => Retarget::To(addr),
            None => Retarget::NoNode,
        }
    }

    /// Run timers (affinity-table eviction) due at `now`.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        self.algo.handle_timeout(now);
        if now >= self.idle_deadline {
            self.idle_deadline = now + IDLE_WAKE;
        }
    }

    /// When `handle_timeout` should next run.
    pub(crate) fn poll_timeout(&self) -> Instant {
        self.algo.poll_timeout().unwrap_or(self.idle_deadline)
    }

    /// Entries in this shard's affinity state.
    pub(crate) fn len(&self) -> usize {
        self.algo.len()
    }

    /// The algorithm's view of a request.
    fn request(&self, msg: &Message<'_>, call_id: u64, version: u32) -> Request {
        let key = if self.key_is_call_id {
            call_id
        } else {
            self.key.hash(msg)
        };
        Request {
            key,
            call_id,
            version,
        }
    }

    /// Run the lifecycle hooks for a snapshot not seen yet: nodes that
    /// started or stopped taking new calls.
    fn sync(&mut self, nodes: &NodeSet, now: Instant) {
        if nodes.generation == self.generation {
            return;
        }
        self.generation = nodes.generation;
        self.scratch.clear();
        let eligible = nodes.nodes().iter().filter(|n| n.takes_new_calls());
        self.scratch.extend(eligible.map(|n| n.id));
        for n in nodes.nodes() {
            let was = self.eligible.binary_search(&n.id).is_ok();
            let is = self.scratch.binary_search(&n.id).is_ok();
            match (was, is) {
                (false, true) => self.algo.node_added(n, now),
                (true, false) => self.algo.node_removed(n, now),
                _ => {}
            }
        }
        std::mem::swap(&mut self.eligible, &mut self.scratch);
    }
}

#[cfg(test)]
#[path = "choice_tests.rs"]
mod tests;
