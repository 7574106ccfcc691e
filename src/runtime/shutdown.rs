//! Orderly shutdown: the starting thread blocks on SIGINT/SIGTERM, then
//! sets a flag that every shard polls on a slow timer. SIGHUP, received by
//! the same thread, asks for a configuration reload ([`super::reload`]) and
//! the wait goes on.
//!
//! The flag is the only atomic the shards share; each shard reads it once
//! per turn of its loop, which wakes at least every [`POLL`]. A
//! second signal while stopping exits the process at once (status 1), so an
//! operator is never stuck behind a wedged shutdown. A shard that ends on
//! its own (error, panic) wakes the starting thread through a [`Closer`] so
//! the whole process stops instead of running on with a hole.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use log::debug;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Handle;
use signal_hook::SigId;

/// How often shards look at the flag: the bound on stop latency.
pub(crate) const POLL: Duration = Duration::from_millis(50);

/// The process-wide "stop now" flag.
#[derive(Debug, Clone, Default)]
pub(crate) struct Stop(Arc<AtomicBool>);

/// SIGINT/SIGTERM/SIGHUP handlers; unregistered on drop so a later `run` in the
/// same process starts clean.
pub(crate) struct Signals {
    stop: Stop,
    /// Delivers the signals to [`Signals::wait`].
    iter: signal_hook::iterator::Signals,
    /// The "second signal exits" handlers.
    ids: Vec<SigId>,
}

/// Wakes [`Signals::wait`] without a signal (a shard stopped on its own).
#[derive(Debug, Clone)]
pub(crate) struct Closer(Handle);

// === impl Stop ===

impl Stop {
    /// Ask every shard to stop.
    pub(crate) fn trigger(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether stop was asked.
    pub(crate) fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

// === impl Signals ===

impl Signals {
    /// Register SIGINT, SIGTERM and SIGHUP.
    pub(crate) fn install() -> io::Result<Signals> {
        let stop = Stop::default();
        let mut ids = Vec::with_capacity(2);
        for sig in [SIGINT, SIGTERM] {
            // Exits only when the flag is already set: on a second signal.
            ids.push(signal_hook::flag::register_conditional_shutdown(
                sig,
                1,
                Arc::clone(&stop.0),
            )?);
        }
        let iter = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
        Ok(Signals { stop, iter, ids })
    }

    /// The flag [`Signals::wait`] sets.
    pub(crate) fn stop(&self) -> Stop {
        self.stop.clone()
    }

    /// A handle that ends [`Signals::wait`] from another thread.
    pub(crate) fn closer(&self) -> Closer {
        Closer(self.iter.handle())
    }

    /// Block until SIGINT/SIGTERM (or a [`Closer`]), then set the flag;
    /// call `on_hup` for every SIGHUP meanwhile.
    pub(crate) fn wait(&mut self, mut on_hup: impl FnMut()) {
        for sig in self.iter.forever() {
            debug!("signal {sig}");
            if sig != SIGHUP {
                break;
            }
            on_hup();
        }
        self.stop.trigger();
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        for id in self.ids.drain(..) {
            signal_hook::low_level::unregister(id);
        }
    }
}

// === impl Closer ===

impl Closer {
    /// Wake the waiting thread.
    pub(crate) fn close(&self) {
        self.0.close();
    }
}
