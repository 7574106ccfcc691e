//! `FileConfig`: the raw, untrusted shape of a configuration file.
//!
//! Every field is optional and mirrors a key of the native YAML format
//! (camelCase, named after the original Restcomm keys). Unknown keys are
//! rejected by serde (`deny_unknown_fields`), so a typo is an error with a
//! line number. Values are only *typed* here (numbers, booleans, strings);
//! their meaning (addresses, ranges, defaults) is checked by
//! [`super::build`]. The `lb.properties` importer fills the same structs.
//!
//! ```yaml
//! cores: auto                 # auto | N | [0, 1]
//! host: 127.0.0.1             # default host of both legs
//! nodeTimeout: 8400           # ms
//! heartbeatInterval: 150      # ms
//! heartbeatPort: 2610         # HTTP/JSON heartbeats; 0 = off
//! statisticPort: 2006         # alias apiPort; 0 = off
//! sip:
//!   external: { host: 127.0.0.1, udpPort: 5060, tcpPort: 5060 }
//!   internal: { udpPort: 5065 } # omit the section for a single entry point
//! algorithm: { algorithmClass: callIdAffinity }
//! nodes: [ { ip: 127.0.0.1, udpPort: 5080 } ]
//! ```
//! The full key list is [`super::reference`] (rendered into
//! `docs/config-reference.md`); a test checks it against these structs.

use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FileConfig {
    /// `auto`, a shard count, or a list of CPU ids.
    pub cores: Option<CoresSpec>,
    /// Completion batching of each shard's wait, µs; 0 = off.
    pub batch_wait_micros: Option<u64>,
    /// Busy polling of each shard before it sleeps, µs; 0 = off.
    pub busy_poll_micros: Option<u64>,
    /// Default host of both SIP legs.
    pub host: Option<String>,
    /// Node expiry, ms.
    pub node_timeout: Option<u64>,
    /// Expiry sweep period, ms.
    pub heartbeat_interval: Option<u64>,
    /// TCP port of the HTTP/JSON heartbeat protocol; 0 turns it off.
    pub heartbeat_port: Option<u16>,
    /// Statistics port (`apiPort` at the original's HEAD); 0 turns it off.
    #[serde(alias = "apiPort")]
    pub statistic_port: Option<u16>,
    /// `/lbstop` drain before the stop, ms.
    pub shutdown_timeout: Option<u64>,
    /// `/lbstop` requires `login` and `password`.
    pub security_required: Option<bool>,
    /// `/lbstop` login.
    pub login: Option<String>,
    /// `/lbstop` password.
    pub password: Option<String>,
    /// Reload when the file changes (as on SIGHUP).
    pub watch_config: Option<bool>,
    /// SIP proxy section.
    pub sip: Option<FileSip>,
    /// Balancing algorithm section.
    pub algorithm: Option<FileAlgorithm>,
    /// Static nodes, probed with SIP OPTIONS.
    pub nodes: Option<Vec<FileNode>>,
    /// Probe tuning for static nodes.
    pub probe: Option<FileProbe>,
    /// Node health checks and slow start.
    pub health: Option<FileHealth>,
    /// HTTP balancer section.
    pub http: Option<FileHttp>,
    /// SMPP balancer section.
    pub smpp: Option<FileSmpp>,
    /// TLS key material section.
    pub ssl: Option<FileSsl>,
}

/// `sip:` section.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FileSip {
    /// Serve SIP at all (false: an SMPP- or HTTP-only balancer).
    pub enabled: Option<bool>,
    /// Client-facing leg.
    pub external: Option<FileLeg>,
    /// Node-facing leg; absent = single entry point.
    pub internal: Option<FileLeg>,
    /// Force this transport towards nodes: `udp`, `tcp`, `tls`, `ws`, `wss`.
    pub internal_transport: Option<String>,
    /// `ip[:port]` of hosts that count as server nodes.
    pub extra_server_nodes: Option<StrList>,
    /// Put the IP-LB address in our Via headers.
    pub use_ip_load_balancer_address_in_via_headers: Option<bool>,
    /// NAT public address.
    pub public_ip: Option<String>,
    /// NAT public IPv6 address.
    pub public_ipv6: Option<String>,
    /// Callers whose address matches get our real addresses (IPv4).
    pub routing_rules_ipv4: Option<Vec<FileRoutingRule>>,
    /// Same for IPv6.
    pub routing_rules_ipv6: Option<Vec<FileRoutingRule>>,
    /// Answer `100 Trying` ourselves.
    pub is_send_trying: Option<bool>,
    /// Status code when no node can take a request.
    pub unavailable_status: Option<u16>,
    /// Reason phrase of that status.
    pub unavailable_reason: Option<String>,
    /// Scanner User-Agent/From/To substrings.
    pub blocked_values: Option<StrList>,
    /// Route host stripped before processing.
    pub matching_hostname_for_route: Option<String>,
    /// Also strip subdomains of `matchingHostnameForRoute`.
    pub is_filter_subdomain: Option<bool>,
    /// Largest accepted SIP message, bytes.
    pub max_message_size: Option<usize>,
    /// SO_RCVBUF/SO_SNDBUF per SIP socket, bytes.
    pub socket_buffer_bytes: Option<usize>,
    /// Stream connections (TCP, TLS, WS, WSS): timers and limits.
    pub streams: Option<FileStreams>,
}

/// One `sip.routingRulesIpv4:` / `sip.routingRulesIpv6:` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FileRoutingRule {
    /// Regular expression over the caller's address.
    pub ip_pattern: Option<String>,
    /// `false`: a match selects our real addresses (the original's meaning).
    pub patch: Option<bool>,
}

/// `sip.streams:` section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FileStreams {
    /// Outgoing connect timeout, ms.
    pub connect_timeout: Option<u64>,
    /// A connection with no traffic for this long is closed, ms.
    pub idle_timeout: Option<u64>,
    /// A message (or TLS / WebSocket handshake) not complete this long after
    /// its first byte closes the connection, ms.
    pub message_timeout: Option<u64>,
    /// Connections per shard at most; beyond, new ones are refused.
    pub max_connections: Option<usize>,
}

/// `sip.external:` / `sip.internal:`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FileLeg {
    /// Bind address of this leg.
    pub host: Option<String>,
    /// UDP port.
    pub udp_port: Option<u16>,
    /// TCP port.
    pub tcp_port: Option<u16>,
    /// TLS port.
    pub tls_port: Option<u16>,
    /// WebSocket port.
    pub ws_port: Option<u16>,
    /// Secure WebSocket port.
    pub wss_port: Option<u16>,
    /// IP load balancer address(es) in front of this leg.
    pub ip_load_balancer_address: Option<StrList>,
    /// IP-LB UDP port.
    pub ip_load_balancer_udp_port: Option<u16>,
    /// IP-LB TCP port.
    pub ip_load_balancer_tcp_port: Option<u16>,
    /// IP-LB TLS port.
    pub ip_load_balancer_tls_port: Option<u16>,
    /// IP-LB WebSocket port.
    pub ip_load_balancer_ws_port: Option<u16>,
    /// IP-LB secure WebSocket port.
    pub ip_load_balancer_wss_port: Option<u16>,
}

/// `algorithm:` section.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FileAlgorithm {
    /// Native name or Java class name.
    pub algorithm_class: Option<String>,
    /// Idle eviction of affinity entries, seconds.
    pub call_id_affinity_max_time_in_cache: Option<u64>,
    /// Affinity table bound.
    pub call_id_affinity_max_entries: Option<usize>,
    /// Grouped failover.
    pub call_id_affinity_group_failover: Option<bool>,
    /// Affinity header.
    pub sip_header_affinity_key: Option<String>,
    /// Regular expression; a matching key is replaced by the fallback key.
    pub sip_header_affinity_exclusion_pattern: Option<String>,
    /// Header used when the key is excluded or missing.
    pub sip_header_affinity_fallback_key: Option<String>,
    /// HTTP GET parameter for hash algorithms.
    pub http_affinity_key: Option<String>,
    /// Subcluster groups of node IPs.
    pub subcluster_map: Option<Vec<Vec<String>>>,
}

/// One `nodes:` entry.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FileNode {
    /// Node address.
    pub ip: Option<String>,
    /// Name in logs; defaults to the IP.
    pub hostname: Option<String>,
    /// UDP port.
    pub udp_port: Option<u16>,
    /// TCP port.
    pub tcp_port: Option<u16>,
    /// TLS port.
    pub tls_port: Option<u16>,
    /// WebSocket port.
    pub ws_port: Option<u16>,
    /// Secure WebSocket port.
    pub wss_port: Option<u16>,
    /// Rolling-upgrade version.
    pub version: Option<u32>,
    /// HTTP stickiness route.
    pub jvm_route: Option<String>,
    /// Plain HTTP port (the HTTP balancer's target).
    pub http_port: Option<u16>,
    /// HTTPS port.
    pub ssl_port: Option<u16>,
}

/// `probe:` section.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FileProbe {
    /// Probe period, ms.
    pub interval: Option<u64>,
    /// Probe timeout, ms.
    pub timeout: Option<u64>,
    /// Failures that take a node down.
    pub failures_to_down: Option<u32>,
    /// Successes that bring a node up.
    pub successes_to_up: Option<u32>,
}

/// `health:` section.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FileHealth {
    /// Status codes counted as node errors.
    pub responses_status_code_node_removal: Option<U16List>,
    /// Errors tolerated within `maxErrorTime`.
    pub max_number_responses_with_error: Option<u32>,
    /// Error window, ms.
    pub max_error_time: Option<u64>,
    /// Requests without a response tolerated.
    pub max_request_number_without_response: Option<u32>,
    /// Time without a response tolerated, ms.
    pub max_response_time: Option<u64>,
    /// Slow-start step period, ms.
    pub traffic_rampup_cycle_period: Option<u64>,
    /// Slow-start step, percent.
    pub traffic_percentage_increase: Option<u32>,
}

/// Status codes written as a YAML sequence of numbers or one comma-separated string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct U16List(pub Vec<String>);

impl<'de> Deserialize<'de> for U16List {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(U16ListVisitor)
    }
}

struct U16ListVisitor;

impl<'de> Visitor<'de> for U16ListVisitor {
    type Value = U16List;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a status code, a list of status codes or a comma-separated string")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<U16List, E> {
        Ok(U16List(vec![v.to_string()]))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<U16List, E> {
        Ok(U16List(vec![v.to_string()]))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<U16List, E> {
        Ok(U16List(StrList::from_comma_list(v).0))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<U16List, A::Error> {
        let mut out = Vec::new();
        while let Some(item) = seq.next_element::<serde_yaml::Value>()? {
            match item {
                serde_yaml::Value::Number(n) => out.push(n.to_string()),
                serde_yaml::Value::String(s) => out.push(s.trim().to_owned()),
                _ => return Err(de::Error::custom("status codes are numbers")),
            }
        }
        Ok(U16List(out))
    }
}

/// `http:` section.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FileHttp {
    /// HTTP listener port.
    pub http_port: Option<u16>,
    /// HTTPS listener port.
    pub https_port: Option<u16>,
    /// `ip[:port]` requests go to when no node is alive.
    pub unavailable_host: Option<String>,
    /// TLS towards nodes.
    pub is_remote_server_ssl: Option<bool>,
    /// 302 from HTTP to HTTPS when `httpsPort` is set.
    pub redirect_to_https: Option<bool>,
    /// Regex on the request-target; 4xx/5xx answers mark the node bad.
    pub request_check_pattern: Option<String>,
    /// Request-target rewrite rules, applied in order.
    pub url_rewrite: Option<Vec<FileUrlRewrite>>,
    /// Add X-Forwarded-For / X-Forwarded-Proto / Forwarded.
    pub add_forwarded_headers: Option<bool>,
    /// Largest head, bytes.
    pub max_head_size: Option<usize>,
    /// Longest request-target, bytes.
    pub max_uri_length: Option<usize>,
    /// ms.
    pub header_timeout: Option<u64>,
    /// ms.
    pub idle_timeout: Option<u64>,
    /// ms.
    pub upstream_idle_timeout: Option<u64>,
    /// ms.
    pub response_timeout: Option<u64>,
    /// Client connections per shard.
    pub max_connections: Option<usize>,
}

/// One `http.urlRewrite` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FileUrlRewrite {
    /// Regular expression on the request-target.
    pub pattern: Option<String>,
    /// Replacement (`$1` for groups).
    pub replacement: Option<String>,
}

/// `smpp:` section.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FileSmpp {
    /// ESME-facing bind address.
    pub smpp_host: Option<String>,
    /// Plain SMPP port.
    pub smpp_port: Option<u16>,
    /// TLS SMPP port.
    pub smpp_ssl_port: Option<u16>,
    /// `ip:port` of the SMSCs.
    pub remote_servers: Option<StrList>,
    /// ms.
    pub timeout_response: Option<u64>,
    /// ms.
    pub timeout_connection: Option<u64>,
    /// ms.
    pub timeout_enquire: Option<u64>,
    /// ms.
    pub reconnect_period: Option<u64>,
    /// ms.
    pub timeout_connection_check_client_side: Option<u64>,
    /// ms.
    pub timeout_connection_check_server_side: Option<u64>,
    /// Mux mode instead of regular.
    pub mux_mode: Option<bool>,
    /// Outstanding requests per SMPP session.
    pub max_connection_size: Option<usize>,
}

/// `ssl:` section.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FileSsl {
    /// Key store path (PEM chain + key, or PKCS#12).
    pub key_store: Option<String>,
    /// PEM certificate chain, instead of `keyStore`.
    pub certificate_file: Option<String>,
    /// PEM private key of `certificateFile`.
    pub private_key_file: Option<String>,
    /// Key store password.
    pub key_store_password: Option<String>,
    /// Trust store path.
    pub trust_store: Option<String>,
    /// Trust store password.
    pub trust_store_password: Option<String>,
    /// Allowed TLS versions.
    pub tls_client_protocols: Option<StrList>,
    /// Allowed cipher suites.
    pub enabled_cipher_suites: Option<StrList>,
    /// `Enabled`, `Want`, `Disabled` or `DisabledAll`.
    pub tls_client_auth_type: Option<String>,
    /// Terminate TLS at the balancer.
    #[serde(rename = "terminateTLSTraffic")]
    pub terminate_tls_traffic: Option<bool>,
}

/// `cores:` as written: `auto`, a number, or a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoresSpec {
    /// A word; only `auto` is valid (checked by build).
    Word(String),
    /// A shard count.
    Count(u64),
    /// CPU ids.
    List(Vec<u64>),
}

/// A list written either as a YAML sequence or as one comma-separated string
/// (the original's format).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StrList(pub Vec<String>);

// === impl StrList ===

impl StrList {
    /// Splits a comma list, trimming items and dropping empty ones.
    pub fn from_comma_list(s: &str) -> Self {
        StrList(
            s.split(',')
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(str::to_owned)
                .collect(),
        )
    }
}

struct StrListVisitor;

impl<'de> Visitor<'de> for StrListVisitor {
    type Value = StrList;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a comma-separated string or a list of strings")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<StrList, E> {
        Ok(StrList::from_comma_list(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StrList, A::Error> {
        let mut out = Vec::new();
        while let Some(item) = seq.next_element::<String>()? {
            out.push(item.trim().to_owned());
        }
        Ok(StrList(out))
    }
}

impl<'de> Deserialize<'de> for StrList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrListVisitor)
    }
}

// === impl CoresSpec ===

struct CoresVisitor;

impl<'de> Visitor<'de> for CoresVisitor {
    type Value = CoresSpec;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("`auto`, a core count or a list of CPU ids")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<CoresSpec, E> {
        Ok(CoresSpec::Word(v.to_owned()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<CoresSpec, E> {
        Ok(CoresSpec::Count(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<CoresSpec, E> {
        u64::try_from(v)
            .map(CoresSpec::Count)
            .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<CoresSpec, A::Error> {
        let mut out = Vec::new();
        while let Some(cpu) = seq.next_element::<u64>()? {
            out.push(cpu);
        }
        Ok(CoresSpec::List(out))
    }
}

impl<'de> Deserialize<'de> for CoresSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(CoresVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_accept_sequence_or_comma_string() {
        let a: FileSip = serde_yaml::from_str("blockedValues: [a, b]").unwrap();
        let b: FileSip = serde_yaml::from_str("blockedValues: 'a, b'").unwrap();
        assert_eq!(a.blocked_values, b.blocked_values);
    }

    #[test]
    fn cores_forms() {
        let c: FileConfig = serde_yaml::from_str("cores: auto").unwrap();
        assert_eq!(c.cores, Some(CoresSpec::Word("auto".into())));
        let c: FileConfig = serde_yaml::from_str("cores: 4").unwrap();
        assert_eq!(c.cores, Some(CoresSpec::Count(4)));
        let c: FileConfig = serde_yaml::from_str("cores: [0, 2]").unwrap();
        assert_eq!(c.cores, Some(CoresSpec::List(vec![0, 2])));
    }

    #[test]
    fn unknown_key_is_rejected() {
        let r: Result<FileConfig, _> = serde_yaml::from_str("sip:\n  external:\n    udpPortt: 1\n");
        assert!(r.is_err());
    }

    #[test]
    fn api_port_is_alias() {
        let c: FileConfig = serde_yaml::from_str("apiPort: 2007").unwrap();
        assert_eq!(c.statistic_port, Some(2007));
    }
}
