//! The built-in algorithms, one per file. Each is selected by
//! `algorithm.algorithmClass` (see [`super::catalog`]).
//!
//! | algorithm | key | state | dialogs follow hints | failover |
//! |---|---|---|---|---|
//! | [`CallIdAffinity`] | Call-ID | table on the home shard | yes | next rendezvous candidate, or one survivor for all (`callIdAffinityGroupFailover`) |
//! | [`HeaderConsistentHash`] | configured header | none | no: the hash decides | next rendezvous candidate |
//! | [`PersistentConsistentHash`] | configured header | none | yes | next rendezvous candidate |
//! | [`ClusterSubdomainAffinity`] | Call-ID | table on the home shard | yes | a partner of the dead node first (`subclusterMap`) |
//! | [`UserBased`] | configured header (To/From user) | table on the key's home shard | yes | as Call-ID affinity |
//! | [`ActiveStandby`] | none | none | yes | the next longest-up node |
//!
//! Shared pieces live in [`sticky`] (the table-backed flow).

mod active_standby;
mod call_id_affinity;
mod cluster_subdomain;
mod header_hash;
mod persistent_hash;
pub(crate) mod sticky;
mod user_based;

pub use active_standby::ActiveStandby;
pub use call_id_affinity::CallIdAffinity;
pub use cluster_subdomain::ClusterSubdomainAffinity;
pub use header_hash::HeaderConsistentHash;
pub use persistent_hash::PersistentConsistentHash;
pub use user_based::UserBased;
