//! Slowloris on every stream listener of one balancer: SIP TCP, TLS, WS
//! and WSS on both legs (each handshake trickled, and a message trickled
//! after the handshakes), SMPP, the JSON heartbeat port and the admin
//! port. Each slow connection writes one byte a second; each must be
//! closed by its listener's timer — not before it could have fired, not
//! long after — while a normal client of the same listener is answered.
//!
//! Timers under test: `sip.streams.messageTimeout` (set to 1.5 s here,
//! `idleTimeout` 60 s so that only the message timer can explain a close),
//! `smpp.timeoutConnection` (1.5 s: no bind by then closes the ESME), and
//! the fixed 5 s request-head limits of the heartbeat and admin ports.

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rustls::ClientConfig;

use super::common::certs::{ssl_yaml, write_pki};
use super::common::http::get;
use super::common::streams::{client_config, Kind, SipStream};
use super::common::{free_port, local, wait_until, Balancer, HeavyGuard, LbConfig, Req, TempDir};
use super::json_hb::JsonNode;

#[path = "slowloris_wires.rs"]
mod wires;

use wires::{bind_pdu, generic_nack_of, hello, tls_record, upgrade_head, Raw, Wire};

/// One byte this often.
const PACE: Duration = Duration::from_secs(1);
/// `sip.streams.messageTimeout` and `smpp.timeoutConnection` in the config.
const STREAM_TIMEOUT: Duration = Duration::from_millis(1500);
/// The heartbeat port's request limit and the admin port's head deadline
/// (constants of `runtime/heartbeat_http.rs` and `runtime/admin.rs`).
const HTTP_TIMEOUT: Duration = Duration::from_secs(5);
/// A close this much before the timer could fire is not the timer.
const EARLY: Duration = Duration::from_millis(300);
/// How late after its timer a close may come on a busy machine (the
/// stream timers are swept every 250 ms). The next timer that could close
/// these connections otherwise is `idleTimeout`, 60 s.
const LATE: Duration = Duration::from_millis(2500);
/// A slow connection still open after this has won.
const GIVE_UP: Duration = Duration::from_secs(15);
/// A normal client must be answered within this.
const SERVED: Duration = Duration::from_secs(3);

/// One slow connection to run.
struct Slow {
    /// What it is (`tls ext hello`, …).
    name: String,
    /// The timer that must close it.
    timer: Duration,
    /// Bytes written at once before the trickle starts.
    at_once: usize,
    /// The bytes sit in a TLS record or WebSocket frame that the balancer
    /// buffers until it is complete.
    in_layer: bool,
    /// Opens the connection (the handshakes not under test done) and
    /// returns it with the bytes to trickle.
    open: Box<dyn FnOnce() -> Opened + Send>,
}

/// A slow connection ready to trickle, and its bytes.
type Opened = Result<(Box<dyn Wire>, Vec<u8>), String>;

/// When the balancer closed it, counted from its first byte.
struct Outcome {
    name: String,
    timer: Duration,
    closed_after: Result<Duration, String>,
}

/// The listeners of the balancer under test.
struct Listeners {
    sip: Vec<(Kind, &'static str, SocketAddr)>,
    smpp: SocketAddr,
    heartbeat: SocketAddr,
    admin: SocketAddr,
}

#[test]
fn slowloris_on_every_stream_listener_is_closed_by_its_timer() {
    run(|s| !s.in_layer);
}

/// The bytes trickled are those of one TLS record or one WebSocket frame
/// (after the handshakes): nothing reaches the SIP framing until the
/// record or frame is complete, so only the layer knows a message is under
/// way (`Layer::holds_partial`); the message timer must run all the same.
#[test]
fn slowloris_inside_a_tls_record_or_ws_frame_is_closed_by_its_timer() {
    run(|s| s.in_layer);
}

/// Runs the slow connections `pick` chooses against one balancer, with a
/// normal client on every listener meanwhile.
fn run(pick: impl Fn(&Slow) -> bool) {
    let _heavy = HeavyGuard::take();
    let dir = TempDir::new("slowloris-pki");
    let pki = write_pki(&dir.path, &["127.0.0.1"]);
    let (cfg, at) = config(ssl_yaml(&pki, "Disabled", true));
    let mut lb = Balancer::start(&cfg);
    let tls = client_config(&pki.ca, None);
    // The admin, heartbeat and SMPP listeners come up after the SIP ones
    // that `Balancer::start` waits for.
    for addr in [at.admin, at.heartbeat, at.smpp] {
        assert!(
            wait_until(Duration::from_secs(5), || std::net::TcpStream::connect(
                addr
            )
            .is_ok()),
            "{addr} listening"
        );
    }

    let started = Instant::now();
    let slow: Vec<Slow> = slow_connections(&at, &tls)
        .into_iter()
        .filter(|s| pick(s))
        .collect();
    let running: Vec<JoinHandle<Outcome>> = slow.into_iter().map(spawn).collect();
    std::thread::sleep(Duration::from_millis(400));
    let served = serve_normal_clients(&at, &tls);
    let outcomes: Vec<Outcome> = running.into_iter().map(|t| t.join().unwrap()).collect();
    eprintln!("slow connections (closed after, from the first byte):");
    for o in &outcomes {
        eprintln!(
            "  {:<24} timer {:>5?}  {:?}",
            o.name, o.timer, o.closed_after
        );
    }
    eprintln!("normal clients (answered after): {served:?}");

    let bad: Vec<String> = outcomes.iter().filter_map(judge).collect();
    assert!(
        bad.is_empty(),
        "slow connections not cut by their timer:\n{}",
        bad.join("\n")
    );
    for (name, took) in &served {
        assert!(*took < SERVED, "{name}: a normal client waited {took:?}");
    }
    assert!(started.elapsed() < Duration::from_secs(40), "bounded");
    assert!(lb.is_running(), "the balancer survived");
    lb.stop();
}

/// Every listener on a fresh port, short timers, TLS from `ssl`.
fn config(ssl: String) -> (LbConfig, Listeners) {
    let mut cfg = LbConfig::two_legs();
    let p = |_: ()| Some(free_port());
    (cfg.external_tcp, cfg.external_tls) = (p(()), p(()));
    (cfg.external_ws, cfg.external_wss) = (p(()), p(()));
    (cfg.internal_tcp, cfg.internal_tls) = (p(()), p(()));
    (cfg.internal_ws, cfg.internal_wss) = (p(()), p(()));
    cfg.heartbeat_port = p(());
    cfg.statistic_port = p(());
    let ms = STREAM_TIMEOUT.as_millis();
    cfg.sip_extra = format!("  streams: {{ messageTimeout: {ms}, idleTimeout: 60000 }}\n");
    let (smpp, smsc) = (free_port(), free_port());
    cfg.extra_yaml = format!(
        "{ssl}smpp: {{ smppPort: {smpp}, remoteServers: [\"127.0.0.1:{smsc}\"], \
         timeoutConnection: {ms} }}\n"
    );
    let port = |p: Option<u16>| local(p.unwrap());
    let sip = vec![
        (Kind::Tcp, "ext", port(cfg.external_tcp)),
        (Kind::Tls, "ext", port(cfg.external_tls)),
        (Kind::Ws, "ext", port(cfg.external_ws)),
        (Kind::Wss, "ext", port(cfg.external_wss)),
        (Kind::Tcp, "int", port(cfg.internal_tcp)),
        (Kind::Tls, "int", port(cfg.internal_tls)),
        (Kind::Ws, "int", port(cfg.internal_ws)),
        (Kind::Wss, "int", port(cfg.internal_wss)),
    ];
    let at = Listeners {
        sip,
        smpp: local(smpp),
        heartbeat: port(cfg.heartbeat_port),
        admin: port(cfg.statistic_port),
    };
    (cfg, at)
}

// === the slow connections ===

fn slow_connections(at: &Listeners, tls: &Arc<ClientConfig>) -> Vec<Slow> {
    let mut v = Vec::new();
    for &(kind, leg, addr) in &at.sip {
        v.extend(sip_slow(kind, leg, addr, tls));
    }
    let (smpp, hb, admin) = (at.smpp, at.heartbeat, at.admin);
    v.push(slow("smpp bind", STREAM_TIMEOUT, move || {
        Ok((Raw::connect(smpp)?, bind_pdu("slow", "pw")))
    }));
    let body = r#"{"heartbeat":{"ip":"127.0.0.1","port":"5060"}}"#;
    let post = format!(
        "POST / HTTP/1.1\r\nHost: lb\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let head_len = post.find("\r\n\r\n").unwrap_or(0) + 4;
    let bytes = post.into_bytes();
    let whole = bytes.clone();
    v.push(slow("heartbeat POST", HTTP_TIMEOUT, move || {
        Ok((Raw::connect(hb)?, whole))
    }));
    // The head completes 4 s in, then the body trickles: the 5 s count
    // from the first byte, not from the end of the head.
    v.push(Slow {
        at_once: head_len - 5,
        ..slow("heartbeat POST body", HTTP_TIMEOUT, move || {
            Ok((Raw::connect(hb)?, bytes))
        })
    });
    v.push(slow("admin GET", HTTP_TIMEOUT, move || {
        let head = b"GET /lbstat HTTP/1.1\r\nHost: lb\r\nUser-Agent: slowloris\r\n\r\n";
        Ok((Raw::connect(admin)?, head.to_vec()))
    }));
    v
}

/// The slow connections of one SIP listener: each handshake it has
/// trickled, and a SIP message trickled once the handshakes are done.
fn sip_slow(kind: Kind, leg: &str, addr: SocketAddr, tls: &Arc<ClientConfig>) -> Vec<Slow> {
    let name = |what: &str| format!("{} {leg} {what}", kind.uri());
    let sip = options(kind, addr);
    let mut v = Vec::new();
    if kind.tls() {
        let cfg = Arc::clone(tls);
        v.push(slow(&name("tls hello"), STREAM_TIMEOUT, move || {
            Ok((Raw::connect(addr)?, hello(cfg, addr)?))
        }));
    }
    if kind == Kind::Ws {
        v.push(slow(&name("ws upgrade"), STREAM_TIMEOUT, move || {
            Ok((Raw::connect(addr)?, upgrade_head(addr)))
        }));
    }
    if kind == Kind::Wss {
        let cfg = Arc::clone(tls);
        v.push(slow(&name("ws upgrade"), STREAM_TIMEOUT, move || {
            let s = SipStream::connect(Kind::Tls, addr, Some(cfg))?;
            Ok((Box::new(s) as Box<dyn Wire>, upgrade_head(addr)))
        }));
    }
    if kind == Kind::Tls {
        // The bytes of one TLS record carrying the whole message, one a
        // second: nothing decrypts until the record is complete.
        let (cfg, msg) = (Arc::clone(tls), sip.clone());
        v.push(Slow {
            in_layer: true,
            ..slow(&name("record"), STREAM_TIMEOUT, move || {
                tls_record(cfg, addr, &msg)
            })
        });
    }
    let cfg = Arc::clone(tls);
    v.push(Slow {
        // Over WebSocket, the raw bytes of one frame; over TLS each byte
        // becomes a record of its own.
        in_layer: kind.ws(),
        ..slow(&name("message"), STREAM_TIMEOUT, move || {
            let tls = kind.tls().then_some(cfg);
            let mut s = SipStream::connect(kind, addr, tls)?;
            let bytes = if kind.ws() {
                s.ws_frame(1, true, &sip)
            } else {
                sip
            };
            Ok((Box::new(s) as Box<dyn Wire>, bytes))
        })
    });
    v
}

fn slow(name: &str, timer: Duration, open: impl FnOnce() -> Opened + Send + 'static) -> Slow {
    Slow {
        name: name.to_string(),
        timer,
        at_once: 0,
        in_layer: false,
        open: Box::new(open),
    }
}

fn spawn(s: Slow) -> JoinHandle<Outcome> {
    std::thread::spawn(move || {
        let at_once = s.at_once;
        let closed_after =
            (s.open)().and_then(|(mut wire, bytes)| trickle(&mut *wire, &bytes, at_once));
        Outcome {
            name: s.name,
            timer: s.timer,
            closed_after,
        }
    })
}

/// Writes the first `at_once` bytes, then the rest one a second, until
/// the peer closes (Ok: when, from the first byte) or [`GIVE_UP`] passes.
fn trickle(wire: &mut dyn Wire, bytes: &[u8], at_once: usize) -> Result<Duration, String> {
    let start = Instant::now();
    let (first, rest) = bytes.split_at(at_once.min(bytes.len()));
    if !first.is_empty() {
        wire.put(first)?;
    }
    for (i, b) in rest.iter().enumerate() {
        if wire.put(std::slice::from_ref(b)).is_err() || wire.closed_within(PACE) {
            return Ok(start.elapsed());
        }
        if start.elapsed() > GIVE_UP {
            return Err(format!(
                "still open after {i} bytes in {:?}",
                start.elapsed()
            ));
        }
    }
    Err(format!("all {} bytes went through", bytes.len()))
}

/// Why an outcome is wrong, if it is.
fn judge(o: &Outcome) -> Option<String> {
    match &o.closed_after {
        Err(e) => Some(format!("{}: {e}", o.name)),
        Ok(t) if *t + EARLY < o.timer => Some(format!(
            "{}: closed after {t:?}, before its {:?} timer",
            o.name, o.timer
        )),
        Ok(t) if *t > o.timer + LATE => Some(format!(
            "{}: closed only after {t:?} ({:?} timer)",
            o.name, o.timer
        )),
        Ok(_) => None,
    }
}

// === the normal clients ===

/// One well-behaved client per listener while the slow ones trickle:
/// (listener, how long its answer took).
fn serve_normal_clients(at: &Listeners, tls: &Arc<ClientConfig>) -> Vec<(String, Duration)> {
    let mut served = Vec::new();
    for &(kind, leg, addr) in &at.sip {
        let t = Instant::now();
        let tls = kind.tls().then(|| Arc::clone(tls));
        let mut s = SipStream::connect(kind, addr, tls)
            .unwrap_or_else(|e| panic!("{} {leg}: {e}", kind.uri()));
        if leg == "ext" {
            // No node: the balancer answers 503 itself.
            s.send(&options(kind, addr));
            let m = s.expect_status(503, SERVED * 2);
            assert!(m.call_id().is_some_and(|c| c.starts_with("slowloris-")));
        } else {
            // A request from the node side would be routed out; a
            // keep-alive is answered on any leg.
            assert!(s.keepalive(SERVED * 2), "{} {leg}: no pong", kind.uri());
        }
        served.push((format!("{} {leg}", kind.uri()), t.elapsed()));
    }
    served.push(("smpp".into(), timed(|| smpp_nack(at.smpp))));
    served.push((
        "admin".into(),
        timed(|| assert_eq!(get(at.admin, "/lbstat").status, 200)),
    ));
    served.push((
        "heartbeat".into(),
        timed(|| JsonNode::new(at.heartbeat, "normal", free_port(), 0, "s1").start()),
    ));
    served
}

fn timed(f: impl FnOnce()) -> Duration {
    let t = Instant::now();
    f();
    t.elapsed()
}

/// An unknown command before any bind gets `generic_nack` at once.
fn smpp_nack(addr: SocketAddr) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect smpp");
    s.set_read_timeout(Some(SERVED * 2)).ok();
    s.write_all(&[0, 0, 0, 16, 0, 0, 0, 0xff, 0, 0, 0, 0, 0, 0, 0, 9])
        .expect("send");
    let mut resp = [0u8; 16];
    s.read_exact(&mut resp).expect("generic_nack");
    assert!(generic_nack_of(&resp, 9), "{resp:?}");
}

/// An OPTIONS as a UA on `kind` to the listener at `addr` writes it.
fn options(kind: Kind, addr: SocketAddr) -> Vec<u8> {
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let cid = format!("slowloris-{n}@127.0.0.1");
    let mut r = Req::new("OPTIONS", &format!("sip:bob@{addr}"), addr, &cid, "");
    r.vias = vec![format!(
        "SIP/2.0/{} client{n}.invalid;branch=z9hG4bKslow{n}",
        kind.via()
    )];
    r.to_bytes()
}

static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
