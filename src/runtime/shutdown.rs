//! Orderly shutdown: SIGINT/SIGTERM set a flag that every shard polls on a
//! slow timer.
//!
//! The flag is the only atomic the shards share, and it is read by one
//! timer task per shard every [`POLL`], never on the forwarding path. A
//! second signal while stopping exits the process at once (status 1), so an
//! operator is never stuck behind a wedged shutdown.

use std::future::{poll_fn, Future};
use std::io;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::SigId;

/// How often shards look at the flag: the bound on stop latency.
pub(crate) const POLL: Duration = Duration::from_millis(50);

/// The process-wide "stop now" flag.
#[derive(Debug, Clone, Default)]
pub(crate) struct Stop(Arc<AtomicBool>);

/// Signal handlers feeding a [`Stop`]; unregistered on drop so a later
/// `run` in the same process starts clean.
#[derive(Debug)]
pub(crate) struct Signals {
    stop: Stop,
    ids: Vec<SigId>,
}

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

    /// Resolves once stop was asked (checked every [`POLL`]).
    pub(crate) async fn wait(&self) {
        while !self.is_set() {
            glommio::timer::sleep(POLL).await;
        }
    }
}

// === impl Signals ===

impl Signals {
    /// Register SIGINT and SIGTERM: the first sets the flag, a second one
    /// (flag already set) exits with status 1.
    pub(crate) fn install() -> io::Result<Signals> {
        let stop = Stop::default();
        let mut signals = Signals {
            stop,
            ids: Vec::with_capacity(4),
        };
        for sig in [SIGINT, SIGTERM] {
            let flag = Arc::clone(&signals.stop.0);
            // Registered first, so it sees the flag as it was before this signal.
            signals
                .ids
                .push(signal_hook::flag::register_conditional_shutdown(
                    sig, 1, flag,
                )?);
            signals.ids.push(signal_hook::flag::register(
                sig,
                Arc::clone(&signals.stop.0),
            )?);
        }
        Ok(signals)
    }

    /// The flag the handlers set.
    pub(crate) fn stop(&self) -> Stop {
        self.stop.clone()
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        for id in self.ids.drain(..) {
            signal_hook::low_level::unregister(id);
        }
    }
}

/// Drive `fut` until it completes (`Some`) or stop is asked (`None`).
/// For startup steps that wait on other shards (the mesh join), so a shard
/// whose peers never came up still stops.
pub(crate) async fn until_stopped<F: Future>(stop: &Stop, fut: F) -> Option<F::Output> {
    let mut fut = pin!(fut);
    loop {
        let mut tick = pin!(glommio::timer::sleep(POLL));
        let done = poll_fn(|cx| match fut.as_mut().poll(cx) {
            Poll::Ready(v) => Poll::Ready(Some(v)),
            Poll::Pending => tick.as_mut().poll(cx).map(|()| None),
        })
        .await;
        if done.is_some() {
            return done;
        }
        if stop.is_set() {
            return None;
        }
    }
}
