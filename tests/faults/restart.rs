//! The balancer restarted mid-call: a SIPp UAC establishes 40 dialogs
//! (INVITE / 200 / ACK) through the balancer to two SIPp UAS nodes, then
//! pauses 8 s before each BYE (`sipp-scenarios/uac.xml`, `-d`). Once every
//! ACK has left, the balancer is killed (SIGKILL: nothing saved, nothing
//! flushed) and a new process starts on the same configuration. The BYEs
//! follow the Route set the UAC learned from the 200's Record-Route and
//! reach the new process, which has never seen these dialogs: each must
//! reach the node that holds its dialog and get its 200 back to the UAC.
//! The dialog state the balancer needs travels in the messages (Route,
//! Via); the node choice is a pure function of the Call-ID and the node
//! set, so the new process makes the same one.

use std::collections::BTreeSet;
use std::time::Duration;

use super::common::sipp::{shared_scenario, sipp_available};
use super::common::{free_port, wait_until, Balancer, Heartbeater, HeavyGuard, LbConfig, Sipp};
use super::tail;

/// Dialogs established before the restart.
const CALLS: u32 = 40;
/// Calls per second (all established within 2 s).
const RATE: u32 = 20;
/// ACK → BYE pause of the UAC, ms: room for the restart.
const PAUSE_MS: u32 = 8000;
/// Node heartbeat period.
const PULSE: Duration = Duration::from_millis(200);

#[test]
fn dialogs_end_through_a_restarted_balancer_by_their_record_route() {
    assert!(sipp_available(), "sipp not installed (run .ci/run)");
    let _heavy = HeavyGuard::take();
    let (pa, pb) = (free_port(), free_port());
    let cfg = LbConfig::two_legs();
    let mut a = Sipp::uas("restart-uas-a", pa);
    let mut b = Sipp::uas("restart-uas-b", pb);
    let lb = Balancer::start(&cfg);
    let hbs = [
        Heartbeater::start(lb.internal, pa, PULSE),
        Heartbeater::start(lb.internal, pb, PULSE),
    ];
    for hb in &hbs {
        assert!(
            hb.wait_registered(Duration::from_secs(5)),
            "node registered"
        );
    }

    let pause = PAUSE_MS.to_string();
    let mut uac = Sipp::uac_with(
        "restart-uac",
        &shared_scenario("uac.xml"),
        &lb.external.to_string(),
        CALLS,
        RATE,
        60,
        &["-d", &pause],
    );
    let acks = || sent(&uac, "ACK");
    assert!(
        wait_until(Duration::from_secs(6), || acks() == CALLS as usize),
        "{} of {CALLS} dialogs established",
        acks()
    );
    assert_eq!(sent(&uac, "BYE"), 0, "no BYE before the restart");

    let old_pid = lb.pid();
    drop(lb); // SIGKILL
    let acked: Vec<usize> = hbs.iter().map(Heartbeater::acks).collect();
    let lb = Balancer::start(&cfg);
    assert_ne!(lb.pid(), old_pid, "a new process");
    assert!(
        wait_until(Duration::from_secs(3), || hbs
            .iter()
            .zip(&acked)
            .all(|(hb, n)| hb.acks() > *n)),
        "both nodes announced to the new process"
    );
    assert_eq!(sent(&uac, "BYE"), 0, "the BYEs come after the restart");

    let code = uac.wait(Duration::from_secs(40));
    a.quit();
    b.quit();
    let stats = uac.stats();
    eprintln!("after the restart: {stats:?}");
    assert_eq!(
        (code, stats.successful, stats.failed),
        (Some(0), u64::from(CALLS), 0),
        "every dialog ended with a 200 to its BYE; errors:\n{}",
        tail(&uac.read("errors.log"), 20)
    );
    let (invited_a, byed_a) = (received(&a, "INVITE"), received(&a, "BYE"));
    let (invited_b, byed_b) = (received(&b, "INVITE"), received(&b, "BYE"));
    assert!(
        !invited_a.is_empty() && !invited_b.is_empty(),
        "calls on both nodes"
    );
    assert_eq!(byed_a, invited_a, "A's dialogs' BYEs reached A");
    assert_eq!(byed_b, invited_b, "B's dialogs' BYEs reached B");
    assert_eq!(invited_a.len() + invited_b.len(), CALLS as usize);
    drop(hbs);
    lb.stop();
}

/// How many `method` requests SIPp has sent (its trace is written as it goes).
fn sent(sipp: &Sipp, method: &str) -> usize {
    sipp.trace()
        .iter()
        .filter(|m| !m.received && m.method.as_deref() == Some(method))
        .count()
}

/// Call-IDs of the `method` requests SIPp received.
fn received(sipp: &Sipp, method: &str) -> BTreeSet<String> {
    sipp.trace()
        .into_iter()
        .filter(|m| m.received && m.method.as_deref() == Some(method))
        .map(|m| m.call_id)
        .collect()
}
