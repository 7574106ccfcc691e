//! Shared harness for the integration tests: the balancer as a child
//! process, loopback UDP peers, fake nodes, heartbeats, SIPp, and small SIP
//! text helpers. Each test binary compiles all of it and uses a part, hence
//! the `dead_code` allowance.

#![allow(dead_code, unreachable_pub, unused_imports)]

pub mod balancer;
pub mod certs;
pub mod http;
pub mod net;
pub mod rig;
pub mod sip;
pub mod sipp;
pub mod smpp;
pub mod sprayer;
pub mod streams;

pub use balancer::{Balancer, LbConfig, TempDir};
pub use net::{free_port, local, wait_until, FakeNode, Heartbeater, UdpPeer};
pub use rig::Rig;
pub use sip::{branch, param, reply, via_sent_by, Msg, Req};
pub use sipp::{HeavyGuard, Sipp, SippStats};

use std::time::Duration;

/// Default wait for something that should arrive.
pub const WAIT: Duration = Duration::from_secs(2);
/// How long to listen to prove something does NOT arrive.
pub const QUIET: Duration = Duration::from_millis(500);
