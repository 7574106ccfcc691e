//! TLS: rustls server and client configurations built from the `ssl`
//! settings, and a sans-IO session (ciphertext in, plaintext out) that a
//! shard drives for each TLS connection it owns.
//!
//! # Use
//!
//! At start, [`TlsContext::for_config`] returns `None` when the
//! configuration uses no TLS ([`Roles::of`] is the rule), else the context
//! or a [`SetupError`] (one line; the binary exits 2 with it). Each shard
//! takes [`TlsContext::for_shard`] (own session caches, no shared lock).
//! Per connection: [`Session::server`] for an accepted one,
//! [`Session::client`] with [`server_name_for_ip`] for one opened to a node;
//! then, as bytes come and go:
//!
//! ```text
//! read from socket → session.feed(bytes, &mut plaintext)?  → plaintext to the SIP decoder
//! message to send  → session.write_plaintext(msg)?
//! after either     → session.write_ciphertext(&mut out)    → out to the socket
//! on Err           → write_ciphertext once more (the alert), then close
//! ```
//!
//! # Key material
//!
//! `ssl.keyStore` is a PEM file holding the chain and the key, or PKCS#12
//! (`.p12`/`.pfx`, password `ssl.keyStorePassword`); `ssl.certificateFile`
//! with `ssl.privateKeyFile` is the PEM alternative. A Java JKS/JCEKS
//! store is refused with the `keytool` command that converts it.
//! `ssl.trustStore` (PEM bundle or PKCS#12) holds the anchors that client
//! certificates (`Enabled`, `Want`) and node certificates are verified
//! against; without it, the key store's own chain serves as anchors.
//! `DisabledAll` requests no client certificate and verifies no node.
//!
//! This module never opens a socket, spawns or reads the clock; files are
//! read only by [`TlsContext::from_config`], at start.

mod context;
mod ec_key;
mod error;
mod names;
mod session;
mod store;
mod verify;

pub use context::{Role, Roles, TlsContext};
pub use error::{SessionError, SetupError};
pub use rustls_pki_types::ServerName;
pub use session::{server_name_for_ip, Session};

#[cfg(test)]
mod tests;
