//! The process logger: `env_logger` output behind a level the admin port
//! can change at run time (`/lbloglevel`).
//!
//! `env_logger` filters by its own `RUST_LOG` directives, so raising
//! `log::max_level` alone would not make it print debug lines. The logger
//! installed by [`init`] therefore keeps two `env_logger` instances: one
//! built from `RUST_LOG` (default `info`) that only answers "is this record
//! enabled?", and one that accepts everything and does the formatting and
//! writing. Until [`set_level`] is called the `RUST_LOG` directives decide;
//! afterwards one level applies to every target (as the original sets the
//! root, `gov.nist` and `org.mobicents` loggers alike).
//!
//! The forwarding path is unaffected: `log`'s macros compare against the
//! global max level first (one relaxed load), and only enabled records
//! reach this logger.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::OnceLock;

use log::{LevelFilter, Log, Metadata, Record};

/// [`OVERRIDE`] value meaning "no override: `RUST_LOG` decides".
const NONE: usize = usize::MAX;

/// The level set through the admin port, as `LevelFilter as usize`.
static OVERRIDE: AtomicUsize = AtomicUsize::new(NONE);

static LOGGER: OnceLock<Switchable> = OnceLock::new();

struct Switchable {
    /// `RUST_LOG` filter (its `log` is never called).
    env: env_logger::Logger,
    /// Accepts every record; formats and writes to stderr.
    out: env_logger::Logger,
}

/// Install the process logger (`RUST_LOG`, default `info`; `RUST_LOG_STYLE`
/// for colours). Call once, first thing in `main`; a second call, or a
/// logger installed elsewhere, leaves the existing one in place.
pub fn init() {
    let logger = LOGGER.get_or_init(|| Switchable {
        env: env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
            .build(),
        out: env_logger::Builder::from_env(env_logger::Env::new().write_style("RUST_LOG_STYLE"))
            .filter_level(LevelFilter::Trace)
            .build(),
    });
    if log::set_logger(logger).is_ok() {
        log::set_max_level(logger.env.filter());
    }
}

/// Log at `level` from now on, every target alike.
pub(crate) fn set_level(level: LevelFilter) {
    OVERRIDE.store(level as usize, Relaxed);
    log::set_max_level(level);
}

impl Log for Switchable {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        match OVERRIDE.load(Relaxed) {
            NONE => self.env.enabled(metadata),
            level => metadata.level() as usize <= level,
        }
    }

    fn log(&self, record: &Record<'_>) {
        if self.enabled(record.metadata()) {
            self.out.log(record);
        }
    }

    fn flush(&self) {
        self.out.flush();
    }
}
