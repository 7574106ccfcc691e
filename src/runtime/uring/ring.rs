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
//!   sleeps until a completion arrives or the timeout passes.
//!
//! The ring is set up single-issuer with deferred task running: completions
//! are produced only when this thread enters the kernel, so receiving never
//! interrupts the processing of a batch.

#![allow(unsafe_code)]

use std::io;
use std::mem::ManuallyDrop;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use io_uring::squeue::{self, Entry};
use io_uring::types::{CancelBuilder, Fd, RecvMsgOut, SubmitArgs, Timespec};
use io_uring::{cqueue, opcode, IoUring, SubmissionQueue, Submitter};
use socket2::{SockAddr, SockRef, Socket};

use super::bufs::BufRing;

/// Submission queue depth.
const SQ_ENTRIES: u32 = 1024;
/// Completion queue depth (the kernel keeps overflow beyond it, nothing is lost).
const CQ_ENTRIES: u32 = 4096;
/// Receive buffers per ring (a power of two).
const RECV_BUFFERS: u16 = 128;
/// Bytes per receive buffer: the `recvmsg` header, the source address and
/// the largest UDP payload.
const RECV_BUFFER_SIZE: usize = 64 * 1024 + 128;
/// Sends in flight at most; beyond, a direct `sendto`.
const SEND_SLOTS: usize = 1024;
/// Buffer group id of the receive buffers.
const BGID: u16 = 0;
/// Room for the source address in a received buffer (an IPv6 `sockaddr`).
const NAME_LEN: u32 = size_of::<libc::sockaddr_in6>() as u32;
/// Room for the control data: one `SCM_TIMESTAMPNS` message (header and
/// `timespec`, both multiples of the 8-byte control alignment on 64-bit).
const CONTROL_LEN: usize = size_of::<libc::cmsghdr>() + size_of::<libc::timespec>();

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
const INDEX_MASK: u64 = (1 << TAG_SHIFT) - 1;

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
    counters: RingCounters,
    /// Being dropped: ended receives are not re-armed.
    closing: bool,
}

/// A socket with its multishot receive.
struct Listener {
    socket: Socket,
    /// The `msghdr` template of the multishot `recvmsg` (only its name and
    /// control lengths matter); boxed so its address is stable.
    msghdr: Box<libc::msghdr>,
    /// Whether a multishot receive is in flight.
    armed: bool,
}

/// Storage for sends in flight, reused.
struct SendSlots {
    slots: Box<[SendSlot]>,
    free: Vec<u32>,
}

struct SendSlot {
    buf: Vec<u8>,
    dst: SockAddr,
}

/// Queues sends on a ring; given to [`UdpRing::drain`]'s callback and
/// returned by [`UdpRing::tx`].
pub struct Tx<'a> {
    submitter: Submitter<'a>,
    sq: SubmissionQueue<'a>,
    sockets: &'a [Listener],
    slots: &'a mut SendSlots,
    counters: &'a mut RingCounters,
}

// === impl UdpRing ===

impl UdpRing {
    /// A ring over `sockets` (non-blocking UDP sockets), receiving on each.
    /// Must be created on the thread that uses it.
    pub fn new(sockets: Vec<Socket>) -> io::Result<UdpRing> {
        let ring = build_ring()?;
        let bufs = BufRing::new(RECV_BUFFERS, RECV_BUFFER_SIZE, BGID)?;
        bufs.register(&ring.submitter())?;
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
            counters: RingCounters::default(),
            closing: false,
        };
        ring.arm_receives();
        Ok(ring)
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
            counters: &mut self.counters,
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
        let ts = Timespec::from(timeout);
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
        let (submitter, sq, mut cq) = self.ring.split();
        let mut tx = Tx {
            submitter,
            sq,
            sockets: &self.sockets,
            slots: &mut self.slots,
            counters: &mut self.counters,
        };
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
                        on(d, &mut tx);
                    }
                    self.bufs.recycle(bid);
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
        self.sockets.iter().any(|l| l.armed) || self.slots.in_flight() > 0
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
/// The `SCM_TIMESTAMPNS` value in a datagram's control data, in ns.
fn rx_timestamp(control: &[u8]) -> Option<u64> {
    const HDR: usize = size_of::<libc::cmsghdr>();
    let level = i32::from_ne_bytes(control.get(HDR - 8..HDR - 4)?.try_into().ok()?);
    let kind = i32::from_ne_bytes(control.get(HDR - 4..HDR)?.try_into().ok()?);
    if level != libc::SOL_SOCKET || kind != libc::SCM_TIMESTAMPNS {
        return None;
    }
    let sec = i64::from_ne_bytes(control.get(HDR..HDR + 8)?.try_into().ok()?);
    let nsec = i64::from_ne_bytes(control.get(HDR + 8..HDR + 16)?.try_into().ok()?);
    let ns = sec.checked_mul(1_000_000_000)?.checked_add(nsec)?;
    u64::try_from(ns).ok()
}

/// Ask the kernel to stamp each received datagram (`SO_TIMESTAMPNS`);
/// without it datagrams simply carry no timestamp.
fn enable_rx_timestamps(socket: &Socket) {
    let on: libc::c_int = 1;
    // SAFETY: a valid socket descriptor, and a pointer to an int of the
    // size passed, which is what SO_TIMESTAMPNS takes.
    let _ = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            (&on as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
}

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
            self.counters.direct_sends += 1;
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
    fn push(&mut self, entry: Entry) -> bool {
        loop {
            // SAFETY: every entry built in this module points only into
            // memory owned by the `UdpRing` (msghdrs, send slots, buffers)
            // that stays put until its completion or the ring's drop.
            if unsafe { self.sq.push(&entry) }.is_ok() {
                return true;
            }
            self.sq.sync();
            if self.submitter.submit().is_err() {
                // The kernel refused even to take entries: give this one up
                // rather than spin.
                return false;
            }
            self.sq.sync();
        }
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        self.sq.sync();
    }
}

// === impl SendSlots ===

impl SendSlots {
    fn new() -> SendSlots {
        let unspecified = SockAddr::from(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)));
        let slots = (0..SEND_SLOTS)
            .map(|_| SendSlot {
                buf: Vec::new(),
                dst: unspecified.clone(),
            })
            .collect();
        SendSlots {
            slots,
            free: (0..SEND_SLOTS as u32).rev().collect(),
        }
    }

    fn take(&mut self) -> Option<(u32, &mut SendSlot)> {
        let index = self.free.pop()?;
        let slot = self.slots.get_mut(index as usize)?;
        Some((index, slot))
    }

    fn in_flight(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    fn complete(&mut self, index: usize, result: i32, counters: &mut RingCounters) {
        if result < 0 {
            counters.send_errors += 1;
        }
        if index < self.slots.len() {
            self.free.push(index as u32);
        }
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

/// The `msghdr` a multishot `recvmsg` uses as its layout template.
fn recv_msghdr() -> libc::msghdr {
    // SAFETY: msghdr is plain old data; all-zero is a valid value.
    let mut hdr: libc::msghdr = unsafe { std::mem::zeroed() };
    hdr.msg_namelen = NAME_LEN;
    hdr.msg_controllen = CONTROL_LEN;
    hdr
}

fn tag(kind: u64, index: usize) -> u64 {
    (kind << TAG_SHIFT) | (index as u64 & INDEX_MASK)
}

/// A `sockaddr_in` / `sockaddr_in6` as the kernel wrote it.
fn parse_sockaddr(name: &[u8]) -> Option<SocketAddr> {
    let family = u16::from_ne_bytes([*name.first()?, *name.get(1)?]);
    let port = u16::from_be_bytes([*name.get(2)?, *name.get(3)?]);
    match i32::from(family) {
        libc::AF_INET => {
            let ip: [u8; 4] = name.get(4..8)?.try_into().ok()?;
            Some(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(ip), port)))
        }
        libc::AF_INET6 => {
            let flow: [u8; 4] = name.get(4..8)?.try_into().ok()?;
            let ip: [u8; 16] = name.get(8..24)?.try_into().ok()?;
            let scope: [u8; 4] = name.get(24..28)?.try_into().ok()?;
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(ip),
                port,
                u32::from_be_bytes(flow),
                u32::from_ne_bytes(scope),
            )))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;

    fn bound() -> (Socket, SocketAddr) {
        let std = UdpSocket::bind("127.0.0.1:0").unwrap();
        std.set_nonblocking(true).unwrap();
        let addr = std.local_addr().unwrap();
        (Socket::from(std), addr)
    }

    /// Wait until `n` datagrams were drained (bounded in time).
    fn collect(ring: &mut UdpRing, n: usize) -> Vec<(usize, SocketAddr, Vec<u8>, Option<u64>)> {
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(5);
        while got.len() < n && Instant::now() < deadline {
            ring.submit_and_wait(Duration::from_millis(50)).unwrap();
            ring.drain(|d, _| got.push((d.socket, d.src, d.bytes.to_vec(), d.rx_ns)));
        }
        got
    }

    #[test]
    fn receives_in_order_with_source_and_replies() {
        let (a, a_addr) = bound();
        let (b, b_addr) = bound();
        let mut ring = UdpRing::new(vec![a, b]).unwrap();
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        for i in 0..300u32 {
            let to = if i % 3 == 0 { b_addr } else { a_addr };
            peer.send_to(format!("msg {i}").as_bytes(), to).unwrap();
        }
        let got = collect(&mut ring, 300);
        assert_eq!(got.len(), 300, "more than the 128 buffers, via re-arm");
        let on_a: Vec<_> = got
            .iter()
            .filter(|g| g.0 == 0)
            .map(|g| g.2.clone())
            .collect();
        let expected: Vec<_> = (0..300u32)
            .filter(|i| i % 3 != 0)
            .map(|i| format!("msg {i}").into_bytes())
            .collect();
        assert_eq!(on_a, expected, "one socket's datagrams keep their order");
        assert!(got.iter().all(|g| g.1 == peer.local_addr().unwrap()));
        let now_ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        assert!(
            got.iter().all(|g| g
                .3
                .is_some_and(|t| t <= now_ns && now_ns - t < 10_000_000_000)),
            "every datagram carries its kernel receive time"
        );

        peer.send_to(b"ping", a_addr).unwrap();
        let mut echoed = 0;
        let deadline = Instant::now() + Duration::from_secs(5);
        while echoed == 0 && Instant::now() < deadline {
            ring.submit_and_wait(Duration::from_millis(50)).unwrap();
            echoed += ring.drain(|d, tx| {
                assert!(tx.send(1, d.src, b"pong"));
            });
        }
        ring.submit().unwrap();
        peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 16];
        let (n, from) = peer.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"pong");
        assert_eq!(from, b_addr, "sent from the socket asked for");
    }

    #[test]
    fn large_datagram_arrives_whole() {
        let (a, a_addr) = bound();
        a.set_recv_buffer_size(1 << 20).unwrap();
        let mut ring = UdpRing::new(vec![a]).unwrap();
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        let big = vec![b'x'; 60_000];
        peer.send_to(&big, a_addr).unwrap();
        let got = collect(&mut ring, 1);
        assert_eq!(got.first().map(|g| g.2.len()), Some(60_000));
    }

    #[test]
    fn doorbell_ends_a_wait() {
        let (fd_tx, fd_rx) = std::sync::mpsc::channel();
        let waiter = std::thread::spawn(move || {
            let (s, _) = bound();
            let mut mine = UdpRing::new(vec![s]).unwrap();
            fd_tx.send(mine.dup_fd().unwrap()).unwrap();
            let start = Instant::now();
            while mine.counters().doorbells == 0 && start.elapsed() < Duration::from_secs(5) {
                mine.submit_and_wait(Duration::from_secs(5)).unwrap();
                mine.drain(|_, _| {});
            }
            (start.elapsed(), mine.counters().doorbells)
        });
        let target = fd_rx.recv().unwrap();
        let (s, _) = bound();
        let mut ring = UdpRing::new(vec![s]).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        ring.ring_doorbell(target.as_raw_fd());
        ring.submit().unwrap();
        let (waited, doorbells) = waiter.join().unwrap();
        assert_eq!(doorbells, 1);
        assert!(
            waited < Duration::from_secs(4),
            "woken by the doorbell, not the timeout"
        );
    }

    #[test]
    fn drop_ends_every_operation_even_while_the_ring_lives_on() {
        let std = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = std.local_addr().unwrap();
        std.set_nonblocking(true).unwrap();
        let ring = UdpRing::new(vec![Socket::from(std)]).unwrap();
        // Another thread's duplicate keeps the ring itself alive.
        let peer_dup = ring.dup_fd().unwrap();
        let start = Instant::now();
        drop(ring);
        assert!(start.elapsed() < Duration::from_millis(500));
        // The multishot receive held the socket open; once it is cancelled
        // the address is free again (without the cancel, EADDRINUSE).
        UdpSocket::bind(addr).expect("the dropped ring released its socket");
        drop(peer_dup);
    }

    #[test]
    fn sockaddr_parsing_is_total() {
        assert_eq!(parse_sockaddr(&[]), None);
        assert_eq!(parse_sockaddr(&[2, 0, 0]), None);
        let v4 = SockAddr::from(SocketAddr::from(([10, 1, 2, 3], 5060)));
        // SAFETY: test reads the bytes of a live sockaddr.
        let bytes =
            unsafe { std::slice::from_raw_parts(v4.as_ptr().cast::<u8>(), v4.len() as usize) };
        assert_eq!(
            parse_sockaddr(bytes),
            Some(SocketAddr::from(([10, 1, 2, 3], 5060)))
        );
    }
}
