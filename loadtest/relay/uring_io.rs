//! `--io uring` (the default): the relay on the balancer's own I/O driver,
//! [`UdpRing`] from `sip_balancer::runtime::uring`.
//!
//! One std thread per shard, pinned with `core_affinity` when `--cpus` is
//! given (otherwise it inherits the process's affinity, e.g. from
//! `taskset`). The thread binds its SO_REUSEPORT external and internal
//! sockets, builds its ring over `[external, internal]` (on that thread, as
//! the ring requires) and loops: check the stop flag, submit the sends
//! queued by the last batch and wait for datagrams (at most [`WAIT`]), then
//! drain the batch, forwarding each datagram straight out of the receive
//! buffer:
//!
//! * external → queued on the internal socket to node `fnv1a(Call-ID) % n`;
//!   the source is remembered as the client (unless `--client`);
//! * internal → queued on the external socket to the remembered client.
//!
//! Counters are the glommio mode's: `forwarded` counts sends that did not
//! fail. A queued send can only fail when it completes, which the ring
//! counts (`RingCounters::send_errors`); those late failures are moved from
//! `forwarded` to `dropped` when the shard stops. Each shard also logs its
//! ring counters at `info` when it stops.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sip_balancer::runtime::uring::{Received, RingCounters, Tx, UdpRing};

use crate::{
    announce, call_id, fnv1a, pack, reuseport_socket, unpack, usage, wait_for_stop, Args, Counters,
};

/// Longest sleep in the kernel before the stop flag is checked again.
const WAIT: Duration = Duration::from_millis(50);
/// At stop: how long to wait for the completions of the last sends.
const FLUSH: Duration = Duration::from_millis(10);
/// Socket indexes in each shard's ring (order given to [`UdpRing::new`]).
const EXT: usize = 0;
const INT: usize = 1;

/// Start `args.shards` threads, wait for `stop`, return the summed counters
/// once every shard has stopped.
pub fn run(args: Arc<Args>, client: Arc<AtomicU64>, stop: Arc<AtomicBool>) -> Counters {
    let mut shards = Vec::with_capacity(args.shards);
    for i in 0..args.shards {
        let (args, client, stop) = (args.clone(), client.clone(), stop.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("relay-{i}"))
            .spawn(move || match shard(i, &args, &client, &stop) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("udp-relay shard {i}: {e}");
                    std::process::exit(1);
                }
            });
        match spawned {
            Ok(h) => shards.push(h),
            Err(e) => usage(&format!("cannot start shard {i}: {e}")),
        }
    }
    announce(&args);
    wait_for_stop(&stop);
    let mut t = Counters::default();
    for (i, h) in shards.into_iter().enumerate() {
        match h.join() {
            Ok(c) => t.add(c),
            Err(_) => eprintln!("udp-relay shard {i} panicked; its counters are lost"),
        }
    }
    t
}

/// One shard, on its own thread, until `stop`.
fn shard(i: usize, args: &Args, client: &AtomicU64, stop: &AtomicBool) -> io::Result<Counters> {
    if let Some(cpu) = args.cpu_for(i) {
        if !core_affinity::set_for_current(core_affinity::CoreId { id: cpu }) {
            return Err(io::Error::other(format!("cannot pin to CPU {cpu}")));
        }
    }
    let ext = reuseport_socket(args.external)?;
    let int = reuseport_socket(args.internal)?;
    let mut ring = UdpRing::new(vec![ext, int])?;
    let mut fwd = Forward::new(args, client);
    while !stop.load(Ordering::Relaxed) {
        ring.submit_and_wait(WAIT)?;
        ring.drain(|d, tx| fwd.on(d, tx));
    }
    // The last batch's sends are still queued: submit them, and reap the
    // completions that come within FLUSH (late failures are counted).
    ring.submit_and_wait(FLUSH)?;
    ring.drain(|d, tx| fwd.on(d, tx));
    ring.submit()?;
    let rc = ring.counters();
    log::info!("relay-{i}: ring {rc:?}");
    Ok(fwd.counters(&rc))
}

/// The forwarding decision and the shard's counters.
struct Forward<'a> {
    args: &'a Args,
    client: &'a AtomicU64,
    /// The client this shard last stored (a store only when it changes).
    last_client: u64,
    c: Counters,
    /// Sends [`Tx::send`] refused on the spot (already in `c.dropped`; the
    /// ring counts them in `send_errors` too).
    refused: u64,
}

impl<'a> Forward<'a> {
    fn new(args: &'a Args, client: &'a AtomicU64) -> Forward<'a> {
        Forward {
            args,
            client,
            last_client: 0,
            c: Counters::default(),
            refused: 0,
        }
    }

    /// Queue the datagram `d` on to where it goes.
    fn on(&mut self, d: Received<'_>, tx: &mut Tx<'_>) {
        match d.socket {
            EXT => {
                self.c.ext_in += 1;
                if self.args.client.is_none() {
                    if let SocketAddr::V4(v4) = d.src {
                        let p = pack(v4);
                        if p != self.last_client {
                            self.last_client = p;
                            self.client.store(p, Ordering::Relaxed);
                        }
                    }
                }
                let nodes = &self.args.nodes;
                let pick = (fnv1a(call_id(d.bytes)) % nodes.len() as u64) as usize;
                match nodes.get(pick) {
                    Some(&node) => self.sent(tx.send(INT, node, d.bytes)),
                    None => self.c.dropped += 1,
                }
            }
            INT => {
                self.c.int_in += 1;
                match unpack(self.client.load(Ordering::Relaxed)) {
                    Some(to) => self.sent(tx.send(EXT, SocketAddr::V4(to), d.bytes)),
                    None => self.c.dropped += 1,
                }
            }
            _ => {}
        }
    }

    fn sent(&mut self, queued: bool) {
        if queued {
            self.c.forwarded += 1;
        } else {
            self.c.dropped += 1;
            self.refused += 1;
        }
    }

    /// The counters, with the sends that failed at completion moved from
    /// `forwarded` to `dropped`.
    fn counters(&self, ring: &RingCounters) -> Counters {
        let late = ring.send_errors.saturating_sub(self.refused);
        Counters {
            forwarded: self.c.forwarded.saturating_sub(late),
            dropped: self.c.dropped + late,
            ..self.c
        }
    }
}
