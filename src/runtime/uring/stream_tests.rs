//! Streams on the ring against std sockets on loopback: pausing and
//! resuming a connection's reads, and the drained report.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use socket2::Socket;

use super::ring::{Completion, UdpRing};
use super::streams::{StreamEvent, StreamId};

/// What one turn of the ring reported, owned.
#[derive(Debug)]
enum Seen {
    Accepted(StreamId),
    Data(Vec<u8>),
    Drained(StreamId),
    Closed,
    Other,
}

fn ring_with_listener() -> (UdpRing, SocketAddr) {
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_nonblocking(true).unwrap();
    let mut ring = UdpRing::new(vec![Socket::from(udp)]).unwrap();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.set_nonblocking(true).unwrap();
    let addr = l.local_addr().unwrap();
    ring.listen(Socket::from(l));
    (ring, addr)
}

/// Turn the ring for `d`, collecting what it reports.
fn turn(ring: &mut UdpRing, d: Duration, until: impl Fn(&[Seen]) -> bool) -> Vec<Seen> {
    let mut seen = Vec::new();
    let deadline = Instant::now() + d;
    while Instant::now() < deadline && !until(&seen) {
        ring.submit_and_wait(Duration::from_millis(20)).unwrap();
        ring.drain_events(|c, _| {
            seen.push(match c {
                Completion::Stream(StreamEvent::Accepted { conn, .. }) => Seen::Accepted(conn),
                Completion::Stream(StreamEvent::Data(_, b)) => Seen::Data(b.to_vec()),
                Completion::Stream(StreamEvent::Drained(id)) => Seen::Drained(id),
                Completion::Stream(StreamEvent::Closed(_)) => Seen::Closed,
                _ => Seen::Other,
            })
        });
    }
    seen
}

fn data_of(seen: &[Seen]) -> Vec<u8> {
    seen.iter()
        .filter_map(|s| match s {
            Seen::Data(b) => Some(b.as_slice()),
            _ => None,
        })
        .flatten()
        .copied()
        .collect()
}

fn accept(ring: &mut UdpRing, addr: SocketAddr) -> (TcpStream, StreamId) {
    let client = TcpStream::connect(addr).unwrap();
    let seen = turn(ring, Duration::from_secs(3), |s| {
        s.iter().any(|e| matches!(e, Seen::Accepted(_)))
    });
    let id = seen
        .iter()
        .find_map(|e| match e {
            Seen::Accepted(id) => Some(*id),
            _ => None,
        })
        .expect("accepted");
    (client, id)
}

#[test]
fn a_paused_connection_is_not_read_until_resumed() {
    let (mut ring, addr) = ring_with_listener();
    let (mut client, id) = accept(&mut ring, addr);
    client.write_all(b"one").unwrap();
    let seen = turn(&mut ring, Duration::from_secs(3), |s| data_of(s) == b"one");
    assert_eq!(data_of(&seen), b"one");

    ring.tx().pause_recv(id);
    assert!(ring.tx().recv_paused(id));
    // Let the cancel complete, then send while paused.
    let _ = turn(&mut ring, Duration::from_millis(100), |_| false);
    client.write_all(b"two").unwrap();
    let seen = turn(&mut ring, Duration::from_millis(300), |_| false);
    assert!(
        data_of(&seen).is_empty(),
        "nothing read while paused: {seen:?}"
    );
    assert!(
        !seen.iter().any(|e| matches!(e, Seen::Closed)),
        "a pause is not a close"
    );

    ring.tx().resume_recv(id);
    let seen = turn(&mut ring, Duration::from_secs(3), |s| data_of(s) == b"two");
    assert_eq!(data_of(&seen), b"two", "read again after resume");
}

#[test]
fn pause_then_resume_at_once_keeps_the_connection() {
    let (mut ring, addr) = ring_with_listener();
    let (mut client, id) = accept(&mut ring, addr);
    // Resumed before the cancel's completion arrives: the cancelled
    // receive must be re-armed, not taken for an error.
    ring.tx().pause_recv(id);
    ring.tx().resume_recv(id);
    let _ = turn(&mut ring, Duration::from_millis(100), |_| false);
    client.write_all(b"still here").unwrap();
    let seen = turn(&mut ring, Duration::from_secs(3), |s| {
        data_of(s) == b"still here"
    });
    assert_eq!(data_of(&seen), b"still here");
    assert!(ring.tx().stream_alive(id));
}

#[test]
fn drained_is_reported_once_the_peer_reads() {
    let (mut ring, addr) = ring_with_listener();
    let (mut client, id) = accept(&mut ring, addr);
    let chunk = vec![b'x'; 1 << 20];
    let mut tx = ring.tx();
    for _ in 0..8 {
        assert!(tx.stream_send(id, &chunk));
    }
    drop(tx);
    let _ = turn(&mut ring, Duration::from_millis(200), |_| false);
    let backlog = ring.tx().stream_backlog(id);
    assert!(backlog > 0, "a peer that does not read leaves a backlog");
    ring.tx().watch_drain(id, 0);
    let reader = std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 16];
        let mut total = 0usize;
        while total < 8 << 20 {
            match client.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
        total
    });
    let seen = turn(&mut ring, Duration::from_secs(10), |s| {
        s.iter().any(|e| matches!(e, Seen::Drained(_)))
    });
    let drained: Vec<_> = seen
        .iter()
        .filter(|e| matches!(e, Seen::Drained(d) if *d == id))
        .collect();
    assert_eq!(drained.len(), 1, "one report: {seen:?}");
    assert_eq!(ring.tx().stream_backlog(id), 0);
    assert_eq!(reader.join().unwrap(), 8 << 20);
}
