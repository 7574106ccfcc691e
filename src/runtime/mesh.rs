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
//!
//! The copy a hand-off carries goes back to the shard that made it once
//! processed (a second queue per shard, of spare buffers), so hops do not
//! allocate once every shard has a few spares.

use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender};

use crate::sip::proxy::{Assign, LegId};
use crate::sip::transport::{ConnRef, Transport};

/// Hand-off queue depth per shard.
const QUEUE: usize = 4096;

/// Spare buffers a shard keeps at most (beyond, returned buffers are freed).
const SPARES: usize = 256;

/// A message on its way to its home shard, or a message to send on a
/// connection another shard owns.
#[derive(Debug)]
pub(crate) struct HandOff {
    /// The message as received, or as it must leave (the one copy of the hop).
    pub(crate) bytes: Vec<u8>,
    /// Its sender, or where it goes (`deliver`).
    pub(crate) src: SocketAddr,
    /// The leg it arrived on (the home shard answers from its own socket),
    /// or leaves from.
    pub(crate) leg: LegId,
    /// The shard that made the copy (gets the buffer back).
    pub(crate) from: usize,
    /// Its transport and connection.
    pub(crate) transport: Transport,
    pub(crate) conn: Option<ConnRef>,
    /// Already processed: only send it (on `conn`, which this shard owns).
    pub(crate) deliver: bool,
    /// Not a message but an affinity assignment for this shard's table
    /// (`bytes` is empty).
    pub(crate) assign: Option<Assign>,
}

/// What travels with a hand-off's bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Envelope {
    pub(crate) addr: SocketAddr,
    pub(crate) leg: LegId,
    pub(crate) transport: Transport,
    pub(crate) conn: Option<ConnRef>,
    pub(crate) deliver: bool,
}

/// One shard's end of the mesh.
pub(crate) struct Mesh {
    ends: Ends,
    /// Every shard's ring, by shard index (duplicated descriptors: a ring
    /// stays valid while any shard may still ring it).
    rings: Arc<[OwnedFd]>,
    /// Shards queued for since the last doorbells, and whether listed.
    pending: Vec<usize>,
    listed: Vec<bool>,
}

/// One shard's queue ends, as [`wire`] makes them.
pub(crate) struct Ends {
    /// This shard's index.
    id: usize,
    /// Inboxes of every shard, by shard index (this one's included, unused).
    peers: Vec<Sender<HandOff>>,
    inbox: Receiver<HandOff>,
    /// Spare-buffer queues of every shard, by shard index, and this one's.
    spares_of: Vec<Sender<Vec<u8>>>,
    spares: Receiver<Vec<u8>>,
}

/// Queues for `shards` shards: the ends of each, in shard order.
pub(crate) fn wire(shards: usize) -> Vec<Ends> {
    let (peers, inboxes): (Vec<_>, Vec<_>) = (0..shards)
        .map(|_| crossbeam_channel::bounded(QUEUE))
        .unzip();
    let (spares_of, spares): (Vec<_>, Vec<_>) = (0..shards)
        .map(|_| crossbeam_channel::bounded(SPARES))
        .unzip();
    inboxes
        .into_iter()
        .zip(spares)
        .enumerate()
        .map(|(id, (inbox, spares))| Ends {
            id,
            peers: peers.clone(),
            inbox,
            spares_of: spares_of.clone(),
            spares,
        })
        .collect()
}

// === impl Mesh ===

impl Mesh {
    pub(crate) fn new(ends: Ends, rings: Arc<[OwnedFd]>) -> Mesh {
        let n = ends.peers.len();
        Mesh {
            ends,
            rings,
            pending: Vec::with_capacity(n),
            listed: vec![false; n],
        }
    }

    /// Queue a copy of `bytes` for shard `home`; `false` when dropped
    /// (full or gone).
    pub(crate) fn send(&mut self, home: usize, bytes: &[u8], env: Envelope) -> bool {
        if home >= self.ends.peers.len() {
            return false;
        }
        let mut copy = self.ends.spares.try_recv().unwrap_or_default();
        copy.clear();
        copy.extend_from_slice(bytes);
        let msg = HandOff {
            bytes: copy,
            src: env.addr,
            leg: env.leg,
            from: self.ends.id,
            transport: env.transport,
            conn: env.conn,
            deliver: env.deliver,
            assign: None,
        };
        self.queue(home, msg)
    }

    /// Queue an affinity assignment for shard `home`; `false` when dropped.
    pub(crate) fn send_assign(&mut self, home: usize, a: Assign) -> bool {
        let msg = HandOff {
            bytes: Vec::new(),
            src: SocketAddr::from(([0, 0, 0, 0], 0)),
            leg: LegId::External,
            from: self.ends.id,
            transport: Transport::Udp,
            conn: None,
            deliver: false,
            assign: Some(a),
        };
        self.queue(home, msg)
    }

    fn queue(&mut self, home: usize, msg: HandOff) -> bool {
        let Some(peer) = self.ends.peers.get(home) else {
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
        self.ends.inbox.try_recv().ok()
    }

    /// Give a processed hand-off's buffer back to the shard that made it.
    pub(crate) fn recycle(&self, h: HandOff) {
        if h.bytes.capacity() == 0 {
            return;
        }
        if let Some(spares) = self.ends.spares_of.get(h.from) {
            let _ = spares.try_send(h.bytes); // full: the buffer is freed
        }
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
