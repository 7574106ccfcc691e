//! Rendezvous (highest-random-weight) hashing and the candidate order every
//! built-in algorithm walks.
//!
//! The score of a node for a key is `mix64(key ^ node.hash)`; the node with
//! the highest score wins, the second highest is the first failover, and so
//! on. A pure function of (key, node identities): every shard and every
//! balancer instance ranks alike, removing a node moves only that node's
//! keys, each to the survivor that ranked second for it (so a dead node's
//! share spreads evenly over all survivors), and adding a node moves to it
//! only the keys it now wins.
//!
//! Slow start: a ramping node (`weight` < 100) *admits* a key only when an
//! independent hash of the key, modulo 100, is below its weight; keys it
//! does not admit go to the next candidate. Raising a weight only ever adds
//! keys to the ramping node, so a ramp moves exactly the keys the node will
//! own once it is full. When no candidate admits a key it goes to the best
//! one anyway (a lone ramping node still gets every call).
//!
//! [`Candidates`] yields nodes in this order without allocating: each step
//! scans the (small) eligible list for the best node ranked below the last
//! one yielded.

use super::hash::mix64;
use crate::registry::node::{Node, FULL_WEIGHT};
use crate::registry::node_set::{Eligible, NodeSet};

/// Salt of the slow-start admission hash, so that admission is independent
/// of the rendezvous score (a fixed constant: shards and instances agree).
const ADMISSION_SALT: u64 = 0x5851_f42d_4c95_7f2d;

/// Score of a node (by identity hash) for a key: the highest wins.
#[inline]
pub fn score(key: u64, node_hash: u64) -> u64 {
    mix64(key ^ node_hash)
}

/// Whether a node of slow-start `weight` (percent) takes `key`.
#[inline]
pub fn admits(key: u64, weight: u8) -> bool {
    weight >= FULL_WEIGHT || mix64(key ^ ADMISSION_SALT) % 100 < u64::from(weight)
}

/// The candidate with the highest score for `key_hash`, or `None` if empty
/// (no slow-start weighting; see [`Candidates`] for the full order).
pub fn pick<'a, I>(key_hash: u64, candidates: I) -> Option<&'a Node>
where
    I: IntoIterator<Item = &'a Node>,
{
    candidates
        .into_iter()
        .max_by_key(|n| (score(key_hash, n.hash), n.hash))
}

/// How candidates are ranked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Rendezvous score for this key, slow-start admission applied.
    Rendezvous(u64),
    /// Longest up first (smallest [`Node::up_since`]); no weighting.
    LongestUp,
}

/// The nodes that take new calls of one version, best first, as
/// [`Order`] ranks them: the first is the choice, each next one the
/// failover of the previous.
#[derive(Debug, Clone)]
pub struct Candidates<'n> {
    nodes: &'n NodeSet,
    pool: &'n [Eligible],
    order: Order,
    /// Rank of the last node yielded in this pass.
    below: Option<(u64, u64)>,
    /// Pass 0: admitted nodes; pass 1: the others; 2: done.
    pass: u8,
    /// Whether any node of the pool ramps (else pass 1 is empty).
    ramping: bool,
}

// === impl Candidates ===

impl<'n> Candidates<'n> {
    /// Nodes of `version` taking new calls, by rendezvous score for `key`.
    pub fn rendezvous(nodes: &'n NodeSet, version: u32, key: u64) -> Candidates<'n> {
        Candidates::new(nodes, version, Order::Rendezvous(key))
    }

    /// Nodes of `version` taking new calls, in `order`.
    pub fn new(nodes: &'n NodeSet, version: u32, order: Order) -> Candidates<'n> {
        let pool = nodes.eligible(version);
        let ramping = matches!(order, Order::Rendezvous(_))
            && nodes.any_ramping()
            && pool.iter().any(|e| e.weight < FULL_WEIGHT);
        Candidates {
            nodes,
            pool,
            order,
            below: None,
            pass: 0,
            ramping,
        }
    }

    /// No candidates at all.
    pub fn none(nodes: &'n NodeSet) -> Candidates<'n> {
        Candidates {
            nodes,
            pool: &[],
            order: Order::LongestUp,
            below: None,
            pass: 2,
            ramping: false,
        }
    }

    fn rank(&self, e: &Eligible) -> (u64, u64) {
        match self.order {
            Order::Rendezvous(key) => (score(key, e.hash), e.hash),
            Order::LongestUp => (!e.up_since, e.hash),
        }
    }

    fn in_pass(&self, e: &Eligible) -> bool {
        let admitted = match self.order {
            Order::Rendezvous(key) => !self.ramping || admits(key, e.weight),
            Order::LongestUp => true,
        };
        admitted == (self.pass == 0)
    }

    /// Best entry of the current pass ranked below `self.below`.
    fn best_below(&self) -> Option<(&'n Eligible, (u64, u64))> {
        match self.order {
            // The common case, written out: no ramping node, rank by score.
            Order::Rendezvous(key) if !self.ramping => best(self.pool, self.below, |e| {
                Some((score(key, e.hash), e.hash))
            }),
            _ => best(self.pool, self.below, |e| {
                self.in_pass(e).then(|| self.rank(e))
            }),
        }
    }
}

/// The entry of `pool` with the highest rank below `below` (`rank` = `None`
/// skips an entry).
#[inline]
fn best<'n>(
    pool: &'n [Eligible],
    below: Option<(u64, u64)>,
    rank: impl Fn(&Eligible) -> Option<(u64, u64)>,
) -> Option<(&'n Eligible, (u64, u64))> {
    let limit = below.unwrap_or((u64::MAX, u64::MAX));
    let mut found: Option<(&'n Eligible, (u64, u64))> = None;
    for e in pool {
        let Some(r) = rank(e) else { continue };
        let fits = r < limit || below.is_none();
        if fits && found.is_none_or(|(_, b)| r > b) {
            found = Some((e, r));
        }
    }
    found
}

impl<'n> Iterator for Candidates<'n> {
    type Item = &'n Node;

    fn next(&mut self) -> Option<&'n Node> {
        while self.pass < 2 {
            if self.pass == 1 && !self.ramping {
                self.pass = 2;
                break;
            }
            match self.best_below() {
                Some((e, rank)) => {
                    self.below = Some(rank);
                    return self.nodes.node_at(e);
                }
                None => {
                    self.pass += 1;
                    self.below = None;
                }
            }
        }
        None
    }
}

#[cfg(test)]
#[path = "rendezvous_tests.rs"]
mod tests;
