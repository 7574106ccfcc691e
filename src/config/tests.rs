//! Tests of the public API: embedded default, format choice, error lines.

use super::*;

/// What `default.yaml` says, written out by hand.
fn expected_default() -> Config {
    let lo: IpAddr = IpAddr::from([127, 0, 0, 1]);
    let leg = |udp| Leg {
        host: lo,
        ports: Ports {
            udp: Some(udp),
            ..Ports::default()
        },
        ip_load_balancer_addresses: Vec::new(),
        ip_load_balancer_ports: Ports::default(),
    };
    Config {
        cores: Cores::Count(1),
        batch_wait: std::time::Duration::from_micros(0),
        busy_poll: std::time::Duration::from_micros(0),
        sip: SipConfig {
            enabled: true,
            external: leg(5060),
            internal: Some(leg(5065)),
            internal_transport: None,
            extra_server_nodes: Vec::new(),
            use_ip_load_balancer_address_in_via: false,
            public_ip: None,
            public_ipv6: None,
            routing_rules_ipv4: Vec::new(),
            routing_rules_ipv6: Vec::new(),
            send_trying: true,
            unavailable_status: 503,
            unavailable_reason: "Service Unavailable".into(),
            blocked_values: vec![
                "sipvicious".into(),
                "sipcli".into(),
                "friendly-scanner".into(),
            ],
            matching_hostname_for_route: None,
            is_filter_subdomain: false,
            max_message_size: 65535,
            socket_buffer_bytes: 4 << 20,
            streams: crate::config::StreamLimits {
                connect_timeout: Duration::from_millis(3000),
                idle_timeout: Duration::from_millis(600_000),
                message_timeout: Duration::from_millis(10_000),
                max_connections: 65_536,
            },
        },
        registry: RegistryConfig {
            node_timeout: Duration::from_millis(8400),
            heartbeat_interval: Duration::from_millis(150),
            heartbeat_port: Some(2610),
            static_nodes: Vec::new(),
            probe: ProbeConfig {
                interval: Duration::from_millis(1000),
                timeout: Duration::from_millis(1000),
                failures_to_down: 3,
                successes_to_up: 1,
            },
            health: HealthConfig {
                error_codes: vec![503],
                max_errors: 5,
                max_error_time: Duration::from_millis(300_000),
                no_response: None,
                ramp_up: None,
            },
        },
        algorithm: AlgorithmConfig {
            kind: AlgorithmKind::CallIdAffinity,
            call_id_affinity_max_time_in_cache: Duration::from_secs(500),
            call_id_affinity_max_entries: 1_000_000,
            call_id_affinity_group_failover: false,
            sip_header_affinity_key: "Call-ID".into(),
            sip_header_affinity_exclusion_pattern: None,
            sip_header_affinity_fallback_key: "Call-ID".into(),
            http_affinity_key: "appsession".into(),
            subcluster_map: Vec::new(),
        },
        http: HttpConfig {
            http_port: None,
            https_port: None,
            unavailable_host: None,
            unavailable_host_name: None,
            remote_server_ssl: false,
            redirect_to_https: true,
            request_check_pattern: None,
            url_rewrite: Vec::new(),
            add_forwarded_headers: true,
            max_head_size: 16 * 1024,
            max_uri_length: 8 * 1024,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            upstream_idle_timeout: Duration::from_secs(4),
            response_timeout: Duration::from_secs(60),
            max_connections: 10_000,
        },
        smpp: SmppConfig {
            host: None,
            port: None,
            ssl_port: None,
            remote_servers: Vec::new(),
            timeout_response: Duration::from_millis(3000),
            timeout_connection: Duration::from_millis(1000),
            timeout_enquire: Duration::from_millis(10000),
            reconnect_period: Duration::from_millis(500),
            timeout_connection_check_client_side: Duration::from_millis(3000),
            timeout_connection_check_server_side: Duration::from_millis(3000),
            mux_mode: false,
            max_connection_size: 10,
        },
        tls: TlsConfig::default(),
        stats: StatsConfig {
            port: Some(2006),
            shutdown_timeout: std::time::Duration::from_secs(10),
            stop_credentials: None,
        },
        watch_config: true,
    }
}

#[test]
fn embedded_default_is_what_default_yaml_says() {
    assert_eq!(
        from_yaml_str(DEFAULT_YAML, EMBEDDED_NAME),
        Ok(expected_default())
    );
    assert_eq!(Config::embedded_default(), expected_default());
}

#[test]
fn sniffing_tells_properties_from_yaml() {
    assert!(looks_like_properties(
        "# c\nhost=1.2.3.4\nexternalPort = 5060\n"
    ));
    assert!(!looks_like_properties(
        "host: 1.2.3.4\nsip:\n  external: { udpPort: 5060 }\n"
    ));
    assert!(!looks_like_properties(
        "sip:\n  unavailableReason: a=b\n  x: 1\n"
    ));
}

#[test]
fn single_entry_point_when_internal_is_omitted() {
    let cfg = from_yaml_str("sip:\n  external: { udpPort: 5070 }\n", "t.yaml").unwrap();
    assert_eq!(cfg.sip.internal, None);
    assert_eq!(cfg.cores, Cores::Auto);
}

#[test]
fn validation_rules() {
    let cases = [
        ("cores: []\n", "cores"),
        ("cores: 0\n", "cores"),
        ("cores: many\n", "cores"),
        ("batchWaitMicros: 1001\n", "batchWaitMicros"),
        ("busyPollMicros: 1001\n", "busyPollMicros"),
        ("sip: { enabled: false }\n", "sip.enabled"),
        ("heartbeatInterval: 14\n", "heartbeatInterval"),
        ("sip: { unavailableStatus: 200 }\n", "sip.unavailableStatus"),
        (
            "sip: { external: { udpPort: 0 } }\n",
            "sip.external.udpPort",
        ),
        ("sip: { internal: { host: 127.0.0.1 } }\n", "sip.internal"),
        (
            "sip: { external: { ipLoadBalancerAddress: 10.0.0.1 } }\n",
            "sip.external.ipLoadBalancerAddress",
        ),
        (
            "sip: { extraServerNodes: [node1] }\n",
            "sip.extraServerNodes",
        ),
        (
            "algorithm: { algorithmClass: roundRobin }\n",
            "algorithm.algorithmClass",
        ),
        ("nodes: [ { ip: 10.0.0.1 } ]\n", "nodes[0].udpPort"),
        ("smpp: { smppPort: 2776 }\n", "smpp.remoteServers"),
        (
            "ssl: { tlsClientAuthType: maybe }\n",
            "ssl.tlsClientAuthType",
        ),
    ];
    for (text, key) in cases {
        let e = from_yaml_str(text, "t.yaml").unwrap_err();
        assert_eq!(e.key, key, "{text}");
        assert_eq!(e.line, Some(1), "{text}");
    }
}

#[test]
fn heartbeat_port_default_value_and_off() {
    let port = |text: &str| {
        from_yaml_str(text, "t.yaml")
            .unwrap()
            .registry
            .heartbeat_port
    };
    assert_eq!(port(""), Some(2610));
    assert_eq!(port("heartbeatPort: 2620\n"), Some(2620));
    assert_eq!(port("heartbeatPort: 0\n"), None);
    let e = from_yaml_str("heartbeatPort: 70000\n", "t.yaml").unwrap_err();
    assert_eq!((e.key.as_str(), e.line), ("heartbeatPort", Some(1)));
}

#[test]
fn two_ip_lb_legs_must_cover_the_same_transports() {
    let text = "sip:\n  external: { udpPort: 5060, ipLoadBalancerAddress: 10.0.0.1, ipLoadBalancerUdpPort: 5060, ipLoadBalancerTcpPort: 5060 }\n  internal: { udpPort: 5065, ipLoadBalancerAddress: 10.0.0.2, ipLoadBalancerUdpPort: 5065 }\n";
    let e = from_yaml_str(text, "t.yaml").unwrap_err();
    assert_eq!(e.key, "sip.internal.ipLoadBalancerTcpPort");
}

#[test]
fn extra_server_nodes_default_port() {
    let cfg = from_yaml_str(
        "sip: { extraServerNodes: '10.0.0.1, 10.0.0.2:5070' }\n",
        "t.yaml",
    )
    .unwrap();
    let got: Vec<String> = cfg
        .sip
        .extra_server_nodes
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(got, ["10.0.0.1:5060", "10.0.0.2:5070"]);
}

#[test]
fn java_class_names_are_aliases() {
    let text = "algorithm: { algorithmClass: org.mobicents.tools.sip.balancer.HeaderConsistentHashBalancerAlgorithm }\n";
    let cfg = from_yaml_str(text, "t.yaml").unwrap();
    assert_eq!(cfg.algorithm.kind, AlgorithmKind::HeaderConsistentHash);
}

#[test]
fn batch_wait_is_read_from_both_formats() {
    use std::time::Duration;
    let us = |cfg: Config| cfg.batch_wait.as_micros();
    assert_eq!(us(from_yaml_str("cores: 1\n", "t.yaml").unwrap()), 0);
    assert_eq!(
        us(from_yaml_str("batchWaitMicros: 80\n", "t.yaml").unwrap()),
        80
    );
    let (cfg, _) = from_properties_str("batchWaitMicros=250\n", "lb.properties").unwrap();
    assert_eq!(cfg.batch_wait, Duration::from_micros(250));
}

#[test]
fn an_external_leg_may_serve_streams_only() {
    let cfg = from_yaml_str(
        "sip: { external: { tcpPort: 5070, tlsPort: 5071 } }\n",
        "t.yaml",
    )
    .unwrap();
    let p = cfg.sip.external.ports;
    assert_eq!((p.udp, p.tcp, p.tls), (None, Some(5070), Some(5071)));
    // No port at all still means UDP 5060.
    let cfg = from_yaml_str("sip: { external: { host: 127.0.0.1 } }\n", "t.yaml").unwrap();
    assert_eq!(cfg.sip.external.ports.udp, Some(5060));
}

#[test]
fn sip_can_be_turned_off_for_an_smpp_or_http_only_balancer() {
    let cfg = from_yaml_str(
        "sip: { enabled: false }\nsmpp: { smppPort: 2776, remoteServers: [\"127.0.0.1:2775\"] }\n",
        "t.yaml",
    )
    .unwrap();
    assert!(!cfg.sip.enabled);
    let cfg = from_yaml_str(
        "sip: { enabled: false }\nhttp: { httpPort: 2080 }\n",
        "t.yaml",
    )
    .unwrap();
    assert!(!cfg.sip.enabled);
    assert!(from_yaml_str("cores: 1\n", "t.yaml").unwrap().sip.enabled);
}

#[test]
fn busy_poll_is_read_from_both_formats() {
    use std::time::Duration;
    let us = |cfg: Config| cfg.busy_poll.as_micros();
    assert_eq!(us(from_yaml_str("cores: 1\n", "t.yaml").unwrap()), 0);
    assert_eq!(
        us(from_yaml_str("busyPollMicros: 50\n", "t.yaml").unwrap()),
        50
    );
    let (cfg, _) = from_properties_str("busyPollMicros=20\n", "lb.properties").unwrap();
    assert_eq!(cfg.busy_poll, Duration::from_micros(20));
}

#[test]
fn properties_build_error_points_at_the_properties_key() {
    let e = from_properties_str("host=127.0.0.1\n\nnodeTimeout=5\n", "lb.properties").unwrap_err();
    assert_eq!(
        e.to_string(),
        "lb.properties:3: nodeTimeout: 5 ms is below the minimum of 15 ms"
    );
    let e = from_properties_str("externalHost=::zz\n", "lb.properties").unwrap_err();
    assert_eq!((e.line, e.key.as_str()), (Some(1), "externalHost"));
}

#[test]
fn lbstop_keys_are_read_and_security_needs_both_credentials() {
    let cfg = crate::config::from_yaml_str(
        "shutdownTimeout: 2500\nsecurityRequired: true\nlogin: daddy\npassword: \"123456\"\n",
        "t.yaml",
    )
    .expect("valid");
    assert_eq!(
        cfg.stats.shutdown_timeout,
        std::time::Duration::from_millis(2500)
    );
    assert_eq!(
        cfg.stats.stop_credentials,
        Some(("daddy".into(), "123456".into()))
    );
    let e = crate::config::from_yaml_str("securityRequired: true\nlogin: x\n", "t.yaml")
        .expect_err("password missing");
    assert!(e.to_string().contains("securityRequired"), "{e}");
}
