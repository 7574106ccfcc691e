//! Stream sockets on the same ring as the datagrams: listeners with a
//! multishot accept, connections with a multishot receive into their own
//! provided-buffer group, at most one send in flight per connection (the
//! rest queued and coalesced behind it, short sends resumed; the sends of a
//! turn start only at its end, so a turn's messages for one connection
//! leave in one send), connects
//! bounded by a linked timeout, and a close that shuts the socket down and
//! frees its slot only after the last completion.
//!
//! A connection is named by a [`StreamId`] (slot and generation): an id
//! whose connection is gone never matches a later one in the same slot.

use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::time::Duration;

use io_uring::types::{Fd, Timespec};
use io_uring::{opcode, squeue};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

/// A connection of one ring: slot index and generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StreamId {
    /// Slot index.
    pub index: u32,
    /// Generation of the slot when the connection was made.
    pub gen: u32,
}

impl StreamId {
    /// As one integer (`index` low, `gen` high, 53 bits in all).
    pub fn raw(self) -> u64 {
        u64::from(self.index) | (u64::from(self.gen & 0x1f_ffff) << 32)
    }

    /// From [`StreamId::raw`].
    pub fn from_raw(raw: u64) -> StreamId {
        StreamId {
            index: raw as u32,
            gen: ((raw >> 32) & 0x1f_ffff) as u32,
        }
    }
}

/// What the ring tells about streams (see `UdpRing::drain_events`).
#[derive(Debug)]
pub enum StreamEvent<'a> {
    /// Listener `listener` accepted connection `conn` from `peer`.
    Accepted {
        /// Listener index (order of `UdpRing::listen`).
        listener: usize,
        /// The new connection.
        conn: StreamId,
        /// Its remote address.
        peer: SocketAddr,
    },
    /// An outgoing connection is established.
    Connected(StreamId),
    /// Bytes arrived (borrowed from the receive buffer).
    Data(StreamId, &'a [u8]),
    /// The connection is gone (peer closed, error, failed connect, or our
    /// close): its id is dead from now on. Reported once per connection.
    Closed(StreamId),
    /// What was queued on the connection fell to the mark asked for with
    /// `Tx::watch_drain` (reported once per request).
    Drained(StreamId),
}

/// One connection's ring-side state. Boxed: the kernel holds pointers into
/// it (address, timeout, send buffer) while operations are in flight.
pub(super) struct Slot {
    pub(super) socket: Option<Socket>,
    pub(super) gen: u32,
    /// Operations in flight that name this slot.
    pub(super) ops: u32,
    pub(super) recv_armed: bool,
    /// Reading stopped by `Tx::pause_recv` (not re-armed until resumed).
    pub(super) paused: bool,
    /// A cancel of the receive is in flight (its `ECANCELED` is not an error).
    pub(super) recv_cancelling: bool,
    /// Report [`StreamEvent::Drained`] once the backlog is at most this.
    pub(super) drain_mark: Option<usize>,
    /// Bytes of the send in flight (not touched until it completes).
    pub(super) sending: Vec<u8>,
    /// How much of `sending` the kernel took so far.
    pub(super) sent: usize,
    pub(super) send_in_flight: bool,
    /// Listed in [`Streams::dirty`]: bytes were queued this turn.
    pub(super) kick_pending: bool,
    /// Bytes waiting behind the send in flight.
    pub(super) queued: Vec<u8>,
    pub(super) connecting: bool,
    /// Shut down asked: no new operations, freed once `ops` is 0.
    pub(super) closing: bool,
    /// `Closed` already reported.
    pub(super) reported: bool,
    pub(super) addr: SockAddr,
    pub(super) timeout: Timespec,
}

/// Every connection slot of a ring, and the listeners.
pub(super) struct Streams {
    // Boxed on purpose: the kernel holds pointers into a slot (its address
    // and timeout) while the vector may grow.
    #[allow(clippy::vec_box)]
    pub(super) slots: Vec<Box<Slot>>,
    pub(super) free: Vec<u32>,
    pub(super) listeners: Vec<ListenSlot>,
    /// Largest bytes queued behind a connection's send in flight; beyond,
    /// the connection is closed (a peer that does not read).
    pub(super) max_queued: usize,
    /// Connections with bytes queued this turn and no send started for
    /// them yet: [`super::Tx::flush_sends`] starts one each, so every
    /// message of a turn for one connection leaves in one send.
    pub(super) dirty: Vec<StreamId>,
}

pub(super) struct ListenSlot {
    pub(super) socket: Socket,
    pub(super) armed: bool,
}

/// Completion kinds of streams (high byte of `user_data`).
pub(super) const TAG_ACCEPT: u64 = 6;
pub(super) const TAG_SRECV: u64 = 7;
pub(super) const TAG_SSEND: u64 = 8;
pub(super) const TAG_CONNECT: u64 = 9;
pub(super) const TAG_LINK_TIMEOUT: u64 = 10;
pub(super) const TAG_SHUTDOWN: u64 = 11;
pub(super) const TAG_RECV_CANCEL: u64 = 12;

impl Streams {
    pub(super) fn new() -> Streams {
        Streams {
            slots: Vec::new(),
            free: Vec::new(),
            listeners: Vec::new(),
            max_queued: 16 << 20,
            dirty: Vec::new(),
        }
    }

    /// The live slot `id` names.
    pub(super) fn get_mut(&mut self, id: StreamId) -> Option<&mut Slot> {
        self.slots
            .get_mut(id.index as usize)
            .map(|b| &mut **b)
            .filter(|s| s.gen == id.gen && s.socket.is_some())
    }

    /// A fresh slot for `socket`.
    pub(super) fn insert(&mut self, socket: Socket) -> StreamId {
        if let Some(index) = self.free.pop() {
            if let Some(slot) = self.slots.get_mut(index as usize) {
                slot.socket = Some(socket);
                slot.ops = 0;
                slot.recv_armed = false;
                slot.paused = false;
                slot.recv_cancelling = false;
                slot.drain_mark = None;
                slot.sending.clear();
                slot.sent = 0;
                slot.send_in_flight = false;
                slot.kick_pending = false;
                slot.queued.clear();
                slot.connecting = false;
                slot.closing = false;
                slot.reported = false;
                return StreamId {
                    index,
                    gen: slot.gen,
                };
            }
        }
        let index = self.slots.len() as u32;
        self.slots.push(Box::new(Slot {
            socket: Some(socket),
            gen: 0,
            ops: 0,
            recv_armed: false,
            paused: false,
            recv_cancelling: false,
            drain_mark: None,
            sending: Vec::new(),
            sent: 0,
            send_in_flight: false,
            kick_pending: false,
            queued: Vec::new(),
            connecting: false,
            closing: false,
            reported: false,
            addr: SockAddr::from(SocketAddr::from(([0, 0, 0, 0], 0))),
            timeout: Timespec::new(),
        }));
        StreamId { index, gen: 0 }
    }

    /// Whether any stream operation may still touch our memory.
    pub(super) fn busy(&self) -> bool {
        self.listeners.iter().any(|l| l.armed) || self.slots.iter().any(|s| s.ops > 0)
    }
}

impl Slot {
    /// Bytes queued and not yet taken by the kernel.
    pub(super) fn backlog(&self) -> usize {
        self.queued.len() + self.sending.len().saturating_sub(self.sent)
    }

    pub(super) fn fd(&self) -> Option<RawFd> {
        self.socket.as_ref().map(AsRawFd::as_raw_fd)
    }

    /// The next send entry for whatever is waiting, if nothing is in flight.
    pub(super) fn next_send(&mut self, user_data: u64) -> Option<squeue::Entry> {
        if self.send_in_flight || self.closing || self.connecting {
            return None;
        }
        if self.sent >= self.sending.len() {
            if self.queued.is_empty() {
                return None;
            }
            std::mem::swap(&mut self.sending, &mut self.queued);
            self.queued.clear();
            self.sent = 0;
        }
        let fd = self.fd()?;
        let rest = self.sending.get(self.sent..)?;
        let entry = opcode::Send::new(Fd(fd), rest.as_ptr(), rest.len() as u32)
            .flags(libc::MSG_NOSIGNAL)
            .build()
            .user_data(user_data);
        self.send_in_flight = true;
        self.ops += 1;
        Some(entry)
    }
}

/// A non-blocking stream socket for `addr`'s family, with TCP_NODELAY.
pub(super) fn stream_socket(addr: SocketAddr) -> std::io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_nodelay(true)?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}

/// Wrap the descriptor an accept completion returned.
pub(super) fn accepted_socket(fd: RawFd) -> Socket {
    #[allow(unsafe_code)]
    // SAFETY: a successful accept completion hands us a new descriptor that
    // nothing else owns.
    let socket = unsafe { Socket::from_raw_fd(fd) };
    let _ = socket.set_nodelay(true);
    socket
}

/// Timespec of a duration.
pub(super) fn timespec(d: Duration) -> Timespec {
    Timespec::new().sec(d.as_secs()).nsec(d.subsec_nanos())
}
