//! The only place with glommio, sockets and the clock: shards, pinning,
//! SO_REUSEPORT sockets, the shard mesh, the registry task and shutdown.

/// Runs the balancer until shutdown (stub; the runtime owner replaces it).
pub fn run(cfg: crate::config::Config) -> std::io::Result<()> {
    let _ = cfg;
    Ok(())
}
