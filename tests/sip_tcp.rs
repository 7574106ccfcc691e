//! SIP over TCP through the balancer, with real peers: SIPp over TCP
//! (`-t t1`) as client and node, UDP clients to TCP nodes
//! (`internalTransport`), a node connection closed mid-dialog, and hostile
//! TCP clients (one byte per interval, a never-ending head, an oversized
//! message) cut off by the timers and limits while other connections go on.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use common::{free_port, local, Balancer, Heartbeater, HeavyGuard, LbConfig, Msg, Sipp};

/// Two legs with UDP and TCP on both.
fn tcp_config() -> LbConfig {
    let mut cfg = LbConfig::two_legs();
    cfg.external_tcp = Some(free_port());
    cfg.internal_tcp = Some(free_port());
    cfg
}

fn sipp_tcp_uas(tag: &str, port: u16) -> Sipp {
    let sf = common::sipp::scenario("uas.xml")
        .to_string_lossy()
        .into_owned();
    Sipp::spawn(tag, port, &["-t".into(), "t1".into(), "-sf".into(), sf])
}

fn sipp_uac(tag: &str, transport: &str, target: SocketAddr, calls: u32, rate: u32) -> Sipp {
    let sf = common::sipp::scenario("uac.xml")
        .to_string_lossy()
        .into_owned();
    let timeout = calls / rate + 30;
    let args: Vec<String> = vec![
        "-t".into(),
        transport.into(),
        "-sf".into(),
        sf,
        target.to_string(),
        "-m".into(),
        calls.to_string(),
        "-r".into(),
        rate.to_string(),
        "-timeout".into(),
        format!("{timeout}s"),
        "-timeout_error".into(),
        "-recv_timeout".into(),
        "5s".into(),
        "-buff_size".into(),
        (4 << 20).to_string(),
    ];
    Sipp::spawn(tag, free_port(), &args)
}

/// A node on `port`, announced by heartbeats as listening on TCP `port`.
fn announce_tcp_node(lb: &Balancer, port: u16) -> Heartbeater {
    let hb = Heartbeater::start_with(
        lb.internal,
        port,
        Duration::from_millis(200),
        &format!("tcpPort={port}\n"),
    );
    assert!(
        hb.wait_registered(Duration::from_secs(5)),
        "node registered"
    );
    hb
}

fn run_calls(uac: &mut Sipp, calls: u32, rate: u32) -> common::SippStats {
    let code = uac.wait(Duration::from_secs(u64::from(calls / rate + 40)));
    let stats = uac.stats();
    assert_eq!(
        code,
        Some(0),
        "SIPp UAC exit code; stats {stats:?}; errors: {}",
        tail(&uac.read("errors.log"))
    );
    stats
}

#[test]
fn sipp_over_tcp_to_tcp_nodes_2000_calls_at_200_cps() {
    assert!(common::sipp::sipp_available(), "sipp not installed");
    let _heavy = HeavyGuard::take();
    let cfg = tcp_config();
    let node_port = free_port();
    let mut uas = sipp_tcp_uas("tcp-uas", node_port);
    let lb = Balancer::start(&cfg);
    let _hb = announce_tcp_node(&lb, node_port);
    let ext_tcp = local(cfg.external_tcp.expect("tcp port"));
    let mut uac = sipp_uac("tcp-uac", "t1", ext_tcp, 2000, 200);
    let stats = run_calls(&mut uac, 2000, 200);
    assert_eq!(stats.successful, 2000, "{stats:?}");
    assert_eq!(stats.failed, 0, "{stats:?}");
    // The node only speaks TCP: every call it answered came over TCP, and
    // the Vias it saw name our internal TCP leg.
    let trace = uas.read("messages.log");
    let int_tcp = format!("SIP/2.0/TCP 127.0.0.1:{}", cfg.internal_tcp.unwrap_or(0));
    assert!(trace.contains(&int_tcp), "node saw our TCP Via");
    uas.quit();
    assert_eq!(uas.call_ids().len(), 2000, "every call reached the node");
    lb.stop();
}

/// An external leg with a TCP port and no UDP port (a TCP-only entry
/// point): it starts, binds no UDP socket on the external side, and SIPp
/// calls over TCP reach the TCP node.
#[test]
fn external_leg_with_tcp_only_serves_calls_without_a_udp_socket() {
    assert!(common::sipp::sipp_available(), "sipp not installed");
    let mut cfg = tcp_config();
    cfg.external = 0;
    let ext_tcp = local(cfg.external_tcp.expect("tcp port"));
    let node_port = free_port();
    let mut uas = sipp_tcp_uas("tcp-only-uas", node_port);
    let lb = Balancer::start(&cfg);
    assert!(
        std::net::UdpSocket::bind(ext_tcp).is_ok(),
        "nothing listens on UDP beside the external TCP port"
    );
    let _hb = announce_tcp_node(&lb, node_port);
    let mut uac = sipp_uac("tcp-only-uac", "t1", ext_tcp, 100, 50);
    let stats = run_calls(&mut uac, 100, 50);
    assert_eq!((stats.successful, stats.failed), (100, 0), "{stats:?}");
    let trace = uas.read("messages.log");
    let int_tcp = format!("SIP/2.0/TCP 127.0.0.1:{}", cfg.internal_tcp.unwrap_or(0));
    assert!(trace.contains(&int_tcp), "node saw our TCP Via");
    uas.quit();
    assert_eq!(uas.call_ids().len(), 100, "every call reached the node");
    lb.stop();
}

#[test]
fn udp_client_reaches_tcp_node_with_internal_transport_tcp() {
    assert!(common::sipp::sipp_available(), "sipp not installed");
    let _heavy = HeavyGuard::take();
    let mut cfg = tcp_config();
    cfg.internal_transport = Some("tcp".into());
    let node_port = free_port();
    let mut uas = sipp_tcp_uas("mixed-uas", node_port);
    let lb = Balancer::start(&cfg);
    let _hb = announce_tcp_node(&lb, node_port);
    let mut uac = sipp_uac("mixed-uac", "u1", lb.external, 100, 50);
    let stats = run_calls(&mut uac, 100, 50);
    assert_eq!((stats.successful, stats.failed), (100, 0), "{stats:?}");
    let trace = uas.read("messages.log");
    assert!(
        trace.contains(";transport=udp"),
        "the client's Contact got its real transport"
    );
    uas.quit();
    assert_eq!(uas.call_ids().len(), 100);
    lb.stop();
}

/// A hand-written TCP node: accepts the balancer's connections, answers
/// INVITE and BYE with 200 (echoing Via, Record-Route, From, To, Call-ID,
/// CSeq), and can drop its connections.
struct TcpNode {
    listener: TcpListener,
    conns: Vec<(TcpStream, Vec<u8>)>,
}

impl TcpNode {
    fn bind(port: u16) -> TcpNode {
        let listener = TcpListener::bind(local(port)).expect("bind node");
        TcpNode {
            listener,
            conns: Vec::new(),
        }
    }

    /// The next request on any connection (accepting new ones).
    fn next_request(&mut self, dur: Duration) -> Option<Msg> {
        let deadline = Instant::now() + dur;
        self.listener.set_nonblocking(true).ok()?;
        while Instant::now() < deadline {
            if let Ok((s, _)) = self.listener.accept() {
                s.set_read_timeout(Some(Duration::from_millis(20))).ok()?;
                self.conns.push((s, Vec::new()));
            }
            for (c, buf) in &mut self.conns {
                if let Some(m) = read_message(c, buf) {
                    return Some(m);
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        None
    }

    fn answer(&mut self, req: &Msg, code: u16) {
        let bytes = common::reply(req, code, "OK", "node-tag");
        for (c, _) in &mut self.conns {
            let _ = c.write_all(&bytes);
        }
    }

    /// Close every connection (as a node restart would).
    fn drop_connections(&mut self) {
        for (c, _) in self.conns.drain(..) {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
    }
}

/// The next whole SIP message of a stream (read with a short timeout),
/// keeping what follows it in `buf` for the next call.
fn read_message(s: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Msg> {
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(head) = find(buf, b"\r\n\r\n") {
            let m = Msg::parse(&buf[..head + 4]);
            let len: usize = m
                .header("Content-Length")
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if buf.len() >= head + 4 + len {
                let msg = Msg::parse(&buf[..head + 4 + len]);
                buf.drain(..head + 4 + len);
                return Some(msg);
            }
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A TCP client of the balancer's external TCP port.
struct TcpClient {
    s: TcpStream,
    buf: Vec<u8>,
}

impl TcpClient {
    fn connect(addr: SocketAddr) -> TcpClient {
        let s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_millis(50))).ok();
        TcpClient { s, buf: Vec::new() }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).expect("send");
    }

    fn expect_status(&mut self, code: u16, dur: Duration) -> Msg {
        let deadline = Instant::now() + dur;
        while Instant::now() < deadline {
            if let Some(m) = read_message(&mut self.s, &mut self.buf) {
                if m.status() == Some(code) {
                    return m;
                }
            }
        }
        panic!("no {code} within {dur:?}");
    }

    /// Whether the balancer closed the connection within `dur`.
    fn closed_within(&mut self, dur: Duration) -> bool {
        let deadline = Instant::now() + dur;
        let mut chunk = [0u8; 4096];
        while Instant::now() < deadline {
            match self.s.read(&mut chunk) {
                Ok(0) => return true,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
                _ => {}
            }
        }
        false
    }
}

fn tcp_request(
    method: &str,
    lb_ext: SocketAddr,
    from: SocketAddr,
    call_id: &str,
    extra: &str,
) -> Vec<u8> {
    format!(
        "{method} sip:bob@{lb_ext};transport=tcp SIP/2.0\r\n\
         Via: SIP/2.0/TCP {from};branch=z9hG4bK-{call_id}-{method}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:alice@{from}>;tag=alice\r\n\
         To: <sip:bob@{lb_ext}>{extra}\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 {method}\r\n\
         Contact: <sip:alice@{from};transport=tcp>\r\n\
         Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

#[test]
fn node_connection_closed_mid_dialog_is_reopened_for_the_bye() {
    let cfg = tcp_config();
    let node_port = free_port();
    let mut node = TcpNode::bind(node_port);
    let lb = Balancer::start(&cfg);
    let _hb = announce_tcp_node(&lb, node_port);
    let ext = local(cfg.external_tcp.expect("tcp"));
    let mut client = TcpClient::connect(ext);
    let me = client.s.local_addr().expect("addr");
    client.send(&tcp_request("INVITE", ext, me, "reopen-1", ""));
    let invite = node
        .next_request(Duration::from_secs(3))
        .expect("INVITE at node");
    assert_eq!(invite.method(), Some("INVITE"));
    node.answer(&invite, 200);
    let ok = client.expect_status(200, Duration::from_secs(3));
    let route: Vec<String> = ok.record_routes().into_iter().rev().collect();
    assert!(!route.is_empty(), "200 carries our Record-Route");
    // The node restarts its TCP side: every connection drops.
    node.drop_connections();
    std::thread::sleep(Duration::from_millis(300));
    let mut bye =
        String::from_utf8(tcp_request("BYE", ext, me, "reopen-1", ";tag=node-tag")).expect("utf8");
    let route_lines: String = route.iter().map(|r| format!("Route: {r}\r\n")).collect();
    bye = bye.replacen("Max-Forwards", &format!("{route_lines}Max-Forwards"), 1);
    client.send(bye.as_bytes());
    let got = node
        .next_request(Duration::from_secs(3))
        .expect("BYE reaches the node");
    assert_eq!(got.method(), Some("BYE"));
    node.answer(&got, 200);
    client.expect_status(200, Duration::from_secs(3));
    lb.stop();
}

#[test]
fn request_to_a_node_whose_tcp_port_refuses_gets_503() {
    let cfg = tcp_config();
    let lb = Balancer::start(&cfg);
    // Announced on TCP, but nothing listens there.
    let dead_port = free_port();
    let _hb = announce_tcp_node(&lb, dead_port);
    let ext = local(cfg.external_tcp.expect("tcp"));
    let mut client = TcpClient::connect(ext);
    let me = client.s.local_addr().expect("addr");
    client.send(&tcp_request("INVITE", ext, me, "refused-1", ""));
    client.expect_status(100, Duration::from_secs(3));
    let m = client.expect_status(503, Duration::from_secs(5));
    assert_eq!(m.call_id().as_deref(), Some("refused-1"));
    assert_eq!(
        m.vias().len(),
        1,
        "only the client's Via is left: {:?}",
        m.vias()
    );
    lb.stop();
}

#[test]
fn slow_endless_and_oversized_clients_are_cut_off_others_are_served() {
    let mut cfg = tcp_config();
    cfg.sip_extra =
        "  maxMessageSize: 4096\n  streams: { messageTimeout: 1000, idleTimeout: 60000 }\n".into();
    let lb = Balancer::start(&cfg);
    let ext = local(cfg.external_tcp.expect("tcp"));

    // One byte every 300 ms: the message never completes within 1 s.
    let mut slow = TcpClient::connect(ext);
    let me = slow.s.local_addr().expect("addr");
    let req = tcp_request("OPTIONS", ext, me, "slow-1", "");
    let start = Instant::now();
    let mut cut = false;
    for b in &req {
        if slow.s.write_all(&[*b]).is_err() {
            cut = true;
            break;
        }
        if slow.closed_within(Duration::from_millis(300)) {
            cut = true;
            break;
        }
        if start.elapsed() > Duration::from_secs(5) {
            break;
        }
    }
    assert!(cut, "slow client cut off");
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "by the message timer"
    );

    // A head that never ends.
    let mut endless = TcpClient::connect(ext);
    let mut head = b"OPTIONS sip:x@127.0.0.1 SIP/2.0\r\n".to_vec();
    for i in 0..400 {
        head.extend_from_slice(format!("X-Filler-{i}: aaaaaaaaaaaaaaaa\r\n").as_bytes());
    }
    let _ = endless.s.write_all(&head);
    assert!(
        endless.closed_within(Duration::from_secs(2)),
        "endless head cut off"
    );

    // A body larger than maxMessageSize.
    let mut big = TcpClient::connect(ext);
    let me = big.s.local_addr().expect("addr");
    let mut req = String::from_utf8(tcp_request("MESSAGE", ext, me, "big-1", "")).expect("utf8");
    req = req.replace("Content-Length: 0", "Content-Length: 100000");
    let _ = big.s.write_all(req.as_bytes());
    assert!(
        big.closed_within(Duration::from_secs(2)),
        "oversized message cut off"
    );

    // Meanwhile a well-behaved client is answered (no node: 503).
    let mut good = TcpClient::connect(ext);
    let me = good.s.local_addr().expect("addr");
    good.send(&tcp_request("OPTIONS", ext, me, "good-1", ""));
    let m = good.expect_status(503, Duration::from_secs(3));
    assert_eq!(m.call_id().as_deref(), Some("good-1"));
    // CRLF keep-alive ping gets a pong on the same connection.
    good.send(b"\r\n\r\n");
    let mut pong = [0u8; 2];
    good.s.set_read_timeout(Some(Duration::from_secs(2))).ok();
    good.s.read_exact(&mut pong).expect("pong");
    assert_eq!(&pong, b"\r\n");
    lb.stop();
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
