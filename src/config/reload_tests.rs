use super::Diff;
use crate::config::{from_yaml_str, Config};

const BASE: &str = "sip: { external: { udpPort: 5060 }, internal: { udpPort: 5065 } }\n";

fn cfg(extra: &str) -> Config {
    from_yaml_str(&format!("{BASE}{extra}"), "test.yaml").unwrap()
}

const AB: &str = "nodes:\n  - { ip: 10.0.0.1, udpPort: 5070, hostname: a }\n  - { ip: 10.0.0.2, udpPort: 5070, hostname: b }\n";

#[test]
fn same_file_changes_nothing() {
    let d = Diff::between(&cfg(AB), &cfg(AB));
    assert_eq!(d, Diff::default());
    assert!(!d.is_live());
}

#[test]
fn node_added_removed_and_changed() {
    let new = "nodes:\n  - { ip: 10.0.0.1, udpPort: 5070, hostname: a, version: 2 }\n  - { ip: 10.0.0.3, udpPort: 5070, hostname: c }\n";
    let (old, new) = (cfg(AB), cfg(new));
    let d = Diff::between(&old, &new);
    assert_eq!(d.nodes_added, ["c 10.0.0.3:5070"]);
    assert_eq!(d.nodes_removed, ["b 10.0.0.2:5070"]);
    assert_eq!(d.nodes_changed, ["a 10.0.0.1:5070"]);
    assert!(d.is_live() && d.restart.is_empty() && d.algorithm.is_empty());
    let s = d.summary(&old, &new);
    assert!(s.contains("nodes added: c 10.0.0.3:5070"), "{s}");
}

#[test]
fn algorithm_keys_are_named() {
    let old = cfg("");
    let new = cfg("algorithm: { algorithmClass: userBased, sipHeaderAffinityKey: To }\n");
    let d = Diff::between(&old, &new);
    assert_eq!(d.algorithm, ["algorithmClass", "sipHeaderAffinityKey"]);
    assert!(d.restart.is_empty());
    let s = d.summary(&old, &new);
    assert!(s.contains("CallIdAffinity -> UserBased"), "{s}");
}

#[test]
fn listeners_cores_and_tls_need_a_restart() {
    let old = cfg("");
    let new = from_yaml_str(
        "cores: 2\nsip: { external: { udpPort: 5062 }, internal: { udpPort: 5065 } }\nnodeTimeout: 1000\n",
        "t",
    )
    .unwrap();
    let d = Diff::between(&old, &new);
    assert_eq!(d.restart, ["cores", "sip.external", "nodeTimeout"]);
    assert!(!d.is_live());
}

#[test]
fn smpp_remote_servers_are_live_the_rest_is_not() {
    let old = cfg("smpp: { smppPort: 2775, remoteServers: [\"127.0.0.1:2776\"] }\n");
    let new =
        cfg("smpp: { smppPort: 2775, remoteServers: [\"127.0.0.1:2776\", \"127.0.0.1:2777\"] }\n");
    let d = Diff::between(&old, &new);
    assert!(d.smpp_servers && d.restart.is_empty());
    let moved = cfg("smpp: { smppPort: 2780, remoteServers: [\"127.0.0.1:2776\"] }\n");
    let d = Diff::between(&old, &moved);
    assert!(!d.smpp_servers);
    assert_eq!(d.restart, ["smpp (other than remoteServers)"]);
}

#[test]
fn smpp_remote_servers_in_mux_mode_need_a_restart() {
    let old = cfg("smpp: { smppPort: 2775, muxMode: true, remoteServers: [\"127.0.0.1:2776\"] }\n");
    let new = cfg("smpp: { smppPort: 2775, muxMode: true, remoteServers: [\"127.0.0.1:2777\"] }\n");
    let d = Diff::between(&old, &new);
    assert!(!d.smpp_servers);
    assert_eq!(d.restart, ["smpp.remoteServers (muxMode)"]);
}

#[test]
fn diff_follows_the_live_list() {
    // Nearly every section changed at once.
    let other = "cores: 2\nnodeTimeout: 9000\nheartbeatInterval: 200\nheartbeatPort: 2611\n\
        statisticPort: 2007\nshutdownTimeout: 5\nwatchConfig: false\n\
        sip: { external: { udpPort: 5070 }, internal: { udpPort: 5075 }, isSendTrying: false, maxMessageSize: 4096 }\n\
        probe: { interval: 500 }\nhealth: { maxErrorTime: 5 }\nhttp: { httpPort: 8080 }\n\
        smpp: { smppPort: 2776, timeoutResponse: 5, remoteServers: [10.0.1.1:2775] }\n\
        ssl: { terminateTLSTraffic: true }\nalgorithm: { algorithmClass: userBased }\n\
        nodes: [ { ip: 10.0.0.9, udpPort: 5070 } ]\n";
    let old = cfg("");
    let new = from_yaml_str(other, "other.yaml").unwrap();
    let d = Diff::between(&old, &new);
    assert!(d.nodes_changed() && !d.algorithm.is_empty() && d.smpp_servers);
    assert!(d.restart.len() >= 12, "{:?}", d.restart);
    for key in &d.restart {
        let path = key.split(' ').next().unwrap_or(key);
        assert_eq!(
            super::live(path),
            None,
            "{key} is reported as needing a restart"
        );
    }
    for (live, _) in super::LIVE {
        assert!(!d.restart.iter().any(|k| k.starts_with(live)), "{live}");
    }
}
