//! `udp-relay`: the floor the balancer is measured against.
//!
//! A bare SIP-over-UDP relay. It parses nothing beyond the Call-ID and never
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
//! Two I/O implementations of exactly that, chosen with `--io`:
//!
//! * `uring` (default, [`uring_io`]): the balancer's own I/O,
//!   `sip_balancer::runtime::uring::UdpRing` on one pinned thread per shard;
//! * `glommio` ([`glommio_io`]): glommio 0.9 `UdpSocket`, one pinned
//!   executor per shard, two tasks per shard; the naive-glommio baseline.
//!
//! Both bind, per shard, one external and one internal `socket2` socket with
//! SO_REUSEPORT ([`reuseport_socket`]).
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
//!           [--io uring|glommio] [--shards N] [--cpus 0,1] \
//!           [--client 127.0.0.1:5060] [--stats-file F]
//! ```
#![allow(missing_docs, unreachable_pub)]

mod glommio_io;
mod uring_io;

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

/// Which I/O stack moves the datagrams.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Io {
    /// `sip_balancer::runtime::uring::UdpRing`, as the balancer's shards.
    Uring,
    /// glommio 0.9 `UdpSocket` (the naive-glommio baseline).
    Glommio,
}

impl Io {
    fn name(self) -> &'static str {
        match self {
            Io::Uring => "uring",
            Io::Glommio => "glommio",
        }
    }
}

struct Args {
    external: SocketAddr,
    internal: SocketAddr,
    nodes: Vec<SocketAddr>,
    io: Io,
    shards: usize,
    cpus: Option<Vec<usize>>,
    client: Option<SocketAddrV4>,
    stats_file: Option<String>,
}

impl Args {
    /// The CPU shard `i` is pinned to, if `--cpus` was given.
    fn cpu_for(&self, shard: usize) -> Option<usize> {
        match &self.cpus {
            Some(list) if !list.is_empty() => Some(list[shard % list.len()]),
            _ => None,
        }
    }
}

fn usage(msg: &str) -> ! {
    eprintln!("udp-relay: {msg}");
    eprintln!(
        "usage: udp-relay --external IP:PORT --internal IP:PORT --node IP:PORT [--node ...] \
         [--io uring|glommio] [--shards N] [--cpus 0,1] [--client IP:PORT] [--stats-file PATH]"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut external = None;
    let mut internal = None;
    let mut nodes = Vec::new();
    let mut io = Io::Uring;
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
            "--io" => {
                io = match val().as_str() {
                    "uring" => Io::Uring,
                    "glommio" => Io::Glommio,
                    other => usage(&format!("bad --io {other} (uring or glommio)")),
                }
            }
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
        io,
        shards,
        cpus,
        client,
        stats_file,
    }
}

/// A non-blocking UDP socket bound to `addr` with SO_REUSEPORT (one per
/// shard and address) and 4 MiB socket buffers.
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

/// An IPv4 client address in one `u64` (bit 63 = "set"), for the shared
/// atomic.
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

/// A shard's counters: datagrams in on each socket, datagrams sent on,
/// datagrams given up (send failed, or no client known yet).
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

    fn load(p: &Published) -> Counters {
        Counters {
            ext_in: p.ext_in.load(Ordering::Relaxed),
            int_in: p.int_in.load(Ordering::Relaxed),
            forwarded: p.forwarded.load(Ordering::Relaxed),
            dropped: p.dropped.load(Ordering::Relaxed),
        }
    }

    fn add(&mut self, o: Counters) {
        self.ext_in += o.ext_in;
        self.int_in += o.int_in;
        self.forwarded += o.forwarded;
        self.dropped += o.dropped;
    }
}

/// The startup line on stderr, once every shard was started.
fn announce(args: &Args) {
    eprintln!(
        "udp-relay: {} shard(s), io {}, external {} internal {} nodes {:?}",
        args.shards,
        args.io.name(),
        args.external,
        args.internal,
        args.nodes
    );
}

/// Block until SIGINT/SIGTERM set `stop`.
fn wait_for_stop(stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50));
    }
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
    // Each returns once `stop` is set, with the sum of its shards' counters.
    let t = match args.io {
        Io::Uring => uring_io::run(args.clone(), client, stop),
        Io::Glommio => glommio_io::run(args.clone(), client, &stop),
    };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_id_forms() {
        let m = b"INVITE sip:a SIP/2.0\r\nVia: x\r\nCall-ID:  abc@h \r\n\r\nCall-ID: body";
        assert_eq!(call_id(m), b"abc@h");
        assert_eq!(call_id(b"BYE sip:a SIP/2.0\r\ni:x1\r\n\r\n"), b"x1");
        assert_eq!(call_id(b"BYE sip:a SIP/2.0\r\n\r\nCall-ID: late\r\n"), b"");
        assert_eq!(call_id(b"garbage"), b"");
    }

    #[test]
    fn client_address_round_trips() {
        let a = SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 1), 15080);
        assert_eq!(unpack(pack(a)), Some(a));
        assert_eq!(unpack(0), None);
    }
}
