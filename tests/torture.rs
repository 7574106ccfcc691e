//! RFC 4475 torture messages through the real sans-IO proxy.
//!
//! Every `tests/fixtures/rfc4475/*.dat` is fed to a fresh [`Proxy`] (default
//! configuration: two entry points, one live node) as a datagram from a
//! client on the external leg. The outcome — forwarded to the node, answered
//! by the balancer with a status, or dropped — and the counters are compared
//! with the table in `tests/fixtures/rfc4475/README.md`, which is the single
//! list of expectations: column *balancer* is the right outcome, column
//! *today* (when filled) is a known deviation, asserted as such so that a fix
//! makes this test fail until the row is updated.
//!
//! Forwarded requests are checked for correct header handling: they parse,
//! carry our two Vias above the client's (with `received`), keep Call-ID,
//! Request-URI and body byte for byte, decrement (or add) Max-Forwards, and
//! end where the message ends (trailing octets of the datagram are not part
//! of the message, RFC 3261 §18.3). The valid responses are also replayed as
//! if they came back from the node through our Vias.
//!
//! `TORTURE_DUMP=1 cargo test --test torture rfc4475_outcomes -- --nocapture`
//! prints every datagram the proxy sent.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use sip_balancer::config::Config;
use sip_balancer::registry::{Node, NodeId, NodeSet, NodeSource, NodeState};
use sip_balancer::sip::headers;
use sip_balancer::sip::message::{HeaderName, Message, StartLine};
use sip_balancer::sip::proxy::{Datagram, LegId, Output, Proxy};
use sip_balancer::stats::SipCounters;

const CLIENT: &str = "127.0.0.1:5033";
const NODE: &str = "127.0.0.1:4060";

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rfc4475")
}

/// One row of the README table.
#[derive(Debug)]
struct Row {
    section: String,
    expect: String,
    today: Option<String>,
}

/// Rows of the expectations table: `| name | § | RFC 4475 | balancer | today | why |`.
fn table() -> BTreeMap<String, Row> {
    let text = std::fs::read_to_string(dir().join("README.md")).unwrap();
    let mut rows = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        assert!(cells.len() >= 7, "malformed table row: {line}");
        let name = cells[1].trim_matches('`').to_owned();
        let today = Some(cells[5].trim_matches('*'))
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        let row = Row {
            section: cells[2].to_owned(),
            expect: cells[4].to_owned(),
            today,
        };
        assert!(rows.insert(name.clone(), row).is_none(), "{name} twice");
    }
    rows
}

fn fixtures() -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "dat") {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            out.insert(name, std::fs::read(&path).unwrap());
        }
    }
    out
}

fn node_set() -> Arc<NodeSet> {
    let a: SocketAddr = NODE.parse().unwrap();
    let node = Node::new(
        NodeId(1),
        a.ip(),
        a.port(),
        NodeSource::Heartbeat,
        NodeState::Up,
    );
    Arc::new(NodeSet::new(1, vec![node], 0))
}

/// What one datagram produced.
struct Run {
    sent: Vec<(LegId, SocketAddr, Vec<u8>)>,
    counters: SipCounters,
}

fn run(bytes: &[u8], leg: LegId, src: &str) -> Run {
    let now = Instant::now();
    let mut proxy = Proxy::new(&Config::embedded_default(), 0, 1, now);
    proxy.set_nodes(node_set());
    let mut out = Output::default();
    proxy.handle(
        Datagram::udp(bytes, src.parse().unwrap(), leg),
        now,
        &mut out,
    );
    let sent = out
        .transmits
        .iter()
        .map(|t| (t.leg, t.dst, out.buf[t.range.clone()].to_vec()))
        .collect();
    Run {
        sent,
        counters: proxy.counters().clone(),
    }
}

fn status(bytes: &[u8]) -> Option<u16> {
    let line = bytes.strip_prefix(b"SIP/2.0 ")?;
    std::str::from_utf8(line.get(..3)?).ok()?.parse().ok()
}

/// The outcome in the table's words, checking that transmits and counters
/// agree with each other.
fn classify(name: &str, r: &Run) -> String {
    let c = &r.counters;
    let node: SocketAddr = NODE.parse().unwrap();
    let to_node: Vec<_> = r.sent.iter().filter(|(_, dst, _)| *dst == node).collect();
    if !to_node.is_empty() {
        assert_eq!(to_node.len(), 1, "{name}: sent twice to the node");
        assert_eq!(c.requests_forwarded, 1, "{name}: {c:?}");
        assert_eq!(c.malformed, 0, "{name}: {c:?}");
        let replies = r.sent.len() as u64 - 1;
        assert_eq!(c.replies_sent, replies, "{name}: {c:?}");
        return "forward".into();
    }
    assert_eq!(
        c.requests_forwarded + c.responses_forwarded,
        0,
        "{name}: {c:?}"
    );
    match r.sent.as_slice() {
        [] => {
            assert_eq!(c.replies_sent, 0, "{name}: {c:?}");
            let why = [
                (c.malformed, "malformed"),
                (c.stray_responses, "stray"),
                (c.dropped, "dropped"),
                (c.loops, "loop"),
            ];
            let hit: Vec<_> = why.iter().filter(|(n, _)| *n > 0).collect();
            assert_eq!(hit.len(), 1, "{name}: a drop counts once: {c:?}");
            assert_eq!(hit[0].0, 1, "{name}: {c:?}");
            format!("drop ({})", hit[0].1)
        }
        [(leg, dst, reply)] => {
            assert_eq!(*leg, LegId::External, "{name}");
            assert_eq!(dst.ip().to_string(), "127.0.0.1", "{name}");
            assert_eq!(c.replies_sent, 1, "{name}: {c:?}");
            let code = status(reply).unwrap_or_else(|| panic!("{name}: not a response"));
            match code {
                400 => assert!(reply.starts_with(b"SIP/2.0 400 Bad Request\r\n")),
                483 => {
                    assert!(reply.starts_with(b"SIP/2.0 483 Too Many Hops\r\n"));
                    assert_eq!(c.too_many_hops, 1, "{name}: {c:?}");
                }
                420 => {
                    assert!(reply.starts_with(b"SIP/2.0 420 Bad Extension\r\n"));
                    let text = String::from_utf8_lossy(reply);
                    assert!(
                        text.contains("\r\nUnsupported: "),
                        "{name}: 420 lists the tags: {text}"
                    );
                }
                505 => assert!(reply.starts_with(b"SIP/2.0 505 Version Not Supported\r\n")),
                _ => {}
            }
            if c.malformed == 1 {
                format!("{code} (malformed)")
            } else {
                assert_eq!(c.malformed, 0, "{name}: {c:?}");
                code.to_string()
            }
        }
        more => panic!("{name}: {} transmits, none to the node", more.len()),
    }
}

/// Raw value of the first header line named `name` (case-insensitive,
/// compact forms not expanded), for comparing original and forwarded bytes.
fn header_value<'a>(msg: &Message<'a>, name: HeaderName) -> Option<&'a [u8]> {
    msg.value(name)
}

/// Header handling of a forwarded request, against the original.
fn check_forwarded(name: &str, original: &[u8], r: &Run) {
    let orig = Message::parse(original).unwrap();
    let node: SocketAddr = NODE.parse().unwrap();
    let (leg, _, fwd) = r.sent.iter().find(|(_, d, _)| *d == node).unwrap();
    assert_eq!(
        *leg,
        LegId::Internal,
        "{name}: towards nodes on the internal leg"
    );
    let msg = Message::parse(fwd)
        .unwrap_or_else(|e| panic!("{name}: forwarded request does not parse: {e:?}"));
    assert_eq!(
        msg.body().end as usize,
        fwd.len(),
        "{name}: bytes after the message"
    );
    assert_eq!(
        msg.slice(msg.body()),
        orig.slice(orig.body()),
        "{name}: body"
    );
    assert_eq!(msg.call_id(), orig.call_id(), "{name}: Call-ID");
    assert_eq!(
        msg.slice(msg.start_line()),
        orig.slice(orig.start_line()),
        "{name}: request line"
    );
    assert_eq!(
        header_value(&msg, HeaderName::CSeq),
        header_value(&orig, HeaderName::CSeq),
        "{name}: CSeq"
    );
    let vias: Vec<_> = msg
        .headers_named(HeaderName::Via)
        .flat_map(|h| headers::vias(fwd, h.value))
        .collect();
    let orig_vias: Vec<_> = orig
        .headers_named(HeaderName::Via)
        .flat_map(|h| headers::vias(original, h.value))
        .collect();
    assert_eq!(vias.len(), orig_vias.len() + 2, "{name}: two Vias pushed");
    for (via, port) in vias.iter().zip([Some(5065), Some(5060)]) {
        assert_eq!((via.host, via.port), (&b"127.0.0.1"[..], port), "{name}");
        assert!(via.branch.unwrap().starts_with(b"z9hG4bK"), "{name}");
    }
    let (top, orig_top) = (&vias[2], &orig_vias[0]);
    assert_eq!(
        (top.host, top.port),
        (orig_top.host, orig_top.port),
        "{name}"
    );
    assert_eq!(top.branch, orig_top.branch, "{name}: client branch kept");
    assert_eq!(top.received, Some(&b"127.0.0.1"[..]), "{name}: received");
    for (a, b) in vias[3..].iter().zip(&orig_vias[1..]) {
        assert_eq!(
            fwd.get(a.span.range()),
            original.get(b.span.range()),
            "{name}"
        );
    }
    let mf = |m: &Message<'_>| {
        m.value(HeaderName::MaxForwards)
            .and_then(headers::max_forwards)
    };
    let want = mf(&orig).map_or(70, |n| n - 1);
    assert_eq!(mf(&msg), Some(want), "{name}: Max-Forwards");
    assert_eq!(
        msg.headers_named(HeaderName::MaxForwards).count(),
        1,
        "{name}"
    );
    // Unknown headers pass through untouched.
    for h in orig
        .headers()
        .iter()
        .filter(|h| h.name == HeaderName::Other)
    {
        let line = orig.slice(h.line);
        assert!(
            fwd.windows(line.len()).any(|w| w == line),
            "{name}: lost {:?}",
            String::from_utf8_lossy(line)
        );
    }
}

/// An INVITE forwarded by the balancer is answered `100 Trying` first.
fn check_trying(name: &str, original: &[u8], r: &Run) {
    let orig = Message::parse(original).unwrap();
    let is_invite = matches!(orig.start(), StartLine::Request { method, .. }
        if method == sip_balancer::sip::message::Method::Invite);
    let tryings: Vec<_> = r
        .sent
        .iter()
        .filter(|(_, _, b)| status(b) == Some(100))
        .collect();
    assert_eq!(tryings.len(), usize::from(is_invite), "{name}: 100 Trying");
    if let Some((_, _, t)) = tryings.first() {
        let t = Message::parse(t).unwrap();
        assert_eq!(t.call_id(), orig.call_id(), "{name}");
    }
}

/// A 400 names the request it answers: same Call-ID and CSeq lines when the
/// request had them, a parseable message when it had every required header.
fn check_bad_request(name: &str, original: &[u8], r: &Run) {
    let (_, _, reply) = &r.sent[0];
    let lines = |b: &[u8]| -> Vec<Vec<u8>> {
        b.split(|&c| c == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l).to_vec())
            .take_while(|l| !l.is_empty())
            .collect()
    };
    let reply_lines = lines(reply);
    for l in lines(original).iter().skip(1) {
        let lower = String::from_utf8_lossy(l).to_ascii_lowercase();
        if lower.starts_with("call-id:") || lower.starts_with("cseq:") {
            assert!(reply_lines.contains(l), "{name}: 400 lacks {lower}");
        }
    }
    assert!(reply.ends_with(b"Content-Length: 0\r\n\r\n"), "{name}");
}

#[test]
fn every_fixture_has_a_row_and_every_row_a_fixture() {
    let rows = table();
    let files = fixtures();
    let missing: Vec<_> = files.keys().filter(|k| !rows.contains_key(*k)).collect();
    let extra: Vec<_> = rows.keys().filter(|k| !files.contains_key(*k)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{missing:?} {extra:?}"
    );
    assert_eq!(files.len(), 49, "RFC 4475 has 49 messages");
}

#[test]
fn rfc4475_outcomes() {
    let rows = table();
    let mut failures = Vec::new();
    let mut report = String::new();
    for (name, bytes) in fixtures() {
        let row = &rows[&name];
        let result = catch_unwind(AssertUnwindSafe(|| {
            let r = run(&bytes, LegId::External, CLIENT);
            if std::env::var_os("TORTURE_DUMP").is_some() {
                for (leg, dst, b) in &r.sent {
                    eprintln!("== {name} → {leg:?} {dst}\n{}", String::from_utf8_lossy(b));
                }
            }
            let got = classify(&name, &r);
            if got == "forward" {
                check_forwarded(&name, &bytes, &r);
                check_trying(&name, &bytes, &r);
            }
            if got.starts_with("400") {
                check_bad_request(&name, &bytes, &r);
            }
            got
        }));
        let got = match result {
            Ok(got) => got,
            Err(e) => {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default();
                failures.push(format!("{name}: {msg}"));
                continue;
            }
        };
        report.push_str(&format!("{name:12} §{:9} {got}\n", row.section));
        match &row.today {
            None if got != row.expect => {
                failures.push(format!("{name}: expected {:?}, got {got:?}", row.expect))
            }
            Some(today) if got != *today => failures.push(format!(
                "{name}: known deviation {today:?} changed to {got:?} (expected {:?}): update README",
                row.expect
            )),
            Some(_) if got == row.expect => {
                failures.push(format!("{name}: deviation fixed, clear the 'today' cell"))
            }
            _ => {}
        }
    }
    eprintln!("{report}");
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// The valid responses, as if they came back from the node through our two
/// Vias: our Vias are popped, the rest goes byte for byte to the next Via.
#[test]
fn valid_responses_come_back_through_our_vias() {
    let cases = [
        ("unreason", "192.0.2.198:5060"),
        ("noreason", "192.0.2.105:5060"),
        ("bcast", "192.0.2.198:5060"),
    ];
    let files = fixtures();
    for (name, next) in cases {
        let original = &files[name];
        let first_line_end = original.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
        let ours = b"Via: SIP/2.0/UDP 127.0.0.1:5065;branch=z9hG4bK00000000000000aazsd_0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK00000000000000aa_0\r\n";
        let mut bytes = original[..first_line_end].to_vec();
        bytes.extend_from_slice(ours);
        bytes.extend_from_slice(&original[first_line_end..]);
        let r = run(&bytes, LegId::Internal, NODE);
        assert_eq!(
            r.counters.responses_forwarded, 1,
            "{name}: {:?}",
            r.counters
        );
        assert_eq!(r.sent.len(), 1, "{name}");
        let (leg, dst, fwd) = &r.sent[0];
        assert_eq!(
            (*leg, dst.to_string().as_str()),
            (LegId::External, next),
            "{name}"
        );
        let msg = Message::parse(original).unwrap();
        assert_eq!(fwd, &original[..msg.body().end as usize], "{name}");
    }
}

/// Every fixture, on either leg and from a node as well as from a client,
/// handed off or not: the proxy never panics and every transmit lies in the
/// output buffer.
#[test]
fn no_fixture_panics_anywhere() {
    for (name, bytes) in fixtures() {
        for (leg, src) in [
            (LegId::External, CLIENT),
            (LegId::Internal, CLIENT),
            (LegId::External, NODE),
            (LegId::Internal, NODE),
        ] {
            for cut in [bytes.len(), bytes.len() / 2, 1] {
                let r = catch_unwind(|| run(&bytes[..cut], leg, src));
                assert!(r.is_ok(), "{name} on {leg:?} from {src}, {cut} bytes");
            }
        }
    }
}
