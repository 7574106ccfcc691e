//! Fault injection against the real balancer process, loopback only, each
//! test bounded in count and time (issue 12):
//!
//! - [`node_killed`]: a SIPp UAS node killed under SIPp load; only the
//!   calls in flight on it fail, later calls succeed on the survivor, and
//!   the balancer reports the node gone.
//! - [`restart`]: the balancer killed and started again mid-call; the
//!   established dialogs end through the Record-Route set (the state is in
//!   the messages, none in the balancer).
//! - [`call_id_flood`]: a million distinct Call-IDs; the balancer's RSS
//!   growth stays under what `callIdAffinityMaxEntries` allows, and it
//!   still forwards afterwards.
//! - [`slowloris`]: one byte a second on every stream listener (SIP TCP,
//!   TLS, WS, WSS on both legs, SMPP, the JSON heartbeat port, the admin
//!   port); each connection is closed by the listener's timer while a
//!   normal client of the same listener is served.
//!
//! Every test takes the heavy-test slot ([`HeavyGuard`]): the timing
//! assertions must not compete with another test's load on the two cores.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "json_hb/mod.rs"]
mod json_hb;

#[path = "faults/call_id_flood.rs"]
mod call_id_flood;
#[path = "faults/node_killed.rs"]
mod node_killed;
#[path = "faults/restart.rs"]
mod restart;
#[path = "faults/slowloris.rs"]
mod slowloris;

/// Resident set size of process `pid` in bytes (`VmRSS` of
/// `/proc/<pid>/status`).
pub(crate) fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The last `n` lines of `s` (for failure messages).
pub(crate) fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
