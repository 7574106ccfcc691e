//! The stateless SIP proxy core (RFC 3261 §16.11), sans-IO.
//!
//! # Layout
//! - [`message`]: zero-copy head index of one message.
//! - [`headers`]: lazy typed views (Via, URIs, parameters, Max-Forwards…).
//! - [`proxy`]: per-shard entry point — one datagram in, transmits, hand-offs
//!   and registry events out.
//!
//! Nothing here opens sockets or reads the clock.

pub mod headers;
mod initial_remote;
pub mod message;
pub mod proxy;

mod choice;
pub mod edit;
pub mod extensions;
pub mod framing;
pub mod nat;
pub mod reply;
mod request;
mod response;
pub mod routes;
pub mod rules;
pub mod scanners;
pub mod settings;
pub mod transport;
pub mod vias;
pub mod write;

#[cfg(test)]
mod policy_tests;
#[cfg(test)]
mod tests;
