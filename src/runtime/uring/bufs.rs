//! A provided-buffer ring ("pbuf ring", Linux 5.19+): the pool of receive
//! buffers the kernel picks from when a multishot `recvmsg` completes.
//!
//! Memory layout: a page-aligned array of `count` [`BufRingEntry`]s shared
//! with the kernel (its tail is the `resv` field of entry 0), and one
//! contiguous allocation of `count × size` bytes holding the buffers. The
//! kernel consumes entries from its head; we hand buffers back at our tail
//! once a datagram has been processed, and publish the tail with one
//! release store per batch. Both allocations are made once, at start, and
//! outlive the registration (the owner unregisters before dropping).

#![allow(unsafe_code)]

use std::alloc::{self, Layout};
use std::io;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU16, Ordering};

use io_uring::types::BufRingEntry;
use io_uring::Submitter;

/// Alignment the kernel requires for a user-allocated buffer ring.
const PAGE: usize = 4096;

/// Receive buffers for one ring, identified by buffer id (`bid`).
pub(crate) struct BufRing {
    /// `count` entries shared with the kernel.
    entries: NonNull<BufRingEntry>,
    entries_layout: Layout,
    /// `count × size` bytes of buffers.
    data: NonNull<u8>,
    data_layout: Layout,
    count: u16,
    size: usize,
    /// Our tail: the next entry we fill (published with [`BufRing::publish`]).
    tail: u16,
    /// Buffer group id the receive operations name.
    bgid: u16,
}

// === impl BufRing ===

impl BufRing {
    /// `count` buffers of `size` bytes; `count` must be a power of two
    /// (at most 32768) and `size` fit in a `u32`.
    pub(crate) fn new(count: u16, size: usize, bgid: u16) -> io::Result<BufRing> {
        if !count.is_power_of_two() || count > 1 << 15 || u32::try_from(size).is_err() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "buffer ring: count must be a power of two ≤ 32768 and size < 4 GiB",
            ));
        }
        let entries_layout =
            Layout::from_size_align(usize::from(count) * size_of::<BufRingEntry>(), PAGE)
                .map_err(io::Error::other)?;
        let data_layout =
            Layout::from_size_align(usize::from(count) * size, 64).map_err(io::Error::other)?;
        // SAFETY: both layouts have a non-zero size (count ≥ 1, size ≥ 1 is
        // checked below by the caller's constants; a zero size is refused).
        let (entries, data) = unsafe {
            if entries_layout.size() == 0 || data_layout.size() == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "empty buffer ring",
                ));
            }
            (
                alloc::alloc_zeroed(entries_layout),
                alloc::alloc_zeroed(data_layout),
            )
        };
        let (Some(entries), Some(data)) = (
            NonNull::new(entries.cast::<BufRingEntry>()),
            NonNull::new(data),
        ) else {
            return Err(io::Error::from(io::ErrorKind::OutOfMemory));
        };
        let mut ring = BufRing {
            entries,
            entries_layout,
            data,
            data_layout,
            count,
            size,
            tail: 0,
            bgid,
        };
        for bid in 0..count {
            ring.recycle(bid);
        }
        ring.publish();
        Ok(ring)
    }

    /// Register the ring with `submitter` under its group id.
    pub(crate) fn register(&self, submitter: &Submitter<'_>) -> io::Result<()> {
        // SAFETY: the entries stay allocated, unmoved, until `Drop`, and the
        // owner (`UdpRing`) drops the io_uring (which releases the
        // registration) before this ring.
        unsafe {
            submitter.register_buf_ring_with_flags(
                self.entries.as_ptr() as u64,
                self.count,
                self.bgid,
                0,
            )
        }
    }

    /// The group id receive operations select buffers from.
    pub(crate) fn bgid(&self) -> u16 {
        self.bgid
    }

    /// The bytes of buffer `bid` (all `size` of them); `None` for an id the
    /// kernel cannot have given us.
    ///
    /// Only call it for a buffer the kernel completed and that was not
    /// recycled since: the kernel writes only into buffers it owns.
    pub(crate) fn get(&self, bid: u16) -> Option<&[u8]> {
        if bid >= self.count {
            return None;
        }
        // SAFETY: bid < count, so the range lies inside the data allocation;
        // the kernel handed this buffer to us (it is not in the ring), so
        // nothing writes to it while the shared borrow lives.
        Some(unsafe {
            std::slice::from_raw_parts(
                self.data.as_ptr().add(usize::from(bid) * self.size),
                self.size,
            )
        })
    }

    /// Give buffer `bid` back to the kernel (visible after [`BufRing::publish`]).
    pub(crate) fn recycle(&mut self, bid: u16) {
        if bid >= self.count {
            return;
        }
        let mask = self.count - 1;
        // SAFETY: the index is masked into 0..count, inside the entries
        // allocation; the kernel never writes entries, it only reads those
        // between its head and our published tail, and this one is past it.
        unsafe {
            let entry = &mut *self.entries.as_ptr().add(usize::from(self.tail & mask));
            entry.set_addr(self.data.as_ptr().add(usize::from(bid) * self.size) as u64);
            entry.set_len(self.size as u32);
            entry.set_bid(bid);
        }
        self.tail = self.tail.wrapping_add(1);
    }

    /// Publish every buffer recycled so far to the kernel.
    pub(crate) fn publish(&self) {
        // SAFETY: the tail field lives inside entry 0 of our allocation and
        // is only written by us; the kernel reads it with acquire semantics.
        unsafe {
            let tail = BufRingEntry::tail(self.entries.as_ptr()).cast::<AtomicU16>();
            (*tail).store(self.tail, Ordering::Release);
        }
    }
}

impl Drop for BufRing {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with exactly these layouts; the ring
        // that could still write into them is gone (see `register`).
        unsafe {
            alloc::dealloc(self.entries.as_ptr().cast::<u8>(), self.entries_layout);
            alloc::dealloc(self.data.as_ptr(), self.data_layout);
        }
    }
}
