//! SMPP sessions through the balancer, asserted on what crossed the wire:
//! PyPI `smpplib` ESMEs (`tests/smpp/esme.py`) against the asyncio SMSC
//! simulators (`tests/smpp/smsc.py`), whose counters say what reached them.
//!
//! - a receiver gets an SMSC's `deliver_sm`, its `deliver_sm_resp` reaches the SMSC;
//! - `enquire_link` is answered with status 0 and the ESME's own numbers;
//! - an SMSC dies under a submitting ESME: `ESME_RSYSERR` while the
//!   balancer rebinds, then success from the other SMSC on the same session;
//! - mux mode: each ESME gets only the receipts of its own messages;
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
