//! A shard's latency histogram as it is published: cumulative counts at
//! fixed bounds (so shards can be summed into one Prometheus histogram),
//! count, approximate sum, and the shard's own quantiles (which cannot be
//! summed and are reported per shard).
//!
//! The shards record into `hdrhistogram` (1 ns .. 1 s, 3 significant
//! digits); [`Latency::of`] reads one such histogram in one walk over its
//! recorded buckets; the quantiles scan its counts array (~20 k entries),
//! which is why the board publishes at most every
//! [`super::board::PUBLISH_EVERY`].

use hdrhistogram::Histogram;

/// Upper bounds of the published buckets, ns (1 µs .. 1 s; `+Inf` implied).
pub const BOUNDS_NS: [u64; 19] = [
    1_000,
    2_500,
    5_000,
    10_000,
    25_000,
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
];

/// Number of bounds.
pub const BOUNDS: usize = BOUNDS_NS.len();

/// Quantiles published per shard.
pub const QUANTILES: [f64; 5] = [0.5, 0.9, 0.99, 0.999, 1.0];

/// One histogram's published values (or their sum over shards).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Latency {
    /// Observations at or below `BOUNDS_NS[i]`.
    pub cumulative: [u64; BOUNDS],
    /// Observations.
    pub count: u64,
    /// Sum of the observations, ns (from the histogram's mean: approximate
    /// to the histogram's precision).
    pub sum_ns: u64,
}

/// One shard's quantiles, ns, in [`QUANTILES`] order (all 0 when empty).
pub type Quantiles = [u64; QUANTILES.len()];

// === impl Latency ===

impl Latency {
    /// The published form of `h`.
    pub fn of(h: &Histogram<u64>) -> Latency {
        // One walk over the recorded buckets (not one scan of the counts
        // array per bound): each bucket's count lands at the first bound
        // its bucket is at or below, then a running sum makes it cumulative.
        let mut cumulative = [0; BOUNDS];
        let mut at = 0;
        for v in h.iter_recorded() {
            let low = h.lowest_equivalent(v.value_iterated_to());
            while BOUNDS_NS.get(at).is_some_and(|&b| b < low) {
                at += 1;
            }
            match cumulative.get_mut(at) {
                Some(c) => *c += v.count_at_value(),
                None => break,
            }
        }
        let mut sum = 0;
        for c in &mut cumulative {
            sum += *c;
            *c = sum;
        }
        let count = h.len();
        // The mean is exact to the histogram's precision; the product fits
        // (values are capped at 1 s, counts would need 2^34 s to overflow).
        let sum_ns = (h.mean() * count as f64) as u64;
        Latency {
            cumulative,
            count,
            sum_ns,
        }
    }

    /// Add another shard's values.
    pub fn add(&mut self, o: &Latency) {
        for (a, b) in self.cumulative.iter_mut().zip(&o.cumulative) {
            *a += b;
        }
        self.count += o.count;
        self.sum_ns += o.sum_ns;
    }
}

/// The quantiles of `h` ([`QUANTILES`] order).
pub fn quantiles(h: &Histogram<u64>) -> Quantiles {
    if h.is_empty() {
        return [0; QUANTILES.len()];
    }
    QUANTILES.map(|q| {
        if q >= 1.0 {
            h.max()
        } else {
            h.value_at_quantile(q)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn histogram(values: &[u64]) -> Histogram<u64> {
        let mut h = Histogram::new_with_bounds(1, 1_000_000_000, 3).unwrap();
        for &v in values {
            h.record(v).unwrap();
        }
        h
    }

    #[test]
    fn buckets_are_cumulative_at_the_bounds() {
        let h = histogram(&[500, 1_000, 3_000, 7_000, 2_000_000, 900_000_000]);
        let l = Latency::of(&h);
        assert_eq!(l.count, 6);
        assert_eq!(l.cumulative[0], 2); // <= 1 µs: 500, 1000
        assert_eq!(l.cumulative[1], 2); // <= 2.5 µs
        assert_eq!(l.cumulative[2], 3); // <= 5 µs
        assert_eq!(l.cumulative[3], 4); // <= 10 µs
        assert_eq!(l.cumulative[9], 4); // <= 1 ms
        assert_eq!(l.cumulative[10], 5); // <= 2.5 ms
        assert_eq!(l.cumulative[BOUNDS - 1], 6); // <= 1 s
        let exact: u64 = 500 + 1_000 + 3_000 + 7_000 + 2_000_000 + 900_000_000;
        let err = l.sum_ns.abs_diff(exact);
        assert!(err < exact / 500, "sum {} vs {exact}", l.sum_ns);
    }

    #[test]
    fn buckets_match_hdrhistograms_own_counts() {
        let values: Vec<u64> = (0..5_000u64)
            .map(|i| ((i * 7_919 % 1_000_003) * (1 + i % 97) * 13 + 1) % 999_000_000 + 1)
            .chain(BOUNDS_NS)
            .chain(BOUNDS_NS.map(|b| b + 1))
            .collect();
        let h = histogram(&values);
        let l = Latency::of(&h);
        for (c, bound) in l.cumulative.iter().zip(BOUNDS_NS) {
            assert_eq!(*c, h.count_between(0, bound), "bound {bound}");
        }
    }

    #[test]
    fn shards_sum() {
        let a = Latency::of(&histogram(&[1_000, 60_000]));
        let b = Latency::of(&histogram(&[2_000]));
        let mut s = a;
        s.add(&b);
        assert_eq!(s.count, 3);
        assert_eq!(s.cumulative[0], 1);
        assert_eq!(s.cumulative[1], 2);
        assert_eq!(s.cumulative[6], 3);
    }

    #[test]
    fn quantiles_of_a_known_distribution() {
        let values: Vec<u64> = (1..=1000).map(|i| i * 1_000).collect();
        let q = quantiles(&histogram(&values));
        for (got, want) in q
            .iter()
            .zip([500_000u64, 900_000, 990_000, 999_000, 1_000_000])
        {
            assert!(got.abs_diff(want) <= want / 500, "{got} vs {want}");
        }
        assert_eq!(quantiles(&histogram(&[])), [0; 5]);
    }
}
