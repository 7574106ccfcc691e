//! The shard mesh: a datagram whose Call-ID lives on another shard is
//! handed to that shard, which runs the proxy on it and sends the result
//! from its own sockets.
//!
//! glommio's full channel mesh gives one bounded SPSC queue per ordered
//! pair of shards, so hand-offs from one shard to another stay FIFO (a
//! flow's messages keep their order across the hop). Senders never wait:
//! a full queue drops the datagram and counts it, as an overloaded UDP
//! socket would.
//!
//! Mesh peer ids are assigned in executor-creation order; the shards are
//! created one after the other in index order (see `shards`), so peer id ==
//! shard index. [`join`] checks it.

use std::io;
use std::net::SocketAddr;
use std::rc::Rc;

use glommio::channels::channel_mesh::{Full, MeshBuilder, Receivers, Senders};
use glommio::channels::shared_channel::ConnectedReceiver;

use super::shutdown::{until_stopped, Stop};
use super::udp::Shard;
use crate::sip::proxy::{Datagram, LegId, Output};

/// Hand-off queue depth per ordered shard pair.
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

/// The builder every shard joins (cloned into each).
pub(crate) fn builder(shards: usize) -> MeshBuilder<HandOff, Full> {
    MeshBuilder::full(shards, QUEUE)
}

/// Join the mesh; `Ok(None)` when stop was asked before every shard joined.
pub(crate) async fn join(
    mesh: MeshBuilder<HandOff, Full>,
    shard: usize,
    stop: &Stop,
) -> io::Result<Option<(Senders<HandOff>, Receivers<HandOff>)>> {
    let Some(joined) = until_stopped(stop, mesh.join()).await else {
        return Ok(None);
    };
    let (tx, rx) = joined.map_err(io::Error::from)?;
    if tx.peer_id() != shard {
        let msg = format!("shard {shard} got mesh peer id {}", tx.peer_id());
        return Err(io::Error::other(msg));
    }
    Ok(Some((tx, rx)))
}

/// Process hand-offs from one peer shard until it closes its side.
pub(crate) async fn receive_loop(shard: Rc<Shard>, rx: ConnectedReceiver<HandOff>) {
    let mut out = Output::default();
    while let Some(h) = rx.recv().await {
        let dgram = Datagram {
            bytes: &h.bytes,
            src: h.src,
            leg: h.leg,
            handed_off: true,
        };
        shard.process(dgram, &mut out).await;
    }
}
