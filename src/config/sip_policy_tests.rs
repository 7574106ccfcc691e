//! Tests of the SIP policy keys: `publicIp`/`publicIpv6`, the routing rules,
//! `blockedValues` and `matchingHostnameForRoute` (YAML and `lb.properties`).

use super::*;

fn yaml(text: &str) -> Config {
    from_yaml_str(text, "t.yaml").unwrap()
}

fn yaml_err(text: &str) -> String {
    from_yaml_str(text, "t.yaml").unwrap_err().to_string()
}

fn props(text: &str) -> Config {
    from_properties_str(text, "lb.properties").unwrap().0
}

#[test]
fn public_addresses_by_family() {
    let cfg = yaml("sip:\n  publicIp: 203.0.113.7\n  publicIpv6: '[2001:db8::7]'\n");
    assert_eq!(cfg.sip.public_ip, Some("203.0.113.7".parse().unwrap()));
    assert_eq!(cfg.sip.public_ipv6, Some("2001:db8::7".parse().unwrap()));
    assert_eq!(
        yaml_err("sip:\n  publicIp: 2001:db8::7\n"),
        "t.yaml:2: sip.publicIp: `2001:db8::7` is IPv6; use publicIpv6"
    );
    assert_eq!(
        yaml_err("sip:\n  publicIpv6: 10.0.0.1\n"),
        "t.yaml:2: sip.publicIpv6: `10.0.0.1` is IPv4; use publicIp"
    );
    let p = props("public-ip=203.0.113.7\npublicIpv6=2001:db8::7\n");
    assert_eq!(p.sip.public_ip, cfg.sip.public_ip);
    assert_eq!(p.sip.public_ipv6, cfg.sip.public_ipv6);
    let e = from_properties_str("publicIp=nowhere\n", "lb.properties").unwrap_err();
    assert_eq!(
        e.to_string(),
        "lb.properties:1: publicIp: `nowhere` is not an IP address"
    );
}

#[test]
fn routing_rules_in_order_with_patch_default_false() {
    let cfg = yaml(
        "sip:\n  routingRulesIpv4:\n    - ipPattern: '10\\.0\\..*'\n    - { ipPattern: '192\\.168\\..*', patch: true }\n  routingRulesIpv6:\n    - { ipPattern: 'fd00:.*', patch: false }\n",
    );
    assert_eq!(
        cfg.sip.routing_rules_ipv4,
        [
            RoutingRule {
                ip_pattern: r"10\.0\..*".into(),
                patch: false
            },
            RoutingRule {
                ip_pattern: r"192\.168\..*".into(),
                patch: true
            },
        ]
    );
    assert_eq!(cfg.sip.routing_rules_ipv6.len(), 1);
    assert!(Config::embedded_default().sip.routing_rules_ipv4.is_empty());
}

#[test]
fn bad_routing_rules_name_the_rule() {
    let e = yaml_err(
        "sip:\n  routingRulesIpv4:\n    - ipPattern: '10\\..*'\n    - ipPattern: '10.(0'\n",
    );
    assert!(
        e.starts_with(
            "t.yaml:4: sip.routingRulesIpv4[1].ipPattern: `10.(0` is not a regular expression"
        ),
        "{e}"
    );
    assert_eq!(
        yaml_err("sip:\n  routingRulesIpv6:\n    - patch: false\n"),
        "t.yaml:3: sip.routingRulesIpv6[0].ipPattern: missing: every rule needs an ipPattern"
    );
    let e = yaml_err("sip:\n  routingRulesIpv4:\n    - { ipPatern: 'x' }\n");
    assert!(e.contains("unknown field `ipPatern`"), "{e}");
}

#[test]
fn blocked_values_lower_cased_and_never_empty() {
    let cfg = yaml("sip:\n  blockedValues: [EvilBot, ' Scan ']\n");
    assert_eq!(cfg.sip.blocked_values, ["evilbot", "scan"]);
    assert!(yaml("sip:\n  blockedValues: []\n")
        .sip
        .blocked_values
        .is_empty());
    assert_eq!(
        yaml_err("sip:\n  blockedValues: [a, '']\n"),
        "t.yaml:2: sip.blockedValues: an empty entry would block every request"
    );
    assert_eq!(
        props("blocked-values=Foo, bar\n").sip.blocked_values,
        ["foo", "bar"]
    );
    assert_eq!(
        props("blockedValues=\n").sip.blocked_values,
        Config::embedded_default().sip.blocked_values,
        "an empty properties value means the default"
    );
}

#[test]
fn route_host_is_a_lower_cased_host_name() {
    let cfg = yaml("sip:\n  matchingHostnameForRoute: LB.Example.com\n  isFilterSubdomain: true\n");
    assert_eq!(
        cfg.sip.matching_hostname_for_route.as_deref(),
        Some("lb.example.com")
    );
    assert!(cfg.sip.is_filter_subdomain);
    assert_eq!(
        yaml_err("sip:\n  matchingHostnameForRoute: 'lb example'\n"),
        "t.yaml:2: sip.matchingHostnameForRoute: `lb example` is not a host name"
    );
    assert_eq!(
        yaml("sip:\n  matchingHostnameForRoute: ''\n")
            .sip
            .matching_hostname_for_route,
        None
    );
    let p = props("matchingHostnameForRoute=lb.example.com\nisFilterSubdomain=true\n");
    assert_eq!(
        p.sip.matching_hostname_for_route.as_deref(),
        Some("lb.example.com")
    );
    assert!(p.sip.is_filter_subdomain);
}
