//! Session state machines of the user guide (§1.8), consuming-state style.
//!
//! - [`server`]: the ESME-facing session (`OPEN`, `BINDING`, `BOUND`,
//!   `REBINDING`, `UNBINDING`, `CLOSED`).
//! - [`client`]: the SMSC-facing session (`INITIAL`, `OPEN`, `BINDING`,
//!   `BOUND`, `REBINDING`, `UNBINDING`, `CLOSED`).
//! - [`keepalive`]: `enquire_link` supervision as deadlines.
//!
//! A transition takes the state by value with the PDU's command id (checked
//! against [`crate::smpp::matrix`]) and `now`, and returns the next state
//! and a step for the proxy; deadlines are values the proxy collects. No
//! transition performs an effect.

pub mod client;
pub mod keepalive;
pub mod server;

pub use client::ClientState;
pub use keepalive::Keepalive;
pub use server::ServerState;
