//! Configuration reload on SIGHUP (raised by [`super::watch`] too when the
//! file changes), run by the thread that waits for
//! signals (never a shard): re-read the file with the start-up loader,
//! compare ([`Diff`]), and hand what is live to whom it concerns.
//!
//! - An invalid file: one warn line naming the file, key and problem; the
//!   running configuration stays.
//! - The static node list goes to the registry on shard 0 as an
//!   [`Event::StaticNodes`], through the queue the admin port uses.
//! - The `algorithm` section and `smpp.remoteServers` go to every shard as
//!   an [`Update`] over one bounded queue per shard, which the shard polls
//!   at the start of its turn as it does registry snapshots: no lock on the
//!   forwarding path.
//! - A new `smpp.remoteServers` also goes to the admin thread, whose
//!   `/lbinfo` lists it (its own queue, polled every admin tick).
//! - Every other changed key is logged at warn as "needs a restart" and
//!   stays as it was; the running configuration keeps the old value, so
//!   the warning comes again at the next reload until the restart.
//!
//! One info line per reload says what changed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Receiver, SendTimeoutError, Sender};
use log::{info, warn};

use crate::config::reload::Diff;
use crate::config::{AlgorithmConfig, Config};
use crate::registry::Event;

/// Longest the signal thread waits for room in a queue (the shards drain
/// theirs every turn, at most [`super::shutdown::POLL`] apart).
const SEND_TIMEOUT: Duration = Duration::from_secs(1);

/// SMPP server lists queued for the admin thread.
pub(crate) const ADMIN_QUEUE: usize = 4;

/// Updates queued per shard.
const UPDATE_QUEUE: usize = 4;

/// Where a reload reads the configuration from: the file name for the logs
/// and the start-up loader (parse, validate, command-line overrides).
pub struct Source {
    /// The file, as the logs name it.
    pub name: String,
    /// Reads and validates it again; the error names file, key and problem.
    pub load: Box<dyn FnMut() -> Result<Config, String>>,
    /// The file to watch: a settled change reloads as SIGHUP does. `None`:
    /// SIGHUP only (embedded default, `--no-watch`, `watchConfig: false`).
    pub watch: Option<std::path::PathBuf>,
}

/// Settings a reload delivers to every shard.
#[derive(Debug, Clone, Default)]
pub(crate) struct Update {
    /// A changed `algorithm` section.
    pub(crate) algorithm: Option<AlgorithmConfig>,
    /// A changed `smpp.remoteServers`.
    pub(crate) smpp_servers: Option<Vec<SocketAddr>>,
}

/// The two ends of the per-shard update queues.
type UpdateQueues = (Vec<Sender<Arc<Update>>>, Vec<Receiver<Arc<Update>>>);

/// One update queue per shard: (senders for the signal thread, receivers).
pub(crate) fn update_channels(shards: usize) -> UpdateQueues {
    (0..shards)
        .map(|_| crossbeam_channel::bounded(UPDATE_QUEUE))
        .unzip()
}

/// The reload state of the signal thread.
pub(crate) struct Reloader {
    source: Source,
    /// What runs: the start-up configuration with the live parts of every
    /// reload applied.
    running: Config,
    /// The registry's event queue.
    events: Sender<Event>,
    /// Every shard's update queue, in shard order.
    shards: Vec<Sender<Arc<Update>>>,
    /// The admin thread's queue of SMPP server lists (`/lbinfo`).
    admin: Sender<Vec<SocketAddr>>,
}

// === impl Reloader ===

impl Reloader {
    pub(crate) fn new(
        source: Source,
        running: Config,
        events: Sender<Event>,
        shards: Vec<Sender<Arc<Update>>>,
        admin: Sender<Vec<SocketAddr>>,
    ) -> Reloader {
        Reloader {
            source,
            running,
            events,
            shards,
            admin,
        }
    }

    /// SIGHUP: read the file again and apply what can be applied live.
    pub(crate) fn reload(&mut self) {
        let new = match (self.source.load)() {
            Ok(cfg) => cfg,
            Err(e) => {
                warn!("config reload failed, still running the previous configuration: {e}");
                return;
            }
        };
        let diff = Diff::between(&self.running, &new);
        for key in &diff.restart {
            warn!(
                "config reload: {}: needs a restart: {key}",
                self.source.name
            );
        }
        let summary = diff.summary(&self.running, &new);
        if diff.nodes_changed() {
            self.send_nodes(&new);
        }
        self.send_update(&diff, &new);
        self.apply(&diff, new);
        let restart = if diff.restart.is_empty() {
            String::new()
        } else {
            format!(
                "; not applied (needs a restart): {}",
                diff.restart.join(", ")
            )
        };
        info!(
            "config reloaded from {}: {summary}{restart}",
            self.source.name
        );
    }

    fn send_nodes(&self, new: &Config) {
        let event = Event::StaticNodes {
            nodes: new.registry.static_nodes.clone(),
        };
        if self.events.send_timeout(event, SEND_TIMEOUT).is_err() {
            warn!("config reload: the registry did not take the node list; nodes unchanged");
        }
    }

    fn send_update(&self, diff: &Diff, new: &Config) {
        let update = Update {
            algorithm: (!diff.algorithm.is_empty()).then(|| new.algorithm.clone()),
            smpp_servers: diff.smpp_servers.then(|| new.smpp.remote_servers.clone()),
        };
        if update.algorithm.is_none() && update.smpp_servers.is_none() {
            return;
        }
        let update = Arc::new(update);
        for (i, tx) in self.shards.iter().enumerate() {
            if tx.send_timeout(Arc::clone(&update), SEND_TIMEOUT).is_err() {
                warn!("config reload: shard {i} did not take the new settings");
            }
        }
        if let Some(servers) = &update.smpp_servers {
            // No admin port: nobody listens, nothing to say.
            if let Err(SendTimeoutError::Timeout(_)) =
                self.admin.send_timeout(servers.clone(), SEND_TIMEOUT)
            {
                warn!("config reload: /lbinfo still lists the previous SMPP servers");
            }
        }
    }

    /// Record the live parts of `new` as running.
    fn apply(&mut self, diff: &Diff, new: Config) {
        let running = &mut self.running;
        running.registry.static_nodes = new.registry.static_nodes;
        running.algorithm = new.algorithm;
        if diff.smpp_servers {
            running.smpp.remote_servers = new.smpp.remote_servers;
        }
    }
}
