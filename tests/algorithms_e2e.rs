//! SIPp end to end for every balancing algorithm: a SIPp UAC calls through
//! the balancer to SIPp UAS nodes announced by the JSON heartbeat protocol
//! (`start` with `version`, then `heartbeat`s). Per algorithm:
//!
//! - `dialogs_stay_and_fail_over`: every call's INVITE, ACK and BYE reach
//!   one node (read from the UAS traces); a node killed mid-call → the BYEs
//!   of its dialogs reach a survivor (for `clusterSubdomainAffinity`, its
//!   `subclusterMap` partner only); all nodes dead → `503` (SIPp expects it).
//! - `rolling_upgrade`: version-0 dialogs stay on version-0 nodes (even
//!   when one of them dies) while new calls go to the version-2 nodes.
//! - `drain_keeps_dialogs`: a node draining (JSON `shutdown`) gets no
//!   new call while its dialogs' ACKs and BYEs still reach it.
//! - `sick_node_excluded_then_back`: a node answering 503 is excluded after
//!   `maxNumberResponsesWithError`, and takes calls again after it restarts
//!   (new `sessionId`).
//!
//! The SIPp tests of this binary take the heavy-test slot, one at a time.
//! Nodes run on their own loopback address where the algorithm cares
//! (127.0.0.2… for the subcluster groups), so this file runs SIPp itself
//! rather than through `common::Sipp` (which binds 127.0.0.1).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "json_hb/mod.rs"]
mod json_hb;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::balancer::{signal, wait_exit};
use common::sipp::{parse_stat_csv, parse_trace, scenario, sipp_available, Traced};
use common::*;
use json_hb::{JsonNode, Pulse};

/// Node expiry of these tests: a killed node is down ~1.2 s later.
const NODE_TIMEOUT_MS: u64 = 1000;
/// Heartbeat period of the nodes.
const PULSE: Duration = Duration::from_millis(200);
/// Time for a registry change to reach the shards.
const SETTLE: Duration = Duration::from_millis(300);
/// A killed node is down by then.
const EXPIRY: Duration = Duration::from_millis(1600);

// === algorithms ===

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Alg {
    CallIdAffinity,
    HeaderConsistentHash,
    PersistentConsistentHash,
    UserBased,
    ClusterSubdomainAffinity,
    ActiveStandby,
}

impl Alg {
    /// The `algorithm:` keys.
    fn yaml(self) -> String {
        match self {
            Alg::CallIdAffinity => ", algorithmClass: callIdAffinity".into(),
            Alg::HeaderConsistentHash => ", algorithmClass: headerConsistentHash".into(),
            Alg::PersistentConsistentHash => ", algorithmClass: persistentConsistentHash".into(),
            Alg::UserBased => ", algorithmClass: userBased, sipHeaderAffinityKey: To".into(),
            Alg::ClusterSubdomainAffinity => {
                ", algorithmClass: clusterSubdomainAffinity, subclusterMap: [[127.0.0.2, 127.0.0.3], [127.0.0.4, 127.0.0.5]]".into()
            }
            Alg::ActiveStandby => ", algorithmClass: activeStandby".into(),
        }
    }

    /// New calls spread over the nodes (all but active-standby).
    fn spreads(self) -> bool {
        self != Alg::ActiveStandby
    }

    /// Address of the `i`-th node: its own loopback address for the
    /// subcluster algorithm (nodes 0,1 and 2,3 are partners).
    fn node_ip(self, i: usize) -> String {
        match self {
            Alg::ClusterSubdomainAffinity => format!("127.0.0.{}", 2 + i),
            _ => "127.0.0.1".into(),
        }
    }
}

// === SIPp processes ===

/// A SIPp process with its traces.
struct SippProc {
    child: Option<Child>,
    dir: TempDir,
}

impl SippProc {
    fn spawn(tag: &str, ip: &str, port: u16, args: &[String]) -> SippProc {
        let dir = TempDir::new(tag);
        let d = |f: &str| dir.path.join(f).to_string_lossy().into_owned();
        let child = Command::new("sipp")
            .args(args)
            .args(["-nostdin", "-i", ip, "-p", &port.to_string()])
            .args(["-trace_stat", "-stf", &d("stat.csv"), "-fd", "1"])
            .args(["-trace_err", "-error_file", &d("errors.log")])
            .args(["-trace_msg", "-message_file", &d("messages.log")])
            .current_dir(&dir.path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn sipp");
        SippProc {
            child: Some(child),
            dir,
        }
    }

    fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.dir.path.join(file)).unwrap_or_default()
    }

    /// Waits up to `dur` for the exit code (`None`: killed at the deadline).
    fn wait(&mut self, dur: Duration) -> Option<i32> {
        let mut child = self.child.take()?;
        match wait_exit(&mut child, dur) {
            Some(s) => s.code(),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                None
            }
        }
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Every message in the `-trace_msg` file (SIPp writes each as it goes).
    fn trace(&self) -> Vec<Traced> {
        parse_trace(&self.read("messages.log"))
    }
}

impl Drop for SippProc {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_ref() {
            signal(c.id(), libc::SIGKILL);
        }
        self.kill();
    }
}

// === the lab: balancer, nodes, clients ===

/// A node: a SIPp UAS plus its JSON heartbeat identity.
struct Node {
    ip: String,
    port: u16,
    json: JsonNode,
    pulse: Option<Pulse>,
    uas: SippProc,
    /// Earlier SIPp runs of this node (before a restart), for their traces.
    earlier: Vec<SippProc>,
}

impl Node {
    /// Requests received (method, Call-ID) over every run of the node.
    fn received(&self) -> Vec<(String, String)> {
        self.earlier
            .iter()
            .chain(std::iter::once(&self.uas))
            .flat_map(SippProc::trace)
            .filter(|t| t.received)
            .filter_map(|t| Some((t.method?, t.call_id)))
            .collect()
    }

    /// Call-IDs of the INVITEs received.
    fn invites(&self) -> BTreeSet<String> {
        self.calls_with("INVITE")
    }

    fn calls_with(&self, method: &str) -> BTreeSet<String> {
        self.received()
            .into_iter()
            .filter(|(m, _)| m == method)
            .map(|(_, c)| c)
            .collect()
    }

    /// The node crashes: SIPp killed, heartbeats stop.
    fn kill(&mut self) {
        self.pulse = None;
        self.uas.kill();
    }
}

struct Lab {
    alg: Alg,
    lb: Balancer,
    hb: SocketAddr,
    nodes: Vec<Node>,
    _heavy: HeavyGuard,
}

fn lab(alg: Alg, health: &str) -> Lab {
    assert!(sipp_available(), "sipp not installed (run .ci/run)");
    let heavy = HeavyGuard::take();
    let mut cfg = LbConfig::two_legs();
    cfg.node_timeout_ms = NODE_TIMEOUT_MS;
    let port = free_port();
    cfg.heartbeat_port = Some(port);
    // The admin port's default (2006) is shared by every balancer: off.
    cfg.statistic_port = Some(0);
    cfg.algorithm_extra = alg.yaml();
    cfg.health = health.to_string();
    let lb = Balancer::start(&cfg);
    Lab {
        alg,
        lb,
        hb: local(port),
        nodes: Vec::new(),
        _heavy: heavy,
    }
}

impl Lab {
    /// Starts node `i` (SIPp `scenario`), announces it with `version`.
    fn add_node(&mut self, version: u32, scenario_file: &str) -> usize {
        let i = self.nodes.len();
        let ip = self.alg.node_ip(i);
        let port = free_port();
        let uas = spawn_uas(&format!("uas{i}"), &ip, port, scenario_file);
        let mut json = JsonNode::new(
            self.hb,
            &format!("node{i}"),
            port,
            version,
            &format!("{}", 1000 + i),
        );
        json.fields.retain(|(k, _)| k != "ip");
        let json = json.with("ip", &ip);
        json.start();
        let pulse = Some(json.pulse(PULSE));
        self.nodes.push(Node {
            ip,
            port,
            json,
            pulse,
            uas,
            earlier: Vec::new(),
        });
        std::thread::sleep(Duration::from_millis(150));
        i
    }

    /// Node `i` restarts: a new SIPp on the same address, a new `sessionId`.
    fn restart_node(&mut self, i: usize, scenario_file: &str) {
        let node = &mut self.nodes[i];
        node.kill();
        let fresh = spawn_uas(&format!("uas{i}r"), &node.ip, node.port, scenario_file);
        node.earlier.push(std::mem::replace(&mut node.uas, fresh));
        std::thread::sleep(Duration::from_millis(200));
        // Session ids are numbers, as the reference node's (its start time in ms).
        let sid = (node.json.session_id.parse::<u64>().unwrap() + 1_000_000).to_string();
        node.json.restart(&sid);
        node.pulse = Some(node.json.pulse(PULSE));
    }

    /// A UAC: `calls` at `rate` cps, calls lasting `pause_ms`, users `user<n>`.
    fn uac(
        &self,
        tag: &str,
        scenario_file: &str,
        calls: u32,
        rate: u32,
        pause_ms: u32,
    ) -> SippProc {
        let args: Vec<String> = vec![
            "-sf".into(),
            scenario(scenario_file).to_string_lossy().into_owned(),
            self.lb.external.to_string(),
            "-m".into(),
            calls.to_string(),
            "-r".into(),
            rate.to_string(),
            "-d".into(),
            pause_ms.to_string(),
            "-key".into(),
            "user".into(),
            tag.into(),
            "-timeout".into(),
            "30s".into(),
            "-timeout_error".into(),
            "-recv_timeout".into(),
            "6s".into(),
        ];
        SippProc::spawn(tag, "127.0.0.1", free_port(), &args)
    }

    /// Runs a UAC to its end; asserts exit 0 and `calls` successful calls.
    /// Returns its Call-IDs and how many were answered 503.
    fn run_calls(
        &self,
        tag: &str,
        calls: u32,
        rate: u32,
        pause_ms: u32,
    ) -> (BTreeSet<String>, usize) {
        let mut uac = self.uac(tag, "uac_dialog.xml", calls, rate, pause_ms);
        finish(&mut uac, tag, calls)
    }

    fn node_of(&self, call_id: &str, method: &str) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].calls_with(method).contains(call_id))
            .collect()
    }
}

fn spawn_uas(tag: &str, ip: &str, port: u16, scenario_file: &str) -> SippProc {
    let sf = scenario(scenario_file).to_string_lossy().into_owned();
    SippProc::spawn(tag, ip, port, &["-sf".into(), sf, "-aa".into()])
}

/// Waits for a UAC; asserts exit 0 and `calls` successful; returns its
/// Call-IDs and the number answered 503.
fn finish(uac: &mut SippProc, tag: &str, calls: u32) -> (BTreeSet<String>, usize) {
    let code = uac.wait(Duration::from_secs(35));
    let stats = parse_stat_csv(&uac.read("stat.csv"));
    assert_eq!(
        (code, stats.successful, stats.failed),
        (Some(0), u64::from(calls), 0),
        "uac {tag}: errors:\n{}",
        tail(&uac.read("errors.log"))
    );
    let trace = uac.trace();
    let ids: BTreeSet<String> = trace.iter().map(|t| t.call_id.clone()).collect();
    let rejected = trace
        .iter()
        .filter(|t| t.received && t.status == Some(503))
        .map(|t| t.call_id.clone())
        .collect::<BTreeSet<_>>()
        .len();
    assert_eq!(
        ids.len(),
        calls as usize,
        "uac {tag}: Call-IDs in its trace"
    );
    (ids, rejected)
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

// === the scenarios ===

/// Each call's INVITE, ACK and BYE reached exactly one node, the same one.
fn assert_one_node_per_call(lab: &Lab, ids: &BTreeSet<String>) -> BTreeMap<usize, usize> {
    let mut per_node = BTreeMap::new();
    for id in ids {
        let inv = lab.node_of(id, "INVITE");
        let ack = lab.node_of(id, "ACK");
        let bye = lab.node_of(id, "BYE");
        assert_eq!(inv.len(), 1, "{id}: INVITE at nodes {inv:?}");
        assert_eq!(
            (&ack, &bye),
            (&inv, &inv),
            "{id}: ACK/BYE follow the INVITE"
        );
        *per_node.entry(inv[0]).or_insert(0) += 1;
    }
    per_node
}

fn dialogs_stay_and_fail_over(alg: Alg) {
    let mut lab = lab(alg, "");
    let n = if alg == Alg::ClusterSubdomainAffinity {
        3
    } else {
        2
    };
    for _ in 0..n {
        lab.add_node(0, "uas_any.xml");
    }
    // 1. Affinity: 100 short calls.
    let (ids, rejected) = lab.run_calls("p1", 100, 50, 100);
    assert_eq!(rejected, 0);
    let per_node = assert_one_node_per_call(&lab, &ids);
    if alg.spreads() {
        assert_eq!(per_node.len(), n, "every node takes calls: {per_node:?}");
    } else {
        assert_eq!(
            per_node,
            BTreeMap::from([(0, 100)]),
            "all on the active node"
        );
    }

    // 2. Node 0 (the active one for activeStandby) dies mid-call, once
    // every INVITE is answered: an INVITE sent to a crashed node before it
    // expires gets our 100 Trying, so the UAC stops retransmitting it and
    // that call is lost (as with the original). BYEs come 4 s after the
    // ACKs, after the expiry; a BYE sent into the gap is retransmitted.
    let mut uac = lab.uac("p2", "uac_dialog.xml", 60, 30, 4000);
    std::thread::sleep(Duration::from_millis(2300));
    lab.nodes[0].kill();
    let (ids, rejected) = finish(&mut uac, "p2", 60);
    assert_eq!(rejected, 0);
    let on_dead: Vec<&String> = ids
        .iter()
        .filter(|id| lab.nodes[0].invites().contains(*id))
        .collect();
    let mut taken_over = 0;
    for id in &ids {
        let inv = lab.node_of(id, "INVITE");
        let bye = lab.node_of(id, "BYE");
        assert_eq!(bye.len(), 1, "{id}: BYE answered once: {bye:?}");
        if inv == [0] && bye != [0] {
            taken_over += 1;
            if alg == Alg::ClusterSubdomainAffinity {
                assert_eq!(bye, [1], "{id}: the dead node's partner takes its dialog");
            }
        } else if !inv.contains(&0) {
            assert_eq!(inv.len(), 1, "{id}: INVITE at {inv:?}");
            assert_eq!(bye, inv, "{id}: BYE on its INVITE's live node");
        }
    }
    assert!(
        taken_over >= 3,
        "{taken_over} of the {} dialogs on the dead node had their BYE at a survivor",
        on_dead.len()
    );

    // 3. Every node dead → 503.
    for node in &mut lab.nodes {
        node.kill();
    }
    std::thread::sleep(EXPIRY);
    let mut refused = lab.uac("p3", "uac_503.xml", 10, 20, 0);
    let code = refused.wait(Duration::from_secs(20));
    let stats = parse_stat_csv(&refused.read("stat.csv"));
    assert_eq!(
        (code, stats.successful),
        (Some(0), 10),
        "all nodes dead: every call answered 503\n{}",
        tail(&refused.read("errors.log"))
    );
    lab.lb.stop();
}

fn rolling_upgrade(alg: Alg) {
    let mut lab = lab(alg, "");
    lab.add_node(0, "uas_any.xml");
    lab.add_node(0, "uas_any.xml");
    // Version-0 dialogs lasting 6 s.
    let mut old = lab.uac("old", "uac_dialog.xml", 20, 20, 6000);
    std::thread::sleep(Duration::from_millis(1500));
    lab.add_node(2, "uas_any.xml");
    lab.add_node(2, "uas_any.xml");
    std::thread::sleep(SETTLE);
    let (new_ids, rejected) = lab.run_calls("new", 40, 40, 100);
    assert_eq!(rejected, 0);
    // A version-0 node dies while its dialogs are up.
    lab.nodes[0].kill();
    let (old_ids, rejected) = finish(&mut old, "old", 20);
    assert_eq!(rejected, 0);

    let new_nodes = assert_one_node_per_call(&lab, &new_ids);
    assert!(
        new_nodes.keys().all(|&i| i >= 2),
        "new calls only on version 2: {new_nodes:?}"
    );
    if alg.spreads() {
        assert_eq!(new_nodes.len(), 2, "both version-2 nodes: {new_nodes:?}");
    }
    let mut on_dead = 0;
    for id in &old_ids {
        let inv = lab.node_of(id, "INVITE");
        let bye = lab.node_of(id, "BYE");
        assert_eq!(inv.len(), 1, "{id}: INVITE at {inv:?}");
        assert!(inv[0] < 2, "{id}: old call on a version-0 node: {inv:?}");
        assert_eq!(bye.len(), 1, "{id}: BYE at {bye:?}");
        assert!(
            bye[0] < 2,
            "{id}: a version-0 dialog's BYE stays in version 0: {bye:?}"
        );
        if inv[0] == 0 {
            on_dead += 1;
            assert_eq!(
                bye,
                [1],
                "{id}: the dead version-0 node's BYE goes to the other one"
            );
        } else {
            assert_eq!(bye, inv, "{id}");
        }
    }
    assert!(on_dead > 0, "some old dialogs were on the node that died");
    lab.lb.stop();
}

fn drain_keeps_dialogs(alg: Alg) {
    let mut lab = lab(alg, "");
    lab.add_node(0, "uas_any.xml");
    lab.add_node(0, "uas_any.xml");
    // Dialogs lasting 4 s, then node 0 drains (JSON shutdown).
    let mut old = lab.uac("old", "uac_dialog.xml", 20, 20, 4000);
    std::thread::sleep(Duration::from_millis(1500));
    lab.nodes[0].json.shutdown();
    std::thread::sleep(SETTLE);
    let (new_ids, rejected) = lab.run_calls("new", 30, 30, 100);
    assert_eq!(rejected, 0);
    let (old_ids, rejected) = finish(&mut old, "old", 20);
    assert_eq!(rejected, 0);
    let new_nodes = assert_one_node_per_call(&lab, &new_ids);
    assert_eq!(
        new_nodes,
        BTreeMap::from([(1, 30)]),
        "no new call on the draining node"
    );
    let old_nodes = assert_one_node_per_call(&lab, &old_ids);
    assert!(
        old_nodes.get(&0).is_some_and(|&n| n > 0),
        "the draining node keeps its dialogs to their BYE: {old_nodes:?}"
    );
    lab.lb.stop();
}

fn sick_node_excluded_then_back(alg: Alg) {
    let mut lab = lab(alg, "maxNumberResponsesWithError: 2, maxErrorTime: 60000");
    let sick = lab.add_node(0, "uas_503.xml");
    let good = lab.add_node(0, "uas_any.xml");
    // Calls to the sick node are answered 503 until it is excluded.
    let (_, rejected) = lab.run_calls("sick", 40, 20, 100);
    let errors = lab.nodes[sick].invites().len();
    assert_eq!(
        rejected, errors,
        "every INVITE the sick node got was refused"
    );
    assert!(
        (3..=8).contains(&errors),
        "excluded after more than 2 errors (a few in flight): {errors}"
    );
    let (_, rejected) = lab.run_calls("after", 30, 30, 100);
    assert_eq!(rejected, 0, "no call reaches the excluded node");
    assert_eq!(lab.nodes[sick].invites().len(), errors);

    // Restart (new sessionId, now healthy): it takes calls again.
    lab.restart_node(sick, "uas_any.xml");
    std::thread::sleep(SETTLE);
    let (ids, rejected) = lab.run_calls("back", 40, 40, 100);
    assert_eq!(rejected, 0);
    let per_node = assert_one_node_per_call(&lab, &ids);
    if alg.spreads() {
        assert!(
            per_node.contains_key(&sick),
            "restarted node takes calls: {per_node:?}"
        );
    }
    // With the healthy node gone, every call goes to the restarted one.
    lab.nodes[good].json.stop();
    lab.nodes[good].pulse = None;
    std::thread::sleep(SETTLE);
    let (ids, rejected) = lab.run_calls("only", 10, 20, 100);
    assert_eq!(rejected, 0);
    let per_node = assert_one_node_per_call(&lab, &ids);
    assert_eq!(per_node, BTreeMap::from([(sick, 10)]));
    lab.lb.stop();
}

macro_rules! per_algorithm {
    ($($name:ident => $alg:expr),* $(,)?) => {
        $(
            mod $name {
                use super::*;

                #[test]
                fn dialogs_stay_and_fail_over() {
                    super::dialogs_stay_and_fail_over($alg);
                }

                #[test]
                fn rolling_upgrade() {
                    super::rolling_upgrade($alg);
                }

                #[test]
                fn drain_keeps_dialogs() {
                    super::drain_keeps_dialogs($alg);
                }

                #[test]
                fn sick_node_excluded_then_back() {
                    super::sick_node_excluded_then_back($alg);
                }
            }
        )*
    };
}

per_algorithm! {
    call_id_affinity => Alg::CallIdAffinity,
    header_consistent_hash => Alg::HeaderConsistentHash,
    persistent_consistent_hash => Alg::PersistentConsistentHash,
    user_based => Alg::UserBased,
    cluster_subdomain_affinity => Alg::ClusterSubdomainAffinity,
    active_standby => Alg::ActiveStandby,
}

#[test]
fn trace_parser_reads_sipp_blocks() {
    let t = "----------------------------------------------- 2026-12-02 16:01:18.865794\nUDP message received [317] bytes :\n\nINVITE sip:a@b SIP/2.0\nVia: x\nCall-ID: 1-2@h\n\n\n----------------------------------------------- 2026-12-02 16:01:18.865959\nUDP message sent (305 bytes):\n\nSIP/2.0 503 Service Unavailable\nCall-ID: 1-2@h\n\n";
    let got = parse_trace(t);
    assert_eq!(got.len(), 2);
    assert!(got[0].received && got[0].method.as_deref() == Some("INVITE"));
    assert_eq!(got[0].call_id, "1-2@h");
    assert!(!got[1].received && got[1].status == Some(503) && got[1].method.is_none());
}
