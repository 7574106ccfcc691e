use std::net::IpAddr;
use std::time::Duration;

use super::*;
use crate::config::{NoResponseCheck, RampUp};
use crate::registry::{NodeId, NodeSource, NodeState};

fn cfg() -> HealthConfig {
    HealthConfig {
        error_codes: vec![503],
        max_errors: 2,
        max_error_time: Duration::from_secs(10),
        no_response: Some(NoResponseCheck {
            max_requests: 3,
            max_response_time: Duration::from_secs(5),
        }),
        ramp_up: Some(RampUp {
            period: Duration::from_secs(1),
            percent: 40,
        }),
    }
}

fn node() -> Node {
    Node::new(
        NodeId(0),
        IpAddr::from([10, 0, 0, 1]),
        5080,
        NodeSource::Heartbeat,
        NodeState::Up,
    )
}

fn at(t0: Instant, ms: u64) -> Instant {
    t0 + Duration::from_millis(ms)
}

fn errors(n: u32) -> HealthReport {
    HealthReport {
        errors: n,
        responses: n,
        requests: 0,
    }
}

#[test]
fn more_than_max_errors_in_the_window_excludes() {
    let (t0, cfg, mut n) = (crate::test_epoch(), cfg(), node());
    let mut h = Health::new(t0);
    assert_eq!(h.record(&mut n, errors(2), &cfg, t0), None);
    assert!(!n.bad);
    assert_eq!(
        h.record(&mut n, errors(1), &cfg, at(t0, 9_000)),
        Some(Exclusion::Errors)
    );
    assert!(n.bad && !n.takes_new_calls() && n.is_alive());
    assert_eq!(
        h.record(&mut n, errors(5), &cfg, at(t0, 9_001)),
        None,
        "already bad"
    );
}

#[test]
fn an_old_window_starts_over() {
    let (t0, cfg, mut n) = (crate::test_epoch(), cfg(), node());
    let mut h = Health::new(t0);
    h.record(&mut n, errors(2), &cfg, t0);
    assert_eq!(h.record(&mut n, errors(2), &cfg, at(t0, 10_001)), None);
    assert_eq!(
        h.record(&mut n, errors(1), &cfg, at(t0, 10_002)),
        Some(Exclusion::Errors)
    );
}

#[test]
fn unanswered_requests_exclude_only_after_the_silence() {
    let (t0, cfg, mut n) = (crate::test_epoch(), cfg(), node());
    let mut h = Health::new(t0);
    let sent = |requests| HealthReport {
        requests,
        ..HealthReport::default()
    };
    assert_eq!(
        h.record(&mut n, sent(10), &cfg, at(t0, 4_000)),
        None,
        "not silent long enough"
    );
    let answered = HealthReport {
        responses: 1,
        ..HealthReport::default()
    };
    assert_eq!(h.record(&mut n, answered, &cfg, at(t0, 4_500)), None);
    assert_eq!(
        h.record(&mut n, sent(3), &cfg, at(t0, 9_600)),
        None,
        "3 is not more than 3"
    );
    assert_eq!(
        h.record(&mut n, sent(1), &cfg, at(t0, 9_700)),
        Some(Exclusion::NoResponse)
    );
}

#[test]
fn no_response_check_is_off_without_its_keys() {
    let (t0, mut cfg, mut n) = (crate::test_epoch(), cfg(), node());
    cfg.no_response = None;
    let mut h = Health::new(t0);
    let sent = HealthReport {
        requests: 1000,
        ..HealthReport::default()
    };
    assert_eq!(h.record(&mut n, sent, &cfg, at(t0, 60_000)), None);
}

#[test]
fn slow_start_steps_to_full() {
    let (t0, cfg, mut n) = (crate::test_epoch(), cfg(), node());
    let mut h = Health::new(t0);
    h.restart(&mut n, &cfg, t0);
    assert_eq!(n.weight, 40);
    assert_eq!(h.deadline(&cfg, false), Some(at(t0, 1000)));
    assert!(!h.handle_timeout(&mut n, &cfg, false, at(t0, 999)));
    assert!(h.handle_timeout(&mut n, &cfg, false, at(t0, 1000)));
    assert_eq!(n.weight, 80);
    assert!(h.handle_timeout(&mut n, &cfg, false, at(t0, 2000)));
    assert_eq!(n.weight, 100);
    assert_eq!(h.deadline(&cfg, false), None);
    let mut off = cfg.clone();
    off.ramp_up = None;
    h.restart(&mut n, &off, t0);
    assert_eq!(n.weight, 100);
}

#[test]
fn exclusion_is_lifted_by_restart_or_after_max_error_time_without_session() {
    let (t0, mut cfg, mut n) = (crate::test_epoch(), cfg(), node());
    cfg.ramp_up = None;
    let mut h = Health::new(t0);
    h.record(&mut n, errors(3), &cfg, t0);
    assert!(n.bad);
    assert_eq!(
        h.deadline(&cfg, false),
        None,
        "with a sessionId: only a restart"
    );
    assert!(!h.handle_timeout(&mut n, &cfg, false, at(t0, 60_000)));
    assert_eq!(h.deadline(&cfg, true), Some(at(t0, 10_000)));
    assert!(h.handle_timeout(&mut n, &cfg, true, at(t0, 10_000)));
    assert!(!n.bad);
    h.record(&mut n, errors(3), &cfg, at(t0, 20_000));
    assert!(n.bad);
    h.restart(&mut n, &cfg, at(t0, 20_001));
    assert!(!n.bad);
}
