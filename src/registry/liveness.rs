//! Registry state: nodes by id, last-heard times, expiry sweep, drain and
//! static-node probe outcomes → [`NodeSet`] snapshots.

use std::time::Instant;

use super::node_set::NodeSet;
use super::Event;
use crate::config::{RegistryConfig, SipConfig};

/// The registry, owned by the control task.
#[derive(Debug)]
pub struct Registry {
    _priv: (),
}

impl Registry {
    /// Registry with the configured static and extra server nodes (static
    /// nodes start `Down` until their first successful probe).
    pub fn new(cfg: &RegistryConfig, sip: &SipConfig, now: Instant) -> Registry {
        let _ = (cfg, sip, now);
        todo!()
    }

    /// Apply an event; `true` when the published snapshot must change.
    pub fn handle_event(&mut self, event: Event, now: Instant) -> bool {
        let _ = (event, now);
        todo!()
    }

    /// Expire nodes not heard from for `nodeTimeout`; `true` when something changed.
    pub fn handle_timeout(&mut self, now: Instant) -> bool {
        let _ = now;
        todo!()
    }

    /// The current snapshot (generation increases with each change).
    pub fn snapshot(&self) -> NodeSet {
        todo!()
    }
}
