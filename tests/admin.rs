//! The admin port of a real balancer process: `/lbstat` counts against
//! what SIPp sent and received, `/metrics` through a Prometheus text
//! parser (written here, strict), the log level changed at run time,
//! `/lbstop` (port closed at once, dialogs finish, exit after the drain),
//! `/lbinfo` and the error answers.
//!
//! The balancer is spawned here rather than through `Balancer` because
//! these tests read its stderr while it runs and wait for its own exit.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::balancer::wait_exit;
use common::http::{get, Http};
use common::*;

/// The original's `/lbstat` fields, in its order.
const METRICS_FIELDS: [&str; 19] = [
    "releaseName",
    "releaseVersion",
    "activeNodes",
    "JvmCpuUsage",
    "JvmHeapSize",
    "NumberOfActiveHttpConnections",
    "NumberOfActiveSipConnections",
    "NumberOfActiveSmppConnections",
    "NumberOfBytesTransferred",
    "NumberOfHttpBytesToClient",
    "NumberOfHttpBytesToServer",
    "NumberOfHttpRequests",
    "NumberOfRequestsProcessed",
    "NumberOfResponsesProcessed",
    "NumberOfSmppBytesToClient",
    "NumberOfSmppBytesToServer",
    "NumberOfSmppRequestsToClient",
    "NumberOfSmppRequestsToServer",
    "NumberOfActiveCalls",
];

/// The shards publish counters every 100 ms, latency histograms every
/// second, and wake at least every 50 ms.
const PUBLISH_LAG: Duration = Duration::from_millis(1300);

/// The `/lbstop` drain (the original's `shutdownTimeout` default).
const DRAIN: Duration = Duration::from_secs(10);

// === the balancer with its admin port ===

struct Lb {
    child: Option<Child>,
    lines: Arc<Mutex<Vec<String>>>,
    external: SocketAddr,
    internal: SocketAddr,
    admin: SocketAddr,
    _dir: TempDir,
}

impl Lb {
    /// Starts `cfg` with the admin port on a fresh port; waits for the
    /// listening lines.
    fn start(cfg: &LbConfig) -> Lb {
        let port = free_port();
        let cfg = LbConfig {
            statistic_port: Some(port),
            ..cfg.clone()
        };
        let with_port = cfg.yaml();
        assert!(with_port.contains(&format!("statisticPort: {port}\n")));
        let dir = TempDir::new("admin");
        let path = dir.path.join("lb.yaml");
        std::fs::write(&path, &with_port).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_sip-balancer"))
            .arg("--config")
            .arg(&path)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { return };
                eprintln!("[lb] {line}");
                sink.lock().unwrap().push(line);
            }
        });
        let mut lb = Lb {
            child: Some(child),
            lines,
            external: local(cfg.external),
            internal: local(cfg.internal.unwrap_or(cfg.external)),
            admin: local(port),
            _dir: dir,
        };
        let wanted = ["listening admin/http", "listening sip/udp external"];
        for w in wanted {
            if lb
                .wait_line(0, |l| l.contains(w), Duration::from_secs(15))
                .is_none()
            {
                let status = lb.child.as_mut().and_then(|c| c.try_wait().ok().flatten());
                let _ = lb.child.as_mut().map(Child::kill);
                let log = lb.lines.lock().unwrap().join("\n");
                panic!("balancer did not log `{w}` (exit: {status:?}); config:\n{with_port}\nstderr:\n{log}");
            }
        }
        lb
    }

    /// Lines logged so far.
    fn mark(&self) -> usize {
        self.lines.lock().unwrap().len()
    }

    /// The first line from index `from` on matching `pred`, waiting up to `dur`.
    fn wait_line(&self, from: usize, pred: impl Fn(&str) -> bool, dur: Duration) -> Option<String> {
        let deadline = Instant::now() + dur;
        loop {
            if let Some(l) = self
                .lines
                .lock()
                .unwrap()
                .iter()
                .skip(from)
                .find(|l| pred(l))
            {
                return Some(l.clone());
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn get(&self, target: &str) -> Http {
        get(self.admin, target)
    }

    /// `/lbstat` as JSON (asserting the status and content type).
    fn lbstat(&self) -> (serde_json::Value, String) {
        let r = self.get("/lbstat");
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(r.header("content-type"), Some("application/json"));
        let v: serde_json::Value = serde_json::from_str(&r.body).expect("lbstat is JSON");
        (v, r.body)
    }

    fn wait_exit(&mut self, dur: Duration) -> Option<ExitStatus> {
        wait_exit(self.child.as_mut().unwrap(), dur)
    }

    fn stop(mut self) {
        let mut child = self.child.take().unwrap();
        common::balancer::sigterm(child.id());
        let status = wait_exit(&mut child, Duration::from_secs(3)).expect("exit after SIGTERM");
        assert!(status.success(), "{status}");
    }
}

impl Drop for Lb {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

// === SIPp traces ===

/// Start lines of the messages in a `-trace_msg` file that SIPp received.
fn received_start_lines(trace: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut lines = trace.lines();
    while let Some(l) = lines.next() {
        if l.contains("message received") {
            if let Some(start) = lines.by_ref().find(|l| !l.trim().is_empty()) {
                out.push(start.trim().to_string());
            }
        }
    }
    out
}

fn count(lines: &[String], pred: impl Fn(&str) -> bool) -> u64 {
    lines.iter().filter(|l| pred(l)).count() as u64
}

// === a Prometheus text-format parser ===

#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

#[derive(Debug, Default)]
struct Exposition {
    types: BTreeMap<String, String>,
    samples: Vec<Sample>,
}

impl Exposition {
    /// The value of `name{labels}` (labels as `k=v` pairs).
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let want: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.samples
            .iter()
            .find(|s| s.name == name && s.labels == want)
            .map(|s| s.value)
    }
}

fn is_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_label_name(s: &str) -> bool {
    is_metric_name(s) && !s.contains(':')
}

fn parse_value(s: &str) -> Result<f64, String> {
    match s {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => s.parse().map_err(|_| format!("bad value {s:?}")),
    }
}

/// `{a="1",b="x\"y"}` → labels; returns the rest of the line.
fn parse_labels(s: &str) -> Result<(BTreeMap<String, String>, &str), String> {
    let mut labels = BTreeMap::new();
    let mut rest = s.strip_prefix('{').ok_or("no {")?;
    loop {
        rest = rest.trim_start();
        if let Some(r) = rest.strip_prefix('}') {
            return Ok((labels, r));
        }
        let (name, r) = rest.split_once('=').ok_or("label without =")?;
        if !is_label_name(name) {
            return Err(format!("bad label name {name:?}"));
        }
        let mut r = r.strip_prefix('"').ok_or("label value not quoted")?.chars();
        let mut value = String::new();
        loop {
            match r.next().ok_or("unterminated label value")? {
                '"' => break,
                '\\' => match r.next().ok_or("dangling escape")? {
                    'n' => value.push('\n'),
                    c @ ('\\' | '"') => value.push(c),
                    c => return Err(format!("bad escape \\{c}")),
                },
                c => value.push(c),
            }
        }
        if labels.insert(name.to_string(), value).is_some() {
            return Err(format!("label {name} twice"));
        }
        rest = r.as_str();
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
}

/// The family a sample name belongs to, given the declared types.
fn family_of<'a>(name: &'a str, types: &BTreeMap<String, String>) -> Option<&'a str> {
    if types.contains_key(name) {
        return Some(name);
    }
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix) {
            match types.get(base).map(String::as_str) {
                Some("histogram") => return Some(base),
                Some("summary") if suffix != "_bucket" => return Some(base),
                _ => {}
            }
        }
    }
    None
}

/// Parses the text format 0.0.4 strictly: TYPE before samples and at most
/// once, known types, valid names and labels, no duplicate series, every
/// sample in a declared family, histogram buckets cumulative and ending
/// in `+Inf` = `_count`.
fn parse_prometheus(text: &str) -> Result<Exposition, String> {
    let mut e = Exposition::default();
    let mut seen_samples_of: Vec<String> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let at = |m: String| format!("line {}: {m}: {line:?}", n + 1);
        if line.trim().is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            match (parts.next(), parts.next(), parts.next()) {
                (Some("TYPE"), Some(name), Some(kind)) => {
                    if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
                        return Err(at(format!("unknown type {kind}")));
                    }
                    if seen_samples_of.iter().any(|s| s == name) {
                        return Err(at("TYPE after samples".into()));
                    }
                    if e.types.insert(name.to_string(), kind.to_string()).is_some() {
                        return Err(at("TYPE twice".into()));
                    }
                }
                (Some("HELP"), Some(name), _) if is_metric_name(name) => {}
                _ => return Err(at("bad comment".into())),
            }
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let name_end = line.find(['{', ' ']).ok_or_else(|| at("no value".into()))?;
        let name = &line[..name_end];
        if !is_metric_name(name) {
            return Err(at("bad metric name".into()));
        }
        let (labels, rest) = if line[name_end..].starts_with('{') {
            parse_labels(&line[name_end..]).map_err(at)?
        } else {
            (BTreeMap::new(), &line[name_end..])
        };
        let mut fields = rest.split_whitespace();
        let value = parse_value(fields.next().ok_or_else(|| at("no value".into()))?).map_err(at)?;
        if let Some(ts) = fields.next() {
            ts.parse::<i64>().map_err(|_| at("bad timestamp".into()))?;
        }
        if fields.next().is_some() {
            return Err(at("trailing text".into()));
        }
        let family =
            family_of(name, &e.types).ok_or_else(|| at("sample of no declared family".into()))?;
        seen_samples_of.push(family.to_string());
        let s = Sample {
            name: name.to_string(),
            labels,
            value,
        };
        if e.samples
            .iter()
            .any(|o| o.name == s.name && o.labels == s.labels)
        {
            return Err(at("duplicate series".into()));
        }
        e.samples.push(s);
    }
    check_histograms(&e)?;
    Ok(e)
}

/// A series' labels without `le`, sorted.
type Labels = Vec<(String, String)>;

fn check_histograms(e: &Exposition) -> Result<(), String> {
    for (family, _) in e.types.iter().filter(|(_, k)| *k == "histogram") {
        let bucket = format!("{family}_bucket");
        let mut series: BTreeMap<Labels, Vec<(f64, f64)>> = BTreeMap::new();
        for s in e.samples.iter().filter(|s| s.name == bucket) {
            let le = s.labels.get("le").ok_or(format!("{bucket} without le"))?;
            let le = parse_value(le)?;
            let key: Vec<_> = s
                .labels
                .iter()
                .filter(|(k, _)| *k != "le")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            series.entry(key).or_default().push((le, s.value));
        }
        if series.is_empty() {
            return Err(format!("histogram {family} has no buckets"));
        }
        for (key, mut buckets) in series {
            buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
            if buckets.windows(2).any(|w| w[1].1 < w[0].1) {
                return Err(format!("{family}{key:?}: buckets not cumulative"));
            }
            let (last_le, last) = *buckets.last().unwrap();
            if last_le != f64::INFINITY {
                return Err(format!("{family}{key:?}: no +Inf bucket"));
            }
            let labels: Vec<(&str, &str)> =
                key.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let count = e
                .value(&format!("{family}_count"), &labels)
                .ok_or(format!("{family}: no _count"))?;
            e.value(&format!("{family}_sum"), &labels)
                .ok_or(format!("{family}: no _sum"))?;
            if count != last {
                return Err(format!("{family}: +Inf bucket {last} != count {count}"));
            }
        }
    }
    Ok(())
}

#[test]
fn the_test_parser_refuses_broken_expositions() {
    let good = "# HELP a_total x\n# TYPE a_total counter\na_total 3\n\
                # TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n";
    let e = parse_prometheus(good).unwrap();
    assert_eq!(e.value("a_total", &[]), Some(3.0));
    for bad in [
        "a_total 3\n",                               // no family
        "# TYPE a counter\na{x=\"1} 3\n",            // unterminated
        "# TYPE a counter\na 3\na 4\n",              // duplicate
        "# TYPE a counter\na x\n",                   // value
        "# TYPE a counter\na 1\n# TYPE a counter\n", // TYPE twice
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n", // no +Inf
        "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 1\n", // count
        "# TYPE a gauge\n9a 1\n",                                         // name
    ] {
        assert!(parse_prometheus(bad).is_err(), "accepted:\n{bad}");
    }
}

// === tests ===

/// One SIPp UAS node announced by heartbeats, behind a fresh balancer.
struct SippRig {
    lb: Lb,
    uas: Sipp,
    _hb: Heartbeater,
    _heavy: HeavyGuard,
}

fn sipp_rig() -> SippRig {
    assert!(
        common::sipp::sipp_available(),
        "sipp not installed (run .ci/run)"
    );
    let heavy = HeavyGuard::take();
    let port = free_port();
    let uas = Sipp::uas("uas", port);
    let lb = Lb::start(&LbConfig::two_legs());
    let hb = Heartbeater::start(lb.internal, port, Duration::from_millis(200));
    assert!(
        hb.wait_registered(Duration::from_secs(5)),
        "node registered"
    );
    SippRig {
        lb,
        uas,
        _hb: hb,
        _heavy: heavy,
    }
}

#[test]
fn lbstat_and_metrics_count_what_sipp_sent() {
    const CALLS: u32 = 300;
    let SippRig {
        lb,
        mut uas,
        _hb,
        _heavy,
    } = sipp_rig();
    let (before, _) = lb.lbstat();
    assert_eq!(before["Metrics"]["NumberOfRequestsProcessed"], 0);
    assert_eq!(before["Metrics"]["activeNodes"], 1);

    let mut uac = Sipp::uac("uac", &lb.external.to_string(), CALLS, 100, 60);
    let code = uac.wait(Duration::from_secs(90));
    assert_eq!(code, Some(0), "uac: {:?}", uac.stats());
    assert_eq!(uac.stats().successful, u64::from(CALLS));
    std::thread::sleep(PUBLISH_LAG);
    let (stat, raw) = lb.lbstat();
    uas.quit();

    // Field names and order of the original.
    let positions: Vec<usize> = METRICS_FIELDS
        .iter()
        .map(|f| {
            raw.find(&format!("\"{f}\":"))
                .unwrap_or_else(|| panic!("{f} missing in {raw}"))
        })
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "order: {raw}");
    let m = &stat["Metrics"];
    let n = |f: &str| {
        m[f].as_u64()
            .unwrap_or_else(|| panic!("{f} not a number: {raw}"))
    };

    // What went through: every request the UAS got and every response the
    // UAC got, except the balancer's own 100 Trying.
    let at_uas = received_start_lines(&uas.read("messages.log"));
    let at_uac = received_start_lines(&uac.read("messages.log"));
    let requests = count(&at_uas, |l| !l.starts_with("SIP/2.0"));
    let responses = count(&at_uac, |l| {
        l.starts_with("SIP/2.0") && !l.starts_with("SIP/2.0 100")
    });
    let calls = u64::from(CALLS);
    assert!(requests >= 3 * calls, "UAS got {requests} requests");
    assert_eq!(count(&at_uas, |l| l.starts_with("INVITE ")), calls);
    assert!(responses >= 3 * calls, "UAC got {responses} responses");
    assert_eq!(n("NumberOfRequestsProcessed"), requests, "{raw}");
    assert_eq!(n("NumberOfResponsesProcessed"), responses, "{raw}");
    assert_eq!(
        n("NumberOfBytesTransferred"),
        0,
        "the scenarios carry no bodies"
    );
    assert_eq!(n("activeNodes"), 1);
    assert_eq!(n("NumberOfActiveSipConnections"), 2, "two UDP listeners");
    assert_eq!(n("NumberOfActiveHttpConnections"), 0);
    assert!(n("NumberOfActiveCalls") <= calls);
    assert!(n("JvmCpuUsage") <= 100);
    assert!(n("JvmHeapSize") > 1 << 20, "RSS {}", n("JvmHeapSize"));
    assert_eq!(m["releaseName"], "sip-balancer");
    assert_eq!(m["releaseVersion"], env!("CARGO_PKG_VERSION"));

    // /metrics: parses, agrees with /lbstat, carries the latency histograms.
    let r = lb.get("/metrics");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let e = parse_prometheus(&r.body).unwrap_or_else(|err| panic!("{err}\n{}", r.body));
    let v = |name: &str| e.value(name, &[]).unwrap_or_else(|| panic!("no {name}"));
    assert_eq!(
        v("sip_balancer_sip_requests_forwarded_total"),
        requests as f64
    );
    assert_eq!(
        v("sip_balancer_sip_responses_forwarded_total"),
        responses as f64
    );
    assert_eq!(e.types["sip_balancer_proxy_seconds"], "histogram");
    assert_eq!(e.types["sip_balancer_receive_wait_seconds"], "histogram");
    // One message in 8 is timed, weighted by 8: the count is the total
    // rounded down to a multiple of 8 per shard.
    let handled = v("sip_balancer_proxy_seconds_count");
    assert!(
        handled + 16.0 >= (requests + responses) as f64,
        "{handled} messages timed, {} forwarded",
        requests + responses
    );
    assert!(v("sip_balancer_proxy_seconds_sum") > 0.0);
    let p99 = e
        .value(
            "sip_balancer_proxy_quantile_seconds",
            &[("shard", "0"), ("quantile", "0.99")],
        )
        .expect("shard 0 p99");
    assert!(p99 > 0.0 && p99 < 0.1, "p99 {p99}");
    assert_eq!(v("sip_balancer_active_nodes"), 1.0);
    assert!(v("process_resident_memory_bytes") > f64::from(1 << 20));
    lb.stop();
}

/// Needs `SipCounters::count_request`/`count_response` called by the proxy
/// next to `requests_forwarded += 1` / `responses_forwarded += 1` (in
/// src/sip, not wired yet).
#[test]
fn lbstat_counts_requests_by_method_and_responses_by_class() {
    const CALLS: u32 = 50;
    let SippRig {
        lb,
        mut uas,
        _hb,
        _heavy,
    } = sipp_rig();
    let mut uac = Sipp::uac("uac", &lb.external.to_string(), CALLS, 50, 30);
    assert_eq!(uac.wait(Duration::from_secs(60)), Some(0));
    std::thread::sleep(PUBLISH_LAG);
    let (stat, raw) = lb.lbstat();
    uas.quit();
    let at_uas = received_start_lines(&uas.read("messages.log"));
    let at_uac = received_start_lines(&uac.read("messages.log"));
    let by_method = &stat["Metrics"]["NumberOfRequestsProcessedByMethod"];
    for method in ["INVITE", "ACK", "BYE"] {
        let want = count(&at_uas, |l| l.starts_with(&format!("{method} ")));
        assert_eq!(by_method[method], want, "{method}: {raw}");
    }
    let by_class = &stat["Metrics"]["NumberOfResponsesProcessedByStatusCode"];
    let want_2xx = count(&at_uac, |l| l.starts_with("SIP/2.0 2"));
    assert_eq!(by_class["2XX"], want_2xx, "{raw}");
    lb.stop();
}

#[test]
fn body_bytes_and_lbinfo() {
    let lb = Lb::start(&LbConfig::two_legs());
    let node = FakeNode::new();
    let hb = Heartbeater::start(lb.internal, node.addr().port(), Duration::from_millis(100));
    assert!(hb.wait_registered(Duration::from_secs(3)));

    // /lbinfo: the node, as the original's Node JSON.
    let r = lb.get("/lbinfo");
    assert_eq!(r.status, 200, "{r:?}");
    let info: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    let v4 = info["Nodes info"]["nodesIPv4"]
        .as_array()
        .expect("nodesIPv4");
    assert_eq!(v4.len(), 1, "{}", r.body);
    let port = node.addr().port();
    assert_eq!(v4[0]["hostName"], format!("node{port}"));
    assert_eq!(v4[0]["ip"], "127.0.0.1");
    assert_eq!(v4[0]["properties"]["udpPort"], port.to_string());
    assert_eq!(v4[0]["gracefulShutdown"], false);
    assert_eq!(info["Nodes info"]["nodesIPv6"], serde_json::json!([]));
    assert_eq!(
        info["Nodes info"]["smppRemoteServers"],
        serde_json::json!([])
    );

    // A request with a 21-byte body and its response with a 7-byte body.
    let client = UdpPeer::new();
    let req = Req::new(
        "MESSAGE",
        "sip:bob@127.0.0.1",
        client.addr,
        "bytes-1",
        "z9hG4bKbytes1",
    )
    .body("twenty-one bytes body");
    client.send(&req.to_bytes(), lb.external);
    let (m, from) = node.must_get(Duration::from_secs(2), "the MESSAGE");
    assert_eq!(m.body(), "twenty-one bytes body");
    let mut ok = reply(&m, 200, "OK", "t1");
    let at = ok
        .windows(18)
        .position(|w| w == b"Content-Length: 0\r")
        .unwrap();
    ok.truncate(at);
    ok.extend_from_slice(b"Content-Length: 7\r\n\r\nsevenb.");
    node.peer.send(&ok, from);
    client
        .recv_status(200, Duration::from_secs(2))
        .expect("the 200");
    std::thread::sleep(PUBLISH_LAG);
    let (stat, raw) = lb.lbstat();
    let m = &stat["Metrics"];
    assert_eq!(m["NumberOfRequestsProcessed"], 1, "{raw}");
    assert_eq!(m["NumberOfResponsesProcessed"], 1, "{raw}");
    assert_eq!(m["NumberOfBytesTransferred"], 28, "{raw}");
    drop(hb);
    lb.stop();
}

#[test]
fn log_level_changes_without_restart() {
    let lb = Lb::start(&LbConfig::two_legs());
    let is_admin_debug = |l: &str| l.contains("DEBUG") && l.contains("admin: 127.0.0.1:");
    // info: a request leaves no debug line.
    let mark = lb.mark();
    assert_eq!(lb.get("/lbstat").status, 200);
    assert!(
        lb.wait_line(mark, is_admin_debug, Duration::from_millis(500))
            .is_none(),
        "debug line at info level"
    );

    let r = lb.get("/lbloglevel?logLevel=DEBUG");
    assert_eq!((r.status, r.body.as_str()), (200, "Log level changed"));
    let mark = lb.mark();
    assert_eq!(lb.get("/lbinfo").status, 200);
    let line = lb.wait_line(mark, is_admin_debug, Duration::from_secs(2));
    assert!(
        line.is_some_and(|l| l.contains("/lbinfo")),
        "no debug line after DEBUG"
    );
    // Other threads too: a heartbeat makes shard 0 publish a snapshot.
    let mark = lb.mark();
    let node = FakeNode::new();
    let hb = Heartbeater::start(lb.internal, node.addr().port(), Duration::from_millis(100));
    assert!(
        lb.wait_line(
            mark,
            |l| l.contains("DEBUG") && l.contains("registry: publishing generation"),
            Duration::from_secs(3)
        )
        .is_some(),
        "no debug line from the registry on shard 0"
    );
    drop(hb);

    let r = lb.get("/lbloglevel?logLevel=warn");
    assert_eq!(r.status, 200);
    let mark = lb.mark();
    assert_eq!(lb.get("/lbstat").status, 200);
    assert!(lb
        .wait_line(mark, is_admin_debug, Duration::from_millis(500))
        .is_none());

    let r = lb.get("/lbloglevel?logLevel=loud");
    assert_eq!(r.status, 400, "{r:?}");
    lb.stop();
}

#[test]
fn error_answers() {
    let lb = Lb::start(&LbConfig::two_legs());
    let r = lb.get("/nothing-here");
    assert_eq!((r.status, r.body.as_str()), (500, "Server error"));
    let r = lb.get("/lbnoderegex?ip=127.0.0.1&port=5060");
    assert_eq!(r.status, 400);
    assert!(r.body.starts_with("Regex NOT set, use :"), "{}", r.body);
    assert_eq!(
        lb.get("/lbnoderegex?regex=(.*)&ip=127.0.0.1&port=5060")
            .status,
        501
    );
    // Case-insensitive paths, as the original.
    assert_eq!(lb.get("/LbStat").status, 200);
    // Not HTTP: 400, and the port keeps serving.
    let mut s = TcpStream::connect(lb.admin).unwrap();
    s.write_all(b"HELLO\r\n\r\n").unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    assert!(raw.starts_with("HTTP/1.1 400 "), "{raw}");
    assert_eq!(lb.get("/lbstat").status, 200);
    lb.stop();
}

#[test]
fn busy_admin_port_fails_the_start() {
    let holder = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    let cfg = LbConfig {
        statistic_port: Some(port),
        ..LbConfig::two_legs()
    };
    let yaml = cfg.yaml();
    let dir = TempDir::new("admin-busy");
    let path = dir.path.join("lb.yaml");
    std::fs::write(&path, yaml).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sip-balancer"))
        .arg("--config")
        .arg(&path)
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "cannot bind the statistics port (statisticPort) 0.0.0.0:{port}"
        )),
        "{err}"
    );
    drop(holder);
}

#[test]
fn lbstop_closes_the_port_refuses_new_calls_lets_dialogs_finish_then_exits() {
    const CALLS: u32 = 40;
    let SippRig {
        mut lb,
        mut uas,
        _hb,
        _heavy,
    } = sipp_rig();
    // 40 calls at 40 cps, each up for 4 s: all established, none ended,
    // when /lbstop arrives 2 s in.
    let target = lb.external.to_string();
    let mut uac = Sipp::uac_with(
        "uac",
        &common::sipp::scenario("uac_long.xml"),
        &target,
        CALLS,
        40,
        60,
        &["-d", "4000"],
    );
    std::thread::sleep(Duration::from_secs(2));
    let asked = Instant::now();
    let r = lb.get("/lbstop");
    assert_eq!(r.status, 423, "{r:?}");
    assert!(r.body.contains("stopping"), "{}", r.body);

    // The admin port closes at once (what a keepalived check sees).
    let closed = wait_until(Duration::from_millis(500), || {
        TcpStream::connect_timeout(&lb.admin, Duration::from_millis(100)).is_err()
    });
    assert!(closed, "admin port still open after /lbstop");

    // New calls are refused during the drain...
    let mut late = Sipp::uac("late", &target, 5, 10, 10);
    let _ = late.wait(Duration::from_secs(15));
    let refused = late.stats();
    assert_eq!(refused.successful, 0, "a new call got through: {refused:?}");
    assert_eq!(refused.failed, 5, "{refused:?}");
    let trace = late.read("messages.log");
    assert!(trace.contains("SIP/2.0 503"), "refused with 503: {trace}");

    // ...while the dialogs under way finish (their BYEs get through).
    let code = uac.wait(Duration::from_secs(30));
    assert_eq!(code, Some(0), "uac {:?}", uac.stats());
    assert_eq!(uac.stats().successful, u64::from(CALLS));
    assert!(
        asked.elapsed() < DRAIN - Duration::from_secs(2),
        "calls took too long to prove anything"
    );
    assert!(
        lb.child.as_mut().unwrap().try_wait().unwrap().is_none(),
        "exited early"
    );

    // ...then the process exits by itself, status 0.
    let status = lb
        .wait_exit(DRAIN + Duration::from_secs(5))
        .expect("balancer did not exit after the drain");
    let took = asked.elapsed();
    assert!(status.success(), "{status}");
    assert!(
        took >= DRAIN - Duration::from_millis(500),
        "exited {took:?} after /lbstop"
    );
    assert!(lb
        .wait_line(
            0,
            |l| l.contains("admin: drain over, stopping"),
            Duration::from_secs(1)
        )
        .is_some());
    uas.quit();
}
