//! Reload on file change: a small thread (`config-watch`, never a shard)
//! watches the configuration file and, once a change has settled, asks for
//! the same reload as SIGHUP (by raising SIGHUP on the process, so
//! [`super::reload`] stays the one reload path).
//!
//! - inotify watches the file's *directory*, not the file: editors and
//!   configuration management replace a file by writing a temporary one and
//!   renaming it over the old (a watch on the old inode would see nothing),
//!   and a file can be created after a delete. Events are filtered to the
//!   file's name, and to `..data`, the symlink Kubernetes swaps when a
//!   ConfigMap volume changes (`lb.yaml -> ..data/lb.yaml`).
//! - A file that is itself a symlink into another directory also gets that
//!   directory watched (for its target's name); the target is resolved again
//!   after every change, so a swapped link is followed.
//! - Only complete writes count: `IN_CLOSE_WRITE` (written in place and
//!   closed), `IN_MOVED_TO` (renamed in), `IN_CREATE` (a new symlink). A
//!   file still open for writing is never read.
//! - Debounce: the reload is asked [`QUIET`] after the last such event, so a
//!   burst (an editor's backup, write, rename, chmod) gives one reload.
//! - A change that leaves the bytes as they were (a `touch`, a rewrite with
//!   the same text) asks for nothing.
//!
//! The thread wakes at least every [`TICK`] to look at the stop flag.

use std::ffi::{OsStr, OsString};
use std::io;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use log::{debug, info, warn};
use nix::poll::{poll, PollFd, PollFlags};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, InotifyEvent, WatchDescriptor};

use super::shutdown::Stop;

/// Quiet time after the last event before the file is read.
pub(crate) const QUIET: Duration = Duration::from_millis(200);

/// Longest the thread sleeps: the bound on noticing stop.
const TICK: Duration = Duration::from_millis(100);

/// The name Kubernetes gives the symlink it swaps on a ConfigMap update.
const K8S_DATA: &str = "..data";

/// The running watcher thread.
pub(crate) struct Watcher {
    thread: JoinHandle<()>,
}

/// What the thread watches.
struct Watch {
    inotify: Inotify,
    /// The configured path.
    path: PathBuf,
    /// Its name in its directory.
    name: OsString,
    /// The watch on its directory.
    dir: WatchDescriptor,
    /// The directory and name of the symlink's target, when elsewhere.
    target: Option<(WatchDescriptor, PathBuf, OsString)>,
    /// The bytes last seen (at start, then at each change).
    last: Option<Vec<u8>>,
}

/// Start watching `path`; `changed` is called (on the watcher thread) once
/// per settled change. `None`, logged, when the directory cannot be watched:
/// SIGHUP still reloads.
pub(crate) fn start(
    path: &Path,
    stop: Stop,
    changed: impl FnMut() + Send + 'static,
) -> Option<Watcher> {
    let watch = match Watch::new(path) {
        Ok(w) => w,
        Err(e) => {
            warn!(
                "not watching {} for changes ({e}); SIGHUP still reloads",
                path.display()
            );
            return None;
        }
    };
    info!(
        "watching {} for changes (reload {} ms after the last)",
        path.display(),
        QUIET.as_millis()
    );
    std::thread::Builder::new()
        .name("config-watch".into())
        .spawn(move || watch.run(&stop, changed))
        .map_err(|e| warn!("not watching the config file: cannot start its thread: {e}"))
        .ok()
        .map(|thread| Watcher { thread })
}

/// The reload trigger of the balancer: SIGHUP to this process, which the
/// signal thread turns into [`super::reload::Reloader::reload`].
pub(crate) fn raise_sighup() {
    if let Err(e) = signal_hook::low_level::raise(signal_hook::consts::SIGHUP) {
        warn!("config file changed but the reload could not be asked: {e}");
    }
}

// === impl Watcher ===

impl Watcher {
    /// Wait for the thread (it returns within [`TICK`] of the stop flag).
    pub(crate) fn join(self) {
        if self.thread.join().is_err() {
            warn!("the config watcher thread panicked");
        }
    }
}

// === impl Watch ===

impl Watch {
    fn new(path: &Path) -> io::Result<Watch> {
        let name = path
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?
            .to_owned();
        let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)?;
        let dir = inotify.add_watch(&parent(path), flags())?;
        let mut watch = Watch {
            inotify,
            path: path.to_owned(),
            name,
            dir,
            target: None,
            last: std::fs::read(path).ok(),
        };
        watch.follow_link();
        Ok(watch)
    }

    fn run(mut self, stop: &Stop, mut changed: impl FnMut()) {
        let mut due: Option<Instant> = None;
        while !stop.is_set() {
            let now = Instant::now();
            if due.is_some_and(|at| now >= at) {
                due = None;
                if self.content_changed() {
                    info!("config file {} changed: reloading", self.path.display());
                    changed();
                } else {
                    debug!("config file {}: same bytes, no reload", self.path.display());
                }
                self.follow_link();
            }
            let wait = due.map_or(TICK, |at| at.saturating_duration_since(now).min(TICK));
            if self.wait_events(wait) {
                due = Some(Instant::now() + QUIET);
            }
        }
    }

    /// Wait up to `wait` for events; true if one concerns the file.
    fn wait_events(&self, wait: Duration) -> bool {
        let ms = i32::try_from(wait.as_millis()).unwrap_or(i32::MAX).max(1);
        let mut fds = [PollFd::new(&self.inotify, PollFlags::POLLIN)];
        match poll(&mut fds, ms) {
            Ok(n) if n > 0 => {}
            Ok(_) => return false,
            Err(e) => {
                debug!("config watch: poll: {e}");
                std::thread::sleep(wait);
                return false;
            }
        }
        let mut relevant = false;
        loop {
            match self.inotify.read_events() {
                Ok(events) if !events.is_empty() => {
                    relevant |= events.iter().any(|e| self.concerns(e));
                }
                Ok(_) | Err(nix::errno::Errno::EAGAIN) => return relevant,
                Err(e) => {
                    debug!("config watch: read: {e}");
                    return relevant;
                }
            }
        }
    }

    /// Whether `e` may have changed what the path reads.
    fn concerns(&self, e: &InotifyEvent) -> bool {
        if e.mask.contains(AddWatchFlags::IN_Q_OVERFLOW) {
            return true;
        }
        let Some(name) = e.name.as_deref() else {
            return false;
        };
        let dir = if e.wd == self.dir {
            if name != self.name.as_os_str() && name != OsStr::new(K8S_DATA) {
                return false;
            }
            parent(&self.path)
        } else {
            match &self.target {
                Some((wd, dir, target)) if e.wd == *wd && name == target.as_os_str() => dir.clone(),
                _ => return false,
            }
        };
        // A new regular file is being written: its IN_CLOSE_WRITE follows.
        // A new symlink is complete at once.
        !e.mask.contains(AddWatchFlags::IN_CREATE) || is_symlink(&dir.join(name))
    }

    /// Read the file; true if its bytes differ from the last seen (an
    /// unreadable file counts as changed: the reload then says why).
    fn content_changed(&mut self) -> bool {
        let now = std::fs::read(&self.path).ok();
        let changed = now.is_none() || now != self.last;
        self.last = now;
        changed
    }

    /// Watch the directory of the symlink's target when it is not the
    /// path's own; drop a watch on a former target's directory.
    fn follow_link(&mut self) {
        let resolved = std::fs::canonicalize(&self.path).ok();
        let own = std::fs::canonicalize(parent(&self.path)).ok();
        let wanted = resolved.and_then(|r| {
            let name = r.file_name()?.to_owned();
            let dir = parent(&r);
            (Some(&dir) != own.as_ref() || name != self.name).then_some((dir, name))
        });
        let current = self.target.as_ref().map(|(_, d, n)| (d.clone(), n.clone()));
        if wanted == current {
            return;
        }
        if let Some((wd, _, _)) = self.target.take() {
            // The old target's directory may be gone already (Kubernetes
            // deletes it): the kernel then dropped the watch itself.
            let _ = self.inotify.rm_watch(wd);
        }
        if let Some((dir, name)) = wanted {
            match self.inotify.add_watch(&dir, flags()) {
                Ok(wd) => {
                    debug!("config watch: following the link to {}", dir.display());
                    self.target = Some((wd, dir, name));
                }
                Err(e) => debug!("config watch: {}: {e}", dir.display()),
            }
        }
    }
}

/// The events that mean "a complete new version may be there".
fn flags() -> AddWatchFlags {
    AddWatchFlags::IN_CLOSE_WRITE | AddWatchFlags::IN_MOVED_TO | AddWatchFlags::IN_CREATE
}

fn is_symlink(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// The directory of `path` (`.` for a bare file name).
fn parent(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

#[cfg(test)]
#[path = "watch_tests.rs"]
mod tests;
