//! Per-shard counts for the registry's health checks
//! ([`crate::registry::health`]): per node, the non-ACK client requests
//! forwarded to it (only when the no-response check is configured), the
//! responses it sent, and those whose status is a configured error code.
//!
//! Counting is a few integer adds in a short vector (one slot per node that
//! had traffic since the last report). The counts leave as one
//! [`Event::Health`] per node — immediately when nothing was reported for
//! [`REPORT_EVERY`], else with the next report — so a node answering 503 at
//! line rate costs the control shard at most one event per node per
//! `REPORT_EVERY` per shard. Without the no-response check only error
//! responses are counted at all. No allocation once the vector has grown to
//! the number of nodes.

use std::time::{Duration, Instant};

use crate::config::HealthConfig;
use crate::registry::{Event, HealthReport, NodeId};

/// Shortest time between two reports of one shard.
pub const REPORT_EVERY: Duration = Duration::from_millis(50);

/// One shard's counts since its last report.
#[derive(Debug, Clone)]
pub struct HealthTally {
    error_codes: Vec<u16>,
    /// Count requests and all responses (the no-response check is on).
    track_traffic: bool,
    pending: Vec<(NodeId, HealthReport)>,
    last_report: Option<Instant>,
}

// === impl HealthTally ===

impl HealthTally {
    /// Counts for `cfg`'s checks.
    pub fn new(cfg: &HealthConfig) -> HealthTally {
        HealthTally {
            error_codes: cfg.error_codes.clone(),
            track_traffic: cfg.no_response.is_some(),
            pending: Vec::new(),
            last_report: None,
        }
    }

    /// A non-ACK client request went to `node`.
    pub fn request_sent(&mut self, node: NodeId) {
        if self.track_traffic {
            self.slot(node).requests += 1;
        }
    }

    /// `node` sent a response with `status`.
    pub fn response_seen(&mut self, node: NodeId, status: u16) {
        let error = self.error_codes.contains(&status);
        if !error && !self.track_traffic {
            return;
        }
        let slot = self.slot(node);
        slot.responses += 1;
        slot.errors += u32::from(error);
    }

    /// Push the pending counts as events when a report is due at `now`.
    pub fn flush(&mut self, now: Instant, events: &mut Vec<Event>) {
        if self.pending.is_empty() {
            return;
        }
        let due = self
            .last_report
            .is_none_or(|t| now.saturating_duration_since(t) >= REPORT_EVERY);
        if !due {
            return;
        }
        self.last_report = Some(now);
        events.extend(
            self.pending
                .drain(..)
                .map(|(node, report)| Event::Health { node, report }),
        );
    }

    fn slot(&mut self, node: NodeId) -> &mut HealthReport {
        let i = match self.pending.iter().position(|(n, _)| *n == node) {
            Some(i) => i,
            None => {
                self.pending.push((node, HealthReport::default()));
                self.pending.len() - 1
            }
        };
        // `i` was just found or pushed: in bounds.
        &mut self.pending[i].1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, NoResponseCheck};

    fn health(no_response: bool) -> HealthConfig {
        let mut cfg = Config::embedded_default().registry.health;
        if no_response {
            cfg.no_response = Some(NoResponseCheck {
                max_requests: 1,
                max_response_time: Duration::from_secs(1),
            });
        }
        cfg
    }

    fn report(requests: u32, responses: u32, errors: u32) -> HealthReport {
        HealthReport {
            requests,
            responses,
            errors,
        }
    }

    #[test]
    fn only_errors_without_the_no_response_check() {
        let t0 = crate::test_epoch();
        let mut t = HealthTally::new(&health(false));
        let mut events = Vec::new();
        t.request_sent(NodeId(1));
        t.response_seen(NodeId(1), 200);
        t.flush(t0, &mut events);
        assert!(events.is_empty());
        t.response_seen(NodeId(1), 503);
        t.response_seen(NodeId(2), 503);
        t.response_seen(NodeId(1), 503);
        t.flush(t0, &mut events);
        assert_eq!(
            events,
            [
                Event::Health {
                    node: NodeId(1),
                    report: report(0, 2, 2)
                },
                Event::Health {
                    node: NodeId(2),
                    report: report(0, 1, 1)
                },
            ]
        );
    }

    #[test]
    fn reports_are_rate_limited_not_lost() {
        let t0 = crate::test_epoch();
        let mut t = HealthTally::new(&health(true));
        let mut events = Vec::new();
        t.request_sent(NodeId(1));
        t.flush(t0, &mut events);
        assert_eq!(events.len(), 1);
        t.request_sent(NodeId(1));
        t.response_seen(NodeId(1), 180);
        t.flush(t0 + Duration::from_millis(10), &mut events);
        assert_eq!(events.len(), 1, "too soon");
        t.request_sent(NodeId(1));
        t.flush(t0 + REPORT_EVERY, &mut events);
        assert_eq!(
            events[1],
            Event::Health {
                node: NodeId(1),
                report: report(2, 1, 0)
            }
        );
        let cap = t.pending.capacity();
        for _ in 0..100 {
            t.request_sent(NodeId(1));
        }
        assert_eq!(t.pending.capacity(), cap, "no allocation once warm");
    }
}
