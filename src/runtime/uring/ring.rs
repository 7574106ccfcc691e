//! [`UdpRing`]: one thread's io_uring driving a handful of UDP sockets.
//!
//! - **Receive**: one multishot `recvmsg` per socket, picking buffers from a
//!   provided-buffer ring ([`BufRing`]). A datagram is handed to the caller
//!   as a slice of that buffer (no copy) and the buffer goes back to the
//!   kernel as soon as the callback returns. A multishot operation the
//!   kernel ended (no buffer left, error) is re-armed after the batch.
//! - **Send**: an `IORING_OP_SEND` with a destination address per datagram,
//!   queued in the submission ring and submitted with the next wait, so the
//!   replies to a whole batch of datagrams, and the wait for the next ones,
//!   cost one `io_uring_enter`. The bytes are copied into a send slot that
//!   lives until the completion (slots and their buffers are reused; no
//!   allocation once warm). `MSG_DONTWAIT` keeps sends in order: a full
//!   socket buffer fails the send (counted) instead of parking it behind
//!   later ones. If every slot is in flight the datagram is sent with a
//!   direct `sendto`.
//! - **Doorbell**: another thread's ring can post a completion into this one
//!   (`IORING_OP_MSG_RING`, see [`UdpRing::ring_doorbell`]), which ends a
//!   wait; the data itself travels in ordinary queues.
//! - **Wait**: [`UdpRing::submit_and_wait`] submits everything queued and
//!   sleeps until a completion arrives or the timeout passes; while the
//!   load is high enough ([`BatchGate`]) it gathers completions for up to
//!   `batchWaitMicros` first.
//!
//! The ring is set up single-issuer with deferred task running: completions
//! are produced only when this thread enters the kernel, so receiving never
//! interrupts the processing of a batch.

#![allow(unsafe_code)]

use std::io;
use std::mem::ManuallyDrop;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use io_uring::squeue::{self, Entry};
use io_uring::types::{CancelBuilder, Fd, RecvMsgOut, SubmitArgs, Timespec};
use io_uring::{cqueue, opcode, IoUring, SubmissionQueue, Submitter};
use socket2::{SockAddr, SockRef, Socket};

use super::batching::BatchGate;
use super::bufs::BufRing;
use super::recv::{enable_rx_timestamps, parse_sockaddr, recv_msghdr, rx_timestamp};
use super::slots::SendSlots;
use super::streams::{self, StreamEvent, StreamId, Streams};

/// Submission queue depth.
const SQ_ENTRIES: u32 = 1024;
/// Completion queue depth (the kernel keeps overflow beyond it, nothing is lost).
const CQ_ENTRIES: u32 = 4096;
/// Receive buffers per ring (a power of two).
const RECV_BUFFERS: u16 = 128;
/// Bytes per receive buffer: the `recvmsg` header, the source address and
/// the largest UDP payload.
const RECV_BUFFER_SIZE: usize = 64 * 1024 + 128;
/// Buffer group id of the receive buffers.
const BGID: u16 = 0;
/// Buffer group of the stream receives (their own, so a busy stream cannot
/// take the datagrams' buffers), and its size.
const STREAM_BGID: u16 = 1;
const STREAM_BUFFERS: u16 = 64;
const STREAM_BUFFER_SIZE: usize = 16 * 1024;
/// What a completion's `user_data` says it is (high byte), the low bits
/// being the socket or slot index.
const TAG_SHIFT: u32 = 56;
const TAG_RECV: u64 = 1;
const TAG_SEND: u64 = 2;
/// A doorbell another ring posted into this one.
const TAG_DOORBELL: u64 = 3;
/// A doorbell this ring sent (completes only on failure).
const TAG_RANG: u64 = 4;
/// The cancellation of everything, at drop.
const TAG_CANCEL: u64 = 5;
/// How long a drop waits for the operations in flight to end.
const DROP_WAIT: Duration = Duration::from_secs(1);
pub(super) const INDEX_MASK: u64 = (1 << TAG_SHIFT) - 1;

/// Failures of the ring's I/O; plain integers, one set per thread.
#[derive(Debug, Default, Clone, Copy)]
pub struct RingCounters {
    /// Datagrams received.
    pub received: u64,
    /// Receive completions with an error (other than running out of buffers).
    pub recv_errors: u64,
    /// Times the receive buffers ran out (the kernel holds the datagrams
    /// in the socket until the receive is re-armed).
    pub recv_no_buffers: u64,
    /// Datagrams larger than a receive buffer (dropped).
    pub truncated: u64,
    /// Sends that completed with an error (full socket buffer, unreachable…).
    pub send_errors: u64,
    /// Sends done with a direct `sendto` because every slot was in flight.
    pub direct_sends: u64,
    /// Doorbells received from other rings.
    pub doorbells: u64,
    /// Doorbells this ring could not deliver (target ring gone).
    pub doorbell_errors: u64,
    /// Accept completions with an error.
    pub accept_errors: u64,
    /// Connections accepted.
    pub accepted: u64,
    /// Outgoing connections established.
    pub connected: u64,
    /// Outgoing connections that failed or timed out.
    pub connect_failures: u64,
    /// Bytes received on streams.
    pub stream_bytes: u64,
    /// Stream sends that failed (the connection is closed).
    pub stream_send_errors: u64,
    /// Connections closed because the peer did not read what we queued.
    pub stream_overflows: u64,
    /// Busy polls that saw completions coming (no sleep needed).
    pub spin_hits: u64,
    /// Busy polls that ran out of time (the ring then slept).
    pub spin_misses: u64,
    /// Waits that batched completions (`batchWaitMicros`, while engaged).
    pub batched_waits: u64,
    /// Times the load engaged completion batching.
    pub batch_engagements: u64,
}

/// A datagram handed to [`UdpRing::drain`]'s callback.
#[derive(Debug)]
pub struct Received<'a> {
    /// Index of the socket it arrived on (order given to [`UdpRing::new`]).
    pub socket: usize,
    /// Its sender.
    pub src: SocketAddr,
    /// The payload, borrowed from the receive buffer.
    pub bytes: &'a [u8],
    /// When the kernel received it (`SO_TIMESTAMPNS`, ns since the Unix
    /// epoch), if the socket reports it.
    pub rx_ns: Option<u64>,
}

/// One thread's io_uring over its UDP sockets (see the module doc).
pub struct UdpRing {
    ring: IoUring,
    // The memory operations in flight point into. Freed by `Drop` only
    // once every operation completed (the ring itself may outlive this
    // value: other threads hold duplicates of its descriptor), leaked if
    // that never happens.
    bufs: ManuallyDrop<BufRing>,
    sockets: ManuallyDrop<Vec<Listener>>,
    slots: ManuallyDrop<SendSlots>,
    sbufs: ManuallyDrop<BufRing>,
    streams: ManuallyDrop<Streams>,
    counters: RingCounters,
    /// Being dropped: ended receives are not re-armed.
    closing: bool,
    /// Completion batching of [`UdpRing::submit_and_wait`]: while engaged,
    /// the shortest wait before returning with fewer than
    /// [`BATCH_COMPLETIONS`] completions.
    batch: BatchGate,
    /// Busy polling of [`UdpRing::submit_and_wait`]: how long to watch
    /// the ring from user space before sleeping in the kernel; zero = off.
    busy_poll: Duration,
}

/// Completions a batching wait gathers before it returns early.
const BATCH_COMPLETIONS: usize = 32;

/// A socket with its multishot receive.
struct Listener {
    socket: Socket,
    /// The `msghdr` template of the multishot `recvmsg` (only its name and
    /// control lengths matter); boxed so its address is stable.
    msghdr: Box<libc::msghdr>,
    /// Whether a multishot receive is in flight.
    armed: bool,
}

/// Queues sends on a ring; given to [`UdpRing::drain`]'s callback and
/// returned by [`UdpRing::tx`].
pub struct Tx<'a> {
    submitter: Submitter<'a>,
    pub(super) sq: SubmissionQueue<'a>,
    sockets: &'a [Listener],
    slots: &'a mut SendSlots,
    pub(super) streams: &'a mut Streams,
    pub(super) sbgid: u16,
    pub(super) counters: &'a mut RingCounters,
}

/// One thing [`UdpRing::drain_events`] reports.
#[derive(Debug)]
pub enum Completion<'a> {
    /// A datagram arrived.
    Datagram(Received<'a>),
    /// Something happened on a stream.
    Stream(StreamEvent<'a>),
}

// === impl UdpRing ===

impl UdpRing {
    /// A ring over `sockets` (non-blocking UDP sockets), receiving on each.
    /// Must be created on the thread that uses it.
    pub fn new(sockets: Vec<Socket>) -> io::Result<UdpRing> {
        let ring = build_ring()?;
        let bufs = BufRing::new(RECV_BUFFERS, RECV_BUFFER_SIZE, BGID)?;
        bufs.register(&ring.submitter())?;
        let sbufs = BufRing::new(STREAM_BUFFERS, STREAM_BUFFER_SIZE, STREAM_BGID)?;
        sbufs.register(&ring.submitter())?;
        let sockets = sockets
            .into_iter()
            .inspect(enable_rx_timestamps)
            .map(|socket| Listener {
                socket,
                msghdr: Box::new(recv_msghdr()),
                armed: false,
            })
            .collect();
        let mut ring = UdpRing {
            ring,
            bufs: ManuallyDrop::new(bufs),
            sockets: ManuallyDrop::new(sockets),
            slots: ManuallyDrop::new(SendSlots::new()),
            sbufs: ManuallyDrop::new(sbufs),
            streams: ManuallyDrop::new(Streams::new()),
            counters: RingCounters::default(),
            closing: false,
            batch: BatchGate::new(Duration::ZERO, Instant::now()),
            busy_poll: Duration::ZERO,
        };
        ring.arm_receives();
        Ok(ring)
    }

    /// Let [`UdpRing::submit_and_wait`], while completions come faster
    /// than a couple per `wait` ([`BatchGate`]), gather them for up to
    /// `wait` before it returns with fewer than a batch (needs Linux 6.12;
    /// `false`, and no batching, on a kernel without it).
    pub fn set_batch_wait(&mut self, wait: Duration) -> bool {
        if !self.ring.params().is_feature_min_timeout() {
            return false;
        }
        self.batch = BatchGate::new(wait, Instant::now());
        true
    }

    /// Let [`UdpRing::submit_and_wait`] watch the ring from user space for
    /// up to `spin` before it sleeps (`false`, and no spinning, when the
    /// kernel does not flag pending completions).
    pub fn set_busy_poll(&mut self, spin: Duration) -> bool {
        // Only the tuned ring of `build_ring` (single issuer, deferred task
        // work, the task-run flag) can be watched; the fallback cannot.
        if !self.ring.params().is_setup_single_issuer() {
            return false;
        }
        self.busy_poll = spin;
        true
    }

    /// The ring's file descriptor, for [`UdpRing::ring_doorbell`] from
    /// another thread (keep a `dup` of it alive while others may ring).
    pub fn fd(&self) -> RawFd {
        self.ring.as_raw_fd()
    }

    /// A duplicate of the ring's descriptor (keeps the ring alive).
    pub fn dup_fd(&self) -> io::Result<OwnedFd> {
        use std::os::fd::BorrowedFd;
        // SAFETY: the ring's descriptor is open for as long as `self`.
        let fd = unsafe { BorrowedFd::borrow_raw(self.fd()) };
        fd.try_clone_to_owned()
    }

    /// The I/O counters so far.
    pub fn counters(&self) -> RingCounters {
        self.counters
    }

    /// A queue for sends outside [`UdpRing::drain`].
    pub fn tx(&mut self) -> Tx<'_> {
        let (submitter, sq, _) = self.ring.split();
        Tx {
            submitter,
            sq,
            sockets: &self.sockets,
            slots: &mut self.slots,
            streams: &mut self.streams,
            sbgid: STREAM_BGID,
            counters: &mut self.counters,
        }
    }

    /// Accept connections on `listener` (a listening stream socket) from
    /// now on; returns its index in [`StreamEvent::Accepted`].
    pub fn listen(&mut self, listener: Socket) -> usize {
        let index = self.streams.listeners.len();
        self.streams.listeners.push(streams::ListenSlot {
            socket: listener,
            armed: false,
        });
        self.arm_accept(index);
        index
    }

    fn arm_accept(&mut self, index: usize) {
        let Some(l) = self.streams.listeners.get(index) else {
            return;
        };
        if l.armed || self.closing {
            return;
        }
        let entry = opcode::AcceptMulti::new(Fd(l.socket.as_raw_fd()))
            .build()
            .user_data(tag(streams::TAG_ACCEPT, index));
        let queued = self.tx().push(entry);
        if let Some(l) = self.streams.listeners.get_mut(index) {
            l.armed = queued;
        }
    }

    /// Wake the thread waiting on ring `target` (an fd from
    /// [`UdpRing::fd`]); queued, submitted with the next wait.
    pub fn ring_doorbell(&mut self, target: RawFd) {
        let entry = opcode::MsgRingData::new(Fd(target), 0, tag(TAG_DOORBELL, 0), None)
            .build()
            .flags(squeue::Flags::SKIP_SUCCESS)
            .user_data(tag(TAG_RANG, 0));
        if !self.tx().push(entry) {
            self.counters.doorbell_errors += 1;
        }
    }

    /// Submit everything queued, then sleep until at least one completion
    /// is ready or `timeout` passed. Interruptions are not errors.
    pub fn submit_and_wait(&mut self, timeout: Duration) -> io::Result<()> {
        let r = self.wait(timeout);
        if self.batch.enabled() {
            let ready = self.ring.completion().len();
            if self.batch.on_wake(Instant::now(), ready) {
                self.counters.batch_engagements += 1;
            }
        }
        r
    }

    /// [`UdpRing::submit_and_wait`] without the batching bookkeeping.
    fn wait(&mut self, timeout: Duration) -> io::Result<()> {
        self.tx().flush_sends();
        if !self.busy_poll.is_zero() {
            if self.spin(timeout.min(self.busy_poll)) {
                self.counters.spin_hits += 1;
                return self.submit_and_wait_now();
            }
            self.counters.spin_misses += 1;
        }
        let ts = Timespec::from(timeout);
        let mut args = SubmitArgs::new().timespec(&ts);
        let mut want = 1;
        if let Some(us) = self.batch.min_wait_usec() {
            args = args.min_wait_usec(us);
            want = BATCH_COMPLETIONS;
            self.counters.batched_waits += 1;
        }
        match self.ring.submitter().submit_with_args(want, &args) {
            Ok(_) => Ok(()),
            Err(e) => match e.raw_os_error() {
                Some(libc::ETIME | libc::EINTR | libc::EBUSY | libc::EAGAIN) => Ok(()),
                _ => Err(e),
            },
        }
    }

    /// Submit what is queued, then watch the ring for up to `spin`: true
    /// as soon as the kernel has completions to hand over (it flags them
    /// in the ring, no system call needed), false when the time is up.
    /// Whoever completes our operations then finds no sleeper to wake.
    fn spin(&mut self, spin: Duration) -> bool {
        if self.submit().is_err() {
            return false;
        }
        let end = Instant::now() + spin;
        loop {
            for _ in 0..64 {
                if self.ring.submission().taskrun() || !self.ring.completion().is_empty() {
                    return true;
                }
                std::hint::spin_loop();
            }
            if Instant::now() >= end {
                return false;
            }
        }
    }

    /// Run the kernel's pending completion work and return at once.
    fn submit_and_wait_now(&mut self) -> io::Result<()> {
        let ts = Timespec::new();
        let args = SubmitArgs::new().timespec(&ts);
        match self.ring.submitter().submit_with_args(1, &args) {
            Ok(_) => Ok(()),
            Err(e) => match e.raw_os_error() {
                Some(libc::ETIME | libc::EINTR | libc::EBUSY | libc::EAGAIN) => Ok(()),
                _ => Err(e),
            },
        }
    }

    /// Submit everything queued without waiting.
    pub fn submit(&mut self) -> io::Result<()> {
        self.tx().flush_sends();
        match self.ring.submitter().submit() {
            Ok(_) => Ok(()),
            Err(e) => match e.raw_os_error() {
                Some(libc::EINTR | libc::EBUSY | libc::EAGAIN) => Ok(()),
                _ => Err(e),
            },
        }
    }

    /// Handle every completion ready now: each datagram goes to `on`
    /// (which may queue sends on the [`Tx`] it gets), send slots are freed,
    /// buffers recycled and ended receives re-armed. Returns the number of
    /// datagrams handled.
    pub fn drain<F>(&mut self, mut on: F) -> usize
    where
        F: FnMut(Received<'_>, &mut Tx<'_>),
    {
        self.drain_events(|c, tx| {
            if let Completion::Datagram(d) = c {
                on(d, tx);
            }
        })
    }

    /// [`UdpRing::drain`] for datagrams and streams alike: every completion
    /// ready now goes to `on`, in the order the kernel produced them.
    pub fn drain_events<F>(&mut self, mut on: F) -> usize
    where
        F: FnMut(Completion<'_>, &mut Tx<'_>),
    {
        let (submitter, sq, mut cq) = self.ring.split();
        let mut tx = Tx {
            submitter,
            sq,
            sockets: &self.sockets,
            slots: &mut self.slots,
            streams: &mut self.streams,
            sbgid: STREAM_BGID,
            counters: &mut self.counters,
        };
        // Listeners whose multishot accept ended (bit i = listener i).
        let mut accepts_ended: u64 = 0;
        let mut rearm_streams = false;
        // Sockets whose multishot receive ended (bit i = socket i).
        let mut ended: u64 = 0;
        // Sockets whose receive failed (re-armed at the next drain).
        let mut failed: u64 = 0;
        let mut handled = 0;
        cq.sync();
        for cqe in &mut cq {
            let data = cqe.user_data();
            let index = (data & INDEX_MASK) as usize;
            match data >> TAG_SHIFT {
                TAG_RECV => {
                    let bit = 1u64.checked_shl(index as u32).unwrap_or(0);
                    let Some(bid) = cqueue::buffer_select(cqe.flags()) else {
                        // No buffer: out of buffers (re-armed below, once
                        // this batch's are back) or a socket error (re-armed
                        // next turn, so a persistent error cannot spin).
                        if count_recv_error(tx.counters, cqe.result()) {
                            ended |= bit;
                        } else {
                            failed |= bit;
                        }
                        continue;
                    };
                    if !cqueue::more(cqe.flags()) {
                        ended |= bit;
                    }
                    if let Some(d) = received(
                        &self.bufs,
                        &self.sockets,
                        index,
                        bid,
                        cqe.result(),
                        tx.counters,
                    ) {
                        handled += 1;
                        on(Completion::Datagram(d), &mut tx);
                    }
                    self.bufs.recycle(bid);
                }
                streams::TAG_ACCEPT => {
                    if !cqueue::more(cqe.flags()) {
                        accepts_ended |= 1u64.checked_shl(index as u32).unwrap_or(0);
                    }
                    if cqe.result() >= 0 {
                        tx.accepted(index, cqe.result(), &mut on);
                    } else {
                        tx.counters.accept_errors += 1;
                    }
                }
                streams::TAG_SRECV => {
                    let id = StreamId::from_raw(data & INDEX_MASK);
                    let more = cqueue::more(cqe.flags());
                    let result = cqe.result();
                    if let Some(bid) = cqueue::buffer_select(cqe.flags()) {
                        let len = usize::try_from(result).unwrap_or(0);
                        if let Some(bytes) = self.sbufs.get(bid).and_then(|b| b.get(..len)) {
                            if len > 0 && tx.streams.get_mut(id).is_some_and(|s| !s.closing) {
                                handled += 1;
                                tx.counters.stream_bytes += len as u64;
                                on(Completion::Stream(StreamEvent::Data(id, bytes)), &mut tx);
                            }
                        }
                        self.sbufs.recycle(bid);
                    }
                    if !more {
                        // Data without MORE, or no buffers: the stream goes
                        // on, its receive is re-armed after the batch; end
                        // of stream or an error close it.
                        if result == -libc::ENOBUFS {
                            tx.counters.recv_no_buffers += 1;
                        }
                        rearm_streams |= tx.recv_ended(id, result, &mut on);
                    }
                }
                streams::TAG_SSEND => {
                    let id = StreamId::from_raw(data & INDEX_MASK);
                    tx.sent(id, cqe.result(), &mut on);
                }
                streams::TAG_CONNECT => {
                    let id = StreamId::from_raw(data & INDEX_MASK);
                    tx.connect_done(id, cqe.result(), &mut on);
                }
                streams::TAG_LINK_TIMEOUT | streams::TAG_SHUTDOWN | streams::TAG_RECV_CANCEL => {
                    let id = StreamId::from_raw(data & INDEX_MASK);
                    tx.op_done(id, &mut on);
                }
                TAG_SEND => tx.slots.complete(index, cqe.result(), tx.counters),
                TAG_DOORBELL => tx.counters.doorbells += 1,
                TAG_RANG if cqe.result() < 0 => tx.counters.doorbell_errors += 1,
                _ => {}
            }
        }
        drop(tx);
        drop(cq);
        self.bufs.publish();
        self.sbufs.publish();
        for i in 0..self.streams.listeners.len().min(64) {
            if accepts_ended & (1 << i) != 0 {
                if let Some(l) = self.streams.listeners.get_mut(i) {
                    l.armed = false;
                }
                self.arm_accept(i);
            }
        }
        if rearm_streams && !self.closing {
            self.tx().rearm_stream_receives();
        }
        if self.closing {
            self.mark_ended(ended | failed);
        } else if ended != 0 || self.sockets.iter().any(|l| !l.armed) {
            self.rearm_ended(ended);
        }
        self.mark_ended(failed);
        handled
    }

    /// Queue a multishot receive on every socket that has none (at start,
    /// and for any whose receive could not be queued).
    fn arm_receives(&mut self) {
        for i in 0..self.sockets.len() {
            self.arm(i);
        }
    }

    /// Re-arm the receives the kernel ended (bit i = socket i; their last
    /// completion had no `MORE` flag).
    fn rearm_ended(&mut self, ended: u64) {
        self.mark_ended(ended);
        self.arm_receives();
    }

    /// Record that the receives of `ended` (bit i = socket i) are over.
    fn mark_ended(&mut self, ended: u64) {
        for (i, l) in self.sockets.iter_mut().enumerate().take(64) {
            if ended & (1 << i) != 0 {
                l.armed = false;
            }
        }
    }

    /// Whether any operation may still touch our memory.
    fn busy(&self) -> bool {
        self.sockets.iter().any(|l| l.armed) || self.slots.in_flight() > 0 || self.streams.busy()
    }

    fn arm(&mut self, i: usize) {
        let Some(l) = self.sockets.get(i) else { return };
        if l.armed {
            return;
        }
        let entry = opcode::RecvMsgMulti::new(
            Fd(l.socket.as_raw_fd()),
            &*l.msghdr as *const libc::msghdr,
            self.bufs.bgid(),
        )
        .build()
        .user_data(tag(TAG_RECV, i));
        let queued = self.tx().push(entry);
        if let Some(l) = self.sockets.get_mut(i) {
            l.armed = queued;
        }
    }
}

impl Drop for UdpRing {
    /// Cancel every operation and wait (bounded) for their last
    /// completions before freeing what they point into.
    fn drop(&mut self) {
        self.closing = true;
        let cancel = opcode::AsyncCancel2::new(CancelBuilder::any())
            .build()
            .user_data(tag(TAG_CANCEL, 0));
        let _ = self.tx().push(cancel);
        let deadline = Instant::now() + DROP_WAIT;
        while self.busy() && Instant::now() < deadline {
            if self.submit_and_wait(Duration::from_millis(10)).is_err() {
                break;
            }
            self.drain(|_, _| {});
        }
        if self.busy() {
            // The kernel may still write into these: leak them rather than
            // free memory under it.
            return;
        }
        // SAFETY: nothing is in flight any more (every receive ended, every
        // send completed), and these are never used again.
        unsafe {
            ManuallyDrop::drop(&mut self.bufs);
            ManuallyDrop::drop(&mut self.sockets);
            ManuallyDrop::drop(&mut self.slots);
            ManuallyDrop::drop(&mut self.streams);
            ManuallyDrop::drop(&mut self.sbufs);
        }
    }
}

/// The datagram in buffer `bid` for a receive completion with `result`.
fn received<'a>(
    bufs: &'a BufRing,
    sockets: &[Listener],
    socket: usize,
    bid: u16,
    result: i32,
    counters: &mut RingCounters,
) -> Option<Received<'a>> {
    let listener = sockets.get(socket)?;
    let len = usize::try_from(result).ok()?;
    let buf = bufs.get(bid)?.get(..len)?;
    let Ok(out) = RecvMsgOut::parse(buf, &listener.msghdr) else {
        counters.recv_errors += 1;
        return None;
    };
    if out.is_payload_truncated() {
        counters.truncated += 1;
        return None;
    }
    let Some(src) = parse_sockaddr(out.name_data()) else {
        counters.recv_errors += 1;
        return None;
    };
    // The payload is the tail of what the kernel wrote (after the header,
    // the name and the control data); `out` only borrows for its own life.
    let start = buf.len().checked_sub(out.payload_data().len())?;
    let bytes = buf.get(start..)?;
    counters.received += 1;
    Some(Received {
        socket,
        src,
        bytes,
        rx_ns: rx_timestamp(out.control_data()),
    })
}

/// Count a receive completion without a buffer; `true` if it only ran out
/// of buffers.
fn count_recv_error(counters: &mut RingCounters, result: i32) -> bool {
    if result == -libc::ENOBUFS {
        counters.recv_no_buffers += 1;
        true
    } else {
        counters.recv_errors += 1;
        false
    }
}

// === impl Tx ===

impl Tx<'_> {
    /// Queue `bytes` for `dst` on socket `socket`. Returns `false` when the
    /// datagram could not be sent (no such socket, direct send failed).
    pub fn send(&mut self, socket: usize, dst: SocketAddr, bytes: &[u8]) -> bool {
        let Some(listener) = self.sockets.get(socket) else {
            return false;
        };
        let fd = listener.socket.as_raw_fd();
        let Some((index, slot)) = self.slots.take() else {
            // Every slot is in flight. The sends queued before this one must
            // leave first: submit them (non-blocking sends are issued inline,
            // before `submit` returns), then send this one directly.
            self.counters.direct_sends += 1;
            self.flush();
            let ok = SockRef::from(&listener.socket)
                .send_to(bytes, &SockAddr::from(dst))
                .is_ok();
            if !ok {
                self.counters.send_errors += 1;
            }
            return ok;
        };
        slot.buf.clear();
        slot.buf.extend_from_slice(bytes);
        slot.dst = SockAddr::from(dst);
        let entry = opcode::Send::new(Fd(fd), slot.buf.as_ptr(), slot.buf.len() as u32)
            .dest_addr(slot.dst.as_ptr())
            .dest_addr_len(slot.dst.len())
            .flags(libc::MSG_DONTWAIT)
            .build()
            .user_data(tag(TAG_SEND, index as usize));
        if self.push(entry) {
            return true;
        }
        self.slots.free.push(index);
        false
    }

    /// Queue `entry`, submitting what is queued first if the ring is full.
    /// `false` when the kernel would not take entries (the caller counts it).
    pub(super) fn push(&mut self, entry: Entry) -> bool {
        loop {
            // SAFETY: every entry built in this module points only into
            // memory owned by the `UdpRing` (msghdrs, send slots, buffers)
            // that stays put until its completion or the ring's drop.
            if unsafe { self.sq.push(&entry) }.is_ok() {
                return true;
            }
            if !self.flush() {
                // The kernel refused even to take entries: give this one up
                // rather than spin.
                return false;
            }
        }
    }

    /// [`Tx::flush`] for the stream operations.
    pub(super) fn flush_pub(&mut self) -> bool {
        self.flush()
    }

    /// Hand every queued entry to the kernel now; `false` if it refused.
    fn flush(&mut self) -> bool {
        self.sq.sync();
        let ok = self.submitter.submit().is_ok();
        self.sq.sync();
        ok
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        self.sq.sync();
    }
}

/// A ring for UDP forwarding: single issuer, completions only when we
/// enter the kernel; falls back to plainer setups on older kernels.
fn build_ring() -> io::Result<IoUring> {
    check_kernel()?;
    let tuned = IoUring::builder()
        .setup_cqsize(CQ_ENTRIES)
        .setup_submit_all()
        .setup_single_issuer()
        .setup_defer_taskrun()
        .setup_taskrun_flag()
        .build(SQ_ENTRIES);
    match tuned {
        Ok(ring) => Ok(ring),
        Err(_) => IoUring::builder()
            .setup_cqsize(CQ_ENTRIES)
            .build(SQ_ENTRIES),
    }
}

/// Multishot `recvmsg` needs Linux 6.0; an older kernel would fail every
/// receive, so refuse to start with a clear message instead.
fn check_kernel() -> io::Result<()> {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut parts = release.trim().split(['.', '-']);
    let major: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    if major >= 6 || release.is_empty() {
        return Ok(());
    }
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        format!(
            "Linux {} is too old: multishot UDP receive needs 6.0 or later",
            release.trim()
        ),
    ))
}

pub(super) fn tag(kind: u64, index: usize) -> u64 {
    (kind << TAG_SHIFT) | (index as u64 & INDEX_MASK)
}
