use std::time::{Duration, Instant};

use super::*;
use crate::balancer::hash::key_hash;

const IDLE: Duration = Duration::from_secs(10);

fn at(t0: Instant, secs: u64) -> Instant {
    t0 + Duration::from_secs(secs)
}

#[test]
fn insert_then_get() {
    let t0 = crate::test_epoch();
    let mut t = CallIdTable::new(100, IDLE, t0);
    assert!(t.is_empty());
    t.insert(key_hash(b"a@host"), NodeId(1), t0);
    assert_eq!(t.get(key_hash(b"a@host"), t0), Some(NodeId(1)));
    assert_eq!(t.get(key_hash(b"b@host"), t0), None);
    assert_eq!(t.len(), 1);
}

#[test]
fn insert_replaces() {
    let t0 = crate::test_epoch();
    let mut t = CallIdTable::new(100, IDLE, t0);
    t.insert(7, NodeId(1), t0);
    t.insert(7, NodeId(2), t0);
    assert_eq!(t.get(7, t0), Some(NodeId(2)));
    assert_eq!(t.len(), 1);
}

#[test]
fn replace_of_previous_generation_entry_does_not_duplicate() {
    let t0 = crate::test_epoch();
    let mut t = CallIdTable::new(100, IDLE, t0);
    t.insert(7, NodeId(1), t0);
    t.handle_timeout(at(t0, 10)); // 7 now in previous
    t.insert(7, NodeId(2), at(t0, 11));
    assert_eq!(t.len(), 1);
    assert_eq!(t.get(7, at(t0, 11)), Some(NodeId(2)));
}

#[test]
fn idle_entry_lives_at_least_max_idle() {
    let t0 = crate::test_epoch();
    let mut t = CallIdTable::new(100, IDLE, t0);
    t.insert(1, NodeId(1), at(t0, 9)); // just before the first rotation
    t.handle_timeout(at(t0, 10));
    t.handle_timeout(at(t0, 18));
    assert_eq!(t.len(), 1, "idle 9 s < max_idle");
    t.handle_timeout(at(t0, 20)); // second rotation: idle 11 s
    assert_eq!(t.len(), 0);
}

#[test]
fn idle_entry_evicted_within_twice_max_idle() {
    let t0 = crate::test_epoch();
    let mut t = CallIdTable::new(100, IDLE, t0);
    t.insert(1, NodeId(1), t0);
    let mut now = t0;
    while t.len() == 1 {
        now = t.poll_timeout();
        t.handle_timeout(now);
    }
    assert!(now - t0 >= IDLE && now - t0 <= 2 * IDLE, "{:?}", now - t0);
}

#[test]
fn touch_keeps_entry_alive() {
    let t0 = crate::test_epoch();
    let mut t = CallIdTable::new(100, IDLE, t0);
    t.insert(1, NodeId(3), t0);
    for s in (5..100).step_by(5) {
        t.handle_timeout(at(t0, s));
        assert_eq!(t.get(1, at(t0, s)), Some(NodeId(3)), "at {s}s");
    }
}

#[test]
fn lookup_promotes_from_previous() {
    let t0 = crate::test_epoch();
    let mut t = CallIdTable::new(100, IDLE, t0);
    t.insert(1, NodeId(1), t0);
    t.handle_timeout(at(t0, 10));
    assert_eq!(t.get(1, at(t0, 15)), Some(NodeId(1)));
    t.handle_timeout(at(t0, 20)); // would drop it had it not been promoted
    assert_eq!(t.get(1, at(t0, 21)), Some(NodeId(1)));
}

#[test]
fn get_and_insert_rotate_without_handle_timeout() {
    let t0 = crate::test_epoch();
    let mut t = CallIdTable::new(100, IDLE, t0);
    t.insert(1, NodeId(1), t0);
    t.insert(2, NodeId(1), at(t0, 10)); // rotates: 1 → previous
    t.insert(3, NodeId(1), at(t0, 20)); // rotates: 1 dropped
    assert_eq!(t.get(1, at(t0, 20)), None);
    assert_eq!(t.get(2, at(t0, 20)), Some(NodeId(1)));
}

#[test]
fn sleeping_caller_drops_everything_overdue() {
    let t0 = crate::test_epoch();
    let mut t = CallIdTable::new(100, IDLE, t0);
    t.insert(1, NodeId(1), at(t0, 9));
    t.handle_timeout(at(t0, 25)); // overdue by 15 s ≥ max_idle, idle 16 s
    assert!(t.is_empty());
    assert_eq!(t.poll_timeout(), at(t0, 35));
}

#[test]
fn poll_timeout_advances() {
    let t0 = crate::test_epoch();
    let mut t = CallIdTable::new(100, IDLE, t0);
    assert_eq!(t.poll_timeout(), at(t0, 10));
    t.handle_timeout(at(t0, 5));
    assert_eq!(t.poll_timeout(), at(t0, 10));
    t.handle_timeout(at(t0, 10));
    assert_eq!(t.poll_timeout(), at(t0, 20));
}

#[test]
fn flood_is_bounded() {
    let t0 = crate::test_epoch();
    let mut t = CallIdTable::new(1000, IDLE, t0);
    for i in 0..100_000u64 {
        t.insert(key_hash(&i.to_le_bytes()), NodeId(1), t0);
        assert!(t.len() <= 1000);
    }
    assert!(t.len() >= 500);
    // The most recent entries survive the flood.
    assert_eq!(
        t.get(key_hash(&99_999u64.to_le_bytes()), t0),
        Some(NodeId(1))
    );
}

#[test]
fn tiny_bound_still_works() {
    let t0 = crate::test_epoch();
    let mut t = CallIdTable::new(0, IDLE, t0);
    t.insert(1, NodeId(1), t0);
    t.insert(2, NodeId(2), t0);
    assert!(t.len() <= t.max_entries());
    assert_eq!(t.get(2, t0), Some(NodeId(2)));
}

#[test]
fn remap_moves_both_generations() {
    let t0 = crate::test_epoch();
    let mut t = CallIdTable::new(100, IDLE, t0);
    t.insert(1, NodeId(1), t0);
    t.insert(2, NodeId(2), t0);
    t.handle_timeout(at(t0, 10));
    t.insert(3, NodeId(1), at(t0, 11));
    t.remap(NodeId(1), NodeId(9));
    assert_eq!(t.get(1, at(t0, 11)), Some(NodeId(9)));
    assert_eq!(t.get(2, at(t0, 11)), Some(NodeId(2)));
    assert_eq!(t.get(3, at(t0, 11)), Some(NodeId(9)));
}

#[test]
fn remove_forgets() {
    let t0 = crate::test_epoch();
    let mut t = CallIdTable::new(100, IDLE, t0);
    t.insert(1, NodeId(1), t0);
    assert_eq!(t.remove(1), Some(NodeId(1)));
    assert_eq!(t.remove(1), None);
    assert!(t.is_empty());
}

#[test]
fn keys_of_one_home_shard_spread_over_buckets() {
    // Keys with identical low bits (one shard of 4) must not collide in the low bits.
    let h = |k: u64| std::hash::BuildHasher::hash_one(&BuildIdentityHasher::default(), k);
    let keys: Vec<u64> = (0..10_000u64)
        .map(|i| key_hash(&i.to_le_bytes()))
        .filter(|k| k % 4 == 0)
        .collect();
    let odd = keys.iter().filter(|&&k| h(k) % 4 != 0).count();
    assert!(odd * 2 > keys.len(), "bucket index reuses the shard bits");
}
