//! SMPP 3.4: PDU codec, session state machines and timers, and the
//! per-shard proxy that balances ESMEs over SMSCs — all sans-IO.
//!
//! # Layout
//! - [`command`]: command ids and statuses.
//! - [`header`]: the 16-byte header and the in-place sequence rewrite.
//! - [`framer`]: splits a TCP byte stream into PDUs (length checks).
//! - [`pdu`]: zero-copy decode/encode of every 3.4 PDU, TLVs byte-exact.
//! - [`matrix`]: the 3.4 operation matrix (who may send what, when).
//! - [`reply`]: PDUs the balancer writes itself.
//! - [`session`]: the guide's server-side (ESME-facing) and client-side
//!   (SMSC-facing) state machines and keep-alive timers.
//! - [`proxy`]: [`proxy::SmppBalancer`], the regular and mux modes.
//!
//! Nothing here opens a socket or reads the clock: the runtime passes bytes
//! and `now`, and executes the returned [`proxy::Action`]s.

pub mod command;
pub mod framer;
pub mod header;
pub mod matrix;
pub mod pdu;
pub mod proxy;
pub mod reply;
pub mod session;

pub use command::{CommandId, CommandStatus};
pub use header::Header;
