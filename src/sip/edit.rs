//! An edit list over a received message: cut spans, insert generated text,
//! then write the result with one pass and one copy of each kept byte.
//!
//! Generated text goes into a scratch buffer; an [`Edit`] replaces
//! `buf[start..end]` (empty for a pure insertion) with a range of scratch.
//! Both vectors are reused across messages, so steady state does not allocate.

use std::ops::Range;

/// Replace `start..end` of the message with `scratch[text]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    /// First byte replaced (insertion point when `start == end`).
    pub start: u32,
    /// One past the last byte replaced.
    pub end: u32,
    /// Sequence number: edits at the same position apply in the order made.
    seq: u32,
    /// Replacement text within the scratch buffer.
    text: Range<usize>,
}

/// Edits under construction plus their generated text.
#[derive(Debug, Default)]
pub struct Edits {
    edits: Vec<Edit>,
    scratch: Vec<u8>,
}

// === impl Edits ===

impl Edits {
    /// Forget all edits, keeping capacity.
    pub fn clear(&mut self) {
        self.edits.clear();
        self.scratch.clear();
    }

    /// Start generating replacement text; write it into the returned buffer,
    /// then call [`Edits::finish`] with the span it replaces.
    pub fn text(&mut self) -> (&mut Vec<u8>, usize) {
        let mark = self.scratch.len();
        (&mut self.scratch, mark)
    }

    /// Record that `start..end` is replaced by the text written since `mark`.
    pub fn finish(&mut self, mark: usize, start: u32, end: u32) {
        let seq = self.edits.len() as u32;
        let text = mark..self.scratch.len();
        self.edits.push(Edit {
            start,
            end,
            seq,
            text,
        });
    }

    /// Insert literal bytes at `at`.
    pub fn insert(&mut self, at: u32, bytes: &[u8]) {
        let (buf, mark) = self.text();
        buf.extend_from_slice(bytes);
        self.finish(mark, at, at);
    }

    /// Remove `start..end`.
    pub fn remove(&mut self, start: u32, end: u32) {
        let mark = self.scratch.len();
        self.finish(mark, start, end);
    }

    /// Write `msg` with the edits applied to `out` (appending). Overlapping
    /// edits are resolved by skipping the later overlapping part, never by
    /// panicking.
    pub fn apply(&mut self, msg: &[u8], out: &mut Vec<u8>) {
        insertion_sort(&mut self.edits);
        let mut pos = 0usize;
        for e in &self.edits {
            let start = (e.start as usize).clamp(pos, msg.len());
            out.extend_from_slice(msg.get(pos..start).unwrap_or(&[]));
            out.extend_from_slice(self.scratch.get(e.text.clone()).unwrap_or(&[]));
            pos = (e.end as usize).clamp(start, msg.len());
        }
        out.extend_from_slice(msg.get(pos..).unwrap_or(&[]));
    }
}

/// Edits are few (≤ ~12) and mostly created in position order: an
/// insertion sort by `(start, seq)` beats the general sort here.
fn insertion_sort(edits: &mut [Edit]) {
    for i in 1..edits.len() {
        let mut j = i;
        while j > 0 && (edits[j - 1].start, edits[j - 1].seq) > (edits[j].start, edits[j].seq) {
            edits.swap(j - 1, j);
            j -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_in_position_then_creation_order() {
        let mut e = Edits::default();
        let msg = b"0123456789";
        e.insert(5, b"b");
        e.remove(1, 3);
        e.insert(5, b"c");
        e.insert(0, b"a");
        let (t, m) = e.text();
        t.extend_from_slice(b"XY");
        e.finish(m, 8, 10);
        let mut out = Vec::new();
        e.apply(msg, &mut out);
        assert_eq!(out, b"a034bc567XY");
    }

    #[test]
    fn overlapping_edits_do_not_panic() {
        let mut e = Edits::default();
        e.remove(2, 8);
        e.remove(4, 20);
        e.insert(30, b"z");
        let mut out = Vec::new();
        e.apply(b"0123456789", &mut out);
        assert_eq!(out, b"01z");
    }
}
