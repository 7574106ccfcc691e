//! Request heads, responses, and the listener and stop notices over loopback.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::registry::{Node, NodeId, NodeSource, NodeState};

const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn post(body: &str, extra: &str) -> String {
    format!(
        "POST / HTTP/1.1\r\nHost: lb\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

#[test]
fn head_of_a_post_with_a_body() {
    let req = post(r#"{"heartbeat":{"sessionId":1}}"#, "");
    let head = parse_head(req.as_bytes()).unwrap().unwrap();
    assert_eq!(
        head,
        Head {
            len: req.len() - 29,
            post: true,
            content_length: 29,
            close: false,
            expect_continue: false,
        }
    );
    let cut = req.find("\r\n\r\n").unwrap() + 3;
    assert_eq!(parse_head(&req.as_bytes()[..cut]), Ok(None));
}

#[test]
fn connection_rules_of_both_versions() {
    let close = |text: &str| parse_head(text.as_bytes()).unwrap().unwrap().close;
    assert!(!close("POST / HTTP/1.1\r\n\r\n"));
    assert!(close("POST / HTTP/1.1\r\nConnection: close\r\n\r\n"));
    assert!(close("POST / HTTP/1.0\r\n\r\n"));
    assert!(!close("POST / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"));
    let h = parse_head(b"GET /x HTTP/1.1\r\nExpect: 100-continue\r\n\r\n")
        .unwrap()
        .unwrap();
    assert!(!h.post && h.expect_continue && h.content_length == 0);
}

#[test]
fn bad_heads_are_refused_with_their_status() {
    let cases: [(&[u8], HeadError, u16); 7] = [
        (b"POST /\r\n\r\n", HeadError::Malformed, 400),
        (b"POST / HTTP/2.0\r\n\r\n", HeadError::Version, 505),
        (b"POST / SIP/2.0\r\n\r\n", HeadError::Malformed, 400),
        (
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            HeadError::Chunked,
            411,
        ),
        (
            b"POST / HTTP/1.1\r\nContent-Length: 16385\r\n\r\n",
            HeadError::BodyTooLarge,
            413,
        ),
        (
            b"POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n",
            HeadError::Malformed,
            400,
        ),
        (
            b"POST / HTTP/1.1\r\nno colon\r\n\r\n",
            HeadError::Malformed,
            400,
        ),
    ];
    for (text, err, status) in cases {
        assert_eq!(
            parse_head(text),
            Err(err),
            "{}",
            String::from_utf8_lossy(text)
        );
        assert_eq!(err.status(), status);
    }
    let long = vec![b'a'; MAX_HEAD + 1];
    assert_eq!(parse_head(&long), Err(HeadError::TooLarge));
}

#[test]
fn responses_are_exact() {
    assert_eq!(
        response(200, br#"{"start":"OK"}"#, false),
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 14\r\n\r\n{\"start\":\"OK\"}"
    );
    let r = b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n{\"stop\":\"OK\"}";
    assert_eq!(
        parse_response(r, false),
        Some((200, &b"{\"stop\":\"OK\"}"[..]))
    );
    assert_eq!(parse_response(&r[..r.len() - 1], false), None);
    let no_len = b"HTTP/1.0 200 OK\r\n\r\n{\"stop\":\"OK\"}";
    assert_eq!(parse_response(no_len, false), None);
    assert_eq!(parse_response(no_len, true).map(|(s, _)| s), Some(200));
}

/// A started intake on a loopback port with its queues.
struct Running {
    intake: Intake,
    events: Receiver<Event>,
    snapshots: Sender<Arc<NodeSet>>,
}

fn running(queue: usize) -> Running {
    let listener = TcpListener::bind((LO, 0)).unwrap();
    let (tx, events) = crossbeam_channel::bounded(queue);
    let (snapshots, rx) = snapshot_channel();
    let intake = start(listener, tx, rx, Arc::new(NodeSet::default())).unwrap();
    Running {
        intake,
        events,
        snapshots,
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    s
}

/// Reads exactly `n` responses' worth of bytes (`want` is their concatenation).
fn read_exact_text(s: &mut TcpStream, len: usize) -> String {
    let mut buf = vec![0u8; len];
    s.read_exact(&mut buf).unwrap();
    String::from_utf8(buf).unwrap()
}

fn ok(body: &str) -> String {
    String::from_utf8(response(200, body.as_bytes(), false)).unwrap()
}

#[test]
fn pipelined_keep_alive_commands_become_events_in_order() {
    let r = running(8);
    let mut s = connect(r.intake.addr());
    let start = r#"{"start":{"hostName":"as1","ip":"127.0.0.2","udpPort":"5080","sessionId":"42","version":"2","heartbeatPort":"2222"}}"#;
    let reqs = post(start, "") + &post(r#"{"heartbeat":{"sessionId":42}}"#, "");
    s.write_all(reqs.as_bytes()).unwrap();
    let want = ok(r#"{"start":"OK"}"#) + &ok(r#"{"heartbeat":"OK"}"#);
    assert_eq!(read_exact_text(&mut s, want.len()), want);
    let props = |kv: &[(&str, &str)]| -> Vec<(String, String)> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    assert_eq!(
        r.events.try_recv().unwrap(),
        Event::Start {
            src: LO,
            properties: props(&[
                ("heartbeatPort", "2222"),
                ("hostName", "as1"),
                ("ip", "127.0.0.2"),
                ("sessionId", "42"),
                ("udpPort", "5080"),
                ("version", "2"),
            ]),
        }
    );
    assert_eq!(
        r.events.try_recv().unwrap(),
        Event::SessionHeartbeat {
            session_id: "42".into()
        }
    );
    // A bad body is answered 400 and the connection stays usable.
    s.write_all(post(r#"{"reboot":{}}"#, "").as_bytes())
        .unwrap();
    let bad = String::from_utf8(response(
        400,
        br#"{"error":"unknown command \"reboot\""}"#,
        false,
    ))
    .unwrap();
    assert_eq!(read_exact_text(&mut s, bad.len()), bad);
    s.write_all(post(r#"{"stop":{"sessionId":"42"}}"#, "Connection: close\r\n").as_bytes())
        .unwrap();
    let mut rest = String::new();
    s.read_to_string(&mut rest).unwrap();
    assert_eq!(
        rest,
        String::from_utf8(response(200, br#"{"stop":"OK"}"#, true)).unwrap()
    );
    assert_eq!(
        r.events.try_recv().unwrap(),
        Event::SessionStop {
            session_id: "42".into()
        }
    );
    assert!(r.events.try_recv().is_err());
    r.intake.stop().unwrap();
}

#[test]
fn a_full_queue_is_answered_503_and_bad_heads_close() {
    let r = running(1);
    let mut s = connect(r.intake.addr());
    let hb = post(r#"{"heartbeat":{"sessionId":1}}"#, "");
    s.write_all(hb.as_bytes()).unwrap();
    let first = ok(r#"{"heartbeat":"OK"}"#);
    assert_eq!(read_exact_text(&mut s, first.len()), first);
    s.write_all(hb.as_bytes()).unwrap();
    let busy = String::from_utf8(response(503, br#"{"error":"busy"}"#, false)).unwrap();
    assert_eq!(read_exact_text(&mut s, busy.len()), busy);
    assert_eq!(r.events.len(), 1);

    let mut s = connect(r.intake.addr());
    s.write_all(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
        .unwrap();
    let mut rest = String::new();
    s.read_to_string(&mut rest).unwrap();
    assert!(
        rest.starts_with("HTTP/1.1 411 Length Required\r\n"),
        "{rest}"
    );
    assert!(rest.contains("Connection: close\r\n"));
    r.intake.stop().unwrap();
}

#[test]
fn expect_continue_and_a_body_in_pieces() {
    let r = running(4);
    let mut s = connect(r.intake.addr());
    let body = r#"{"shutdown":{"sessionId":"7"}}"#;
    let req = post(body, "Expect: 100-continue\r\n");
    let head_len = req.len() - body.len();
    s.write_all(&req.as_bytes()[..head_len]).unwrap();
    let cont = "HTTP/1.1 100 Continue\r\n\r\n";
    assert_eq!(read_exact_text(&mut s, cont.len()), cont);
    s.write_all(&req.as_bytes()[head_len..head_len + 5])
        .unwrap();
    std::thread::sleep(Duration::from_millis(60));
    s.write_all(&req.as_bytes()[head_len + 5..]).unwrap();
    let want = ok(r#"{"shutdown":"OK"}"#);
    assert_eq!(read_exact_text(&mut s, want.len()), want);
    assert_eq!(
        r.events.try_recv().unwrap(),
        Event::SessionShutdown {
            session_id: "7".into()
        }
    );
    r.intake.stop().unwrap();
}

#[test]
fn stop_returns_the_newest_snapshot_even_with_a_connection_open() {
    let r = running(4);
    let _idle = connect(r.intake.addr());
    for g in [5, 6, 7] {
        r.snapshots
            .send(Arc::new(NodeSet::new(g, Vec::new(), 0)))
            .unwrap();
    }
    std::thread::sleep(Duration::from_millis(100));
    let t = std::time::Instant::now();
    let latest = r.intake.stop().unwrap();
    assert_eq!(latest.generation, 7);
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "{:?}",
        t.elapsed()
    );
}

fn node(id: u32, port: u16, state: NodeState, heartbeat_port: Option<&str>) -> Node {
    let mut n = Node::new(NodeId(id), LO, port, NodeSource::Heartbeat, state);
    if let Some(p) = heartbeat_port {
        n.properties.push(("heartbeatPort".into(), p.into()));
    }
    n
}

#[test]
fn notices_go_to_alive_nodes_with_a_heartbeat_port() {
    let set = NodeSet::new(
        3,
        vec![
            node(0, 5080, NodeState::Up, Some("2222")),
            node(1, 5081, NodeState::Draining, Some("2223")),
            node(2, 5082, NodeState::Down, Some("2224")),
            node(3, 5083, NodeState::Up, None),
            node(4, 5084, NodeState::Up, Some("x")),
            node(5, 5085, NodeState::Up, Some("2222")),
        ],
        0,
    );
    let want: Vec<SocketAddr> = vec![(LO, 2222).into(), (LO, 2223).into()];
    assert_eq!(notice_targets(&set), want);
}

/// A node's heartbeat listener: answers `answer` to one request, returns
/// what it received.
fn fake_node(answer: &'static [u8]) -> (u16, std::thread::JoinHandle<String>) {
    let l = TcpListener::bind((LO, 0)).unwrap();
    let port = l.local_addr().unwrap().port();
    let t = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 512];
        while parse_head(&buf)
            .ok()
            .flatten()
            .is_none_or(|h| buf.len() < h.len + h.content_length)
        {
            let n = s.read(&mut chunk).unwrap();
            assert!(n > 0, "notice cut short");
            buf.extend_from_slice(&chunk[..n]);
        }
        s.write_all(answer).unwrap();
        String::from_utf8(buf).unwrap()
    });
    (port, t)
}

#[test]
fn stop_notice_reaches_the_node_with_the_balancer_address() {
    let (port, got) = fake_node(b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n{\"stop\":\"OK\"}");
    let lb = SocketAddr::new(LO, 2610);
    assert!(notify(SocketAddr::new(LO, port), lb).is_ok());
    let body = r#"{"stop":{"ipAddress":"127.0.0.1","port":2610}}"#;
    let want = format!(
        "POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    assert_eq!(got.join().unwrap(), want);
    // Through the snapshot, and a wrong answer is an error.
    let (port, got) = fake_node(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnull");
    let wrong = notify(SocketAddr::new(LO, port), lb).unwrap_err();
    assert_eq!(wrong.to_string(), "answered 200 null");
    got.join().unwrap();
    let (port2, got2) =
        fake_node(b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n{\"stop\":\"OK\"}");
    let set2 = NodeSet::new(
        3,
        vec![node(0, 5080, NodeState::Up, Some(&port2.to_string()))],
        0,
    );
    send_stop_notices(
        &set2,
        SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 2611),
    );
    assert!(got2
        .join()
        .unwrap()
        .ends_with(r#"{"stop":{"ipAddress":"127.0.0.1","port":2611}}"#));
}

#[test]
fn a_dead_or_silent_node_costs_a_bounded_time() {
    let closed = TcpListener::bind((LO, 0)).unwrap().local_addr().unwrap();
    let silent = TcpListener::bind((LO, 0)).unwrap();
    let lb = SocketAddr::new(LO, 2610);
    assert!(notify(closed, lb).is_err());
    let t = std::time::Instant::now();
    let e = notify(silent.local_addr().unwrap(), lb).unwrap_err();
    assert!(
        matches!(
            e.kind(),
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
        ),
        "{e}"
    );
    assert!(t.elapsed() < NOTICE_TIMEOUT * 3, "{:?}", t.elapsed());
}
