//! `udp-relay`: the floor the balancer is measured against.
//!
//! A bare SIP-over-UDP relay on the balancer's own I/O stack (glommio 0.9
//! `UdpSocket`, built from a `socket2` socket with SO_REUSEPORT, one pinned
//! executor per shard). It parses nothing beyond the Call-ID and never
//! modifies a datagram:
//!
//! * a datagram arriving on the **external** socket (from the UAC) is sent,
//!   unchanged, from the **internal** socket to node
//!   `hash(Call-ID) % nodes.len()`; the sender's address is remembered as
//!   "the client";
//! * a datagram arriving on the **internal** socket (a response from a node,
//!   which answers to the source of the request, i.e. our internal socket) is
//!   sent, unchanged, from the external socket to the remembered client.
//!
//! The client address is one value shared by the shards (a relaxed atomic
//! load per response, a store only when it changes): the harness has exactly
//! one UAC. `--client ADDR` pins it instead of learning it.
//!
//! On SIGINT/SIGTERM it prints `forwarded=<n> ext_in=<n> int_in=<n> dropped=<n>`
//! on stdout (and to `--stats-file` if given) and exits.
//!
//! ```text
//! udp-relay --external 127.0.0.1:15060 --internal 127.0.0.1:15065 \
//!           --node 127.0.0.1:15070 --node 127.0.0.1:15071 \
//!           [--shards N] [--cpus 0,1] [--client 127.0.0.1:5060] [--stats-file F]
//! ```
#![allow(missing_docs, unreachable_pub)]

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use glommio::net::UdpSocket;
use glommio::{LocalExecutorBuilder, Placement};
use socket2::{Domain, Protocol, Socket, Type};

const MAX_DGRAM: usize = 65_536;

struct Args {
    external: SocketAddr,
    internal: SocketAddr,
    nodes: Vec<SocketAddr>,
    shards: usize,
    cpus: Option<Vec<usize>>,
    client: Option<SocketAddrV4>,
    stats_file: Option<String>,
}

fn usage(msg: &str) -> ! {
    eprintln!("udp-relay: {msg}");
    eprintln!(
        "usage: udp-relay --external IP:PORT --internal IP:PORT --node IP:PORT [--node ...] \
         [--shards N] [--cpus 0,1] [--client IP:PORT] [--stats-file PATH]"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut external = None;
    let mut internal = None;
    let mut nodes = Vec::new();
    let mut shards = 1usize;
    let mut cpus = None;
    let mut client = None;
    let mut stats_file = None;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || {
            it.next()
                .unwrap_or_else(|| usage(&format!("{flag} needs a value")))
        };
        let addr = |s: String| -> SocketAddr {
            s.parse()
                .unwrap_or_else(|_| usage(&format!("bad address {s}")))
        };
        match flag.as_str() {
            "--external" => external = Some(addr(val())),
            "--internal" => internal = Some(addr(val())),
            "--node" => nodes.push(addr(val())),
            "--shards" => shards = val().parse().unwrap_or_else(|_| usage("bad --shards")),
            "--cpus" => {
                cpus = Some(
                    val()
                        .split(',')
                        .map(|c| c.trim().parse().unwrap_or_else(|_| usage("bad --cpus")))
                        .collect(),
                )
            }
            "--client" => match addr(val()) {
                SocketAddr::V4(a) => client = Some(a),
                SocketAddr::V6(_) => usage("--client must be IPv4"),
            },
            "--stats-file" => stats_file = Some(val()),
            "-h" | "--help" => usage("help"),
            other => usage(&format!("unknown argument {other}")),
        }
    }
    let external = external.unwrap_or_else(|| usage("--external is required"));
    let internal = internal.unwrap_or_else(|| usage("--internal is required"));
    if nodes.is_empty() {
        usage("at least one --node is required");
    }
    if shards == 0 {
        usage("--shards must be >= 1");
    }
    Args {
        external,
        internal,
        nodes,
        shards,
        cpus,
        client,
        stats_file,
    }
}

fn reuseport_socket(addr: SocketAddr) -> std::io::Result<Socket> {
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    s.set_reuse_port(true)?;
    s.set_reuse_address(true)?;
    s.set_recv_buffer_size(4 << 20)?;
    s.set_send_buffer_size(4 << 20)?;
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    Ok(s)
}

/// Hand a socket2 (0.5) socket to glommio (which links socket2 0.4, so the
/// `From<socket2::Socket>` impl does not apply): ownership of the fd moves.
#[allow(unsafe_code)]
fn into_glommio(s: Socket) -> UdpSocket {
    use std::os::unix::io::{FromRawFd, IntoRawFd};
    // SAFETY: `into_raw_fd` releases ownership of a valid, open UDP socket fd;
    // glommio takes sole ownership of it here and nothing else closes it.
    unsafe { UdpSocket::from_raw_fd(s.into_raw_fd()) }
}

/// Value of the first `Call-ID:` / `i:` header (case-insensitive), found with
/// memchr over line starts. No parse beyond that.
fn call_id(msg: &[u8]) -> &[u8] {
    let mut pos = 0usize;
    for nl in memchr::memchr_iter(b'\n', msg) {
        let line = &msg[pos..nl];
        pos = nl + 1;
        if line.is_empty() || line == b"\r" {
            break; // end of headers
        }
        let rest = if line.len() > 8 && line[..8].eq_ignore_ascii_case(b"call-id:") {
            &line[8..]
        } else if line.len() > 2 && line[..2].eq_ignore_ascii_case(b"i:") {
            &line[2..]
        } else {
            continue;
        };
        let mut v = rest;
        while let [b' ' | b'\t', tail @ ..] = v {
            v = tail;
        }
        while let [head @ .., b' ' | b'\t' | b'\r'] = v {
            v = head;
        }
        return v;
    }
    &[]
}

/// FNV-1a: cheap, stable, good enough to spread Call-IDs over a few nodes.
fn fnv1a(b: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &x in b {
        h ^= u64::from(x);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn pack(a: SocketAddrV4) -> u64 {
    (u64::from(u32::from(*a.ip())) << 16) | u64::from(a.port()) | (1 << 63)
}

fn unpack(v: u64) -> Option<SocketAddrV4> {
    if v & (1 << 63) == 0 {
        return None;
    }
    let ip = Ipv4Addr::from(((v >> 16) & 0xffff_ffff) as u32);
    Some(SocketAddrV4::new(ip, (v & 0xffff) as u16))
}

/// Per-shard counters, published (plain stores) for the main thread.
#[derive(Default)]
struct Published {
    ext_in: AtomicU64,
    int_in: AtomicU64,
    forwarded: AtomicU64,
    dropped: AtomicU64,
}

#[derive(Default, Clone, Copy)]
struct Counters {
    ext_in: u64,
    int_in: u64,
    forwarded: u64,
    dropped: u64,
}

impl Counters {
    fn publish(&self, p: &Published) {
        p.ext_in.store(self.ext_in, Ordering::Relaxed);
        p.int_in.store(self.int_in, Ordering::Relaxed);
        p.forwarded.store(self.forwarded, Ordering::Relaxed);
        p.dropped.store(self.dropped, Ordering::Relaxed);
    }
}

async fn shard(
    args: Arc<Args>,
    client: Arc<AtomicU64>,
    published: Arc<Published>,
) -> std::io::Result<()> {
    let ext = Rc::new(into_glommio(reuseport_socket(args.external)?));
    let int = Rc::new(into_glommio(reuseport_socket(args.internal)?));
    let counters = Rc::new(std::cell::Cell::new(Counters::default()));

    // external -> internal -> node (by Call-ID hash)
    let t_ext = {
        let (ext, int, args, client, counters) = (
            ext.clone(),
            int.clone(),
            args.clone(),
            client.clone(),
            counters.clone(),
        );
        glommio::spawn_local(async move {
            let mut buf = vec![0u8; MAX_DGRAM];
            let mut last_client = 0u64;
            loop {
                let (n, from) = match ext.recv_from(&mut buf).await {
                    Ok(r) => r,
                    Err(e) => {
                        log::warn!("external recv: {e}");
                        continue;
                    }
                };
                let mut c = counters.get();
                c.ext_in += 1;
                if args.client.is_none() {
                    if let SocketAddr::V4(v4) = from {
                        let p = pack(v4);
                        if p != last_client {
                            last_client = p;
                            client.store(p, Ordering::Relaxed);
                        }
                    }
                }
                let msg = &buf[..n];
                let node = args.nodes[(fnv1a(call_id(msg)) % args.nodes.len() as u64) as usize];
                match int.send_to(msg, node).await {
                    Ok(_) => c.forwarded += 1,
                    Err(e) => {
                        c.dropped += 1;
                        log::debug!("send to node {node}: {e}");
                    }
                }
                counters.set(c);
            }
        })
    };

    // internal (responses from nodes) -> external -> client
    let t_int = {
        let (ext, int, client, counters) =
            (ext.clone(), int.clone(), client.clone(), counters.clone());
        glommio::spawn_local(async move {
            let mut buf = vec![0u8; MAX_DGRAM];
            loop {
                let (n, _from) = match int.recv_from(&mut buf).await {
                    Ok(r) => r,
                    Err(e) => {
                        log::warn!("internal recv: {e}");
                        continue;
                    }
                };
                let mut c = counters.get();
                c.int_in += 1;
                match unpack(client.load(Ordering::Relaxed)) {
                    Some(to) => match ext.send_to(&buf[..n], SocketAddr::V4(to)).await {
                        Ok(_) => c.forwarded += 1,
                        Err(e) => {
                            c.dropped += 1;
                            log::debug!("send to client {to}: {e}");
                        }
                    },
                    None => c.dropped += 1,
                }
                counters.set(c);
            }
        })
    };

    // publish counters every 100 ms (off the hot path)
    let t_pub = glommio::spawn_local(async move {
        loop {
            glommio::timer::sleep(Duration::from_millis(100)).await;
            counters.get().publish(&published);
        }
    });

    t_ext.await;
    t_int.await;
    t_pub.await;
    Ok(())
}

fn main() {
    env_logger::init();
    let args = Arc::new(parse_args());
    let client = Arc::new(AtomicU64::new(args.client.map(pack).unwrap_or(0)));
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        if let Err(e) = signal_hook::flag::register(sig, stop.clone()) {
            usage(&format!("signal handler: {e}"));
        }
    }
    let mut published = Vec::new();
    for i in 0..args.shards {
        let placement = match &args.cpus {
            Some(list) if !list.is_empty() => Placement::Fixed(list[i % list.len()]),
            _ => Placement::Unbound,
        };
        let p = Arc::new(Published::default());
        published.push(p.clone());
        let (args, client) = (args.clone(), client.clone());
        let res = LocalExecutorBuilder::new(placement)
            .name(&format!("relay-{i}"))
            .spawn(move || async move {
                if let Err(e) = shard(args, client, p).await {
                    eprintln!("udp-relay shard {i}: {e}");
                    std::process::exit(1);
                }
            });
        if let Err(e) = res {
            usage(&format!("cannot start shard {i}: {e}"));
        }
    }
    eprintln!(
        "udp-relay: {} shard(s), external {} internal {} nodes {:?}",
        args.shards, args.external, args.internal, args.nodes
    );
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(150)); // let the last publish land
    let mut t = Counters::default();
    for p in &published {
        t.ext_in += p.ext_in.load(Ordering::Relaxed);
        t.int_in += p.int_in.load(Ordering::Relaxed);
        t.forwarded += p.forwarded.load(Ordering::Relaxed);
        t.dropped += p.dropped.load(Ordering::Relaxed);
    }
    let line = format!(
        "forwarded={} ext_in={} int_in={} dropped={}\n",
        t.forwarded, t.ext_in, t.int_in, t.dropped
    );
    print!("{line}");
    if let Some(f) = &args.stats_file {
        if let Err(e) = std::fs::write(f, &line) {
            eprintln!("udp-relay: cannot write {f}: {e}");
        }
    }
    std::process::exit(0);
}
