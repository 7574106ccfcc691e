//! The driver on loopback sockets: order, sources, replies, large
//! datagrams, re-arming, doorbells, busy polling, batching, timestamps and drop.

use super::ring::*;
use socket2::Socket;
use std::net::SocketAddr;
use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

fn bound() -> (Socket, SocketAddr) {
    let std = UdpSocket::bind("127.0.0.1:0").unwrap();
    std.set_nonblocking(true).unwrap();
    let addr = std.local_addr().unwrap();
    (Socket::from(std), addr)
}

/// Wait until `n` datagrams were drained (bounded in time).
fn collect(ring: &mut UdpRing, n: usize) -> Vec<(usize, SocketAddr, Vec<u8>, Option<u64>)> {
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while got.len() < n && Instant::now() < deadline {
        ring.submit_and_wait(Duration::from_millis(50)).unwrap();
        ring.drain(|d, _| got.push((d.socket, d.src, d.bytes.to_vec(), d.rx_ns)));
    }
    got
}

#[test]
fn receives_in_order_with_source_and_replies() {
    let (a, a_addr) = bound();
    let (b, b_addr) = bound();
    let mut ring = UdpRing::new(vec![a, b]).unwrap();
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    for i in 0..300u32 {
        let to = if i % 3 == 0 { b_addr } else { a_addr };
        peer.send_to(format!("msg {i}").as_bytes(), to).unwrap();
    }
    let got = collect(&mut ring, 300);
    assert_eq!(got.len(), 300, "more than the 128 buffers, via re-arm");
    let on_a: Vec<_> = got
        .iter()
        .filter(|g| g.0 == 0)
        .map(|g| g.2.clone())
        .collect();
    let expected: Vec<_> = (0..300u32)
        .filter(|i| i % 3 != 0)
        .map(|i| format!("msg {i}").into_bytes())
        .collect();
    assert_eq!(on_a, expected, "one socket's datagrams keep their order");
    assert!(got.iter().all(|g| g.1 == peer.local_addr().unwrap()));
    let now_ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    assert!(
        got.iter().all(|g| g
            .3
            .is_some_and(|t| t <= now_ns && now_ns - t < 10_000_000_000)),
        "every datagram carries its kernel receive time"
    );

    peer.send_to(b"ping", a_addr).unwrap();
    let mut echoed = 0;
    let deadline = Instant::now() + Duration::from_secs(5);
    while echoed == 0 && Instant::now() < deadline {
        ring.submit_and_wait(Duration::from_millis(50)).unwrap();
        echoed += ring.drain(|d, tx| {
            assert!(tx.send(1, d.src, b"pong"));
        });
    }
    ring.submit().unwrap();
    peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 16];
    let (n, from) = peer.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"pong");
    assert_eq!(from, b_addr, "sent from the socket asked for");
}

/// Datagrams that arrive while the ring busy polls are all handed over,
/// in order; with nothing arriving the wait still lasts until its timeout.
#[test]
fn busy_polling_hands_over_every_datagram_and_still_sleeps() {
    let (a, a_addr) = bound();
    let mut ring = UdpRing::new(vec![a]).unwrap();
    assert!(ring.set_busy_poll(Duration::from_millis(100)));
    let sender = std::thread::spawn(move || {
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        for i in 0..50u32 {
            peer.send_to(format!("msg {i}").as_bytes(), a_addr).unwrap();
            std::thread::sleep(Duration::from_micros(500));
        }
    });
    let got: Vec<_> = collect(&mut ring, 50).into_iter().map(|g| g.2).collect();
    sender.join().unwrap();
    let expected: Vec<_> = (0..50u32)
        .map(|i| format!("msg {i}").into_bytes())
        .collect();
    assert_eq!(got, expected);
    assert!(
        ring.counters().spin_hits > 0,
        "the spin saw datagrams coming: {:?}",
        ring.counters()
    );

    assert!(ring.set_busy_poll(Duration::from_millis(1)));
    let misses = ring.counters().spin_misses;
    let start = Instant::now();
    ring.submit_and_wait(Duration::from_millis(30)).unwrap();
    assert!(
        start.elapsed() >= Duration::from_millis(25),
        "spun 1 ms, then slept until the timeout: {:?}",
        start.elapsed()
    );
    assert_eq!(ring.counters().spin_misses, misses + 1);
}

/// Adaptive batching: a lone datagram is handed over without batching; a
/// flood engages it and every datagram still arrives, in order; a quiet
/// spell releases it.
#[test]
fn batching_engages_under_a_flood_only() {
    let (a, a_addr) = bound();
    let mut ring = UdpRing::new(vec![a]).unwrap();
    if !ring.set_batch_wait(Duration::from_micros(50)) {
        return; // kernel before 6.12: nothing to test
    }
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    for i in 0..3u32 {
        peer.send_to(format!("lone {i}").as_bytes(), a_addr)
            .unwrap();
        assert_eq!(collect(&mut ring, 1).len(), 1);
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(ring.counters().batched_waits, 0, "{:?}", ring.counters());

    // Flood in rounds of 64 until the gate engages (bounded).
    let mut sent = 0u32;
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while ring.counters().batch_engagements == 0 && Instant::now() < deadline {
        for _ in 0..64 {
            peer.send_to(format!("msg {sent}").as_bytes(), a_addr)
                .unwrap();
            sent += 1;
        }
        let want = sent as usize - got.len();
        got.extend(collect(&mut ring, want).into_iter().map(|g| g.2));
    }
    assert!(
        ring.counters().batch_engagements > 0,
        "{:?}",
        ring.counters()
    );
    let expected: Vec<_> = (0..sent).map(|i| format!("msg {i}").into_bytes()).collect();
    assert_eq!(got, expected, "nothing lost or reordered while batching");

    // Quiet: the next wake-ups release it.
    ring.submit_and_wait(Duration::from_millis(5)).unwrap();
    ring.submit_and_wait(Duration::from_millis(5)).unwrap();
    let batched = ring.counters().batched_waits;
    peer.send_to(b"late", a_addr).unwrap();
    assert_eq!(collect(&mut ring, 1).len(), 1);
    assert_eq!(
        ring.counters().batched_waits,
        batched,
        "released: {:?}",
        ring.counters()
    );
}

#[test]
fn large_datagram_arrives_whole() {
    let (a, a_addr) = bound();
    a.set_recv_buffer_size(1 << 20).unwrap();
    let mut ring = UdpRing::new(vec![a]).unwrap();
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    let big = vec![b'x'; 60_000];
    peer.send_to(&big, a_addr).unwrap();
    let got = collect(&mut ring, 1);
    assert_eq!(got.first().map(|g| g.2.len()), Some(60_000));
}

#[test]
fn doorbell_ends_a_wait() {
    doorbell_wakes(Duration::ZERO);
}

/// A doorbell rung while the ring is busy polling (100 ms spin, rung after
/// 20 ms) is seen by the spin, which returns it without sleeping.
#[test]
fn doorbell_ends_a_busy_poll() {
    doorbell_wakes(Duration::from_millis(100));
}

fn doorbell_wakes(spin: Duration) {
    let (fd_tx, fd_rx) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let (s, _) = bound();
        let mut mine = UdpRing::new(vec![s]).unwrap();
        if !spin.is_zero() {
            assert!(mine.set_busy_poll(spin), "this kernel flags pending work");
        }
        fd_tx.send(mine.dup_fd().unwrap()).unwrap();
        let start = Instant::now();
        while mine.counters().doorbells == 0 && start.elapsed() < Duration::from_secs(5) {
            mine.submit_and_wait(Duration::from_secs(5)).unwrap();
            mine.drain(|_, _| {});
        }
        (start.elapsed(), mine.counters().doorbells)
    });
    let target = fd_rx.recv().unwrap();
    let (s, _) = bound();
    let mut ring = UdpRing::new(vec![s]).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    ring.ring_doorbell(target.as_raw_fd());
    ring.submit().unwrap();
    let (waited, doorbells) = waiter.join().unwrap();
    assert_eq!(doorbells, 1);
    assert!(
        waited < Duration::from_secs(4),
        "woken by the doorbell, not the timeout"
    );
}

#[test]
fn drop_ends_every_operation_even_while_the_ring_lives_on() {
    let std = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = std.local_addr().unwrap();
    std.set_nonblocking(true).unwrap();
    let ring = UdpRing::new(vec![Socket::from(std)]).unwrap();
    // Another thread's duplicate keeps the ring itself alive.
    let peer_dup = ring.dup_fd().unwrap();
    let start = Instant::now();
    drop(ring);
    assert!(start.elapsed() < Duration::from_millis(500));
    // The multishot receive held the socket open; once it is cancelled
    // the address is free again (without the cancel, EADDRINUSE).
    UdpSocket::bind(addr).expect("the dropped ring released its socket");
    drop(peer_dup);
}

#[test]
fn sends_beyond_the_slots_keep_their_order() {
    let (a, _) = bound();
    let mut ring = UdpRing::new(vec![a]).unwrap();
    let sink = Socket::from(UdpSocket::bind("127.0.0.1:0").unwrap());
    let _ = sink.set_recv_buffer_size(8 << 20);
    let sink = UdpSocket::from(sink);
    let to = sink.local_addr().unwrap();
    // More sends in one batch than there are slots: the last ones go out
    // directly, after the queued ones.
    let mut tx = ring.tx();
    for i in 0..1100u32 {
        assert!(tx.send(0, to, &i.to_be_bytes()));
    }
    drop(tx);
    ring.submit().unwrap();
    sink.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 16];
    while let Ok(n) = sink.recv(&mut buf) {
        if let Ok(b) = <[u8; 4]>::try_from(&buf[..n]) {
            seen.push(u32::from_be_bytes(b));
        }
    }
    assert!(seen.contains(&1099), "the directly sent ones arrived");
    assert!(
        seen.windows(2).all(|w| w[0] < w[1]),
        "datagrams left in the order they were queued"
    );
}
