//! Link supervision with `enquire_link`, as deadlines (original-behaviour
//! §6.5).
//!
//! Two policies, one per balancer mode:
//! - [`Policy::Always`] (regular mode): every `timeoutEnquire` send an
//!   `enquire_link`; no `enquire_link_resp` within
//!   `timeoutConnectionCheckClientSide` → the link is dead.
//! - [`Policy::WhenIdle`] (mux mode): every `timeoutEnquire` send an
//!   `enquire_link` only if the link was idle longer than the check
//!   threshold `T`; every `timeoutConnection` check: idle < `T` is fine,
//!   idle < 3`T` sends an `enquire_link`, idle ≥ 3`T` is dead.
//!   Deviation: any PDU received counts as activity (the original counted
//!   only `enquire_link(_resp)`), and the check keeps running after the first
//!   `enquire_link_resp` (the original's check task was cancelled for good).

use std::time::{Duration, Instant};

/// How a link is supervised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Regular mode: enquire every `period`, answer expected within `answer_within`.
    Always {
        /// `timeoutEnquire`.
        period: Duration,
        /// `timeoutConnectionCheckClientSide`.
        answer_within: Duration,
    },
    /// Mux mode: enquire only on an idle link; dead after 3 × `threshold` idle.
    WhenIdle {
        /// `timeoutEnquire`.
        period: Duration,
        /// `timeoutConnection`: how often idleness is checked.
        check_every: Duration,
        /// `timeoutConnectionCheckServerSide` (ESMEs) or `…ClientSide` (SMSCs).
        threshold: Duration,
    },
}

/// What [`Keepalive::poll`] asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Nothing due.
    Nothing,
    /// Send one `enquire_link` now.
    SendEnquire,
    /// The peer is gone: treat the connection as lost.
    Dead,
}

/// Supervision state of one bound connection.
#[derive(Debug, Clone)]
pub struct Keepalive {
    policy: Policy,
    /// Last PDU received from the peer.
    last_rx: Instant,
    /// Next `timeoutEnquire` tick.
    next_enquire: Instant,
    /// Next idleness check (`WhenIdle` only).
    next_check: Option<Instant>,
    /// An `enquire_link_resp` is expected by then (`Always` only).
    answer_by: Option<Instant>,
}

// === impl Keepalive ===

impl Keepalive {
    /// Starts supervising at `now` (the moment the link is bound).
    pub fn start(policy: Policy, now: Instant) -> Keepalive {
        let (period, next_check) = match policy {
            Policy::Always { period, .. } => (period, None),
            Policy::WhenIdle {
                period,
                check_every,
                ..
            } => (period, Some(now + check_every)),
        };
        Keepalive {
            policy,
            last_rx: now,
            next_enquire: now + period,
            next_check,
            answer_by: None,
        }
    }

    /// A PDU arrived from the peer.
    pub fn on_rx(&mut self, now: Instant) {
        self.last_rx = now;
    }

    /// The peer answered an `enquire_link`.
    pub fn on_enquire_resp(&mut self, now: Instant) {
        self.last_rx = now;
        self.answer_by = None;
    }

    /// When [`Keepalive::poll`] has something to do next.
    pub fn deadline(&self) -> Instant {
        let mut d = self.next_enquire;
        for t in [self.next_check, self.answer_by].into_iter().flatten() {
            d = d.min(t);
        }
        d
    }

    /// Runs what is due at `now`.
    pub fn poll(&mut self, now: Instant) -> Step {
        match self.policy {
            Policy::Always {
                period,
                answer_within,
            } => self.poll_always(now, period, answer_within),
            Policy::WhenIdle {
                period,
                check_every,
                threshold,
            } => self.poll_idle(now, period, check_every, threshold),
        }
    }

    fn poll_always(&mut self, now: Instant, period: Duration, answer_within: Duration) -> Step {
        if self.answer_by.is_some_and(|t| t <= now) {
            return Step::Dead;
        }
        if self.next_enquire > now {
            return Step::Nothing;
        }
        while self.next_enquire <= now {
            self.next_enquire += period;
        }
        self.answer_by.get_or_insert(now + answer_within);
        Step::SendEnquire
    }

    fn poll_idle(&mut self, now: Instant, period: Duration, every: Duration, t: Duration) -> Step {
        let idle = now.saturating_duration_since(self.last_rx);
        let mut send = false;
        if self.next_check.is_some_and(|c| c <= now) {
            self.next_check = Some(now + every);
            if idle >= t * 3 {
                return Step::Dead;
            }
            send = idle >= t;
        }
        if self.next_enquire <= now {
            self.next_enquire = now + period;
            send |= idle > t;
        }
        if send {
            Step::SendEnquire
        } else {
            Step::Nothing
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn always_sends_on_period_and_dies_without_answer() {
        let t0 = crate::test_epoch();
        let p = Policy::Always {
            period: 100 * MS,
            answer_within: 30 * MS,
        };
        let mut k = Keepalive::start(p, t0);
        assert_eq!(k.deadline(), t0 + 100 * MS);
        assert_eq!(k.poll(t0 + 99 * MS), Step::Nothing);
        assert_eq!(k.poll(t0 + 100 * MS), Step::SendEnquire);
        assert_eq!(k.deadline(), t0 + 130 * MS);
        k.on_enquire_resp(t0 + 110 * MS);
        assert_eq!(k.deadline(), t0 + 200 * MS);
        assert_eq!(k.poll(t0 + 200 * MS), Step::SendEnquire);
        assert_eq!(k.poll(t0 + 229 * MS), Step::Nothing);
        assert_eq!(k.poll(t0 + 230 * MS), Step::Dead);
    }

    #[test]
    fn when_idle_sends_only_on_idle_links_and_dies_at_three_thresholds() {
        let t0 = crate::test_epoch();
        let p = Policy::WhenIdle {
            period: 100 * MS,
            check_every: 40 * MS,
            threshold: 50 * MS,
        };
        let mut k = Keepalive::start(p, t0);
        assert_eq!(k.deadline(), t0 + 40 * MS);
        assert_eq!(k.poll(t0 + 40 * MS), Step::Nothing); // idle 40 < 50
        k.on_rx(t0 + 70 * MS);
        assert_eq!(k.poll(t0 + 80 * MS), Step::Nothing); // idle 10
        assert_eq!(k.poll(t0 + 100 * MS), Step::Nothing); // enquire tick, idle 30
        assert_eq!(k.poll(t0 + 120 * MS), Step::SendEnquire); // check, idle 50
        assert_eq!(k.poll(t0 + 160 * MS), Step::SendEnquire); // idle 90
        assert_eq!(k.poll(t0 + 200 * MS), Step::SendEnquire); // idle 130
        assert_eq!(k.poll(t0 + 240 * MS), Step::Dead); // idle 170 ≥ 150
    }
}
