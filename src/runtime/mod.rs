//! The only place with glommio, sockets and the clock: shards, pinning,
//! SO_REUSEPORT sockets, the shard mesh, the registry task and shutdown.
