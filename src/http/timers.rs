//! Deadlines: one lazily cleaned heap entry per connection.
//!
//! Each client and node connection computes its deadline from its state
//! ([`HttpBalancer::deadline`]); the heap holds `(deadline, owner)` and
//! the entity remembers the deadline it is queued under. Activity moves
//! deadlines later without touching the heap: a popped entry that is not
//! yet due is pushed again at the new deadline. A new entry is pushed only
//! when a deadline moves earlier.
//!
//! | state | deadline | then |
//! |---|---|---|
//! | idle, before the first request | accepted + `headerTimeout` | close |
//! | idle between requests | idle since + `idleTimeout` | close |
//! | head arriving | first byte + `headerTimeout` | `408`, close |
//! | request body arriving | last client byte + `idleTimeout` | `408`, close |
//! | response due | last node byte (or request end) + `responseTimeout` | `504` (or cut), close |
//! | tunnel | last byte either way + `Settings::tunnel_idle_timeout` | close |
//! | pooled node connection | pooled + `upstreamIdleTimeout` | close |

use std::cmp::Reverse;
use std::time::{Duration, Instant};

use super::client::Phase;
use super::reply::Local;
use super::{Actions, HttpBalancer, Owner};

// === impl HttpBalancer: timers ===

impl HttpBalancer {
    /// Earliest instant [`HttpBalancer::handle_timeout`] must be called,
    /// if any. May be early (a stale entry); never late.
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
            match self.queued_mut(owner) {
                Some(q) if *q == Some(t) => *q = None,
                _ => continue,
            }
            if self.deadline(owner).is_some_and(|d| d <= now) {
                self.fire(owner, now, out);
            }
            // A handler that could not make progress cannot spin this loop.
            self.arm(owner, Some(now + Duration::from_millis(1)));
        }
    }

    /// Makes sure `owner`'s deadline (not before `floor`) is in the heap.
    pub(super) fn arm(&mut self, owner: Owner, floor: Option<Instant>) {
        let Some(d) = self.deadline(owner) else {
            return;
        };
        let d = floor.map_or(d, |f| d.max(f));
        let Some(q) = self.queued_mut(owner) else {
            return;
        };
        if q.is_none_or(|q| d < q) {
            *q = Some(d);
            self.timers.push(Reverse((d, owner)));
        }
    }

    fn queued_mut(&mut self, owner: Owner) -> Option<&mut Option<Instant>> {
        match owner {
            Owner::Client(k) => self.clients.get_mut(k).map(|c| &mut c.queued),
            Owner::Upstream(u) => self.upstreams.get_mut(u).map(|u| &mut u.queued),
        }
    }

    fn deadline(&self, owner: Owner) -> Option<Instant> {
        let s = &self.settings;
        match owner {
            Owner::Upstream(u) => {
                let up = self.upstreams.get(u)?;
                up.idle_since.map(|t| t + s.upstream_idle_timeout)
            }
            Owner::Client(k) => {
                let c = self.clients.get(k)?;
                Some(match c.phase {
                    Phase::Idle if c.served == 0 => c.since + s.header_timeout,
                    Phase::Idle => c.since + s.idle_timeout,
                    Phase::Head => c.since + s.header_timeout,
                    Phase::Exchange if c.ex.req_done || c.ex.resp_started => {
                        c.ex.up_rx + s.response_timeout
                    }
                    Phase::Exchange => c.last_rx + s.idle_timeout,
                    Phase::Tunnel => c.last_rx.max(c.ex.up_rx) + s.tunnel_idle_timeout,
                })
            }
        }
    }

    fn fire(&mut self, owner: Owner, _now: Instant, out: &mut Actions) {
        match owner {
            Owner::Upstream(u) => self.close_upstream(u, out),
            Owner::Client(k) => {
                let Some(c) = self.clients.get(k) else {
                    return;
                };
                log::debug!("http: client {} timed out ({:?})", c.peer, c.phase);
                match c.phase {
                    Phase::Idle | Phase::Tunnel => self.close_client(k, true, out),
                    Phase::Head => self.reject(k, Local::RequestTimeout, out),
                    Phase::Exchange if c.ex.req_done || c.ex.resp_started => {
                        self.gateway_error(k, Local::GatewayTimeout, out)
                    }
                    Phase::Exchange => self.reject(k, Local::RequestTimeout, out),
                }
            }
        }
    }
}
