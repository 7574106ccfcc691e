//! The shard mesh: a datagram whose Call-ID lives on another shard is
//! handed to that shard, which runs the proxy on it and sends the result
//! from its own sockets.
//!
//! Every shard has one bounded inbox (a crossbeam queue); each other shard
//! holds a sender to it. One producer's items stay FIFO, so a flow's
//! messages keep their order across the hop. Senders never wait: a full
//! inbox drops the datagram and counts it, as an overloaded UDP socket
//! would. After a turn, the sender rings the doorbell of every shard it
//! queued for (one `IORING_OP_MSG_RING` per shard per turn, submitted with
//! the sender's own `io_uring_enter`), which wakes that shard's wait.

use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender};

use crate::sip::proxy::LegId;

/// Hand-off queue depth per shard.
const QUEUE: usize = 4096;

/// A datagram on its way to its home shard.
#[derive(Debug)]
pub(crate) struct HandOff {
    /// The datagram as received (the one copy of the hop).
    pub(crate) bytes: Vec<u8>,
    /// Its sender.
    pub(crate) src: SocketAddr,
    /// The socket it arrived on (the home shard answers from its own one).
    pub(crate) leg: LegId,
}

/// One shard's end of the mesh.
pub(crate) struct Mesh {
    /// Inboxes of every shard, by shard index (this one's included, unused).
    peers: Vec<Sender<HandOff>>,
    inbox: Receiver<HandOff>,
    /// Every shard's ring, by shard index (duplicated descriptors: a ring
    /// stays valid while any shard may still ring it).
    rings: Arc<[OwnedFd]>,
    /// Shards queued for since the last doorbells, and whether listed.
    pending: Vec<usize>,
    listed: Vec<bool>,
}

/// Inboxes for `shards` shards: every sender, and each shard's receiver.
pub(crate) fn inboxes(shards: usize) -> (Vec<Sender<HandOff>>, Vec<Receiver<HandOff>>) {
    (0..shards)
        .map(|_| crossbeam_channel::bounded(QUEUE))
        .unzip()
}

// === impl Mesh ===

impl Mesh {
    pub(crate) fn new(
        peers: Vec<Sender<HandOff>>,
        inbox: Receiver<HandOff>,
        rings: Arc<[OwnedFd]>,
    ) -> Mesh {
        let n = peers.len();
        Mesh {
            peers,
            inbox,
            rings,
            pending: Vec::with_capacity(n),
            listed: vec![false; n],
        }
    }

    /// Queue `msg` for shard `home`; `false` when dropped (full or gone).
    pub(crate) fn send(&mut self, home: usize, msg: HandOff) -> bool {
        let Some(peer) = self.peers.get(home) else {
            return false;
        };
        if peer.try_send(msg).is_err() {
            return false;
        }
        if let Some(listed) = self.listed.get_mut(home) {
            if !*listed {
                *listed = true;
                self.pending.push(home);
            }
        }
        true
    }

    /// The next hand-off queued for this shard.
    pub(crate) fn try_recv(&self) -> Option<HandOff> {
        self.inbox.try_recv().ok()
    }

    /// The rings of the shards queued for since the last call.
    pub(crate) fn doorbells(&mut self) -> impl Iterator<Item = RawFd> + '_ {
        let Mesh {
            pending,
            listed,
            rings,
            ..
        } = self;
        pending.drain(..).filter_map(|shard| {
            if let Some(l) = listed.get_mut(shard) {
                *l = false;
            }
            rings.get(shard).map(AsRawFd::as_raw_fd)
        })
    }
}
