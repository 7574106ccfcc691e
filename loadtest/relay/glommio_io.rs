//! `--io glommio`: the relay on glommio 0.9 `UdpSocket` (the naive-glommio
//! baseline, kept as it was before the io_uring driver).
//!
//! One pinned glommio executor per shard (`Placement::Fixed` from `--cpus`,
//! unbound otherwise), each with its own SO_REUSEPORT external and internal
//! sockets handed to glommio with `from_raw_fd`, and three tasks: external →
//! node, internal → client, and a 100 ms publisher of the shard's counters.
//! Each datagram costs glommio's speculative `recvmsg`, an io_uring `recvmsg`
//! into a fresh buffer plus a copy, and a `sendmsg` awaited on its own.

use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use glommio::net::UdpSocket;
use glommio::{LocalExecutorBuilder, Placement};
use socket2::Socket;

use crate::{
    announce, call_id, fnv1a, pack, reuseport_socket, unpack, usage, wait_for_stop, Args, Counters,
    Published,
};

const MAX_DGRAM: usize = 65_536;

/// Start `args.shards` executors, wait for `stop`, return the summed counters.
pub fn run(args: Arc<Args>, client: Arc<AtomicU64>, stop: &AtomicBool) -> Counters {
    let mut published = Vec::new();
    for i in 0..args.shards {
        let placement = match args.cpu_for(i) {
            Some(cpu) => Placement::Fixed(cpu),
            None => Placement::Unbound,
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
    announce(&args);
    wait_for_stop(stop);
    std::thread::sleep(Duration::from_millis(150)); // let the last publish land
    let mut t = Counters::default();
    for p in &published {
        t.add(Counters::load(p));
    }
    t
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
