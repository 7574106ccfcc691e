//! The stream operations of [`Tx`]: connect, send, close, and what their
//! completions do to a connection's slot (see `streams` for the rules).

use std::net::SocketAddr;

use std::time::Duration;

use io_uring::opcode;
use io_uring::squeue::Flags;
use io_uring::types::Fd;
use socket2::SockAddr;

use super::ring::{tag, Completion, Tx};
use super::streams::{
    accepted_socket, stream_socket, timespec, StreamEvent, StreamId, TAG_CONNECT, TAG_LINK_TIMEOUT,
    TAG_RECV_CANCEL, TAG_SHUTDOWN, TAG_SRECV, TAG_SSEND,
};

impl Tx<'_> {
    /// Open a connection to `addr`, given up after `timeout`; its outcome is
    /// [`StreamEvent::Connected`] or [`StreamEvent::Closed`]. Bytes sent
    /// before it is established wait for it.
    pub fn connect(&mut self, addr: SocketAddr, timeout: Duration) -> Option<StreamId> {
        let socket = match stream_socket(addr) {
            Ok(s) => s,
            Err(_) => {
                self.counters.connect_failures += 1;
                return None;
            }
        };
        let id = self.streams.insert(socket);
        let slot = self.streams.get_mut(id)?;
        slot.addr = SockAddr::from(addr);
        slot.timeout = timespec(timeout);
        slot.connecting = true;
        let fd = slot.fd()?;
        let connect = opcode::Connect::new(Fd(fd), slot.addr.as_ptr(), slot.addr.len())
            .build()
            .flags(Flags::IO_LINK)
            .user_data(tag(TAG_CONNECT, id.raw() as usize));
        let limit = opcode::LinkTimeout::new(&slot.timeout)
            .build()
            .user_data(tag(TAG_LINK_TIMEOUT, id.raw() as usize));
        slot.ops += 2;
        // Both or neither: a lone linked connect would wait forever.
        if self.sq.capacity() - self.sq.len() < 2 {
            self.flush_queue();
        }
        if !self.push(connect) {
            if let Some(slot) = self.streams.get_mut(id) {
                slot.ops -= 2;
                slot.closing = true;
            }
            self.counters.connect_failures += 1;
            self.free_if_done(id);
            return None;
        }
        if !self.push(limit) {
            if let Some(slot) = self.streams.get_mut(id) {
                slot.ops -= 1;
            }
        }
        Some(id)
    }

    /// Queue `bytes` on connection `id`, behind what is already queued.
    /// `false` when the connection is gone or closing, or its peer has not
    /// read what we queued (then it is closed).
    pub fn stream_send(&mut self, id: StreamId, bytes: &[u8]) -> bool {
        let max = self.streams.max_queued;
        let Some(slot) = self.streams.get_mut(id) else {
            return false;
        };
        if slot.closing {
            return false;
        }
        if slot.queued.len() + bytes.len() > max {
            self.counters.stream_overflows += 1;
            self.close(id);
            return false;
        }
        slot.queued.extend_from_slice(bytes);
        if !slot.kick_pending {
            slot.kick_pending = true;
            self.streams.dirty.push(id);
        }
        true
    }

    /// Start a send on every connection that had bytes queued since the
    /// last call (the end of a turn, before its entries are submitted).
    pub fn flush_sends(&mut self) {
        // Popping keeps the list's capacity; a send started here queues
        // nothing new on it.
        while let Some(id) = self.streams.dirty.pop() {
            if let Some(slot) = self.streams.get_mut(id) {
                slot.kick_pending = false;
                self.kick_send(id);
            }
        }
    }

    /// Close connection `id`: shut it down; [`StreamEvent::Closed`] follows
    /// once its last operation completed.
    pub fn close(&mut self, id: StreamId) {
        let Some(slot) = self.streams.get_mut(id) else {
            return;
        };
        if slot.closing {
            return;
        }
        if slot.kick_pending {
            // What was queued before the close still leaves first.
            slot.kick_pending = false;
            self.kick_send(id);
        }
        let Some(slot) = self.streams.get_mut(id).filter(|s| !s.closing) else {
            return; // gone, or closed by the failed send
        };
        slot.closing = true;
        let Some(fd) = slot.fd() else { return };
        slot.ops += 1;
        let entry = opcode::Shutdown::new(Fd(fd), libc::SHUT_RDWR)
            .build()
            .user_data(tag(TAG_SHUTDOWN, id.raw() as usize));
        if !self.push(entry) {
            if let Some(slot) = self.streams.get_mut(id) {
                slot.ops -= 1;
            }
        }
    }

    /// Whether `id` names a live connection (not closing).
    pub fn stream_alive(&mut self, id: StreamId) -> bool {
        self.streams.get_mut(id).is_some_and(|s| !s.closing)
    }

    /// Bytes queued on `id` and not yet taken by the kernel.
    pub fn stream_backlog(&mut self, id: StreamId) -> usize {
        self.streams.get_mut(id).map_or(0, |s| s.backlog())
    }

    /// Report [`StreamEvent::Drained`] for `id` once its backlog is at most
    /// `mark` bytes (at once when it already is, on the next send completion).
    pub fn watch_drain(&mut self, id: StreamId, mark: usize) {
        if let Some(slot) = self.streams.get_mut(id) {
            slot.drain_mark = Some(mark);
        }
    }

    /// Stop reading `id`: its multishot receive is cancelled and not
    /// re-armed until [`Tx::resume_recv`]. Bytes already received are still
    /// reported. Flow control: a peer whose bytes cannot leave is not read.
    pub fn pause_recv(&mut self, id: StreamId) {
        let Some(slot) = self.streams.get_mut(id) else {
            return;
        };
        if slot.paused || slot.closing {
            return;
        }
        slot.paused = true;
        if !slot.recv_armed || slot.recv_cancelling {
            return;
        }
        slot.recv_cancelling = true;
        slot.ops += 1;
        let entry = opcode::AsyncCancel::new(tag(TAG_SRECV, id.raw() as usize))
            .build()
            .user_data(tag(TAG_RECV_CANCEL, id.raw() as usize));
        if !self.push(entry) {
            if let Some(slot) = self.streams.get_mut(id) {
                slot.ops -= 1;
                slot.recv_cancelling = false;
            }
        }
    }

    /// Read `id` again after [`Tx::pause_recv`].
    pub fn resume_recv(&mut self, id: StreamId) {
        let Some(slot) = self.streams.get_mut(id) else {
            return;
        };
        if !slot.paused {
            return;
        }
        slot.paused = false;
        if !slot.connecting {
            self.arm_stream_recv(id);
        }
    }

    /// Whether reading `id` is paused.
    pub fn recv_paused(&mut self, id: StreamId) -> bool {
        self.streams.get_mut(id).is_some_and(|s| s.paused)
    }

    fn kick_send(&mut self, id: StreamId) {
        let user_data = tag(TAG_SSEND, id.raw() as usize);
        let Some(entry) = self
            .streams
            .get_mut(id)
            .and_then(|s| s.next_send(user_data))
        else {
            return;
        };
        if !self.push(entry) {
            if let Some(slot) = self.streams.get_mut(id) {
                slot.ops -= 1;
                slot.send_in_flight = false;
            }
            self.close(id);
        }
    }

    fn arm_stream_recv(&mut self, id: StreamId) {
        let bgid = self.sbgid;
        let Some(slot) = self.streams.get_mut(id) else {
            return;
        };
        if slot.recv_armed || slot.closing || slot.paused {
            return;
        }
        let Some(fd) = slot.fd() else { return };
        slot.recv_armed = true;
        slot.ops += 1;
        let entry = opcode::RecvMulti::new(Fd(fd), bgid)
            .build()
            .user_data(tag(TAG_SRECV, id.raw() as usize));
        if !self.push(entry) {
            if let Some(slot) = self.streams.get_mut(id) {
                slot.ops -= 1;
                slot.recv_armed = false;
            }
            self.close(id);
        }
    }

    /// Re-arm every live connection whose receive ran out of buffers.
    pub(super) fn rearm_stream_receives(&mut self) {
        let ids: Vec<StreamId> = self
            .streams
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| {
                s.socket.is_some() && !s.recv_armed && !s.closing && !s.connecting && !s.paused
            })
            .map(|(i, s)| StreamId {
                index: i as u32,
                gen: s.gen,
            })
            .collect();
        for id in ids {
            self.arm_stream_recv(id);
        }
    }

    pub(super) fn accepted<F>(&mut self, listener: usize, fd: i32, on: &mut F)
    where
        F: FnMut(Completion<'_>, &mut Tx<'_>),
    {
        let socket = accepted_socket(fd);
        let peer = socket.peer_addr().ok().and_then(|a| a.as_socket());
        let Some(peer) = peer else {
            self.counters.accept_errors += 1;
            return; // dropped: closes the descriptor
        };
        self.counters.accepted += 1;
        let conn = self.streams.insert(socket);
        self.arm_stream_recv(conn);
        on(
            Completion::Stream(StreamEvent::Accepted {
                listener,
                conn,
                peer,
            }),
            self,
        );
    }

    /// A connection's multishot receive ended: out of buffers (re-armed
    /// after the batch), cancelled by a pause, or end of stream / error
    /// (the connection closes). Returns whether the stream goes on (its
    /// receive is re-armed after the batch unless paused).
    pub(super) fn recv_ended<F>(&mut self, id: StreamId, result: i32, on: &mut F) -> bool
    where
        F: FnMut(Completion<'_>, &mut Tx<'_>),
    {
        let mut goes_on = result > 0 || result == -libc::ENOBUFS;
        if let Some(slot) = self.slots_of(id) {
            slot.recv_armed = false;
            slot.ops = slot.ops.saturating_sub(1);
            goes_on |= slot.recv_cancelling && result == -libc::ECANCELED;
            slot.recv_cancelling = false;
        }
        if !goes_on {
            self.close(id);
        }
        self.report_if_done(id, on);
        goes_on
    }

    pub(super) fn sent<F>(&mut self, id: StreamId, result: i32, on: &mut F)
    where
        F: FnMut(Completion<'_>, &mut Tx<'_>),
    {
        let ok = match self.slots_of(id) {
            Some(slot) => {
                slot.ops = slot.ops.saturating_sub(1);
                slot.send_in_flight = false;
                match usize::try_from(result) {
                    Ok(n) if n > 0 => {
                        slot.sent += n;
                        if slot.sent >= slot.sending.len() {
                            slot.sending.clear();
                            slot.sent = 0;
                        }
                        true
                    }
                    _ => false,
                }
            }
            None => return,
        };
        if ok {
            self.kick_send(id);
            let drained = self.streams.get_mut(id).is_some_and(|s| {
                let due = s.drain_mark.is_some_and(|m| s.backlog() <= m) && !s.closing;
                if due {
                    s.drain_mark = None;
                }
                due
            });
            if drained {
                on(Completion::Stream(StreamEvent::Drained(id)), self);
            }
        } else {
            self.counters.stream_send_errors += 1;
            self.close(id);
        }
        self.report_if_done(id, on);
    }

    pub(super) fn connect_done<F>(&mut self, id: StreamId, result: i32, on: &mut F)
    where
        F: FnMut(Completion<'_>, &mut Tx<'_>),
    {
        let Some(slot) = self.slots_of(id) else {
            return;
        };
        slot.ops = slot.ops.saturating_sub(1);
        slot.connecting = false;
        if result == 0 && !slot.closing {
            self.counters.connected += 1;
            self.arm_stream_recv(id);
            self.kick_send(id);
            on(Completion::Stream(StreamEvent::Connected(id)), self);
        } else {
            self.counters.connect_failures += 1;
            self.close(id);
            self.report_if_done(id, on);
        }
    }

    pub(super) fn op_done<F>(&mut self, id: StreamId, on: &mut F)
    where
        F: FnMut(Completion<'_>, &mut Tx<'_>),
    {
        if let Some(slot) = self.slots_of(id) {
            slot.ops = slot.ops.saturating_sub(1);
        }
        self.report_if_done(id, on);
    }

    /// The slot of `id` even while it closes (completions still arrive).
    fn slots_of(&mut self, id: StreamId) -> Option<&mut super::streams::Slot> {
        self.streams.get_mut(id)
    }

    /// A closing connection with nothing in flight: close the descriptor,
    /// free the slot and report it once.
    fn report_if_done<F>(&mut self, id: StreamId, on: &mut F)
    where
        F: FnMut(Completion<'_>, &mut Tx<'_>),
    {
        if self.free_if_done(id) {
            on(Completion::Stream(StreamEvent::Closed(id)), self);
        }
    }

    fn free_if_done(&mut self, id: StreamId) -> bool {
        let Some(slot) = self.streams.get_mut(id) else {
            return false;
        };
        if !slot.closing || slot.ops > 0 || slot.reported {
            return false;
        }
        slot.reported = true;
        slot.socket = None; // closes the descriptor
        slot.gen = (slot.gen + 1) & 0x1f_ffff;
        slot.sending.clear();
        slot.queued.clear();
        self.streams.free.push(id.index);
        true
    }

    /// Submit what is queued so far (room for linked pairs).
    fn flush_queue(&mut self) {
        let _ = self.flush_pub();
    }
}
