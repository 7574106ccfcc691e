//! In-process tests of the configurable policies: `publicIp` patching,
//! routing rules, scanner blocking, `matchingHostnameForRoute`, and the
//! refusals of the request path (Proxy-Require). Bytes in, bytes out.

use super::proxy::LegId;
use super::tests::{invite, lines, nodes, Sim, CLIENT, NODE_A};
use crate::config::Config;
use crate::registry::NodeState;

const PUBLIC: &str = "publicIp: 203.0.113.7\n";

/// Two legs on 127.0.0.1 (5060 / 5065) plus `sip_extra` lines under `sip:`
/// and `external_extra` pairs in the external leg.
fn cfg(external_extra: &str, sip_extra: &str) -> Config {
    let mut extra = String::new();
    for line in sip_extra.lines() {
        extra.push_str("  ");
        extra.push_str(line);
        extra.push('\n');
    }
    let yaml = format!(
        "cores: 1\nsip:\n  external: {{ host: 127.0.0.1, udpPort: 5060{external_extra} }}\n  \
         internal: {{ host: 127.0.0.1, udpPort: 5065 }}\n{extra}nodes: []\n"
    );
    crate::config::from_yaml_str(&yaml, "t.yaml").unwrap()
}

fn sim(cfg: &Config) -> Sim {
    Sim::new(cfg, nodes(&[(1, NODE_A, NodeState::Up)]))
}

/// The node's answer to a request it received: its Vias and Record-Routes,
/// a To tag, and `contact`.
fn answer(fwd: &str, status: &str, cseq: &str, contact: &str) -> String {
    format!(
        "SIP/2.0 {status}\r\n{}\r\n{}From: <sip:alice@a.example>;tag=111\r\n\
         To: <sip:bob@b.example>;tag=222\r\nCall-ID: {}\r\nCSeq: {cseq}\r\n{contact}\
         Content-Length: 0\r\n\r\n",
        lines(fwd, "Via").join("\r\n"),
        lines(fwd, "Record-Route")
            .iter()
            .map(|l| format!("{l}\r\n"))
            .collect::<String>(),
        lines(fwd, "Call-ID")[0].trim_start_matches("Call-ID: "),
    )
}

/// A client INVITE through `sim`; returns what the node got.
fn invite_to_node(sim: &mut Sim, call_id: &str) -> String {
    let out = sim.feed(LegId::External, CLIENT, &invite(call_id, "z9hG4bKp", ""));
    let (_, dst, fwd) = out.last().unwrap();
    assert_eq!(dst.to_string(), NODE_A, "{out:?}");
    fwd.clone()
}

const NODE_INVITE: &str = "INVITE sip:alice@127.0.0.1:5033 SIP/2.0\r\n\
    Via: SIP/2.0/UDP 127.0.0.1:4060;branch=z9hG4bKn1\r\n\
    Route: <sip:lbint@127.0.0.1:5065;node_host=127.0.0.1;node_port=4060;lr>\r\n\
    From: <sip:n@x>;tag=9\r\nTo: <sip:alice@a>\r\nCall-ID: n1\r\nCSeq: 1 INVITE\r\n\
    Contact: \"Node\" <sip:n@127.0.0.1:4060;transport=udp>;expires=60\r\n\
    Content-Length: 0\r\n\r\n";

// === publicIp ===

#[test]
fn node_response_gets_public_record_route_and_contact() {
    let cfg = cfg("", PUBLIC);
    let mut sim = sim(&cfg);
    let fwd = invite_to_node(&mut sim, "nat-1");
    assert_eq!(
        lines(&fwd, "Record-Route")[1],
        "Record-Route: <sip:127.0.0.1:5060;transport=udp;lr;node_host=127.0.0.1;node_port=4060;version=0>",
        "towards the node nothing is patched"
    );
    let ok = answer(
        &fwd,
        "200 OK",
        "1 INVITE",
        "Contact: <sip:bob@127.0.0.1:4060;transport=udp>;expires=30\r\n",
    );
    let out = sim.feed(LegId::Internal, NODE_A, &ok);
    assert_eq!(out.len(), 1);
    let (leg, dst, text) = &out[0];
    assert_eq!((*leg, dst.to_string().as_str()), (LegId::External, CLIENT));
    assert_eq!(
        lines(text, "Record-Route"),
        [
            "Record-Route: <sip:127.0.0.1:5065;transport=udp;lr;node_host=127.0.0.1;node_port=4060;version=0>",
            "Record-Route: <sip:203.0.113.7:5060;transport=udp;lr;node_host=127.0.0.1;node_port=4060;version=0>",
        ]
    );
    assert_eq!(
        lines(text, "Contact"),
        ["Contact: <sip:bob@203.0.113.7:5060;transport=udp>;expires=30"]
    );
}

#[test]
fn in_dialog_request_to_the_public_address_reaches_the_node() {
    let cfg = cfg("", PUBLIC);
    let mut sim = sim(&cfg);
    let bye = "BYE sip:bob@203.0.113.7:5060;transport=udp SIP/2.0\r\n\
        Via: SIP/2.0/UDP 127.0.0.1:5033;branch=z9hG4bKb\r\n\
        Route: <sip:203.0.113.7:5060;transport=udp;lr;node_host=127.0.0.1;node_port=4060;version=0>,\
        <sip:127.0.0.1:5065;transport=udp;lr;node_host=127.0.0.1;node_port=4060;version=0>\r\n\
        From: <sip:alice@a>;tag=111\r\nTo: <sip:bob@b>;tag=222\r\nCall-ID: nat-2\r\n\
        CSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n";
    let out = sim.feed(LegId::External, CLIENT, bye);
    assert_eq!(out.len(), 1, "{out:?}");
    let (_, dst, fwd) = &out[0];
    assert_eq!(dst.to_string(), NODE_A);
    assert!(
        fwd.starts_with("BYE sip:bob@127.0.0.1:4060;transport=udp SIP/2.0\r\n"),
        "{fwd}"
    );
    assert!(lines(fwd, "Route").is_empty(), "{fwd}");
}

#[test]
fn registrar_bindings_and_redirect_targets_keep_their_contact() {
    let cfg = cfg("", PUBLIC);
    let mut sim = sim(&cfg);
    let register = "REGISTER sip:127.0.0.1:5060 SIP/2.0\r\n\
        Via: SIP/2.0/UDP 127.0.0.1:5033;branch=z9hG4bKr\r\n\
        From: <sip:alice@a>;tag=1\r\nTo: <sip:alice@a>\r\nCall-ID: nat-3\r\nCSeq: 1 REGISTER\r\n\
        Contact: <sip:alice@127.0.0.1:5033>\r\nContent-Length: 0\r\n\r\n";
    let fwd = sim.feed(LegId::External, CLIENT, register).pop().unwrap().2;
    let binding = "Contact: <sip:alice@127.0.0.1:5033>;expires=3600\r\n";
    let out = sim.feed(
        LegId::Internal,
        NODE_A,
        &answer(&fwd, "200 OK", "1 REGISTER", binding),
    );
    assert_eq!(lines(&out[0].2, "Contact"), [binding.trim_end()]);
    let fwd = invite_to_node(&mut sim, "nat-4");
    let target = "Contact: <sip:bob@198.51.100.9:5060>\r\n";
    let out = sim.feed(
        LegId::Internal,
        NODE_A,
        &answer(&fwd, "302 Moved Temporarily", "1 INVITE", target),
    );
    let text = &out[0].2;
    assert_eq!(lines(text, "Contact"), [target.trim_end()]);
    assert!(
        lines(text, "Record-Route")[1].starts_with("Record-Route: <sip:203.0.113.7:5060;"),
        "{text}"
    );
}

#[test]
fn node_initial_invite_gets_public_record_route_and_contact() {
    let cfg = cfg("", PUBLIC);
    let mut sim = sim(&cfg);
    let out = sim.feed(LegId::Internal, NODE_A, NODE_INVITE);
    let (_, dst, fwd) = out.last().unwrap();
    assert_eq!(dst.to_string(), CLIENT);
    let rr = lines(fwd, "Record-Route");
    assert!(rr[0].starts_with("Record-Route: <sip:203.0.113.7:5060;transport=udp;lr;node_host=127.0.0.1;node_port=4060;"), "{rr:?}");
    assert!(
        rr[1].starts_with("Record-Route: <sip:127.0.0.1:5065;"),
        "{rr:?}"
    );
    assert_eq!(
        lines(fwd, "Contact"),
        ["Contact: \"Node\" <sip:n@203.0.113.7:5060;transport=udp>;expires=60"]
    );
    // In-dialog requests from nodes are left alone (as in the original).
    let bye = NODE_INVITE
        .replace("INVITE sip:", "BYE sip:")
        .replace("1 INVITE", "2 BYE")
        .replace("To: <sip:alice@a>", "To: <sip:alice@a>;tag=5");
    let fwd = sim.feed(LegId::Internal, NODE_A, &bye).pop().unwrap().2;
    assert_eq!(
        lines(&fwd, "Contact"),
        ["Contact: \"Node\" <sip:n@127.0.0.1:4060;transport=udp>;expires=60"]
    );
}

#[test]
fn public_ip_of_the_other_family_changes_nothing() {
    let cfg = cfg("", "publicIpv6: 2001:db8::7\n");
    let mut sim = sim(&cfg);
    let out = sim.feed(LegId::Internal, NODE_A, NODE_INVITE);
    let fwd = &out.last().unwrap().2;
    assert!(lines(fwd, "Record-Route")[0].starts_with("Record-Route: <sip:127.0.0.1:5060;"));
    assert!(lines(fwd, "Contact")[0].contains("127.0.0.1:4060"));
}

// === routing rules ===

const IP_LB: &str = ", ipLoadBalancerAddress: [192.0.2.50], ipLoadBalancerUdpPort: 5090";

fn rules(pattern: &str, patch: bool) -> String {
    format!(
        "useIpLoadBalancerAddressInViaHeaders: true\nroutingRulesIpv4:\n  - {{ ipPattern: '{pattern}', patch: {patch} }}\n"
    )
}

#[test]
fn private_caller_gets_real_addresses_others_the_ip_load_balancer() {
    for (pattern, patch, real) in [
        (r"127\.0\.0\..*", false, true),
        (r"127\.0\.0\..*", true, false),
        (r"10\..*", false, false),
        (r"127\.0\.0", false, false),
    ] {
        let cfg = cfg(IP_LB, &rules(pattern, patch));
        let mut sim = sim(&cfg);
        let fwd = invite_to_node(&mut sim, "rr-1");
        let external = if real {
            "127.0.0.1:5060"
        } else {
            "192.0.2.50:5090"
        };
        let rr = lines(&fwd, "Record-Route");
        assert!(
            rr[1].starts_with(&format!("Record-Route: <sip:{external};transport=udp;lr;")),
            "{pattern} {patch}: {rr:?}"
        );
        let vias = lines(&fwd, "Via");
        assert!(
            vias[1].starts_with(&format!("Via: SIP/2.0/UDP {external};branch=")),
            "{pattern} {patch}: {vias:?}"
        );
        // Towards a client at 127.0.0.1 the same rule applies.
        let out = sim.feed(LegId::Internal, NODE_A, NODE_INVITE);
        let fwd = &out.last().unwrap().2;
        assert!(
            lines(fwd, "Record-Route")[0].starts_with(&format!("Record-Route: <sip:{external};")),
            "{pattern} {patch}: {fwd}"
        );
        assert!(lines(fwd, "Via")[0].starts_with(&format!("Via: SIP/2.0/UDP {external};")));
    }
}

#[test]
fn private_caller_gets_no_public_ip_patching() {
    let cfg = cfg("", &format!("{PUBLIC}{}", rules(r"127\..*", false)));
    let mut sim = sim(&cfg);
    let fwd = invite_to_node(&mut sim, "rr-2");
    let contact = "Contact: <sip:bob@127.0.0.1:4060>\r\n";
    let out = sim.feed(
        LegId::Internal,
        NODE_A,
        &answer(&fwd, "200 OK", "1 INVITE", contact),
    );
    let text = &out[0].2;
    assert!(lines(text, "Record-Route")[1].starts_with("Record-Route: <sip:127.0.0.1:5060;"));
    assert_eq!(lines(text, "Contact"), [contact.trim_end()]);
    let out = sim.feed(LegId::Internal, NODE_A, NODE_INVITE);
    let fwd = &out.last().unwrap().2;
    assert!(lines(fwd, "Record-Route")[0].starts_with("Record-Route: <sip:127.0.0.1:5060;"));
    assert!(lines(fwd, "Contact")[0].contains("127.0.0.1:4060"));
}

// === matchingHostnameForRoute ===

fn invite_with_route(route: &str) -> String {
    invite("mh-1", "z9hG4bKmh", &format!("Route: {route}\r\n"))
}

#[test]
fn first_route_naming_the_host_is_removed() {
    let cfg = cfg("", "matchingHostnameForRoute: lb.example.com\n");
    let mut sim = sim(&cfg);
    let out = sim.feed(
        LegId::External,
        CLIENT,
        &invite_with_route("<sip:LB.example.com;lr>"),
    );
    let (_, dst, fwd) = out.last().unwrap();
    assert_eq!(dst.to_string(), NODE_A);
    assert!(lines(fwd, "Route").is_empty(), "{fwd}");
    assert!(
        fwd.starts_with("INVITE sip:bob@127.0.0.1:4060 SIP/2.0\r\n"),
        "{fwd}"
    );
    // Then our own entries go too.
    let out = sim.feed(
        LegId::External,
        CLIENT,
        &invite_with_route("<sip:lb.example.com;lr>, <sip:127.0.0.1:5060;lr>"),
    );
    assert!(lines(&out.last().unwrap().2, "Route").is_empty());
    // Only the first entry is looked at, and subdomains need isFilterSubdomain.
    for route in [
        "<sip:127.0.0.1:5060;lr>, <sip:lb.example.com;lr>",
        "<sip:a.lb.example.com;lr>",
    ] {
        let out = sim.feed(LegId::External, CLIENT, &invite_with_route(route));
        let fwd = &out.last().unwrap().2;
        assert_eq!(lines(fwd, "Route").len(), 2, "{route}: {fwd}");
        assert_eq!(
            lines(fwd, "Route")[0],
            "Route: <sip:127.0.0.1:4060;transport=udp;lr>"
        );
    }
}

#[test]
fn subdomains_are_removed_with_is_filter_subdomain() {
    let cfg = cfg(
        "",
        "matchingHostnameForRoute: lb.example.com\nisFilterSubdomain: true\n",
    );
    let mut sim = sim(&cfg);
    for (route, removed) in [
        ("<sip:edge.LB.example.com;lr>", true),
        ("<sip:lb.example.com:5060;lr>", true),
        ("<sip:xlb.example.com;lr>", false),
        ("<sip:example.com;lr>", false),
    ] {
        let out = sim.feed(LegId::External, CLIENT, &invite_with_route(route));
        let fwd = &out.last().unwrap().2;
        assert_eq!(lines(fwd, "Route").is_empty(), removed, "{route}: {fwd}");
    }
}

// === blockedValues ===

#[test]
fn scanners_get_nothing_and_are_counted() {
    let cfg = Config::embedded_default();
    let mut sim = sim(&cfg);
    for extra in [
        "User-Agent: friendly-scanner\r\n",
        "User-Agent: SIPVicious 0.3\r\n",
    ] {
        assert!(sim
            .feed(LegId::External, CLIENT, &invite("sc-1", "z9hG4bKs", extra))
            .is_empty());
    }
    let from = invite("sc-2", "z9hG4bKs", "")
        .replace("<sip:alice@a.example>", "\"sipcli\" <sip:100@a.example>");
    assert!(sim.feed(LegId::External, CLIENT, &from).is_empty());
    assert_eq!(sim.proxy.counters().blocked, 3);
    assert_eq!(sim.proxy.counters().replies_sent, 0);
    // A real UA passes, and so does an in-dialog request carrying our hint
    // or anything from a node.
    assert_eq!(
        sim.feed(
            LegId::External,
            CLIENT,
            &invite("sc-3", "z9hG4bKs", "User-Agent: Linphone\r\n")
        )
        .len(),
        2
    );
    let hinted = invite(
        "sc-4",
        "z9hG4bKs",
        "User-Agent: sipcli\r\nRoute: <sip:127.0.0.1:5060;lr;node_host=127.0.0.1;node_port=4060>\r\n",
    );
    assert_eq!(sim.feed(LegId::External, CLIENT, &hinted).len(), 2);
    let from_node = NODE_INVITE.replace("CSeq:", "User-Agent: friendly-scanner\r\nCSeq:");
    assert_eq!(sim.feed(LegId::Internal, NODE_A, &from_node).len(), 2);
    assert_eq!(sim.proxy.counters().blocked, 3);
}

#[test]
fn custom_and_empty_blocked_values() {
    let custom = cfg("", "blockedValues: [EvilBot]\n");
    let mut sim = sim(&custom);
    assert!(sim
        .feed(
            LegId::External,
            CLIENT,
            &invite("b-1", "z9hG4bKe", "User-Agent: evilbot/2\r\n")
        )
        .is_empty());
    assert_eq!(
        sim.feed(
            LegId::External,
            CLIENT,
            &invite("b-2", "z9hG4bKe", "User-Agent: friendly-scanner\r\n")
        )
        .len(),
        2
    );
    let none = cfg("", "blockedValues: []\n");
    let mut sim = Sim::new(&none, nodes(&[(1, NODE_A, NodeState::Up)]));
    assert_eq!(
        sim.feed(
            LegId::External,
            CLIENT,
            &invite("b-3", "z9hG4bKe", "User-Agent: friendly-scanner\r\n")
        )
        .len(),
        2
    );
}

// === Proxy-Require ===

#[test]
fn proxy_require_is_refused_with_420_and_not_forwarded() {
    let cfg = Config::embedded_default();
    let mut sim = sim(&cfg);
    let out = sim.feed(
        LegId::External,
        CLIENT,
        &invite(
            "pr-1",
            "z9hG4bKpr",
            "Proxy-Require: foo, bar\r\nRequire: 100rel\r\n",
        ),
    );
    assert_eq!(out.len(), 1, "{out:?}");
    let (leg, dst, text) = &out[0];
    assert_eq!((*leg, dst.to_string().as_str()), (LegId::External, CLIENT));
    assert!(text.starts_with("SIP/2.0 420 Bad Extension\r\n"), "{text}");
    assert_eq!(lines(text, "Unsupported"), ["Unsupported: foo, bar"]);
    let ack = invite("pr-1", "z9hG4bKpr", "Proxy-Require: foo\r\n")
        .replace("INVITE sip", "ACK sip")
        .replace("1 INVITE", "1 ACK");
    let out = sim.feed(LegId::External, CLIENT, &ack);
    assert_eq!(
        out.last().unwrap().1.to_string(),
        NODE_A,
        "an ACK is forwarded"
    );
    let out = sim.feed(
        LegId::External,
        CLIENT,
        &invite("pr-2", "z9hG4bKpr", "Require: foo\r\n"),
    );
    assert_eq!(out.len(), 2, "Require is the node's business");
}
