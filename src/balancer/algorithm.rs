//! The [`Algorithm`] trait: the contract between the proxy and a balancing
//! policy.
//!
//! # What the proxy does before asking
//! For every client request [`crate::sip::choice`] first applies the rules
//! every algorithm shares (the original's `processAssignedExternalRequest`):
//! an alive node named by our Route hint (`node_host`/`node_port`, same
//! version) takes the request — unless [`Algorithm::follows_hints`] says
//! no —, then an alive node the request is explicitly addressed to (first
//! remaining Route, else Request-URI). Only what is left reaches
//! [`Algorithm::choose`]. A [`Algorithm::stateful`] algorithm is asked on the
//! home shard of the request's key only (the request hops there first), so
//! its per-key state never needs a lock.
//!
//! # Candidates
//! An algorithm ranks the nodes that take new calls of the request's
//! version ([`Algorithm::candidates`]): the first is the choice, the next
//! one the failover of the first, and so on. The built-in rankings are
//! rendezvous hashes and "longest up" ([`super::rendezvous::Candidates`]),
//! pure functions of the key and the [`NodeSet`] snapshot, so that every
//! shard and every balancer instance ranks alike.
//!
//! # Lifecycle
//! The algorithm lives on one shard for the whole run. When the registry
//! publishes a new snapshot, [`Algorithm::node_added`] and
//! [`Algorithm::node_removed`] report the nodes that started or stopped
//! taking new calls (before the next choice with that snapshot);
//! [`Algorithm::response_seen`] reports each response a node sent through
//! this shard; [`Algorithm::handle_timeout`] / [`Algorithm::poll_timeout`]
//! run its timers (table eviction). `now` is always an argument. A
//! configuration reload that changes the `algorithm` section builds a new
//! instance; the old one's [`Algorithm::affinity_table`] moves into it.
//!
//! # Writing a custom algorithm
//! Implement the trait (only [`Algorithm::name`] and
//! [`Algorithm::candidates`] are required), register a factory under a name
//! before the runtime starts, and select it in the configuration with
//! `algorithmClass: custom:<name>`:
//!
//! ```
//! use sip_balancer::balancer::algorithm::{Algorithm, Request, Setup};
//! use sip_balancer::balancer::catalog;
//! use sip_balancer::balancer::rendezvous::{Candidates, Order};
//! use sip_balancer::registry::NodeSet;
//!
//! /// Every new call to the longest-up node of the version, keyed by nothing.
//! #[derive(Debug)]
//! struct Oldest;
//!
//! impl Algorithm for Oldest {
//!     fn name(&self) -> &'static str {
//!         "oldest"
//!     }
//!     fn candidates<'n>(&self, req: &Request, nodes: &'n NodeSet) -> Candidates<'n> {
//!         Candidates::new(nodes, req.version, Order::LongestUp)
//!     }
//! }
//!
//! fn oldest(_: &Setup<'_>) -> Box<dyn Algorithm> {
//!     Box::new(Oldest)
//! }
//!
//! catalog::register("oldest", oldest);
//! assert!(catalog::is_registered("oldest"));
//! ```
//!
//! A custom algorithm must keep the rules the proxy relies on: no I/O, no
//! clock, no lock or shared atomic on `choose`, bounded memory, and — if it
//! is not [`Algorithm::stateful`] — choices that depend only on the request
//! and the snapshot.

use std::fmt;
use std::time::Instant;

use super::call_id_table::CallIdTable;
use super::rendezvous::Candidates;
use crate::config::AlgorithmConfig;
use crate::registry::{Node, NodeSet};

/// What an algorithm sees of one client request (or of the dialog a
/// response belongs to, for [`Algorithm::failover`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    /// Hash of the configured affinity key (`sipHeaderAffinityKey` after
    /// exclusion and fallback); the Call-ID hash when the key is the Call-ID.
    pub key: u64,
    /// Hash of the Call-ID.
    pub call_id: u64,
    /// Version to choose from: the dialog's (Route `version`, Via branch) or,
    /// for a new call, [`NodeSet::new_call_version`].
    pub version: u32,
}

/// Construction context of an algorithm (one per shard).
#[derive(Debug, Clone, Copy)]
pub struct Setup<'a> {
    /// The `algorithm` configuration section.
    pub config: &'a AlgorithmConfig,
    /// Number of shards: a stateful algorithm holds `1 / shards` of the state.
    pub shards: usize,
    /// Creation time (timers start here).
    pub now: Instant,
}

/// A balancing policy. See the module documentation.
pub trait Algorithm: fmt::Debug + Send {
    /// Name for logs.
    fn name(&self) -> &'static str;

    /// The nodes for `req`, best first (failover = next candidate).
    fn candidates<'n>(&self, req: &Request, nodes: &'n NodeSet) -> Candidates<'n>;

    /// The node for a client request that no hint or explicit address
    /// placed. Default: the first candidate.
    fn choose<'n>(&mut self, req: &Request, nodes: &'n NodeSet, now: Instant) -> Option<&'n Node> {
        let _ = now;
        self.candidates(req, nodes).next()
    }

    /// Where a dialog that was on `dead` (no longer alive) continues, for a
    /// response heading to `dead`. Called on any shard: must be a pure
    /// function of (`req`, `dead`, `nodes`) and agree with what
    /// [`Algorithm::choose`] does for that dialog's next request. Default:
    /// the first candidate.
    fn failover<'n>(&self, req: &Request, dead: &Node, nodes: &'n NodeSet) -> Option<&'n Node> {
        let _ = dead;
        self.candidates(req, nodes).next()
    }

    /// A request carried our Route hint naming `node`, which is alive and
    /// of the dialog's version (the original's `assignToNode`): remember
    /// it for `req` so the key's later requests without a hint go there
    /// too (after a balancer restart the table fills again this way).
    /// Called on the key's home shard. Default: nothing.
    fn assign(&mut self, req: &Request, node: &Node, now: Instant) {
        let _ = (req, node, now);
    }

    /// Whether the algorithm keys its choices by the configured header key
    /// (`true`) or only by the Call-ID (`false`, the default; then the
    /// header key is not extracted and [`Request::key`] is the Call-ID hash).
    fn keyed_by_header(&self) -> bool {
        false
    }

    /// Whether `choose` keeps per-key state: then it is only called on the
    /// home shard of [`Request::key`] (`key % shards`). Default `false`.
    fn stateful(&self) -> bool {
        false
    }

    /// Whether an alive node named by a Route hint takes the request before
    /// the algorithm is asked. Default `true`.
    fn follows_hints(&self) -> bool {
        true
    }

    /// `node` now takes new calls (joined, came back, finished draining…).
    fn node_added(&mut self, node: &Node, now: Instant) {
        let _ = (node, now);
    }

    /// `node` no longer takes new calls (dead, draining, excluded).
    fn node_removed(&mut self, node: &Node, now: Instant) {
        let _ = (node, now);
    }

    /// `node` sent a response with `status` through this shard.
    fn response_seen(&mut self, node: &Node, status: u16, now: Instant) {
        let _ = (node, status, now);
    }

    /// Run timers due at `now`.
    fn handle_timeout(&mut self, now: Instant) {
        let _ = now;
    }

    /// When `handle_timeout` should next run, if ever.
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    /// The per-key affinity table, if the algorithm keeps one: a
    /// configuration reload that replaces the algorithm moves it to the new
    /// instance (when both key alike), so dialogs under way keep their node.
    /// Default `None`.
    fn affinity_table(&mut self) -> Option<&mut CallIdTable> {
        None
    }

    /// Entries of per-key state held on this shard.
    fn len(&self) -> usize {
        0
    }

    /// No per-key state held.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
