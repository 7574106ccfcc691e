//! Send slots: the bytes and destination of every send in flight, which
//! must stay put until its completion. Allocated once, reused; a slot's
//! buffer grows to the largest datagram it carried and keeps that size.

use std::net::{Ipv4Addr, SocketAddr};

use socket2::SockAddr;

use super::ring::RingCounters;

/// Sends in flight at most; beyond, a direct `sendto`.
const SEND_SLOTS: usize = 1024;
/// Storage for sends in flight, reused.
pub(super) struct SendSlots {
    slots: Box<[SendSlot]>,
    pub(super) free: Vec<u32>,
}

pub(super) struct SendSlot {
    pub(super) buf: Vec<u8>,
    pub(super) dst: SockAddr,
}

// === impl SendSlots ===

impl SendSlots {
    pub(super) fn new() -> SendSlots {
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

    pub(super) fn take(&mut self) -> Option<(u32, &mut SendSlot)> {
        let index = self.free.pop()?;
        let slot = self.slots.get_mut(index as usize)?;
        Some((index, slot))
    }

    pub(super) fn in_flight(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    pub(super) fn complete(&mut self, index: usize, result: i32, counters: &mut RingCounters) {
        if result < 0 {
            counters.send_errors += 1;
        }
        if index < self.slots.len() {
            self.free.push(index as u32);
        }
    }
}
