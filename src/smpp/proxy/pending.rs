//! Outstanding requests of one connection: the sequence-number map.
//!
//! When the balancer forwards a request it numbers it from the outgoing
//! connection's counter and records here who sent it and under which
//! number. The response is looked up by the new number and goes back with
//! the original one. Each entry has a `timeoutResponse` deadline; entries are
//! created in time order with one timeout, so a FIFO of (deadline, number)
//! gives the expiry order without a heap. Stale FIFO items (answered
//! requests) are skipped when they surface. Bounded by the window
//! (`maxConnectionSize`) of every sender using the connection.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use super::slab::Key;
use super::MixState;
use crate::smpp::command::CommandId;

/// Who is waiting for a response, and under which number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Waiter {
    /// The session (ESME) or link (SMSC) the request came from.
    pub(crate) from: Key,
    /// Connection epoch of `from` when it sent the request (links only).
    pub(crate) epoch: u32,
    /// The sequence number the sender used.
    pub(crate) seq: u32,
    /// The request's command id.
    pub(crate) command: CommandId,
}

/// Requests forwarded on one connection, awaiting their responses.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    by_seq: HashMap<u32, (Waiter, Instant), MixState>,
    order: VecDeque<(Instant, u32)>,
}

impl Pending {
    /// Records the request sent as `seq`, due by `deadline`.
    pub(crate) fn insert(&mut self, seq: u32, waiter: Waiter, deadline: Instant) {
        self.by_seq.insert(seq, (waiter, deadline));
        self.order.push_back((deadline, seq));
    }

    /// The waiter of response `seq`, removed.
    pub(crate) fn take(&mut self, seq: u32) -> Option<Waiter> {
        let w = self.by_seq.remove(&seq).map(|(w, _)| w);
        self.trim();
        w
    }

    /// One request whose deadline has passed at `now`, removed.
    pub(crate) fn pop_expired(&mut self, now: Instant) -> Option<Waiter> {
        self.trim();
        let &(deadline, seq) = self.order.front()?;
        if deadline > now {
            return None;
        }
        self.order.pop_front();
        self.by_seq.remove(&seq).map(|(w, _)| w)
    }

    /// Every outstanding request, removed (the connection is gone).
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = Waiter> + '_ {
        self.order.clear();
        self.by_seq.drain().map(|(_, (w, _))| w)
    }

    /// The earliest deadline.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.order.front().map(|&(d, _)| d)
    }

    /// Outstanding requests.
    pub(crate) fn len(&self) -> usize {
        self.by_seq.len()
    }

    /// Drops answered items from the front of the FIFO.
    fn trim(&mut self) {
        while let Some(&(d, seq)) = self.order.front() {
            match self.by_seq.get(&seq) {
                Some(&(_, due)) if due == d => break,
                _ => {
                    self.order.pop_front();
                }
            }
        }
    }
}

/// Sequence numbers of one connection: 1, 2, … 0x7FFF_FFFF, then 1 again
/// (the spec's range).
#[derive(Debug, Clone, Copy)]
pub(crate) struct SeqGen(u32);

impl Default for SeqGen {
    fn default() -> Self {
        SeqGen(1)
    }
}

impl SeqGen {
    /// The next number.
    pub(crate) fn next(&mut self) -> u32 {
        let n = self.0;
        self.0 = if n >= 0x7FFF_FFFF { 1 } else { n + 1 };
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn w(seq: u32) -> Waiter {
        let mut s = super::super::slab::Slab::default();
        Waiter {
            from: s.insert(()),
            epoch: 0,
            seq,
            command: CommandId::SUBMIT_SM,
        }
    }

    #[test]
    fn take_and_expire_in_order() {
        let t0 = crate::test_epoch();
        let ms = Duration::from_millis;
        let mut p = Pending::default();
        p.insert(1, w(10), t0 + ms(10));
        p.insert(2, w(20), t0 + ms(20));
        p.insert(3, w(30), t0 + ms(30));
        assert_eq!(p.deadline(), Some(t0 + ms(10)));
        assert_eq!(p.take(1).map(|w| w.seq), Some(10));
        assert_eq!(p.take(1), None);
        assert_eq!(p.deadline(), Some(t0 + ms(20)));
        assert_eq!(p.pop_expired(t0 + ms(19)), None);
        assert_eq!(p.pop_expired(t0 + ms(25)).map(|w| w.seq), Some(20));
        assert_eq!(p.pop_expired(t0 + ms(25)), None);
        assert_eq!(p.len(), 1);
        assert_eq!(p.drain().count(), 1);
        assert_eq!(p.deadline(), None);
    }

    #[test]
    fn sequence_wraps_inside_the_spec_range() {
        let mut g = SeqGen(0x7FFF_FFFE);
        assert_eq!(
            (g.next(), g.next(), g.next()),
            (0x7FFF_FFFE, 0x7FFF_FFFF, 1)
        );
        assert_eq!(SeqGen::default().next(), 1);
    }
}
