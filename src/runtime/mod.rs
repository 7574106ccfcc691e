//! The only place with io_uring, sockets, threads and the clock: shards,
//! pinning, SO_REUSEPORT sockets, the shard mesh, the registry's driver and
//! shutdown.
//!
//! [`run`] does everything that can fail before any shard starts (signal
//! handlers, CPU list, every bind, the first registry snapshot), then starts
//! one pinned shard thread per core, each looping over its own io_uring,
//! and waits for SIGINT/SIGTERM, reloading the configuration on SIGHUP.
//!
//! # Layout
//! - [`shutdown`]: signal handlers into a flag the shards poll.
//! - [`reload`]: SIGHUP: the configuration read again, the live part of
//!   the change sent to the registry and the shards.
//! - [`watch`]: the config file watcher thread: a settled change of the
//!   file raises SIGHUP.
//! - [`sockets`]: socket2 UDP sockets (SO_REUSEPORT, buffers, bind errors
//!   naming the address).
//! - [`uring`]: the io_uring UDP driver (multishot receive into provided
//!   buffers, queued sends, doorbells between rings).
//! - [`shards`]: pinned threads `shard-N`, startup handshake.
//! - [`shard`]: one shard's loop: receive → `Proxy::handle` → send.
//! - [`mesh`]: hand-off of a datagram to its Call-ID home shard.
//! - [`control`]: the registry on shard 0, probes, snapshot publishing.
//! - [`heartbeat_http`]: the JSON heartbeat protocol's HTTP listener (its
//!   own thread) and the `stop` notices to nodes at shutdown.
//! - [`admin`]: the admin/statistics HTTP port on its own thread, and the
//!   process logger whose level it changes.
//! - [`resolve`]: host names of a loaded configuration, resolved.
//!
//! The protocol decisions live in [`crate::sip::proxy`] and
//! [`crate::registry`]; this module executes what they return and does
//! nothing else. `unsafe` is confined to `uring` (ring entries point into
//! memory the kernel writes).

mod admin;
mod conns;
mod control;
mod heartbeat_http;
mod http;
mod layers;
mod links;
mod mesh;
pub mod reload;
mod resolve;
mod shard;
mod shards;
mod shutdown;
mod smpp;
mod sockets;
pub mod uring;
mod watch;

#[cfg(test)]
mod tests;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use log::{info, warn};

pub use admin::init_logging;
pub use resolve::resolve_names;

use crate::config::Config;
use crate::registry::Registry;
use crate::sip::proxy::LegId;
use crate::sip::transport::Transport;

/// Capacity of the shards → registry event queue. Events beyond it are
/// dropped and counted (the forwarding path never waits for the registry).
const EVENT_QUEUE: usize = 8192;

/// Serve until SIGINT/SIGTERM, then stop every shard and return. On SIGHUP,
/// and when `source.watch` names a file that changed, the configuration is
/// read again from `source` (see [`reload`], [`watch`]).
///
/// Fails before any traffic is served when a socket cannot be bound, a
/// configured CPU does not exist or an executor cannot start (the error
/// says which, and mentions the memlock limit when that is the cause).
pub fn run(cfg: Config, source: reload::Source) -> io::Result<()> {
    let mut signals = shutdown::Signals::install()?;
    let stop = signals.stop();
    let cpus = shards::cpus(&cfg.cores)?;
    let n = cpus.len();
    let tls = crate::tls::TlsContext::for_config(&cfg)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?
        .map(Arc::new);
    let bound = bind_all(&cfg, n)?;
    let heartbeat = heartbeat_http::bind(&cfg)?;
    log_listening(&bound, n);
    warn_unimplemented(&cfg);

    let now = Instant::now();
    let registry = Registry::new(&cfg.registry, &cfg.sip, now);
    let first = Arc::new(registry.snapshot());
    let (events_tx, events_rx) = crossbeam_channel::bounded(EVENT_QUEUE);
    let admin_events = events_tx.clone();
    let (mut publishers, subscribers) = control::snapshot_channels(n);
    let (update_txs, updates) = reload::update_channels(n);
    let watched = source.watch.clone();
    let (smpp_servers_tx, smpp_servers) = crossbeam_channel::bounded(reload::ADMIN_QUEUE);
    let mut reloader = reload::Reloader::new(
        source,
        cfg.clone(),
        events_tx.clone(),
        update_txs,
        smpp_servers_tx,
    );
    let intake = heartbeat_http::launch(heartbeat, &events_tx, &mut publishers, &first)?;
    let admin = admin::prepare(&cfg, &mut publishers)?;
    let board = Arc::new(crate::stats::board::Board::new(n));
    let admin_first = Arc::clone(&first);
    let control = shards::ControlSetup {
        registry,
        events: events_rx,
        publishers,
        probe: bound.probe,
        probe_addr: bound.probe_addr,
    };
    let setups = shards::setups(shards::Common {
        cfg: Arc::new(cfg),
        first,
        events: events_tx,
        stop: stop.clone(),
        shards: n,
        external: bound.external.map(|(_, sockets)| sockets),
        internal: bound.internal.map(|(_, sockets)| sockets),
        streams: bound.streams,
        tls,
        smpp: bound.smpp,
        http: bound.http,
        subscribers,
        updates,
        control,
        board: Arc::clone(&board),
    });
    let (threads, started) = shards::start(setups, &cpus, &signals.closer());
    let admin = admin.filter(|_| started.is_ok()).and_then(|a| {
        a.start(
            board,
            admin_first,
            stop.clone(),
            signals.closer(),
            admin_events,
            smpp_servers,
        )
    });
    let watcher = watched
        .filter(|_| started.is_ok())
        .and_then(|path| watch::start(&path, stop.clone(), watch::raise_sighup));
    if started.is_ok() {
        signals.wait(|| reloader.reload());
        info!("shutting down");
    }
    stop.trigger();
    if let Some(watcher) = watcher {
        watcher.join();
    }
    let joined = shards::join(threads);
    if let Some(admin) = admin {
        admin.join();
    }
    if let Some(intake) = intake {
        intake.finish();
    }
    info!("stopped");
    started.and(joined)
}

/// Listeners of a proxying side: (address, TLS, one socket per shard).
pub(crate) type Side = Vec<(SocketAddr, bool, Vec<socket2::Socket>)>;

/// Every socket of every shard, bound before any shard starts.
struct Bound {
    /// One external SIP/UDP socket per shard and the address they share,
    /// when the external leg listens on UDP.
    external: Option<(SocketAddr, Vec<socket2::Socket>)>,
    /// One internal SIP/UDP socket per shard, when an internal leg listens on UDP.
    internal: Option<(SocketAddr, Vec<socket2::Socket>)>,
    /// Stream listeners (one socket per shard each).
    streams: Vec<shards::StreamGroup>,
    /// The SMPP listeners (plain, TLS).
    smpp: Side,
    /// The HTTP and HTTPS listeners.
    http: Side,
    /// Their addresses, for the start-up summary.
    stream_addrs: Vec<(LegId, Transport, SocketAddr)>,
    /// The registry's probe socket (shard 0 only, not shared).
    probe: socket2::Socket,
    /// Its local address (goes into the probes' Via).
    probe_addr: SocketAddr,
}

fn bind_all(cfg: &Config, shards: usize) -> io::Result<Bound> {
    let sip = &cfg.sip;
    let buffers = sip.socket_buffer_bytes;
    let udp_group = |leg: &crate::config::Leg| match leg.ports.udp.filter(|_| sip.enabled) {
        Some(port) => {
            sockets::bind_group(SocketAddr::new(leg.host, port), shards, buffers).map(Some)
        }
        None => Ok(None),
    };
    let external = udp_group(&sip.external)?;
    let internal = match &sip.internal {
        Some(leg) => udp_group(leg)?,
        None => None,
    };
    match (&external, &sip.internal, &internal) {
        _ if !sip.enabled => info!("sip: off (sip.enabled: false), no SIP socket bound"),
        (Some(_), Some(_), None) => {
            warn!(
                "sip.internal has no UDP port: UDP towards nodes leaves from the external socket"
            );
        }
        (None, _, Some(_)) => {
            warn!(
                "sip.external has no UDP port: UDP towards clients leaves from the internal socket"
            );
        }
        _ => {}
    }
    let probe_host = sip
        .internal
        .as_ref()
        .map_or(sip.external.host, |leg| leg.host);
    let probe = sockets::bind_udp(
        SocketAddr::new(probe_host, 0),
        buffers,
        sockets::Sharing::Exclusive,
    )?;
    let probe_addr = sockets::local_addr(&probe)?;
    let mut streams = Vec::new();
    let mut stream_addrs = Vec::new();
    let legs = std::iter::once((LegId::External, &sip.external))
        .chain(sip.internal.as_ref().map(|l| (LegId::Internal, l)))
        .filter(|_| sip.enabled);
    for (leg_id, leg) in legs {
        let ports = [
            (Transport::Tcp, leg.ports.tcp),
            (Transport::Tls, leg.ports.tls),
            (Transport::Ws, leg.ports.ws),
            (Transport::Wss, leg.ports.wss),
        ];
        for (transport, port) in ports {
            let Some(port) = port else { continue };
            let (addr, sockets) = sockets::bind_tcp_group(SocketAddr::new(leg.host, port), shards)?;
            stream_addrs.push((leg_id, transport, addr));
            streams.push(shards::StreamGroup {
                leg: leg_id,
                transport,
                sockets,
            });
        }
    }
    let smpp_host = cfg.smpp.host.unwrap_or(sip.external.host);
    let smpp = bind_side(
        smpp_host,
        [(cfg.smpp.port, false), (cfg.smpp.ssl_port, true)],
        smpp_shards(cfg, shards),
    )?;
    let http = bind_side(
        sip.external.host,
        [(cfg.http.http_port, false), (cfg.http.https_port, true)],
        shards,
    )?;
    Ok(Bound {
        external,
        internal,
        streams,
        smpp,
        http,
        stream_addrs,
        probe,
        probe_addr,
    })
}

/// How many shards serve SMPP. In `muxMode` one does (shard 0): the ESMEs
/// of a `system_id` share its SMSC links and the message-id table that
/// routes receipts back, and both must be whole — with the ESMEs spread
/// over shards, an SMSC's receipt for a message submitted through one
/// shard's link could arrive on another's and reach the wrong ESME. One
/// shard relays far more submits than an SMSC bind accepts. Regular mode
/// has no shared state and uses every shard.
fn smpp_shards(cfg: &Config, shards: usize) -> usize {
    if cfg.smpp.mux_mode {
        1
    } else {
        shards
    }
}

/// The listeners of a proxying side: for each configured (port, TLS),
/// one socket per shard.
fn bind_side(host: IpAddr, ports: [(Option<u16>, bool); 2], shards: usize) -> io::Result<Side> {
    let mut side = Vec::new();
    for (port, tls) in ports {
        let Some(port) = port else { continue };
        let (addr, sockets) = sockets::bind_tcp_group(SocketAddr::new(host, port), shards)?;
        side.push((addr, tls, sockets));
    }
    Ok(side)
}

fn log_listening(bound: &Bound, shards: usize) {
    if let Some((addr, _)) = &bound.external {
        info!("listening sip/udp external {addr} ({shards} shards)");
    }
    if let Some((addr, _)) = &bound.internal {
        info!("listening sip/udp internal {addr} ({shards} shards)");
    }
    for (leg, transport, addr) in &bound.stream_addrs {
        let leg = match leg {
            LegId::External => "external",
            LegId::Internal => "internal",
        };
        let t = String::from_utf8_lossy(crate::sip::transport::uri_token(*transport));
        info!("listening sip/{t} {leg} {addr} ({shards} shards)");
    }
    for (addr, tls, sockets) in &bound.smpp {
        let what = if *tls { "smpp/tls" } else { "smpp" };
        let n = sockets.len();
        let mode = if n < shards {
            ", muxMode: shard 0 only"
        } else {
            ""
        };
        info!("listening {what} {addr} ({n} shards{mode})");
    }
    for (addr, secure, _) in &bound.http {
        let scheme = if *secure { "https" } else { "http" };
        info!("listening {scheme} {addr} ({shards} shards)");
    }
    info!("probing nodes from udp {}", bound.probe_addr);
}

/// Say once, at start, which configured features are parsed but not yet
/// applied, so nobody believes a setting is in force when it is not.
fn warn_unimplemented(cfg: &Config) {
    let sip = &cfg.sip;
    if (sip.public_ip.is_some() || sip.public_ipv6.is_some())
        && crate::sip::nat::Nat::new(cfg).is_none()
    {
        let wanted = if sip.external.host.is_ipv4() {
            "publicIp"
        } else {
            "publicIpv6"
        };
        warn!(
            "no public-address patching: the external host {} needs sip.{wanted}",
            sip.external.host
        );
    }
}
