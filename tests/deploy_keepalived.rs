//! deploy/keepalived.conf, proved on the wire (issue 11): two balancer
//! hosts and a client LAN, each its own network namespace owned by this
//! test, joined by veths to a bridge in the client's namespace:
//!
//! ```text
//!  client 192.0.2.1 (br0) ── eth0 192.0.2.10  host A: sip-balancer + keepalived (priority 100) + node-a
//!                        └── eth0 192.0.2.11  host B: sip-balancer + keepalived (priority 50)  + node-b
//!  VIP 192.0.2.100: sip.external.host of both balancers (ip_nonlocal_bind = 1)
//! ```
//!
//! keepalived runs the shipped file unchanged except B's priority; its
//! `track_script` asks the local balancer's `/lbstat`. The test asserts
//! that an OPTIONS from the client to the VIP is answered by node-a through
//! balancer A (the balancer's Via carries the VIP), that `/lbstop` on A
//! moves the VIP to B within [`FAILOVER`] and the same request is then
//! answered by node-b through balancer B, that A drains and exits 0, and
//! that a restarted A takes the VIP back and loses it again when killed.
//! The shipped IPVS file (`deploy/keepalived-ipvs.conf`) only passes
//! `keepalived --config-test`: this kernel has no `ip_vs`.
//!
//! The ports (5060, 5065, 5080, 2006) are the shipped ones: they exist only
//! inside the test's namespaces, so they collide with nothing. The test
//! skips, saying why, when not root, when it cannot create a namespace, or
//! without `ip`, `keepalived` or `/usr/bin/curl` (the health check's program).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "deploy_keepalived/netns.rs"]
mod netns;
#[path = "deploy_keepalived/procs.rs"]
mod procs;

use std::net::{SocketAddr, UdpSocket};
use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

use common::{FakeNode, Req, TempDir, UdpPeer};
use netns::Netns;
use procs::Proc;

/// The virtual IP of deploy/keepalived.conf.
const VIP: &str = "192.0.2.100";
/// Longest time from a failed health check to the peer answering on the VIP.
const FAILOVER: Duration = Duration::from_secs(10);
/// `shutdownTimeout` of the test balancers (the `/lbstop` drain).
const DRAIN_MS: u64 = 2000;

/// Why the test cannot run here, if it cannot.
fn skip_reason() -> Option<String> {
    #[allow(unsafe_code)]
    // SAFETY: geteuid(2) cannot fail and touches no memory of ours.
    let euid = unsafe { libc::geteuid() };
    if euid != 0 {
        return Some("not root (network namespaces and keepalived need it)".into());
    }
    // The health check of deploy/keepalived.conf runs /usr/bin/curl.
    for (prog, arg) in [
        ("ip", "-V"),
        ("keepalived", "--version"),
        ("/usr/bin/curl", "--version"),
    ] {
        if let Err(e) = netns::run(prog, &[arg]) {
            return Some(format!("`{prog}` not usable: {e}"));
        }
    }
    None
}

/// The shipped keepalived.conf, B's copy with the standby priority.
fn keepalived_conf(standby: bool) -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/keepalived.conf");
    let text = std::fs::read_to_string(path).expect("read deploy/keepalived.conf");
    assert_eq!(
        text.matches("priority 100").count(),
        1,
        "{path}: one `priority 100`"
    );
    if standby {
        text.replace("priority 100", "priority 50")
    } else {
        text
    }
}

/// Balancer config: external leg on the VIP, internal leg and the one
/// static node on the host's loopback.
fn lb_yaml(node: &str) -> String {
    format!(
        "cores: 1\nstatisticPort: 2006\nshutdownTimeout: {DRAIN_MS}\nheartbeatPort: 0\n\
         sip:\n  external: {{ host: {VIP}, udpPort: 5060 }}\n  \
         internal: {{ host: 127.0.0.1, udpPort: 5065 }}\n  isSendTrying: false\n\
         nodes:\n  - {{ ip: 127.0.0.1, udpPort: 5080, hostname: {node} }}\n\
         probe: {{ interval: 200, timeout: 500, failuresToDown: 2, successesToUp: 1 }}\n"
    )
}

/// One balancer host.
struct Host {
    name: &'static str,
    // Drop order: keepalived, balancer, node, scratch dir, namespace last.
    keepalived: Option<Proc>,
    balancer: Option<Proc>,
    node: FakeNode,
    dir: TempDir,
    ns: Netns,
}

impl Host {
    /// Namespace with `eth0` (`addr`) on the LAN bridge, the node, the
    /// balancer; keepalived is started separately.
    fn new(name: &'static str, addr: &str, lan: &Netns) -> Host {
        let ns = Netns::new(name);
        ns.ip(&format!(
            "link add eth0 type veth peer name v{name} netns {}",
            lan.name
        ));
        lan.ip(&format!("link set v{name} master br0 up"));
        ns.ip(&format!("addr add {addr}/24 dev eth0"));
        ns.ip("link set eth0 up");
        ns.sysctl("net/ipv4/ip_nonlocal_bind", "1");
        let node = ns.run(|| FakeNode::bind(5080));
        let dir = TempDir::new(&format!("keepalived-{name}"));
        let mut h = Host {
            name,
            keepalived: None,
            balancer: None,
            node,
            dir,
            ns,
        };
        h.start_balancer();
        h
    }

    fn start_balancer(&mut self) {
        let tag = format!("lb-{}", self.name);
        let yaml = lb_yaml(&format!("node-{}", self.name));
        self.balancer = Some(procs::balancer(&self.ns, &tag, &self.dir.path, &yaml));
    }

    fn start_keepalived(&mut self, standby: bool) {
        let tag = format!("ka-{}", self.name);
        let conf = keepalived_conf(standby);
        self.keepalived = Some(procs::keepalived(&self.ns, &tag, &self.dir.path, &conf));
    }

    fn keepalived(&self) -> &Proc {
        self.keepalived.as_ref().expect("keepalived started")
    }

    /// True if the VIP is on this host's eth0.
    fn holds_vip(&self) -> bool {
        self.ns
            .ip_output("-4 addr show dev eth0")
            .contains(&format!("inet {VIP}/"))
    }
}

/// What came back for one OPTIONS to the VIP.
#[derive(Debug, PartialEq)]
enum Answer {
    /// A 200 from this node; the request it got had these Vias.
    Node(String, Vec<String>),
    /// Another status (e.g. a draining balancer's 503).
    Status(u16),
    /// Nothing within the wait.
    Silence,
}

/// Sends an OPTIONS from `client` to the VIP; each node answers what it
/// receives with 200 and To-tag = its name; waits up to 1 s for the answer.
fn ask(client: &UdpPeer, hosts: &[&Host], n: u32) -> Answer {
    let vip: SocketAddr = format!("{VIP}:5060").parse().unwrap();
    let call_id = format!("vrrp-{n}@client");
    let req = Req::new(
        "OPTIONS",
        &format!("sip:ping@{VIP}:5060"),
        client.addr,
        &call_id,
        &format!("z9hG4bKvrrp{n}"),
    );
    // Errors are expected while no host holds the VIP (no ARP answer).
    let _ = client.sock.send_to(&req.to_bytes(), vip);
    let deadline = Instant::now() + Duration::from_secs(1);
    let mut seen: Option<(String, Vec<String>)> = None;
    while Instant::now() < deadline {
        for h in hosts {
            while let Some((m, from)) = h.node.expect_request(Duration::from_millis(5)) {
                if m.call_id().as_deref() == Some(call_id.as_str()) {
                    let tag = format!("node-{}", h.name);
                    h.node.send(&common::reply(&m, 200, "OK", &tag), from);
                    seen = Some((tag, m.vias()));
                }
            }
        }
        if let Some((m, _)) = client.recv_msg(Duration::from_millis(10)) {
            if m.call_id().as_deref() != Some(call_id.as_str()) {
                continue;
            }
            let to_tag = m.header("to").and_then(|t| common::param(&t, "tag"));
            return match (m.status(), seen.take(), to_tag) {
                (Some(200), Some((node, vias)), Some(tag)) if tag == node => {
                    Answer::Node(node, vias)
                }
                (status, _, _) => Answer::Status(status.unwrap_or(0)),
            };
        }
    }
    Answer::Silence
}

/// Asks until `want` answers 200, within `dur`; returns the Vias of the
/// request it got (None if it never answered), the time taken and every
/// other answer seen meanwhile.
fn wait_for(
    client: &UdpPeer,
    hosts: &[&Host],
    n: &mut u32,
    want: &str,
    dur: Duration,
) -> (Option<Vec<String>>, Duration, Vec<Answer>) {
    let start = Instant::now();
    let mut before = Vec::new();
    while start.elapsed() < dur {
        *n += 1;
        match ask(client, hosts, *n) {
            Answer::Node(node, vias) if node == want => {
                return (Some(vias), start.elapsed(), before)
            }
            other => {
                before.push(other);
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
    (None, start.elapsed(), before)
}

#[test]
fn vip_moves_to_the_standby_when_the_active_balancer_stops() {
    if let Some(why) = skip_reason() {
        eprintln!("SKIPPED deploy_keepalived: {why}");
        return;
    }
    netns::sweep_stale();
    let lan = match Netns::try_new("lan") {
        Ok(ns) => ns,
        Err(e) => {
            eprintln!("SKIPPED deploy_keepalived: cannot create a network namespace: {e}");
            return;
        }
    };
    lan.ip("link add br0 type bridge");
    lan.ip("link set br0 up");
    lan.ip("addr add 192.0.2.1/24 dev br0");
    let mut a = Host::new("a", "192.0.2.10", &lan);
    let mut b = Host::new("b", "192.0.2.11", &lan);

    for file in ["keepalived.conf", "keepalived-ipvs.conf"] {
        let path = format!("{}/deploy/{file}", env!("CARGO_MANIFEST_DIR"));
        let out =
            a.ns.command("keepalived")
                .args(["--config-test", "--log-console", "--use-file", &path])
                .output()
                .expect("keepalived --config-test");
        let log = String::from_utf8_lossy(&out.stderr).into_owned()
            + &String::from_utf8_lossy(&out.stdout);
        // keepalived 2.2.7 ends a config test that has a vrrp_script with
        // SIGTERM to itself; the verdict is then that it printed nothing.
        let ended = out.status.success() || out.status.signal() == Some(libc::SIGTERM);
        assert!(
            ended && log.trim().is_empty(),
            "deploy/{file}: {}\n{log}",
            out.status
        );
    }

    a.start_keepalived(false);
    b.start_keepalived(true);
    let sock = lan.run(|| UdpSocket::bind("192.0.2.1:5070").expect("bind client"));
    let client = UdpPeer {
        addr: sock.local_addr().unwrap(),
        sock,
    };
    let mut n = 0;
    let via_vip = |vias: &[String]| vias.iter().any(|v| v.contains(&format!("{VIP}:5060")));
    let no_node = |before: &[Answer]| !before.iter().any(|x| matches!(x, Answer::Node(..)));
    // While the VIP is still on a draining A: A's answers (a request that
    // beat the drain to its shard, then 503s) or nothing; never B's.
    let from_a = |before: &[Answer]| {
        before.iter().all(|x| match x {
            Answer::Node(node, _) => node == "node-a",
            Answer::Status(s) => *s == 503,
            Answer::Silence => true,
        })
    };

    // A (priority 100, health check passing) takes the VIP.
    let (vias, took, before) = wait_for(
        &client,
        &[&a, &b],
        &mut n,
        "node-a",
        Duration::from_secs(15),
    );
    let vias = vias.unwrap_or_else(|| panic!("node-a never answered on the VIP: {before:?}"));
    assert!(no_node(&before), "nothing but A answered first: {before:?}");
    assert!(
        via_vip(&vias),
        "balancer A's external Via carries the VIP: {vias:?}"
    );
    assert!(a.holds_vip() && !b.holds_vip(), "VIP on A only");
    eprintln!("VIP answered through A {took:?} after keepalived started");
    for _ in 0..3 {
        n += 1;
        let got = ask(&client, &[&a, &b], n);
        assert!(
            matches!(got, Answer::Node(ref x, _) if x == "node-a"),
            "{got:?}"
        );
    }

    // /lbstop on A closes its admin port: the check fails, A goes FAULT,
    // B becomes master and answers on the VIP.
    let stop =
        a.ns.run(|| common::http::get("127.0.0.1:2006".parse().unwrap(), "/lbstop"));
    assert_eq!(stop.status, 423, "/lbstop answer");
    let (vias, took, before) = wait_for(&client, &[&a, &b], &mut n, "node-b", FAILOVER);
    let vias = vias.unwrap_or_else(|| panic!("node-b never answered after /lbstop: {before:?}"));
    assert!(
        via_vip(&vias),
        "balancer B's external Via carries the VIP: {vias:?}"
    );
    assert!(
        from_a(&before),
        "only A answered until the switch: {before:?}"
    );
    eprintln!("failover after /lbstop: {took:?} (before: {before:?})");
    assert!(b.holds_vip() && !a.holds_vip(), "VIP on B only");
    a.keepalived()
        .wait_line("Entering FAULT STATE", Duration::from_secs(1))
        .expect("keepalived A went FAULT on the failed check");
    b.keepalived()
        .wait_line("Entering MASTER STATE", Duration::from_secs(1))
        .expect("keepalived B became master");
    let status = a
        .balancer
        .as_mut()
        .unwrap()
        .wait_exit(Duration::from_millis(DRAIN_MS + 3000));
    assert!(
        status.is_some_and(|s| s.success()),
        "A exits 0 after the drain: {status:?}"
    );

    // A back: its check passes again and, with the higher priority, it
    // takes the VIP back from B.
    a.start_balancer();
    let (vias, took, before) = wait_for(&client, &[&a, &b], &mut n, "node-a", FAILOVER);
    assert!(
        vias.is_some(),
        "A restarted never answered on the VIP: {before:?}"
    );
    eprintln!("A took the VIP back {took:?} after its restart");
    assert!(a.holds_vip() && !b.holds_vip(), "VIP back on A only");

    // A crashes (SIGKILL, no /lbstop): the port is gone all the same.
    a.balancer.as_mut().unwrap().kill();
    let (vias, took, before) = wait_for(&client, &[&a, &b], &mut n, "node-b", FAILOVER);
    assert!(
        vias.is_some(),
        "B never answered after A was killed: {before:?}"
    );
    assert!(
        no_node(&before),
        "no node answered during the switch: {before:?}"
    );
    eprintln!("failover after SIGKILL: {took:?}");
    assert!(
        b.holds_vip() && !a.holds_vip(),
        "VIP on B only after the crash"
    );
}
