//! The SIP/UDP I/O path on io_uring, used by every shard (and by the
//! load-test relay, so both are measured on the same I/O).
//!
//! glommio 0.9's `UdpSocket` costs a failed speculative `recvmsg`, an
//! io_uring `recvmsg` into a freshly allocated DMA buffer plus a copy, an
//! `io_uring_enter` to park and a direct `sendmsg` per datagram, and it
//! exposes neither multishot receive, provided buffers nor a way to wait on
//! another ring. [`UdpRing`] does what the platform allows: one multishot
//! receive per socket into a provided-buffer ring, sends queued as ring
//! entries, and one `io_uring_enter` that submits a batch's sends and waits
//! for the next datagrams (loadtest/README.md has the measurements).
//!
//! - `ring`: [`UdpRing`], [`Tx`]: setup, receive, send, doorbells, wait, drop.
//! - `batching`: when a wait gathers completions (adaptive batching).
//! - `bufs`: the provided-buffer ring the receives pick from.
//! - `recv`: the `msghdr` template, source addresses, receive timestamps.
//! - `slots`: storage for the sends in flight.
//! - `streams`, `stream_ops`: listeners and connections on the same ring.

mod batching;
mod bufs;
mod recv;
mod ring;
mod slots;
mod stream_ops;
mod streams;

#[cfg(test)]
mod stream_tests;
#[cfg(test)]
mod tests;

pub use ring::{Completion, Received, RingCounters, Tx, UdpRing};
pub use streams::{StreamEvent, StreamId};
