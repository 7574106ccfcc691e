//! Configuration reload on SIGHUP and on a change of the file, end to end:
//! a SIPp UAC runs calls through the balancer while its config file is
//! rewritten and reloaded.
//! - A node added mid-run takes new calls; no call fails; the dialogs
//!   already on the old nodes finish there.
//! - An invalid file is refused with a warning naming it, and the balancer
//!   serves on; a changed listening port is reported as needing a restart.
//! - A changed algorithm takes effect.
//! - Without SIGHUP: a file replaced by rename is reloaded by the watcher
//!   (the new node takes calls, `/lbinfo` lists it); an invalid version in
//!   between changes nothing; `watchConfig: false` watches nothing.
//!
//! The SIGHUP tests run with `watchConfig: false`, so each rewrite is
//! reloaded once, by the signal.

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

/// SIGHUP only: the file is not watched.
const NO_WATCH: &str = "watchConfig: false\n";

fn lab(nodes: usize, configured: usize, algorithm: &str) -> Lab {
    lab_with(nodes, configured, |cfg| {
        cfg.algorithm_extra = algorithm.to_string();
        cfg.extra_yaml = NO_WATCH.to_string();
    })
}

/// Like [`lab`], with the config as `tune` leaves it.
fn lab_with(nodes: usize, configured: usize, tune: impl FnOnce(&mut LbConfig)) -> Lab {
    assert!(sipp_available(), "sipp not installed (run .ci/run)");
    let heavy = HeavyGuard::take();
    let nodes: Vec<(Sipp, u16)> = (0..nodes)
        .map(|i| {
            let port = free_port();
            (Sipp::uas(&format!("uas{i}"), port), port)
        })
        .collect();
    let mut cfg = LbConfig::two_legs();
    tune(&mut cfg);
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

/// A lab whose file is watched, with the admin port on.
fn watched_lab(nodes: usize, configured: usize) -> Lab {
    lab_with(nodes, configured, |cfg| {
        cfg.statistic_port = Some(free_port());
    })
}

/// Whether `/lbinfo` lists exactly `want` within a second or two (the
/// admin thread takes the registry's snapshots every 100 ms).
fn lbinfo_shows(lab: &Lab, want: &[&str]) -> bool {
    let want: BTreeSet<String> = want.iter().map(|s| s.to_string()).collect();
    wait_until(Duration::from_secs(2), || lbinfo_nodes(lab) == want)
}

/// `/lbinfo` of the admin port `port`, parsed.
fn lbinfo(port: u16) -> serde_json::Value {
    let r = http::get(local(port), "/lbinfo");
    assert_eq!(r.status, 200, "{r:?}");
    serde_json::from_str(&r.body).unwrap()
}

/// `hostName`s of the nodes `/lbinfo` lists.
fn lbinfo_nodes(lab: &Lab) -> BTreeSet<String> {
    lbinfo(lab.cfg.statistic_port.unwrap())["Nodes info"]["nodesIPv4"]
        .as_array()
        .expect("nodesIPv4")
        .iter()
        .map(|n| n["hostName"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn file_replaced_by_rename_is_reloaded_without_sighup() {
    let mut lab = watched_lab(2, 1);
    assert!(lbinfo_shows(&lab, &["node0"]), "{:?}", lbinfo_nodes(&lab));
    let added = lab.cfg.clone().with_static_node("node1", lab.nodes[1].1);
    lab.lb.rewrite_config(&added.yaml());
    lab.cfg = added;
    let changed = lab
        .lb
        .wait_log("changed: reloading", LOG_WAIT)
        .expect("the watcher notices the new file");
    assert!(
        changed.contains(&lab.lb.config_path.display().to_string()),
        "{changed}"
    );
    let line = lab
        .lb
        .wait_log("config reloaded from", LOG_WAIT)
        .expect("reloaded as on SIGHUP");
    assert!(line.contains("nodes added: node1 127.0.0.1:"), "{line}");
    assert!(
        lab.lb.wait_log("node up (probe)", LOG_WAIT).is_some(),
        "the added node is probed and comes up"
    );
    assert!(
        lbinfo_shows(&lab, &["node0", "node1"]),
        "{:?}",
        lbinfo_nodes(&lab)
    );
    let mut uac = lab.uac("uac", 40, 40, 100);
    let ids = finish(&mut uac, 40);
    lab.quit_nodes();
    let on: Vec<usize> = (0..2)
        .map(|i| lab.received(i, "INVITE").intersection(&ids).count())
        .collect();
    assert!(on[1] > 0, "the new node takes calls: {on:?}");
    assert_eq!(on[0] + on[1], 40, "{on:?}");
    lab.lb.stop();
}

#[test]
fn invalid_intermediate_file_changes_nothing_and_the_next_valid_one_applies() {
    let mut lab = watched_lab(2, 1);
    // The new node list, in a file that does not load.
    let added = lab.cfg.clone().with_static_node("node1", lab.nodes[1].1);
    let broken = added
        .yaml()
        .replace("nodeTimeout: 3000", "nodeTimeout: soon");
    lab.lb.rewrite_config(&broken);
    let warn = lab
        .lb
        .wait_log("config reload failed", LOG_WAIT)
        .expect("a warning for the invalid file");
    assert!(warn.contains("nodeTimeout"), "names the key: {warn}");
    let mut uac = lab.uac("uac1", 20, 20, 100);
    let ids = finish(&mut uac, 20);
    assert_eq!(
        lab.received(0, "INVITE").intersection(&ids).count(),
        20,
        "every call on the one configured node"
    );
    assert!(lab.received(1, "INVITE").is_empty(), "node1 not in use");
    assert!(lbinfo_shows(&lab, &["node0"]), "{:?}", lbinfo_nodes(&lab));

    // The same list, valid: applied.
    lab.lb.rewrite_config(&added.yaml());
    let line = lab
        .lb
        .wait_log("config reloaded from", LOG_WAIT)
        .expect("the valid file is reloaded");
    assert!(line.contains("nodes added: node1"), "{line}");
    lab.cfg = added;
    assert!(lab.lb.wait_log("node up (probe)", LOG_WAIT).is_some());
    let mut uac = lab.uac("uac2", 40, 40, 100);
    let ids = finish(&mut uac, 40);
    lab.quit_nodes();
    assert!(lab.received(1, "INVITE").intersection(&ids).count() > 0);
    lab.lb.stop();
}

#[test]
fn watch_config_false_reloads_on_sighup_only() {
    let mut lab = lab(2, 1, "");
    let added = lab.cfg.clone().with_static_node("node1", lab.nodes[1].1);
    lab.lb.rewrite_config(&added.yaml());
    assert!(
        lab.lb
            .wait_log("config reloaded from", Duration::from_secs(1))
            .is_none(),
        "a change of the file alone reloads nothing"
    );
    let line = lab.reload(added);
    assert!(line.contains("nodes added: node1"), "{line}");
    lab.quit_nodes();
    lab.lb.stop();
}

/// `ip:smppPort` of the SMPP servers `/lbinfo` lists.
fn lbinfo_smpp(port: u16) -> Vec<String> {
    lbinfo(port)["Nodes info"]["smppRemoteServers"]
        .as_array()
        .expect("smppRemoteServers")
        .iter()
        .map(|s| {
            let ip = s["ip"].as_str().unwrap();
            format!("{ip}:{}", s["properties"]["smppPort"].as_str().unwrap())
        })
        .collect()
}

#[test]
fn lbinfo_lists_the_smpp_servers_of_the_latest_reload() {
    let stats = free_port();
    let smpp = free_port();
    let servers =
        |ports: &[u16]| -> Vec<String> { ports.iter().map(|p| format!("127.0.0.1:{p}")).collect() };
    let mut cfg = LbConfig::two_legs();
    cfg.statistic_port = Some(stats);
    let section = |list: &[String]| {
        format!(
            "{NO_WATCH}smpp: {{ smppPort: {smpp}, remoteServers: [{}] }}\n",
            list.join(", ")
        )
    };
    let first = servers(&[free_port()]);
    cfg.extra_yaml = section(&first);
    let lb = Balancer::start(&cfg);
    assert!(lb.wait_log("listening admin/http", LOG_WAIT).is_some());
    assert!(
        wait_until(Duration::from_secs(2), || lbinfo_smpp(stats) == first),
        "{:?}",
        lbinfo_smpp(stats)
    );

    let second = servers(&[free_port(), free_port()]);
    cfg.extra_yaml = section(&second);
    lb.rewrite_config(&cfg.yaml());
    lb.reload();
    let line = lb
        .wait_log("config reloaded from", LOG_WAIT)
        .expect("one info line per reload");
    assert!(line.contains("smpp.remoteServers"), "{line}");
    assert!(
        wait_until(Duration::from_secs(2), || lbinfo_smpp(stats) == second),
        "/lbinfo after the reload: {:?}",
        lbinfo_smpp(stats)
    );

    // An invalid list changes nothing.
    cfg.extra_yaml = section(&["127.0.0.1:notaport".to_string()]);
    lb.rewrite_config(&cfg.yaml());
    lb.reload();
    assert!(lb.wait_log("config reload failed", LOG_WAIT).is_some());
    assert_eq!(lbinfo_smpp(stats), second);
    lb.stop();
}
