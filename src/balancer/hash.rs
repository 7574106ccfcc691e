//! Fixed, seedless hashing for routing decisions.
//!
//! Every routing hash in the balancer must be a pure function of its input so
//! that all shards, and all balancer instances behind an IP load balancer,
//! agree (DESIGN invariants 3 and 4). `RandomState` is therefore never used
//! for a decision.

/// FNV-1a, 64 bit.
#[derive(Debug, Clone, Copy)]
pub struct Fnv64(u64);

impl Fnv64 {
    /// Offset basis.
    pub fn new() -> Fnv64 {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }

    /// Absorb bytes.
    pub fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    /// Current state.
    pub fn finish(&self) -> u64 {
        self.0
    }
}

impl Default for Fnv64 {
    fn default() -> Self {
        Fnv64::new()
    }
}

/// SplitMix64 finaliser: spreads FNV's weak low bits over the whole word.
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Hash of a routing key (Call-ID bytes).
pub fn key_hash(key: &[u8]) -> u64 {
    let mut h = Fnv64::new();
    h.write(key);
    mix64(h.finish())
}
