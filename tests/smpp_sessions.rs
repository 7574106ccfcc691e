//! SMPP sessions through the balancer, asserted on what crossed the wire:
//! PyPI `smpplib` ESMEs (`tests/smpp/esme.py`) against the asyncio SMSC
//! simulators (`tests/smpp/smsc.py`), whose counters say what reached them.
//!
//! - a receiver gets an SMSC's `deliver_sm`, its `deliver_sm_resp` reaches the SMSC;
//! - `enquire_link` is answered with status 0 and the ESME's own numbers;
//! - an SMSC dies under a submitting ESME: `ESME_RSYSERR` while the
//!   balancer rebinds, then success from the other SMSC on the same session;
//! - mux mode: each ESME gets only the receipts of its own messages, with
//!   one shard or two, even when the SMSC sends a receipt on another bind
//!   of the same system_id;
//! - `/lbstat` and `/metrics` count what the peers sent and received.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::smpp::{esme, lb_config, smpplib_available, submits, Esme, Smsc};
use common::{free_port, wait_until, Balancer};

/// Time for the balancer to open its listeners.
const START: Duration = Duration::from_millis(300);

#[test]
fn a_receiver_gets_the_smscs_deliver_sm_and_its_response_reaches_the_smsc() {
    if !smpplib_available() {
        return;
    }
    let mut a = Smsc::start("A", &[]);
    let port = free_port();
    let lb = Balancer::start(&lb_config(port, &[a.port], ""));
    std::thread::sleep(START);

    let rx = Esme::spawn(
        port,
        &[
            "--bind",
            "receiver",
            "--system-id",
            "rx",
            "--listen",
            "5",
            "--expect",
            "1",
        ],
    );
    assert_eq!(rx.bound(), Some(0), "bind_receiver through the balancer");
    a.deliver("hello");
    let (report, ok) = rx.finish();
    assert!(ok, "receiver: {report}");
    assert_eq!(report["bind"]["command"], "bind_receiver_resp", "{report}");
    let messages = report["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 1, "one deliver_sm: {report}");
    assert_eq!(messages[0]["text"], "hello", "{report}");
    // Renumbered from the ESME connection's own counter (the SMSC numbers
    // its deliver_sm from 0x10001).
    assert_eq!(messages[0]["seq"], 1, "{report}");
    assert!(submits(&report).is_empty(), "{report}");

    // The SMSC saw the receiver bind with the ESME's credentials, and got
    // the deliver_sm_resp (renumbered back to its own sequence number: the
    // simulator counts any deliver_sm_resp, the balancer relays only a
    // matching one).
    let mut stats = a.stats();
    assert!(
        wait_until(Duration::from_secs(3), || {
            stats = a.stats();
            stats["deliver_resp"] == 1 && stats["unbinds"] == 1
        }),
        "SMSC counters: {stats}"
    );
    assert_eq!(stats["binds"], 1, "{stats}");
    assert_eq!(stats["bind_systems"], serde_json::json!(["rx"]), "{stats}");
    assert_eq!(stats["deliver_sent"], 1, "{stats}");
    assert_eq!(stats["submits"], 0, "{stats}");
    lb.stop();
}

#[test]
fn enquire_link_is_answered_with_status_0_and_the_esmes_sequence_numbers() {
    if !smpplib_available() {
        return;
    }
    let mut a = Smsc::start("A", &[]);
    let port = free_port();
    let lb = Balancer::start(&lb_config(port, &[a.port], ""));
    std::thread::sleep(START);

    // Three enquire_links after three submits, numbered from 40.
    let (report, ok) = esme(port, &["-n", "3", "--first-seq", "40", "--enquire", "3"]);
    assert!(ok, "ESME: {report}");
    let links = report["enquire_links"].as_array().expect("enquire_links");
    assert_eq!(links.len(), 3, "{report}");
    let sent: Vec<u64> = links
        .iter()
        .map(|e| e["sent_seq"].as_u64().unwrap())
        .collect();
    assert_eq!(sent, [44, 45, 46], "bind 40, submits 41-43: {report}");
    for e in links {
        assert_eq!(e["status"], 0, "{e}");
        assert_eq!(e["got_seq"], e["sent_seq"], "{e}");
    }
    // The balancer answers them itself (as the original): none reached
    // the SMSC, which saw the bind, the submits and the unbind.
    let stats = a.stats();
    assert_eq!(stats["enquire_links"], 0, "{stats}");
    assert_eq!(stats["submits"], 3, "{stats}");
    assert_eq!(stats["binds"], 1, "{stats}");
    lb.stop();
}

/// `ESME_RSYSERR`.
const RSYSERR: u64 = 0x08;

#[test]
fn an_smsc_dies_under_a_bound_esme_rsyserr_while_rebinding_then_the_other_smsc_answers() {
    if !smpplib_available() {
        return;
    }
    let mut a = Smsc::start("A", &[]);
    let mut b = Smsc::start("B", &[]);
    let port = free_port();
    let lb = Balancer::start(&lb_config(port, &[a.port, b.port], "reconnectPeriod: 1000"));
    std::thread::sleep(START);

    // One submit every 50 ms for 4 s on one session; A (the first server)
    // dies 1.2 s in.
    let tx = Esme::spawn(port, &["--steady", "4", "--interval", "50"]);
    assert_eq!(tx.bound(), Some(0), "bind through the balancer");
    std::thread::sleep(Duration::from_millis(1200));
    a.die();
    let (report, ok) = tx.finish();
    assert!(
        ok,
        "ESME (every submit answered with its own number): {report}"
    );
    assert!(
        report.get("error").is_none(),
        "same session to the end: {report}"
    );
    assert_eq!(report["unbind"]["status"], 0, "{report}");

    // A's answers, then ESME_RSYSERR, then B's answers, in that order.
    let phase = |s: &serde_json::Value| -> u8 {
        let id = s["message_id"].as_str().unwrap_or("");
        match (s["status"].as_u64(), id.split('-').next()) {
            (Some(0), Some("A")) => 0,
            (Some(RSYSERR), _) => 1,
            (Some(0), Some("B")) => 2,
            _ => panic!("unexpected answer {s} in {report}"),
        }
    };
    let phases: Vec<u8> = submits(&report).iter().map(phase).collect();
    assert!(
        phases.windows(2).all(|w| w[0] <= w[1]),
        "A, RSYSERR, B: {phases:?}"
    );
    let count = |p| phases.iter().filter(|&&x| x == p).count();
    let (on_a, refused, on_b) = (count(0), count(1), count(2));
    assert!(on_a >= 10, "A answered before it died: {phases:?}");
    assert!(refused >= 5, "RSYSERR during the 1 s rebind: {phases:?}");
    assert!(on_b >= 10, "B answered after the rebind: {phases:?}");

    // The RSYSERR window is about reconnectPeriod long.
    let t = |p| {
        let at = phases.iter().position(|&x| x == p).unwrap();
        submits(&report)[at]["t_ms"].as_u64().unwrap()
    };
    let window = t(2) - t(1);
    eprintln!("A {on_a}, RSYSERR {refused} over {window} ms, B {on_b}");
    assert!((800..3000).contains(&window), "rebind took {window} ms");

    // B was bound once, with the ESME's credentials, and answered exactly
    // the submits the ESME saw succeed on it.
    let sb = b.stats();
    assert_eq!(sb["binds"], 1, "{sb}");
    assert_eq!(sb["bind_systems"], serde_json::json!(["esme"]), "{sb}");
    assert_eq!(sb["submits"], on_b as u64, "{sb}");
    assert_eq!(sb["unbinds"], 1, "{sb}");
    lb.stop();
}

/// The message ids of an ESME report's successful submits, and the
/// `receipted_message_id`s of the receipts it got (sorted, duplicates kept).
fn ids_and_receipts(report: &serde_json::Value) -> (Vec<String>, Vec<String>) {
    let text = |v: &serde_json::Value| v.as_str().unwrap_or("").to_string();
    let mut ids: Vec<String> = submits(report)
        .iter()
        .filter(|s| s["status"] == 0)
        .map(|s| text(&s["message_id"]))
        .collect();
    let mut got: Vec<String> = report["receipts"]
        .as_array()
        .expect("receipts")
        .iter()
        .map(|r| text(&r["receipted_message_id"]))
        .collect();
    ids.sort();
    got.sort();
    (ids, got)
}

#[test]
fn mux_mode_routes_each_receipt_to_the_esme_that_submitted_the_message() {
    mux_receipts(1, &["alpha", "alpha", "beta"]);
}

/// With two shards, the ESMEs' connections spread over both, yet one link
/// per `system_id` and SMSC exists (mux mode is served by one shard), so
/// an SMSC that sends a receipt on any bind of the system_id still reaches
/// the right ESME.
#[test]
fn mux_mode_with_two_shards_keeps_one_link_per_system_id_and_routes_receipts() {
    mux_receipts(2, &["alpha", "alpha", "alpha", "alpha", "beta"]);
}

/// ESMEs named `names` (their `system_id`s) submit 10 messages each in mux
/// mode through a balancer of `cores` shards to two SMSCs that send every
/// receipt on another bind of the same system_id when they have one.
fn mux_receipts(cores: usize, names: &[&str]) {
    if !smpplib_available() {
        return;
    }
    let flags = ["--receipts", "--receipts-elsewhere"];
    let mut a = Smsc::start("A", &flags);
    let mut b = Smsc::start("B", &flags);
    let port = free_port();
    let mut cfg = lb_config(port, &[a.port, b.port], "muxMode: true");
    cfg.cores = cores;
    let lb = Balancer::start(&cfg);
    std::thread::sleep(START);

    // ESMEs of one system_id share one UserSpace, one transceiver link per
    // SMSC. All are bound before any submits, and each listens 1 s after
    // its own receipts for strays.
    let mut esmes: Vec<Esme> = names
        .iter()
        .map(|id| {
            let args = [
                "--system-id",
                id,
                "-n",
                "10",
                "--window",
                "2",
                "--receipts",
                "--wait-go",
                "--listen",
                "1",
            ];
            Esme::spawn(port, &args)
        })
        .collect();
    for e in &esmes {
        assert_eq!(e.bound(), Some(0), "mux bind");
    }
    for e in &mut esmes {
        e.go();
    }
    let reports: Vec<serde_json::Value> = esmes
        .into_iter()
        .map(|e| {
            let (report, ok) = e.finish();
            assert!(ok, "ESME: {report}");
            report
        })
        .collect();

    let mut smscs_used = std::collections::BTreeSet::new();
    for (name, report) in names.iter().zip(&reports) {
        assert_eq!(report["bind"]["system_id"], "loadbalancer", "{report}");
        let (ids, got) = ids_and_receipts(report);
        assert_eq!(ids.len(), 10, "{name}: {report}");
        assert_eq!(got, ids, "{name} got exactly its own receipts: {report}");
        smscs_used.extend(
            ids.iter()
                .filter_map(|id| id.split('-').next().map(String::from)),
        );
    }
    assert_eq!(smscs_used.len(), 2, "submits spread over A and B");

    // Each SMSC: one transceiver bind per system_id, every receipt answered.
    let (sa, sb) = (a.stats(), b.stats());
    for s in [&sa, &sb] {
        let mut systems: Vec<&str> = s["bind_systems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        systems.sort_unstable();
        assert_eq!(systems, ["alpha", "beta"], "{s}");
    }
    let total = |k: &str| sa[k].as_u64().unwrap() + sb[k].as_u64().unwrap();
    let sent = 10 * names.len() as u64;
    assert_eq!(total("submits"), sent, "{sa} {sb}");
    assert_eq!(total("deliver_sent"), sent, "{sa} {sb}");
    assert!(
        wait_until(Duration::from_secs(2), || {
            let (sa, sb) = (a.stats(), b.stats());
            sa["deliver_resp"].as_u64().unwrap() + sb["deliver_resp"].as_u64().unwrap() == sent
        }),
        "every deliver_sm_resp reached its SMSC"
    );
    lb.stop();
}

/// `/lbstat` `Metrics`.
fn lbstat(admin: u16) -> serde_json::Value {
    let r = common::http::get(common::local(admin), "/lbstat");
    assert_eq!(r.status, 200);
    serde_json::from_str::<serde_json::Value>(&r.body).expect("JSON")["Metrics"].clone()
}

/// A `/metrics` sample without labels.
fn metric(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn statistics_count_the_smpp_requests_responses_bytes_and_connections_that_crossed() {
    if !smpplib_available() {
        return;
    }
    let mut a = Smsc::start("A", &["--receipts"]);
    let (port, admin) = (free_port(), free_port());
    // No keep-alive enquire_link during the test: every PDU is a peer's.
    let mut cfg = lb_config(port, &[a.port], "timeoutEnquire: 60000");
    cfg.statistic_port = Some(admin);
    let lb = Balancer::start(&cfg);
    std::thread::sleep(START);

    // A transceiver with receipts and a receiver; the SMSC sends both a message.
    let mut tx = Esme::spawn(
        port,
        &["-n", "5", "--window", "2", "--receipts", "--wait-go"],
    );
    let rx = Esme::spawn(
        port,
        &["--bind", "receiver", "--listen", "5", "--expect", "1"],
    );
    assert_eq!((tx.bound(), rx.bound()), (Some(0), Some(0)));
    let mut m = lbstat(admin);
    assert!(
        wait_until(Duration::from_secs(2), || {
            m = lbstat(admin);
            m["NumberOfActiveSmppConnections"] == 4
        }),
        "two ESMEs and their two SMSC links: {m}"
    );
    a.deliver("hello");
    tx.go();
    let (txr, ok) = tx.finish();
    assert!(ok, "transceiver: {txr}");
    let (rxr, ok) = rx.finish();
    assert!(ok, "receiver: {rxr}");

    // What the SMSC saw is what the balancer counted.
    let s = a.stats();
    let n = |k: &str| s[k].as_u64().unwrap();
    assert_eq!((n("binds"), n("submits"), n("unbinds")), (2, 5, 2), "{s}");
    // 5 receipts, and "hello" to both bound receivers (the transceiver too)
    assert_eq!((n("deliver_sent"), n("deliver_resp")), (7, 7), "{s}");
    assert_eq!(txr["messages"].as_array().unwrap().len(), 1, "{txr}");
    let want = [
        (
            "NumberOfSmppRequestsToServer",
            n("binds") + n("submits") + n("unbinds"),
        ),
        ("NumberOfSmppRequestsToClient", n("deliver_sent")),
        ("NumberOfSmppBytesToServer", n("bytes_in")),
        ("NumberOfSmppBytesToClient", n("bytes_out")),
        ("NumberOfActiveSmppConnections", 0),
    ];
    let matches = |m: &serde_json::Value| want.iter().all(|(k, v)| m[k] == *v);
    assert!(
        wait_until(Duration::from_secs(2), || {
            m = lbstat(admin);
            matches(&m)
        }),
        "/lbstat {m} against the SMSC's {s}"
    );

    // /metrics: the same, and the responses each way (the ESMEs' bind,
    // submit and unbind responses; the receipts' and message's answers).
    let r = common::http::get(common::local(admin), "/metrics");
    assert_eq!(r.status, 200);
    let p = |name: &str| metric(&r.body, name).unwrap_or_else(|| panic!("{name} in {}", r.body));
    let answered = 2 + submits(&txr).len() as u64 + 2;
    assert_eq!(p("sip_balancer_smpp_responses_to_client_total"), answered);
    assert_eq!(
        p("sip_balancer_smpp_responses_to_server_total"),
        n("deliver_resp")
    );
    assert_eq!(p("sip_balancer_smpp_requests_to_server_total"), want[0].1);
    assert_eq!(p("sip_balancer_smpp_bytes_to_client_total"), n("bytes_out"));
    assert_eq!(p("sip_balancer_smpp_connections"), 0);
    lb.stop();
}
