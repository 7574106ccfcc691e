//! `FileConfig` → `Config`: every default and every validation rule.
//!
//! This is the one place where defaults live ([`defaults`]) and where values
//! get their meaning (addresses, ranges, cross-key rules). Errors carry the
//! YAML path of the key (`sip.external.udpPort`, `nodes[1].ip`); the caller
//! turns that into a file, a line and the key name of the file's format.
//!
//! This module neither reads files nor knows about `lb.properties`.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::file::{
    CoresSpec, FileAlgorithm, FileConfig, FileHealth, FileLeg, FileNode, FileProbe, FileSip,
    FileSmpp, FileSsl, StrList,
};
use super::{
    AlgorithmConfig, AlgorithmKind, Config, Cores, HealthConfig, Leg, NoResponseCheck, Ports,
    ProbeConfig, RampUp, RegistryConfig, SipConfig, SmppConfig, StaticNode, StatsConfig,
    TlsClientAuth, TlsConfig,
};

pub mod defaults;
mod http;
mod sip_policy;
mod values;

pub use sip_policy::anchored;
use values::{at_least, count, ip_list, ms, opt, parse_socket_addr, port, timer};
pub use values::{parse_ip, parse_transport};

/// A validation failure: the YAML path of the key and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildError {
    /// Dotted YAML path, e.g. `sip.external.udpPort`.
    pub path: String,
    /// One-line description.
    pub problem: String,
}

type Result<T> = std::result::Result<T, BuildError>;

fn err<T>(path: &str, problem: impl Into<String>) -> Result<T> {
    Err(BuildError {
        path: path.to_owned(),
        problem: problem.into(),
    })
}

/// Validates `file` and fills in defaults.
pub fn build(file: &FileConfig) -> Result<Config> {
    let host = match &file.host {
        Some(h) => parse_ip("host", h)?,
        None => defaults::HOST,
    };
    let sip = file.sip.clone().unwrap_or_default();
    let cfg = Config {
        cores: build_cores(file.cores.as_ref())?,
        batch_wait: build_batch_wait(file.batch_wait_micros)?,
        busy_poll: build_busy_poll(file.busy_poll_micros)?,
        sip: build_sip(&sip, host)?,
        registry: build_registry(file)?,
        algorithm: build_algorithm(&file.algorithm.clone().unwrap_or_default())?,
        http: http::build_http(&file.http.clone().unwrap_or_default())?,
        smpp: build_smpp(&file.smpp.clone().unwrap_or_default())?,
        tls: build_tls(&file.ssl.clone().unwrap_or_default())?,
        stats: StatsConfig {
            port: match file.statistic_port.unwrap_or(defaults::STATISTIC_PORT) {
                0 => None,
                p => Some(p),
            },
            shutdown_timeout: Duration::from_millis(
                file.shutdown_timeout
                    .unwrap_or(defaults::SHUTDOWN_TIMEOUT_MS),
            ),
            stop_credentials: build_stop_credentials(file)?,
        },
        watch_config: file.watch_config.unwrap_or(defaults::WATCH_CONFIG),
    };
    check_something_served(&cfg)?;
    Ok(cfg)
}

/// With SIP off, SMPP or HTTP must listen, or the balancer would serve nothing.
fn check_something_served(cfg: &Config) -> Result<()> {
    let smpp = cfg.smpp.port.or(cfg.smpp.ssl_port).is_some();
    let http = cfg.http.http_port.or(cfg.http.https_port).is_some();
    if cfg.sip.enabled || smpp || http {
        return Ok(());
    }
    err(
        "sip.enabled",
        "is false and no smpp.smppPort/smppSslPort or http.httpPort/httpsPort is set: nothing to serve",
    )
}

/// `securityRequired` needs both `login` and `password`.
fn build_stop_credentials(file: &FileConfig) -> Result<Option<(String, String)>> {
    if !file.security_required.unwrap_or(false) {
        return Ok(None);
    }
    match (&file.login, &file.password) {
        (Some(l), Some(p)) if !l.is_empty() => Ok(Some((l.clone(), p.clone()))),
        _ => err(
            "securityRequired",
            "is true but `login` and `password` are not both set",
        ),
    }
}

/// `batchWaitMicros`: at most a millisecond (it adds that much latency
/// to a lone message).
fn build_batch_wait(us: Option<u64>) -> Result<Duration> {
    match us.unwrap_or(defaults::BATCH_WAIT_MICROS) {
        us @ 0..=1000 => Ok(Duration::from_micros(us)),
        us => err(
            "batchWaitMicros",
            format!("`{us}` is over 1000 (µs: it delays a lone message that long)"),
        ),
    }
}

/// `busyPollMicros`: at most a millisecond (the shard burns its core
/// that long after each turn).
fn build_busy_poll(us: Option<u64>) -> Result<Duration> {
    match us.unwrap_or(defaults::BUSY_POLL_MICROS) {
        us @ 0..=1000 => Ok(Duration::from_micros(us)),
        us => err(
            "busyPollMicros",
            format!("`{us}` is over 1000 (µs: the shard spins that long after each turn)"),
        ),
    }
}

// === cores ===

/// Parses `auto`, a count or a comma list of CPU ids (the `--cores` flag).
pub fn cores_from_str(s: &str) -> Result<Cores> {
    let s = s.trim();
    let spec = if s.contains(',') {
        let ids = s
            .split(',')
            .map(|c| c.trim().parse::<u64>())
            .collect::<std::result::Result<Vec<_>, _>>();
        CoresSpec::List(ids.or_else(|_| err("cores", format!("`{s}` is not a list of CPU ids")))?)
    } else {
        s.parse()
            .map_or_else(|_| CoresSpec::Word(s.to_owned()), CoresSpec::Count)
    };
    build_cores(Some(&spec))
}

fn build_cores(spec: Option<&CoresSpec>) -> Result<Cores> {
    match spec {
        None => Ok(Cores::Auto),
        Some(CoresSpec::Word(w)) if w.eq_ignore_ascii_case("auto") => Ok(Cores::Auto),
        Some(CoresSpec::Word(w)) => err("cores", format!("`{w}` is not `auto`, a count or a list")),
        Some(CoresSpec::Count(0)) => err("cores", "must be at least 1"),
        Some(CoresSpec::Count(n)) => Ok(Cores::Count(to_usize("cores", *n)?)),
        Some(CoresSpec::List(l)) => build_core_list(l),
    }
}

fn build_core_list(list: &[u64]) -> Result<Cores> {
    if list.is_empty() {
        return err("cores", "the CPU list is empty");
    }
    let mut out = Vec::with_capacity(list.len());
    for &cpu in list {
        let cpu = to_usize("cores", cpu)?;
        if out.contains(&cpu) {
            return err("cores", format!("CPU {cpu} is listed twice"));
        }
        out.push(cpu);
    }
    Ok(Cores::List(out))
}

fn to_usize(path: &str, n: u64) -> Result<usize> {
    usize::try_from(n).or_else(|_| err(path, format!("{n} is too large")))
}

// === sip ===

fn build_sip(sip: &FileSip, host: IpAddr) -> Result<SipConfig> {
    let external = build_leg(
        "sip.external",
        &sip.external.clone().unwrap_or_default(),
        host,
        true,
    )?;
    let internal = match &sip.internal {
        Some(leg) => Some(build_leg("sip.internal", leg, host, false)?),
        None => None,
    };
    if let Some(internal) = &internal {
        check_ip_lb_pairs(&external, internal)?;
    }
    let (public_ip, public_ipv6) = sip_policy::public_ips(sip)?;
    Ok(SipConfig {
        enabled: sip.enabled.unwrap_or(true),
        external,
        internal,
        internal_transport: opt(&sip.internal_transport, |t| {
            parse_transport("sip.internalTransport", t)
        })?,
        extra_server_nodes: build_extra_nodes(sip.extra_server_nodes.as_ref())?,
        use_ip_load_balancer_address_in_via: sip
            .use_ip_load_balancer_address_in_via_headers
            .unwrap_or(false),
        public_ip,
        public_ipv6,
        routing_rules_ipv4: sip_policy::routing_rules(
            "sip.routingRulesIpv4",
            sip.routing_rules_ipv4.as_ref(),
        )?,
        routing_rules_ipv6: sip_policy::routing_rules(
            "sip.routingRulesIpv6",
            sip.routing_rules_ipv6.as_ref(),
        )?,
        send_trying: sip.is_send_trying.unwrap_or(defaults::SEND_TRYING),
        unavailable_status: build_status(sip.unavailable_status)?,
        unavailable_reason: build_reason(sip.unavailable_reason.as_deref())?,
        blocked_values: sip_policy::blocked_values(sip.blocked_values.as_ref())?,
        matching_hostname_for_route: sip_policy::route_host(
            sip.matching_hostname_for_route.as_ref(),
        )?,
        is_filter_subdomain: sip.is_filter_subdomain.unwrap_or(false),
        max_message_size: at_least(
            "sip.maxMessageSize",
            sip.max_message_size,
            defaults::MAX_MESSAGE_SIZE,
            1024,
        )?,
        socket_buffer_bytes: at_least(
            "sip.socketBufferBytes",
            sip.socket_buffer_bytes,
            defaults::SOCKET_BUFFER_BYTES,
            4096,
        )?,
        streams: build_streams(&sip.streams.clone().unwrap_or_default())?,
    })
}

fn build_streams(s: &crate::config::file::FileStreams) -> Result<crate::config::StreamLimits> {
    Ok(crate::config::StreamLimits {
        connect_timeout: ms("sip.streams.connectTimeout", s.connect_timeout, 3000)?,
        idle_timeout: ms("sip.streams.idleTimeout", s.idle_timeout, 600_000)?,
        message_timeout: ms("sip.streams.messageTimeout", s.message_timeout, 10_000)?,
        max_connections: at_least("sip.streams.maxConnections", s.max_connections, 65_536, 1)?,
    })
}

fn build_leg(path: &str, leg: &FileLeg, default_host: IpAddr, external: bool) -> Result<Leg> {
    let mut ports = Ports {
        udp: port(&format!("{path}.udpPort"), leg.udp_port)?,
        tcp: port(&format!("{path}.tcpPort"), leg.tcp_port)?,
        tls: port(&format!("{path}.tlsPort"), leg.tls_port)?,
        ws: port(&format!("{path}.wsPort"), leg.ws_port)?,
        wss: port(&format!("{path}.wssPort"), leg.wss_port)?,
    };
    if ports == Ports::default() {
        if !external {
            return err(
                path,
                "the internal leg has no port; remove the section for a single entry point",
            );
        }
        ports.udp = Some(defaults::EXTERNAL_UDP_PORT);
    }
    let ip_lb_ports = Ports {
        udp: port(
            &format!("{path}.ipLoadBalancerUdpPort"),
            leg.ip_load_balancer_udp_port,
        )?,
        tcp: port(
            &format!("{path}.ipLoadBalancerTcpPort"),
            leg.ip_load_balancer_tcp_port,
        )?,
        tls: port(
            &format!("{path}.ipLoadBalancerTlsPort"),
            leg.ip_load_balancer_tls_port,
        )?,
        ws: port(
            &format!("{path}.ipLoadBalancerWsPort"),
            leg.ip_load_balancer_ws_port,
        )?,
        wss: port(
            &format!("{path}.ipLoadBalancerWssPort"),
            leg.ip_load_balancer_wss_port,
        )?,
    };
    let lb_path = format!("{path}.ipLoadBalancerAddress");
    let addresses = ip_list(&lb_path, leg.ip_load_balancer_address.as_ref())?;
    if !addresses.is_empty() && ip_lb_ports == Ports::default() {
        return err(
            &lb_path,
            "an IP load balancer address needs at least one ipLoadBalancer*Port",
        );
    }
    if addresses.is_empty() && ip_lb_ports != Ports::default() {
        return err(
            &lb_path,
            "ipLoadBalancer*Port is set but no ipLoadBalancerAddress",
        );
    }
    Ok(Leg {
        host: opt(&leg.host, |h| parse_ip(&format!("{path}.host"), h))?.unwrap_or(default_host),
        ports,
        ip_load_balancer_addresses: addresses,
        ip_load_balancer_ports: ip_lb_ports,
    })
}

/// With two entry points, every transport the external IP-LB serves must be
/// served by the internal IP-LB too (the original's start-up rule).
fn check_ip_lb_pairs(external: &Leg, internal: &Leg) -> Result<()> {
    let (e, i) = (
        external.ip_load_balancer_ports,
        internal.ip_load_balancer_ports,
    );
    if external.ip_load_balancer_addresses.is_empty()
        || internal.ip_load_balancer_addresses.is_empty()
    {
        return Ok(());
    }
    let pairs = [
        ("Udp", e.udp, i.udp),
        ("Tcp", e.tcp, i.tcp),
        ("Tls", e.tls, i.tls),
        ("Ws", e.ws, i.ws),
        ("Wss", e.wss, i.wss),
    ];
    for (name, ext, int) in pairs {
        if ext.is_some() && int.is_none() {
            return err(
                &format!("sip.internal.ipLoadBalancer{name}Port"),
                format!("required because sip.external.ipLoadBalancer{name}Port is set"),
            );
        }
    }
    Ok(())
}

fn build_extra_nodes(list: Option<&StrList>) -> Result<Vec<SocketAddr>> {
    let path = "sip.extraServerNodes";
    let items = list.map(|l| l.0.as_slice()).unwrap_or_default();
    items
        .iter()
        .map(|s| parse_socket_addr(path, s, Some(defaults::EXTRA_SERVER_NODE_PORT)))
        .collect()
}

fn build_status(status: Option<u16>) -> Result<u16> {
    match status.unwrap_or(defaults::UNAVAILABLE_STATUS) {
        s @ 300..=699 => Ok(s),
        s => err(
            "sip.unavailableStatus",
            format!("{s} is not a final error status (300-699)"),
        ),
    }
}

fn build_reason(reason: Option<&str>) -> Result<String> {
    let reason = reason.unwrap_or(defaults::UNAVAILABLE_REASON);
    if reason.is_empty() || reason.chars().any(|c| c.is_control()) {
        return err(
            "sip.unavailableReason",
            "must be non-empty text without control characters",
        );
    }
    Ok(reason.to_owned())
}

// === registry ===

fn build_registry(file: &FileConfig) -> Result<RegistryConfig> {
    let nodes = file.nodes.as_deref().unwrap_or_default();
    Ok(RegistryConfig {
        node_timeout: timer("nodeTimeout", file.node_timeout, defaults::NODE_TIMEOUT_MS)?,
        heartbeat_interval: timer(
            "heartbeatInterval",
            file.heartbeat_interval,
            defaults::HEARTBEAT_INTERVAL_MS,
        )?,
        heartbeat_port: match file.heartbeat_port.unwrap_or(defaults::HEARTBEAT_PORT) {
            0 => None,
            p => Some(p),
        },
        static_nodes: nodes
            .iter()
            .enumerate()
            .map(|(i, n)| build_node(i, n))
            .collect::<Result<_>>()?,
        probe: build_probe(&file.probe.clone().unwrap_or_default())?,
        health: build_health(&file.health.clone().unwrap_or_default())?,
    })
}

fn build_health(h: &FileHealth) -> Result<HealthConfig> {
    let codes_path = "health.responsesStatusCodeNodeRemoval";
    let error_codes = match &h.responses_status_code_node_removal {
        None => defaults::ERROR_CODES.to_vec(),
        Some(list) => list
            .0
            .iter()
            .map(|c| match c.parse::<u16>() {
                Ok(code @ 100..=699) => Ok(code),
                _ => err(codes_path, format!("`{c}` is not a status code (100-699)")),
            })
            .collect::<Result<_>>()?,
    };
    let no_response = match (h.max_request_number_without_response, h.max_response_time) {
        (Some(max_requests), Some(t)) => Some(NoResponseCheck {
            max_requests,
            max_response_time: ms("health.maxResponseTime", Some(t), 1)?,
        }),
        (None, None) => None,
        (Some(_), None) => {
            return err(
                "health.maxResponseTime",
                "needed with maxRequestNumberWithoutResponse",
            )
        }
        (None, Some(_)) => {
            return err(
                "health.maxRequestNumberWithoutResponse",
                "needed with maxResponseTime",
            )
        }
    };
    let ramp_up = match (h.traffic_rampup_cycle_period, h.traffic_percentage_increase) {
        (Some(period), Some(percent)) => Some(RampUp {
            period: ms("health.trafficRampupCyclePeriod", Some(period), 1)?,
            percent: match u8::try_from(percent) {
                Ok(p @ 1..=100) => p,
                _ => return err("health.trafficPercentageIncrease", "must be 1-100"),
            },
        }),
        (None, None) => None,
        (Some(_), None) => {
            return err(
                "health.trafficPercentageIncrease",
                "needed with trafficRampupCyclePeriod",
            )
        }
        (None, Some(_)) => {
            return err(
                "health.trafficRampupCyclePeriod",
                "needed with trafficPercentageIncrease",
            )
        }
    };
    Ok(HealthConfig {
        error_codes,
        max_errors: h
            .max_number_responses_with_error
            .unwrap_or(defaults::MAX_ERRORS),
        max_error_time: ms(
            "health.maxErrorTime",
            h.max_error_time,
            defaults::MAX_ERROR_TIME_MS,
        )?,
        no_response,
        ramp_up,
    })
}

fn build_node(index: usize, node: &FileNode) -> Result<StaticNode> {
    let path = format!("nodes[{index}]");
    let Some(ip) = &node.ip else {
        return err(&format!("{path}.ip"), "a node needs an ip");
    };
    let ip = parse_ip(&format!("{path}.ip"), ip)?;
    let ports = Ports {
        udp: port(&format!("{path}.udpPort"), node.udp_port)?,
        tcp: port(&format!("{path}.tcpPort"), node.tcp_port)?,
        tls: port(&format!("{path}.tlsPort"), node.tls_port)?,
        ws: port(&format!("{path}.wsPort"), node.ws_port)?,
        wss: port(&format!("{path}.wssPort"), node.wss_port)?,
    };
    let http_port = port(&format!("{path}.httpPort"), node.http_port)?;
    let ssl_port = port(&format!("{path}.sslPort"), node.ssl_port)?;
    if ports.udp.is_none() && ports.tcp.is_none() && http_port.is_none() && ssl_port.is_none() {
        return err(
            &format!("{path}.udpPort"),
            "a node needs a udpPort or tcpPort (SIP), or an httpPort or sslPort (HTTP only)",
        );
    }
    Ok(StaticNode {
        hostname: node.hostname.clone().unwrap_or_else(|| ip.to_string()),
        ip,
        ports,
        version: node.version.unwrap_or(0),
        jvm_route: node.jvm_route.clone(),
        http_port,
        ssl_port,
    })
}

fn build_probe(p: &FileProbe) -> Result<ProbeConfig> {
    Ok(ProbeConfig {
        interval: timer("probe.interval", p.interval, defaults::PROBE_INTERVAL_MS)?,
        timeout: timer("probe.timeout", p.timeout, defaults::PROBE_TIMEOUT_MS)?,
        failures_to_down: count(
            "probe.failuresToDown",
            p.failures_to_down,
            defaults::PROBE_FAILURES_TO_DOWN,
        )?,
        successes_to_up: count(
            "probe.successesToUp",
            p.successes_to_up,
            defaults::PROBE_SUCCESSES_TO_UP,
        )?,
    })
}

// === algorithm ===

fn build_algorithm(a: &FileAlgorithm) -> Result<AlgorithmConfig> {
    let kind = match &a.algorithm_class {
        Some(name) => match algorithm_kind(name) {
            Some(kind) => kind,
            None => {
                return err(
                    "algorithm.algorithmClass",
                    format!("unknown algorithm `{name}`"),
                )
            }
        },
        None => AlgorithmKind::CallIdAffinity,
    };
    let key = header_key(
        "algorithm.sipHeaderAffinityKey",
        a.sip_header_affinity_key.as_deref(),
        defaults::SIP_HEADER_AFFINITY_KEY,
    )?;
    let fallback_key = header_key(
        "algorithm.sipHeaderAffinityFallbackKey",
        a.sip_header_affinity_fallback_key.as_deref(),
        defaults::SIP_HEADER_AFFINITY_FALLBACK_KEY,
    )?;
    let exclusion = a
        .sip_header_affinity_exclusion_pattern
        .clone()
        .filter(|p| !p.is_empty());
    if let Some(p) = &exclusion {
        if let Err(e) = regex::bytes::Regex::new(p) {
            let first = e.to_string();
            let line = first.lines().last().unwrap_or("invalid");
            return err(
                "algorithm.sipHeaderAffinityExclusionPattern",
                format!("`{p}` is not a regular expression: {}", line.trim()),
            );
        }
    }
    let max_entries = a
        .call_id_affinity_max_entries
        .unwrap_or(defaults::AFFINITY_MAX_ENTRIES);
    if max_entries == 0 {
        return err("algorithm.callIdAffinityMaxEntries", "must be at least 1");
    }
    Ok(AlgorithmConfig {
        kind,
        call_id_affinity_max_time_in_cache: Duration::from_secs(
            a.call_id_affinity_max_time_in_cache
                .unwrap_or(defaults::AFFINITY_MAX_TIME_S),
        ),
        call_id_affinity_max_entries: max_entries,
        call_id_affinity_group_failover: a.call_id_affinity_group_failover.unwrap_or(false),
        sip_header_affinity_key: key,
        sip_header_affinity_exclusion_pattern: exclusion,
        sip_header_affinity_fallback_key: fallback_key,
        http_affinity_key: a
            .http_affinity_key
            .clone()
            .unwrap_or_else(|| defaults::HTTP_AFFINITY_KEY.to_owned()),
        subcluster_map: build_subclusters(a.subcluster_map.as_deref().unwrap_or_default())?,
    })
}

/// A header name for an affinity key; the 1.x spellings `from.user` /
/// `to.user` become `From` / `To`.
fn header_key(path: &str, key: Option<&str>, default: &str) -> Result<String> {
    let key = key.unwrap_or(default).trim();
    match key.to_ascii_lowercase().as_str() {
        "from.user" => return Ok("From".to_owned()),
        "to.user" => return Ok("To".to_owned()),
        _ => {}
    }
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
        return err(path, format!("`{key}` is not a header name"));
    }
    Ok(key.to_owned())
}

/// Native names and the simple names of the original's Java classes (any
/// package, so misspelt packages like `org.mobicens.tools…` still match);
/// `custom:<name>` names an algorithm registered in code.
pub fn algorithm_kind(name: &str) -> Option<AlgorithmKind> {
    if let Some(custom) = name.trim().strip_prefix("custom:") {
        let custom = custom.trim();
        return (!custom.is_empty()).then(|| AlgorithmKind::Custom(custom.to_owned()));
    }
    let simple = name.rsplit('.').next().unwrap_or(name);
    let kind = match simple.to_ascii_lowercase().as_str() {
        "callidaffinity" | "callidaffinitybalanceralgorithm" => AlgorithmKind::CallIdAffinity,
        "headerconsistenthash" | "headerconsistenthashbalanceralgorithm" => {
            AlgorithmKind::HeaderConsistentHash
        }
        // Upstream's persistent variant kept its node list in a cluster
        // cache; here the node travels in the Route hints instead.
        "persistentconsistenthash" | "persistentconsistenthashbalanceralgorithm" => {
            AlgorithmKind::PersistentConsistentHash
        }
        "pureconsistenthash" | "pureconsistenthashbalanceralgorithm" => {
            AlgorithmKind::PureConsistentHash
        }
        "clustersubdomainaffinity" | "clustersubdomainaffinityalgorithm" => {
            AlgorithmKind::ClusterSubdomainAffinity
        }
        "userbased" | "userbasedalgorithm" => AlgorithmKind::UserBased,
        "activestandby" | "activestandbyalgorithm" => AlgorithmKind::ActiveStandby,
        _ => return None,
    };
    Some(kind)
}

fn build_subclusters(groups: &[Vec<String>]) -> Result<Vec<Vec<IpAddr>>> {
    let path = "algorithm.subclusterMap";
    let mut out = Vec::with_capacity(groups.len());
    for group in groups {
        let mut ips = Vec::with_capacity(group.len());
        for s in group {
            let ip = parse_ip(path, s)?;
            if ips.contains(&ip) {
                return err(path, format!("{ip} appears twice in one group"));
            }
            ips.push(ip);
        }
        if ips.is_empty() {
            return err(path, "empty group");
        }
        out.push(ips);
    }
    Ok(out)
}

// === smpp, tls ===

fn build_smpp(s: &FileSmpp) -> Result<SmppConfig> {
    let servers = s
        .remote_servers
        .as_ref()
        .map(|l| l.0.as_slice())
        .unwrap_or_default();
    let remote_servers = servers
        .iter()
        .map(|a| parse_socket_addr("smpp.remoteServers", a, None))
        .collect::<Result<Vec<_>>>()?;
    let (port_, ssl_port) = (
        port("smpp.smppPort", s.smpp_port)?,
        port("smpp.smppSslPort", s.smpp_ssl_port)?,
    );
    if (port_.is_some() || ssl_port.is_some()) && remote_servers.is_empty() {
        return err(
            "smpp.remoteServers",
            "SMPP is enabled (smppPort/smppSslPort) but no remote server is listed",
        );
    }
    Ok(SmppConfig {
        host: opt(&s.smpp_host, |h| parse_ip("smpp.smppHost", h))?,
        port: port_,
        ssl_port,
        remote_servers,
        timeout_response: ms(
            "smpp.timeoutResponse",
            s.timeout_response,
            defaults::SMPP_TIMEOUT_RESPONSE_MS,
        )?,
        timeout_connection: ms(
            "smpp.timeoutConnection",
            s.timeout_connection,
            defaults::SMPP_TIMEOUT_CONNECTION_MS,
        )?,
        timeout_enquire: ms(
            "smpp.timeoutEnquire",
            s.timeout_enquire,
            defaults::SMPP_TIMEOUT_ENQUIRE_MS,
        )?,
        reconnect_period: ms(
            "smpp.reconnectPeriod",
            s.reconnect_period,
            defaults::SMPP_RECONNECT_PERIOD_MS,
        )?,
        timeout_connection_check_client_side: ms(
            "smpp.timeoutConnectionCheckClientSide",
            s.timeout_connection_check_client_side,
            defaults::SMPP_CHECK_CLIENT_MS,
        )?,
        timeout_connection_check_server_side: ms(
            "smpp.timeoutConnectionCheckServerSide",
            s.timeout_connection_check_server_side,
            defaults::SMPP_CHECK_SERVER_MS,
        )?,
        mux_mode: s.mux_mode.unwrap_or(false),
        max_connection_size: at_least(
            "smpp.maxConnectionSize",
            s.max_connection_size,
            defaults::SMPP_MAX_CONNECTION_SIZE,
            1,
        )?,
    })
}

fn build_tls(s: &FileSsl) -> Result<TlsConfig> {
    let list = |l: &Option<StrList>| l.as_ref().map(|l| l.0.clone()).unwrap_or_default();
    let client_auth = match s.tls_client_auth_type.as_deref() {
        None => TlsClientAuth::default(),
        Some(a) => match a.to_ascii_lowercase().as_str() {
            "enabled" => TlsClientAuth::Enabled,
            "want" => TlsClientAuth::Want,
            "disabled" => TlsClientAuth::Disabled,
            "disabledall" => TlsClientAuth::DisabledAll,
            _ => {
                return err(
                    "ssl.tlsClientAuthType",
                    format!("`{a}` is not Enabled, Want, Disabled or DisabledAll"),
                )
            }
        },
    };
    if s.key_store.is_some() && s.certificate_file.is_some() {
        return err(
            "ssl.certificateFile",
            "ssl.keyStore and ssl.certificateFile are alternatives: set one",
        );
    }
    if s.private_key_file.is_some() && s.certificate_file.is_none() {
        return err(
            "ssl.privateKeyFile",
            "ssl.privateKeyFile needs ssl.certificateFile",
        );
    }
    Ok(TlsConfig {
        key_store: s.key_store.clone(),
        certificate_file: s.certificate_file.clone(),
        private_key_file: s.private_key_file.clone(),
        key_store_password: s.key_store_password.clone(),
        trust_store: s.trust_store.clone(),
        trust_store_password: s.trust_store_password.clone(),
        client_protocols: list(&s.tls_client_protocols),
        enabled_cipher_suites: list(&s.enabled_cipher_suites),
        client_auth,
        terminate_tls_traffic: s.terminate_tls_traffic.unwrap_or(false),
    })
}
