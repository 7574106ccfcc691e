//! Typed, validated configuration.
//!
//! The pipeline runs in one direction: text (YAML or the original
//! `lb.properties`) → [`file::FileConfig`] (raw, every key optional) →
//! [`build`] → [`Config`] (validated, defaults filled in, nothing optional
//! where a default exists). Only [`load`] touches the file system; everything
//! else takes `&str` so it is testable without files.
//!
//! This module does not open sockets, start shards or read the clock.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

pub mod build;
pub mod error;
pub mod file;
pub mod properties;
pub mod reference;
pub mod reload;
mod yaml;

pub use error::ConfigError;

/// The whole balancer configuration, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Which cores run shards.
    pub cores: Cores,
    /// How long a shard lets completions gather before it wakes for fewer
    /// than a batch (`batchWaitMicros`; zero = wake at the first).
    pub batch_wait: Duration,
    /// How long a shard watches its ring from user space after a turn
    /// before it sleeps in the kernel (`busyPollMicros`; zero = off).
    pub busy_poll: Duration,
    /// SIP listeners and proxy behaviour.
    pub sip: SipConfig,
    /// Node liveness: heartbeats, expiry, static probed nodes.
    pub registry: RegistryConfig,
    /// Balancing algorithm and its tables.
    pub algorithm: AlgorithmConfig,
    /// HTTP balancer.
    pub http: HttpConfig,
    /// SMPP balancer (parsed now; wired by a later issue).
    pub smpp: SmppConfig,
    /// TLS key material shared by SIP-TLS/WSS, HTTPS and SMPP-TLS (parsed now).
    pub tls: TlsConfig,
    /// Statistics endpoint.
    pub stats: StatsConfig,
    /// Reload when the configuration file changes, as on SIGHUP
    /// (`watchConfig`; the runtime watches the file's directory).
    pub watch_config: bool,
}

/// Cores to run shards on: `auto` (every core), a count, or an explicit CPU list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cores {
    /// One shard per available CPU.
    Auto,
    /// This many shards, pinned to CPUs 0..n.
    Count(usize),
    /// One shard per listed CPU id.
    List(Vec<usize>),
}

/// SIP transport names as they appear in Via, Record-Route and config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// UDP datagrams.
    Udp,
    /// TCP stream.
    Tcp,
    /// TLS over TCP.
    Tls,
    /// WebSocket.
    Ws,
    /// WebSocket over TLS.
    Wss,
}

/// Listening ports of one leg, per transport. `None` = not listening.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ports {
    /// UDP port.
    pub udp: Option<u16>,
    /// TCP port.
    pub tcp: Option<u16>,
    /// TLS port.
    pub tls: Option<u16>,
    /// WebSocket port.
    pub ws: Option<u16>,
    /// Secure WebSocket port.
    pub wss: Option<u16>,
}

/// One side of the balancer (external = towards clients, internal = towards nodes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leg {
    /// Address the leg's sockets bind to and that goes into Via / Record-Route.
    pub host: IpAddr,
    /// Listening ports.
    pub ports: Ports,
    /// Addresses of an IP load balancer (IPVS, keepalived VIP…) in front of this
    /// leg. The first is written into Record-Route (and Via when
    /// `use_ip_load_balancer_address_in_via`); all are recognised as "us".
    pub ip_load_balancer_addresses: Vec<IpAddr>,
    /// Ports of that IP load balancer, per transport.
    pub ip_load_balancer_ports: Ports,
}

/// The SIP proxy's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct SipConfig {
    /// Serve SIP (`sip.enabled`); false: no SIP socket is bound, the legs
    /// below are validated but unused (an SMPP- or HTTP-only balancer).
    pub enabled: bool,
    /// Client-facing leg.
    pub external: Leg,
    /// Node-facing leg; `None` = single entry point (one port for both directions).
    pub internal: Option<Leg>,
    /// Force this transport on every leg towards nodes (`internalTransport`).
    pub internal_transport: Option<Transport>,
    /// Hosts treated as server nodes for direction analysis (`extraServerNodes`),
    /// port defaults to 5060.
    pub extra_server_nodes: Vec<SocketAddr>,
    /// Put the first IP-LB address/port in our Via headers.
    pub use_ip_load_balancer_address_in_via: bool,
    /// NAT public address (`publicIp`), IPv4.
    pub public_ip: Option<IpAddr>,
    /// NAT public address (`publicIpv6`), IPv6.
    pub public_ipv6: Option<IpAddr>,
    /// Routing rules over IPv4 caller addresses (`routingRulesIpv4`).
    pub routing_rules_ipv4: Vec<RoutingRule>,
    /// Routing rules over IPv6 caller addresses (`routingRulesIpv6`).
    pub routing_rules_ipv6: Vec<RoutingRule>,
    /// Answer `100 Trying` ourselves (`isSendTrying`).
    pub send_trying: bool,
    /// Status code sent when no node can take a request.
    pub unavailable_status: u16,
    /// Reason phrase sent with `unavailable_status`.
    pub unavailable_reason: String,
    /// Case-insensitive substrings of User-Agent/From/To that mark scanners.
    pub blocked_values: Vec<String>,
    /// Route host removed before processing (`matchingHostnameForRoute`).
    pub matching_hostname_for_route: Option<String>,
    /// Also match subdomains of `matching_hostname_for_route`.
    pub is_filter_subdomain: bool,
    /// Largest SIP message accepted, bytes.
    pub max_message_size: usize,
    /// SO_RCVBUF / SO_SNDBUF for each SIP socket, bytes.
    pub socket_buffer_bytes: usize,
    /// Stream connection timers and limits.
    pub streams: StreamLimits,
}

/// One routing rule (original §2.12): a caller whose address matches
/// `ip_pattern` and whose rule has `patch = false` gets our real addresses
/// in Via and Record-Route (not the IP load balancer's, not `publicIp`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutingRule {
    /// Regular expression (`regex` crate syntax) the whole address must match.
    pub ip_pattern: String,
    /// `true` rules have no effect (as in the original).
    pub patch: bool,
}

/// Timers and limits of SIP stream connections (`sip.streams`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamLimits {
    /// Outgoing connect timeout.
    pub connect_timeout: Duration,
    /// Idle connections are closed after this.
    pub idle_timeout: Duration,
    /// An incomplete message (or handshake) older than this closes its connection.
    pub message_timeout: Duration,
    /// Connections per shard at most.
    pub max_connections: usize,
}

/// Node registry: heartbeats, expiry and static probed nodes.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistryConfig {
    /// A node not heard from for this long is removed (`nodeTimeout`).
    pub node_timeout: Duration,
    /// Period of the expiry sweep (`heartbeatInterval`).
    pub heartbeat_interval: Duration,
    /// TCP port of the HTTP/JSON heartbeat protocol (`heartbeatPort`),
    /// on the internal leg's host (the external one without an internal
    /// leg); `None` = off.
    pub heartbeat_port: Option<u16>,
    /// Nodes from the config file, actively probed with SIP OPTIONS.
    pub static_nodes: Vec<StaticNode>,
    /// Active probe settings for static nodes.
    pub probe: ProbeConfig,
    /// Health checks and slow start of nodes.
    pub health: HealthConfig,
}

/// Node health: exclusion on error responses or missing responses, and the
/// slow start of a node that (re)joins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthConfig {
    /// Response codes that count as node errors (`responsesStatusCodeNodeRemoval`).
    pub error_codes: Vec<u16>,
    /// A node is excluded after more than this many errors (`maxNumberResponsesWithError`).
    pub max_errors: u32,
    /// Window in which errors are counted (`maxErrorTime`).
    pub max_error_time: Duration,
    /// No-response check: excluded after more than `max_requests` requests
    /// without any response for longer than `max_response_time`
    /// (`maxRequestNumberWithoutResponse`, `maxResponseTime`; both needed).
    pub no_response: Option<NoResponseCheck>,
    /// Slow start (`trafficRampupCyclePeriod`, `trafficPercentageIncrease`; both needed).
    pub ramp_up: Option<RampUp>,
}

/// The no-response health check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoResponseCheck {
    /// Requests forwarded to the node since its last response.
    pub max_requests: u32,
    /// Time since its last response.
    pub max_response_time: Duration,
}

/// Slow start of a node that joins: its share of new calls grows by
/// `percent` every `period`, from `percent` to 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RampUp {
    /// Time between two steps.
    pub period: Duration,
    /// Step, percent of a full node's share (1–100).
    pub percent: u8,
}

/// A node listed in the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticNode {
    /// Name used in logs and statistics.
    pub hostname: String,
    /// Node address.
    pub ip: IpAddr,
    /// Ports the node listens on.
    pub ports: Ports,
    /// Rolling-upgrade version (`version` property), default 0.
    pub version: u32,
    /// `jvmRoute` for HTTP stickiness.
    pub jvm_route: Option<String>,
    /// HTTP port (`httpPort` property of a heartbeat node).
    pub http_port: Option<u16>,
    /// HTTPS port (`sslPort` property).
    pub ssl_port: Option<u16>,
}

/// Active OPTIONS probing of static nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeConfig {
    /// Time between two probes of one node.
    pub interval: Duration,
    /// A probe without a response within this time counts as failed.
    pub timeout: Duration,
    /// Consecutive failures that take an up node down.
    pub failures_to_down: u32,
    /// Consecutive successes that bring a down node up.
    pub successes_to_up: u32,
}

/// Balancing algorithms (`src/balancer/algorithms/`, one file each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlgorithmKind {
    /// Call-ID affinity table; new calls and failover by rendezvous hash (default).
    CallIdAffinity,
    /// Stateless rendezvous hash of the affinity key over the live set; the
    /// hash decides every request that is not explicitly addressed.
    HeaderConsistentHash,
    /// As `HeaderConsistentHash` (the original's ring, replaced by the same hash).
    PureConsistentHash,
    /// Rendezvous hash of the affinity key, but dialogs follow the node
    /// recorded in their Route hints: affinity survives node-set changes.
    PersistentConsistentHash,
    /// Call-ID affinity with failover preferring the dead node's subcluster.
    ClusterSubdomainAffinity,
    /// Affinity keyed by a header (To/From user, …).
    UserBased,
    /// Everything to one active node.
    ActiveStandby,
    /// An algorithm registered in code under this name
    /// (`balancer::catalog::register`), written `custom:<name>`.
    Custom(String),
}

/// Algorithm choice and tuning.
#[derive(Debug, Clone, PartialEq)]
pub struct AlgorithmConfig {
    /// The algorithm (`algorithmClass`, Java class names accepted as aliases).
    pub kind: AlgorithmKind,
    /// Idle time after which a Call-ID affinity entry is evicted.
    pub call_id_affinity_max_time_in_cache: Duration,
    /// Upper bound on Call-ID affinity entries per balancer (split across shards).
    pub call_id_affinity_max_entries: usize,
    /// Move every call of a dead node to one survivor (`callIdAffinityGroupFailover`).
    pub call_id_affinity_group_failover: bool,
    /// Header whose value keys affinity (`sipHeaderAffinityKey`), default `Call-ID`.
    pub sip_header_affinity_key: String,
    /// A key matching this regular expression is replaced by the fallback key
    /// (`sipHeaderAffinityExclusionPattern`).
    pub sip_header_affinity_exclusion_pattern: Option<String>,
    /// Header keying affinity when the key is excluded or missing
    /// (`sipHeaderAffinityFallbackKey`), default `Call-ID`.
    pub sip_header_affinity_fallback_key: String,
    /// HTTP GET parameter used by hash algorithms (`httpAffinityKey`).
    pub http_affinity_key: String,
    /// Subcluster groups for `ClusterSubdomainAffinity`.
    pub subcluster_map: Vec<Vec<IpAddr>>,
}

/// HTTP balancer settings (`http:`; `src/http/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// Plain HTTP listener port; `None` disables HTTP balancing.
    pub http_port: Option<u16>,
    /// HTTPS listener port.
    pub https_port: Option<u16>,
    /// Where requests are proxied when no node can take them (`ip[:port]`,
    /// port 80 by default); `None` = answer `503`. For a host name, the
    /// address [`HttpConfig::unavailable_host_name`] resolved to.
    pub unavailable_host: Option<SocketAddr>,
    /// `unavailableHost` given as a host name (and port): the binary
    /// resolves it into `unavailable_host` each time the file is loaded
    /// ([`crate::runtime::resolve_names`]; the loader does no I/O).
    pub unavailable_host_name: Option<(String, u16)>,
    /// Use TLS towards nodes (`isRemoteServerSsl`).
    pub remote_server_ssl: bool,
    /// With `https_port`, answer every plain-HTTP request `302` to HTTPS.
    pub redirect_to_https: bool,
    /// A request whose target matches this regex marks its node bad for
    /// HTTP when the node answers 4xx/5xx (`requestCheckPattern`).
    pub request_check_pattern: Option<String>,
    /// Request-target rewrites applied in order before the node choice.
    pub url_rewrite: Vec<UrlRewrite>,
    /// Add `X-Forwarded-For`, `X-Forwarded-Proto` and `Forwarded`.
    pub add_forwarded_headers: bool,
    /// Largest request or response head, bytes (`431` / `502` beyond).
    pub max_head_size: usize,
    /// Longest request-target, bytes (`414` beyond).
    pub max_uri_length: usize,
    /// A request head must be complete this long after its first byte (`408`).
    pub header_timeout: Duration,
    /// A client connection idle (between requests, or while sending a body)
    /// this long is closed.
    pub idle_timeout: Duration,
    /// Idle pooled connections to nodes are closed after this.
    pub upstream_idle_timeout: Duration,
    /// A node silent this long while a response is due gets the client `504`.
    pub response_timeout: Duration,
    /// Client connections per shard; beyond, `503` and close.
    pub max_connections: usize,
}

/// One `http.urlRewrite` rule: regex `pattern` on the request-target,
/// replaced by `replacement` (`$1`, `${name}` refer to groups).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlRewrite {
    /// Regular expression.
    pub pattern: String,
    /// Replacement text.
    pub replacement: String,
}

/// SMPP balancer settings (parsed now, wired later).
#[derive(Debug, Clone, PartialEq)]
pub struct SmppConfig {
    /// Bind address of the ESME-facing listener.
    pub host: Option<IpAddr>,
    /// Plain SMPP listener port; `None` disables SMPP.
    pub port: Option<u16>,
    /// TLS SMPP listener port.
    pub ssl_port: Option<u16>,
    /// SMSCs, in round-robin order.
    pub remote_servers: Vec<SocketAddr>,
    /// `timeoutResponse`.
    pub timeout_response: Duration,
    /// `timeoutConnection`.
    pub timeout_connection: Duration,
    /// `timeoutEnquire`.
    pub timeout_enquire: Duration,
    /// `reconnectPeriod`.
    pub reconnect_period: Duration,
    /// `timeoutConnectionCheckClientSide`.
    pub timeout_connection_check_client_side: Duration,
    /// `timeoutConnectionCheckServerSide`.
    pub timeout_connection_check_server_side: Duration,
    /// `muxMode`: ESMEs of one `system_id` share one connection per SMSC
    /// (the original HEAD's default); false = one SMSC connection per ESME
    /// (the user guide's design, our default).
    pub mux_mode: bool,
    /// `maxConnectionSize`: outstanding requests per session and direction;
    /// more are answered `ESME_RTHROTTLED` (the original: worker threads).
    pub max_connection_size: usize,
}

/// TLS key material and policy (`ssl`), turned into rustls configurations
/// by `tls::TlsContext` when a TLS listener or TLS towards nodes is used.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsConfig {
    /// Key store path: PEM (certificate chain and private key) or PKCS#12.
    pub key_store: Option<String>,
    /// PEM certificate chain (`ssl.certificateFile`), instead of `key_store`.
    pub certificate_file: Option<String>,
    /// PEM private key of `certificate_file` (`ssl.privateKeyFile`);
    /// `None` = the key is in `certificate_file`.
    pub private_key_file: Option<String>,
    /// Key store password.
    pub key_store_password: Option<String>,
    /// Trust store path.
    pub trust_store: Option<String>,
    /// Trust store password.
    pub trust_store_password: Option<String>,
    /// Allowed protocol versions, e.g. `TLSv1.2`.
    pub client_protocols: Vec<String>,
    /// Allowed cipher suites.
    pub enabled_cipher_suites: Vec<String>,
    /// Client certificate policy (`TLS_CLIENT_AUTH_TYPE` of the original).
    pub client_auth: TlsClientAuth,
    /// Terminate TLS at the balancer (`terminateTLSTraffic`).
    pub terminate_tls_traffic: bool,
}

/// Whether TLS listeners ask clients for a certificate
/// (`gov.nist.javax.sip.TLS_CLIENT_AUTH_TYPE` in the original).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsClientAuth {
    /// Request and require a client certificate.
    Enabled,
    /// Request a client certificate, accept connections without one.
    Want,
    /// Do not ask for a client certificate (default).
    #[default]
    Disabled,
    /// As `Disabled` on listeners; in addition, connections the balancer
    /// opens (to nodes) do not verify the peer's certificate, like the
    /// original's trust-all managers.
    DisabledAll,
}

/// Statistics endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsConfig {
    /// `/lbstat` and `/metrics` port (`statisticPort`, alias `apiPort`); `None` = off.
    pub port: Option<u16>,
    /// `/lbstop`: how long dialogs under way may go on (`shutdownTimeout`).
    pub shutdown_timeout: Duration,
    /// `/lbstop` credentials (`securityRequired` with `login`/`password`).
    pub stop_credentials: Option<(String, String)>,
}

/// The embedded default configuration file (loopback, UDP 5060/5065).
pub const DEFAULT_YAML: &str = include_str!("default.yaml");

/// Name used for the embedded default in messages.
pub const EMBEDDED_NAME: &str = "<embedded default>";

// === impl Ports ===

impl Ports {
    /// The first port set, in the order UDP, TCP, TLS, WS, WSS.
    pub fn first(&self) -> Option<u16> {
        [self.udp, self.tcp, self.tls, self.ws, self.wss]
            .into_iter()
            .flatten()
            .next()
    }
}

// === impl StaticNode ===

impl StaticNode {
    /// What names the node across reloads: its ip and first SIP port, or
    /// for a node without SIP port its ip and HTTP ports.
    pub fn identity(&self) -> (IpAddr, Option<u16>, Option<u16>, Option<u16>) {
        match self.ports.first() {
            Some(p) => (self.ip, Some(p), None, None),
            None => (self.ip, None, self.http_port, self.ssl_port),
        }
    }
}

// === impl Config ===

impl Config {
    /// The embedded default (`default.yaml`): loopback, UDP, external 5060,
    /// internal 5065, one core, statistics on 2006, no static nodes.
    pub fn embedded_default() -> Config {
        match from_yaml_str(DEFAULT_YAML, EMBEDDED_NAME) {
            Ok(cfg) => cfg,
            // default.yaml is compiled in and checked by a unit test.
            Err(e) => unreachable!("embedded default.yaml is invalid: {e}"),
        }
    }
}

/// Reads and validates a configuration file.
///
/// Files ending in `.properties` are read as the original `lb.properties`;
/// `.yaml`/`.yml` as YAML; anything else is sniffed (mostly `key=value`
/// lines → properties). For a properties file, warnings (unknown keys,
/// lenient mappings) are logged, and one info line lists ignored keys.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new(&name, None, "", format!("cannot read: {e}")))?;
    if !is_properties(path, &text) {
        return from_yaml_str(&text, &name);
    }
    let (cfg, ignored) = from_properties_str(&text, &name)?;
    if !ignored.is_empty() {
        log::info!(
            "{name}: {} keys without effect here, ignored: {}",
            ignored.len(),
            ignored.join(", ")
        );
    }
    Ok(cfg)
}

/// Parses and validates native YAML; `file` is only used in errors.
pub fn from_yaml_str(text: &str, file: &str) -> Result<Config, ConfigError> {
    yaml::from_str(text, file)
}

/// Parses and validates an original `lb.properties`; returns the config and
/// the keys that were accepted but have no effect. Warnings (unknown keys,
/// lenient mappings) are logged when the file is valid.
pub fn from_properties_str(text: &str, file: &str) -> Result<(Config, Vec<String>), ConfigError> {
    let imported = properties::import(text, file)?;
    let cfg =
        build::build(&imported.file).map_err(|e| properties_error(file, &imported.origins, e))?;
    // Only a valid file gets its warnings: an error stays the one line.
    for w in &imported.warnings {
        log::warn!("{w}");
    }
    Ok((cfg, imported.ignored))
}

/// Points a build error back at the properties key that set the value (or,
/// for a missing value, at a key of the same section).
fn properties_error(
    file: &str,
    origins: &std::collections::HashMap<String, (String, usize)>,
    e: build::BuildError,
) -> ConfigError {
    let section = e.path.rsplit_once('.').map_or("", |(s, _)| s);
    let found = origins.get(&e.path).or_else(|| {
        let mut same_section: Vec<_> = origins
            .iter()
            .filter(|(p, _)| !section.is_empty() && p.starts_with(section))
            .collect();
        same_section.sort_by_key(|(_, (_, line))| *line);
        same_section.first().map(|(_, o)| *o)
    });
    match found {
        Some((key, line)) if origins.contains_key(&e.path) => {
            ConfigError::new(file, Some(*line), key, e.problem)
        }
        Some((key, line)) => ConfigError::new(
            file,
            Some(*line),
            key,
            format!("{} (YAML key {})", e.problem, e.path),
        ),
        None => ConfigError::new(file, None, &e.path, e.problem),
    }
}

fn is_properties(path: &Path, text: &str) -> bool {
    match path.extension().and_then(|e| e.to_str()) {
        Some("properties") => true,
        Some("yaml" | "yml") => false,
        _ => looks_like_properties(text),
    }
}

/// Most meaningful lines are `key=value` (YAML never has `=` before `:`).
fn looks_like_properties(text: &str) -> bool {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with(['#', '!']))
        .collect();
    let kv = lines
        .iter()
        .filter(|l| match (l.find('='), l.find(':')) {
            (Some(eq), Some(colon)) => eq < colon,
            (Some(_), None) => true,
            _ => false,
        })
        .count();
    kv * 2 > lines.len()
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod algorithm_tests;

#[cfg(test)]
mod sip_policy_tests;
