//! Node health: exclusion of nodes that answer with errors or do not answer,
//! and the slow start of a node that (re)joins. One [`Health`] per node,
//! driven by the [`super::Registry`]; pure state, `now` is an argument.
//!
//! # Rules (original §3.6, §4.9)
//! - **Error responses.** Shards count the responses of each node whose
//!   status is in `responsesStatusCodeNodeRemoval` and report them
//!   ([`HealthReport`], `Event::Health`). Errors are counted in a window
//!   opened by the first one; a window older than `maxErrorTime` starts
//!   over. More than `maxNumberResponsesWithError` errors in a window mark
//!   the node **bad**.
//! - **No response** (only with both `maxRequestNumberWithoutResponse` and
//!   `maxResponseTime`): every non-ACK client request forwarded to the node
//!   counts; any response from it resets the count. More than the maximum
//!   unanswered requests while the last response is older than
//!   `maxResponseTime` mark the node bad.
//! - **Bad** nodes take no new calls but keep their dialogs (like draining
//!   ones). The mark is cleared when the node restarts — a heartbeat with a
//!   new `sessionId`, or the node going down and coming back up — and, for a
//!   node that cannot tell (no `sessionId`: static probed nodes, heartbeats
//!   without one), after `maxErrorTime` of exclusion. The original cleared
//!   it only on a new `sessionId`, which left a static node out for good.
//! - **Slow start** (both `trafficRampupCyclePeriod` and
//!   `trafficPercentageIncrease`): a node that becomes up, restarts or is
//!   cleared starts at `percent` of a full node's share of new calls
//!   ([`super::Node::weight`]) and gains `percent` every period until 100.

use std::time::Instant;

use super::node::{Node, FULL_WEIGHT};
use crate::config::HealthConfig;

/// What one shard saw of one node since its last report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HealthReport {
    /// Non-ACK client requests forwarded to the node.
    pub requests: u32,
    /// Responses received from the node.
    pub responses: u32,
    /// Of those, responses whose status counts as an error.
    pub errors: u32,
}

/// Why a node was marked bad.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exclusion {
    /// Too many error responses within `maxErrorTime`.
    Errors,
    /// Too many requests without a response for longer than `maxResponseTime`.
    NoResponse,
}

/// Health state of one node.
#[derive(Debug, Clone)]
pub(crate) struct Health {
    /// Errors in the current window.
    errors: u32,
    /// Start of the current error window.
    window_start: Instant,
    /// Requests forwarded since the last response.
    unanswered: u64,
    /// Last response (or the node's start).
    last_response: Instant,
    /// When the node was marked bad.
    bad_since: Option<Instant>,
    /// Next slow-start step, while ramping.
    ramp_at: Option<Instant>,
}

// === impl Health ===

impl Health {
    /// A node first heard of at `now` (not ramping, not bad).
    pub(crate) fn new(now: Instant) -> Health {
        Health {
            errors: 0,
            window_start: now,
            unanswered: 0,
            last_response: now,
            bad_since: None,
            ramp_at: None,
        }
    }

    /// A fresh start of `node` at `now` (up again, restarted, cleared):
    /// counters and the bad mark cleared, slow start begun.
    pub(crate) fn restart(&mut self, node: &mut Node, cfg: &HealthConfig, now: Instant) {
        *self = Health::new(now);
        node.bad = false;
        match cfg.ramp_up {
            Some(ramp) if ramp.percent < FULL_WEIGHT => {
                node.weight = ramp.percent;
                self.ramp_at = Some(now + ramp.period);
            }
            _ => node.weight = FULL_WEIGHT,
        }
    }

    /// Apply one shard's report; `Some` when it makes the node bad.
    pub(crate) fn record(
        &mut self,
        node: &mut Node,
        report: HealthReport,
        cfg: &HealthConfig,
        now: Instant,
    ) -> Option<Exclusion> {
        if node.bad {
            return None;
        }
        let verdict = self
            .count_errors(report.errors, cfg, now)
            .or_else(|| self.count_unanswered(report, cfg, now));
        if verdict.is_some() {
            node.bad = true;
            self.bad_since = Some(now);
        }
        verdict
    }

    fn count_errors(&mut self, errors: u32, cfg: &HealthConfig, now: Instant) -> Option<Exclusion> {
        if errors == 0 {
            return None;
        }
        if self.errors > 0 && now.saturating_duration_since(self.window_start) > cfg.max_error_time
        {
            self.errors = 0;
        }
        if self.errors == 0 {
            self.window_start = now;
        }
        self.errors = self.errors.saturating_add(errors);
        (self.errors > cfg.max_errors).then_some(Exclusion::Errors)
    }

    fn count_unanswered(
        &mut self,
        report: HealthReport,
        cfg: &HealthConfig,
        now: Instant,
    ) -> Option<Exclusion> {
        let check = cfg.no_response?;
        if report.responses > 0 {
            self.unanswered = 0;
            self.last_response = now;
            return None;
        }
        self.unanswered = self.unanswered.saturating_add(u64::from(report.requests));
        let silent = now.saturating_duration_since(self.last_response) > check.max_response_time;
        (self.unanswered > u64::from(check.max_requests) && silent).then_some(Exclusion::NoResponse)
    }

    /// Timers due at `now`: the next slow-start step, and the clearing of a
    /// bad mark after `maxErrorTime` when `reinstate` (the node has no
    /// `sessionId` to announce a restart with). `true` when `node` changed.
    pub(crate) fn handle_timeout(
        &mut self,
        node: &mut Node,
        cfg: &HealthConfig,
        reinstate: bool,
        now: Instant,
    ) -> bool {
        if let Some(since) = self.bad_since.filter(|_| node.bad && reinstate) {
            if now.saturating_duration_since(since) >= cfg.max_error_time {
                log::info!("node {node} back from exclusion after maxErrorTime");
                self.restart(node, cfg, now);
                return true;
            }
        }
        let (Some(at), Some(ramp)) = (self.ramp_at, cfg.ramp_up) else {
            return false;
        };
        if now < at {
            return false;
        }
        node.weight = node.weight.saturating_add(ramp.percent).min(FULL_WEIGHT);
        self.ramp_at = (node.weight < FULL_WEIGHT).then(|| now + ramp.period);
        true
    }

    /// When [`Health::handle_timeout`] next has something to do.
    pub(crate) fn deadline(&self, cfg: &HealthConfig, reinstate: bool) -> Option<Instant> {
        let unbad = self
            .bad_since
            .filter(|_| reinstate)
            .map(|since| since + cfg.max_error_time);
        match (self.ramp_at, unbad) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

#[cfg(test)]
#[path = "health_tests.rs"]
mod tests;
