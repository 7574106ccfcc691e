//! Tests of the algorithm and health keys (YAML and `lb.properties`).

use std::time::Duration;

use super::*;

fn yaml(text: &str) -> Config {
    from_yaml_str(text, "t.yaml").unwrap()
}

fn yaml_err(text: &str) -> String {
    from_yaml_str(text, "t.yaml").unwrap_err().to_string()
}

#[test]
fn algorithm_names_and_aliases() {
    let kind = |name: &str| {
        yaml(&format!("algorithm: {{ algorithmClass: '{name}' }}\n"))
            .algorithm
            .kind
    };
    assert_eq!(
        kind("persistentConsistentHash"),
        AlgorithmKind::PersistentConsistentHash
    );
    assert_eq!(
        kind("org.mobicents.tools.sip.balancer.PersistentConsistentHashBalancerAlgorithm"),
        AlgorithmKind::PersistentConsistentHash
    );
    assert_eq!(kind("custom:geo"), AlgorithmKind::Custom("geo".into()));
    assert_eq!(kind("UserBasedAlgorithm"), AlgorithmKind::UserBased);
    assert!(yaml_err("algorithm: { algorithmClass: 'custom:' }\n").contains("unknown algorithm"));
}

#[test]
fn affinity_keys_exclusion_and_fallback() {
    let cfg = yaml(
        "algorithm:\n  sipHeaderAffinityKey: to.user\n  sipHeaderAffinityExclusionPattern: '^\\+1'\n  sipHeaderAffinityFallbackKey: From\n",
    );
    let a = &cfg.algorithm;
    assert_eq!(a.sip_header_affinity_key, "To");
    assert_eq!(
        a.sip_header_affinity_exclusion_pattern.as_deref(),
        Some("^\\+1")
    );
    assert_eq!(a.sip_header_affinity_fallback_key, "From");
    let e = yaml_err("algorithm:\n  sipHeaderAffinityExclusionPattern: '(unclosed'\n");
    assert!(
        e.starts_with("t.yaml:2: algorithm.sipHeaderAffinityExclusionPattern: `(unclosed` is not a regular expression"),
        "{e}"
    );
    let e = yaml_err("algorithm:\n  sipHeaderAffinityFallbackKey: 'a b'\n");
    assert!(e.contains("is not a header name"), "{e}");
}

#[test]
fn health_defaults_and_keys() {
    let h = yaml("cores: 1\n").registry.health;
    assert_eq!(
        h,
        HealthConfig {
            error_codes: vec![503],
            max_errors: 5,
            max_error_time: Duration::from_secs(300),
            no_response: None,
            ramp_up: None,
        }
    );
    let h = yaml(
        "health:\n  responsesStatusCodeNodeRemoval: [503, 480]\n  maxNumberResponsesWithError: 2\n  maxErrorTime: 1000\n  maxRequestNumberWithoutResponse: 10\n  maxResponseTime: 2000\n  trafficRampupCyclePeriod: 5000\n  trafficPercentageIncrease: 25\n",
    )
    .registry
    .health;
    assert_eq!(h.error_codes, [503, 480]);
    assert_eq!(
        (h.max_errors, h.max_error_time),
        (2, Duration::from_secs(1))
    );
    assert_eq!(
        h.no_response,
        Some(NoResponseCheck {
            max_requests: 10,
            max_response_time: Duration::from_secs(2)
        })
    );
    assert_eq!(
        h.ramp_up,
        Some(RampUp {
            period: Duration::from_secs(5),
            percent: 25
        })
    );
    assert_eq!(
        yaml("health: { responsesStatusCodeNodeRemoval: '500, 503' }\n")
            .registry
            .health
            .error_codes,
        [500, 503]
    );
}

#[test]
fn health_pairs_and_ranges_are_checked() {
    let e = yaml_err("health:\n  maxResponseTime: 100\n");
    assert!(
        e.contains("health.maxRequestNumberWithoutResponse: needed"),
        "{e}"
    );
    let e = yaml_err("health:\n  trafficRampupCyclePeriod: 100\n");
    assert!(
        e.contains("health.trafficPercentageIncrease: needed"),
        "{e}"
    );
    let e =
        yaml_err("health:\n  trafficRampupCyclePeriod: 100\n  trafficPercentageIncrease: 101\n");
    assert!(e.contains("must be 1-100"), "{e}");
    let e = yaml_err("health:\n  responsesStatusCodeNodeRemoval: [99]\n");
    assert!(e.contains("`99` is not a status code"), "{e}");
}

#[test]
fn properties_health_and_affinity_keys_take_effect() {
    let text = "responsesStatusCodeNodeRemoval=503,500\nmaxNumberResponsesWithError=3\nmaxErrorTime=60000\n\
maxRequestNumberWithoutResponse=20\nmaxResponseTime=5000\ntrafficRampupCyclePeriod=70000\n\
trafficPercentageIncrease=50\nsipHeaderAffinityExclusionPattern=anonymous\nsipHeaderAffinityFallbackKey=Call-ID\n\
algorithmClass=org.mobicents.tools.sip.balancer.PersistentConsistentHashBalancerAlgorithm\n";
    let (cfg, ignored) = from_properties_str(text, "lb.properties").unwrap();
    assert!(ignored.is_empty(), "{ignored:?}");
    let h = &cfg.registry.health;
    assert_eq!(h.error_codes, [503, 500]);
    assert_eq!(
        (h.max_errors, h.max_error_time),
        (3, Duration::from_secs(60))
    );
    assert_eq!(h.no_response.map(|n| n.max_requests), Some(20));
    assert_eq!(
        h.ramp_up.map(|r| (r.period, r.percent)),
        Some((Duration::from_secs(70), 50))
    );
    assert_eq!(cfg.algorithm.kind, AlgorithmKind::PersistentConsistentHash);
    assert_eq!(
        cfg.algorithm
            .sip_header_affinity_exclusion_pattern
            .as_deref(),
        Some("anonymous")
    );
    let e = from_properties_str(
        "trafficPercentageIncrease=0\ntrafficRampupCyclePeriod=1\n",
        "lb.properties",
    )
    .unwrap_err();
    assert_eq!(
        (e.line, e.key.as_str()),
        (Some(1), "trafficPercentageIncrease")
    );
}
