//! Configuration reload on SIGHUP, end to end: a SIPp UAC runs calls
//! through the balancer while its config file is rewritten and reloaded.
//! - A node added mid-run takes new calls; no call fails; the dialogs
//!   already on the old nodes finish there.
//! - An invalid file is refused with a warning naming it, and the balancer
//!   serves on; a changed listening port is reported as needing a restart.
//! - A changed algorithm takes effect.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::sipp::{scenario, sipp_available};
use common::*;

/// Generous bound for a log line that follows a signal.
const LOG_WAIT: Duration = Duration::from_secs(5);

/// SIPp UAS nodes, the balancer with the first `configured` of them static.
struct Lab {
    lb: Balancer,
    cfg: LbConfig,
    nodes: Vec<(Sipp, u16)>,
    _heavy: HeavyGuard,
}

fn lab(nodes: usize, configured: usize, algorithm: &str) -> Lab {
    assert!(sipp_available(), "sipp not installed (run .ci/run)");
    let heavy = HeavyGuard::take();
    let nodes: Vec<(Sipp, u16)> = (0..nodes)
        .map(|i| {
            let port = free_port();
            (Sipp::uas(&format!("uas{i}"), port), port)
        })
        .collect();
    let mut cfg = LbConfig::two_legs();
    cfg.algorithm_extra = algorithm.to_string();
    for (i, (_, port)) in nodes.iter().enumerate().take(configured) {
        cfg = cfg.with_static_node(&format!("node{i}"), *port);
    }
    let lb = Balancer::start(&cfg);
    for _ in 0..configured {
        assert!(
            lb.wait_log("node up (probe)", LOG_WAIT).is_some(),
            "configured nodes come up"
        );
    }
    Lab {
        lb,
        cfg,
        nodes,
        _heavy: heavy,
    }
}

impl Lab {
    /// Rewrites the file with `cfg`, sends SIGHUP, returns the summary line.
    fn reload(&mut self, cfg: LbConfig) -> String {
        self.lb.rewrite_config(&cfg.yaml());
        self.cfg = cfg;
        self.lb.reload();
        self.lb
            .wait_log("config reloaded from", LOG_WAIT)
            .expect("one info line per reload")
    }

    /// A UAC: `calls` at `rate` cps, each lasting `pause_ms`.
    fn uac(&self, tag: &str, calls: u32, rate: u32, pause_ms: u32) -> Sipp {
        let pause = pause_ms.to_string();
        Sipp::uac_with(
            tag,
            &scenario("uac_long.xml"),
            &self.lb.external.to_string(),
            calls,
            rate,
            calls / rate + 40,
            &["-d", &pause],
        )
    }

    /// Call-IDs of the requests of `method` node `i` received.
    fn received(&self, i: usize, method: &str) -> BTreeSet<String> {
        self.nodes[i]
            .0
            .trace()
            .into_iter()
            .filter(|t| t.received && t.method.as_deref() == Some(method))
            .map(|t| t.call_id)
            .collect()
    }

    /// Unix times at which node `i` received a BYE.
    fn bye_times(&self, i: usize) -> Vec<f64> {
        let sipp = &self.nodes[i].0;
        let offset = sipp.stamp_to_unix().unwrap_or(0.0);
        sipp.trace()
            .into_iter()
            .filter(|t| t.received && t.method.as_deref() == Some("BYE"))
            .filter_map(|t| t.stamp.map(|s| s + offset))
            .collect()
    }

    fn quit_nodes(&mut self) {
        for (n, _) in &mut self.nodes {
            n.quit();
        }
    }
}

/// Runs `uac` to its end; asserts exit 0 and `calls` successful calls.
fn finish(uac: &mut Sipp, calls: u32) -> BTreeSet<String> {
    let code = uac.wait(Duration::from_secs(90));
    let stats = uac.stats();
    assert_eq!(
        code,
        Some(0),
        "uac exit; {stats:?}; errors:\n{}",
        tail(&uac.read("errors.log"))
    );
    assert_eq!((stats.successful, stats.failed), (u64::from(calls), 0));
    uac.call_ids()
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

#[test]
fn node_added_by_sighup_mid_run_takes_calls_and_no_call_fails() {
    const CALLS: u32 = 600;
    let mut lab = lab(3, 2, "");
    let mut uac = lab.uac("uac", CALLS, 100, 2000);
    std::thread::sleep(Duration::from_secs(3));
    let added = lab.cfg.clone().with_static_node("node2", lab.nodes[2].1);
    let reloaded_at = unix_now();
    let line = lab.reload(added);
    assert!(line.contains("nodes added: node2 127.0.0.1:"), "{line}");
    assert!(
        lab.lb.wait_log("node up (probe)", LOG_WAIT).is_some(),
        "the added node is probed and comes up"
    );
    let ids = finish(&mut uac, CALLS);
    lab.quit_nodes();

    let invites: Vec<_> = (0..3).map(|i| lab.received(i, "INVITE")).collect();
    let byes: Vec<_> = (0..3).map(|i| lab.received(i, "BYE")).collect();
    assert!(
        invites[2].len() > 50,
        "node2 took new calls after the reload: {}",
        invites[2].len()
    );
    for i in 0..3 {
        assert_eq!(
            invites[i], byes[i],
            "node{i}: every dialog ended where it began"
        );
        for j in (i + 1)..3 {
            assert!(
                invites[i].is_disjoint(&invites[j]),
                "a call on node{i} and node{j}"
            );
        }
    }
    let union: BTreeSet<String> = invites.iter().flatten().cloned().collect();
    assert_eq!(union, ids, "every call reached exactly one node");
    let per_node: Vec<usize> = invites.iter().map(BTreeSet::len).collect();
    eprintln!("reload: calls per node {per_node:?}");
    for i in 0..2 {
        let late = lab
            .bye_times(i)
            .iter()
            .filter(|&&t| t > reloaded_at)
            .count();
        assert!(
            late > 20,
            "node{i} got the BYEs of its dialogs after the reload ({late})"
        );
    }
    lab.lb.stop();
}

#[test]
fn node_removed_by_sighup_mid_run_drains_and_no_call_fails() {
    const CALLS: u32 = 300;
    let mut lab = lab(2, 2, "");
    let mut uac = lab.uac("uac", CALLS, 100, 1000);
    std::thread::sleep(Duration::from_millis(1500));
    let mut only_first = lab.cfg.clone();
    only_first.static_nodes.truncate(1);
    let reloaded_at = unix_now();
    let line = lab.reload(only_first);
    assert!(line.contains("nodes removed (draining): node1"), "{line}");
    finish(&mut uac, CALLS);
    lab.quit_nodes();
    let (invites, byes) = (lab.received(1, "INVITE"), lab.received(1, "BYE"));
    assert!(!invites.is_empty());
    assert_eq!(invites, byes, "node1's dialogs ended on node1");
    let late = lab
        .bye_times(1)
        .iter()
        .filter(|&&t| t > reloaded_at)
        .count();
    assert!(
        late > 10,
        "BYEs reached the draining node after the reload ({late})"
    );
    let sipp = &lab.nodes[1].0;
    let offset = sipp.stamp_to_unix().unwrap_or(0.0);
    let new_calls = sipp
        .trace()
        .into_iter()
        .filter(|t| t.received && t.method.as_deref() == Some("INVITE"))
        .filter(|t| t.stamp.is_some_and(|s| s + offset > reloaded_at + 0.1))
        .count();
    assert_eq!(new_calls, 0, "no new call for a removed node");
    lab.lb.stop();
}

#[test]
fn invalid_file_on_sighup_is_refused_and_the_balancer_serves_on() {
    let mut lab = lab(1, 1, "");
    let path = lab.lb.config_path.display().to_string();
    lab.lb.rewrite_config(
        &lab.cfg
            .yaml()
            .replace("nodeTimeout: 3000", "nodeTimeout: soon"),
    );
    lab.lb.reload();
    let warn = lab
        .lb
        .wait_log("config reload failed", LOG_WAIT)
        .expect("a warning for the invalid file");
    assert!(warn.contains(&path), "names the file: {warn}");
    assert!(warn.contains("nodeTimeout"), "names the key: {warn}");
    assert!(lab.lb.is_running());

    // A valid file moving the external port: reported, not applied.
    let mut moved = lab.cfg.clone();
    moved.external = free_port();
    lab.lb.rewrite_config(&moved.yaml());
    lab.lb.reload();
    let restart = lab
        .lb
        .wait_log("needs a restart: sip.external", LOG_WAIT)
        .expect("a warning for the port change");
    assert!(restart.contains(&path), "{restart}");
    let mut uac = lab.uac("uac", 30, 30, 100);
    finish(&mut uac, 30);
    lab.quit_nodes();
    lab.lb.stop();
}

#[test]
fn algorithm_changed_by_sighup_takes_effect() {
    // Every call of the UAC is for one user (`sipp`): Call-ID affinity
    // spreads the calls, user-based affinity keyed by To puts them on one node.
    let mut lab = lab(2, 2, "");
    let mut before = lab.uac("uac1", 40, 40, 100);
    finish(&mut before, 40);
    let spread: Vec<usize> = (0..2).map(|i| lab.received(i, "INVITE").len()).collect();
    assert!(
        spread.iter().all(|&n| n > 0),
        "callIdAffinity spreads: {spread:?}"
    );

    let mut user = lab.cfg.clone();
    user.algorithm_extra = ", algorithmClass: userBased, sipHeaderAffinityKey: To".into();
    let line = lab.reload(user);
    assert!(line.contains("UserBased"), "{line}");
    let mut after = lab.uac("uac2", 40, 40, 100);
    let ids = finish(&mut after, 40);
    lab.quit_nodes();
    let on: Vec<usize> = (0..2)
        .map(|i| lab.received(i, "INVITE").intersection(&ids).count())
        .collect();
    assert!(
        on.contains(&40) && on.contains(&0),
        "one user, one node: {on:?}"
    );
    lab.lb.stop();
}
