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
use std::time::Duration;

/// The whole balancer configuration, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Which cores run shards.
    pub cores: Cores,
    /// SIP listeners and proxy behaviour.
    pub sip: SipConfig,
    /// Node liveness: heartbeats, expiry, static probed nodes.
    pub registry: RegistryConfig,
    /// Balancing algorithm and its tables.
    pub algorithm: AlgorithmConfig,
    /// HTTP balancer (parsed now; wired by a later issue).
    pub http: HttpConfig,
    /// SMPP balancer (parsed now; wired by a later issue).
    pub smpp: SmppConfig,
    /// TLS key material shared by SIP-TLS/WSS, HTTPS and SMPP-TLS (parsed now).
    pub tls: TlsConfig,
    /// Statistics endpoint.
    pub stats: StatsConfig,
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
    /// NAT public address (`publicIp`).
    pub public_ip: Option<IpAddr>,
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
}

/// Node registry: heartbeats, expiry and static probed nodes.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistryConfig {
    /// A node not heard from for this long is removed (`nodeTimeout`).
    pub node_timeout: Duration,
    /// Period of the expiry sweep (`heartbeatInterval`).
    pub heartbeat_interval: Duration,
    /// Nodes from the config file, actively probed with SIP OPTIONS.
    pub static_nodes: Vec<StaticNode>,
    /// Active probe settings for static nodes.
    pub probe: ProbeConfig,
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

/// Balancing algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlgorithmKind {
    /// Call-ID affinity table; new calls and failover by rendezvous hash (default).
    CallIdAffinity,
    /// Stateless hash of the affinity key over the live set.
    HeaderConsistentHash,
    /// Consistent-hash ring over the live set.
    PureConsistentHash,
    /// Call-ID affinity with failover preferring the dead node's subcluster.
    ClusterSubdomainAffinity,
    /// Affinity keyed by a header (To/From user, …).
    UserBased,
    /// Everything to one active node.
    ActiveStandby,
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
    /// HTTP GET parameter used by hash algorithms (`httpAffinityKey`).
    pub http_affinity_key: String,
    /// Subcluster groups for `ClusterSubdomainAffinity`.
    pub subcluster_map: Vec<Vec<IpAddr>>,
}

/// HTTP balancer settings (parsed now, wired later).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// Plain HTTP listener port; `None` disables HTTP balancing.
    pub http_port: Option<u16>,
    /// HTTPS listener port.
    pub https_port: Option<u16>,
    /// Host requests are sent to when no node is alive.
    pub unavailable_host: Option<String>,
    /// Use TLS towards nodes (`isRemoteServerSsl`).
    pub remote_server_ssl: bool,
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
}

/// TLS key material (parsed now, wired later).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsConfig {
    /// Certificate chain / key store path.
    pub key_store: Option<String>,
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
    /// Terminate TLS at the balancer (`terminateTLSTraffic`).
    pub terminate_tls_traffic: bool,
}

/// Statistics endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatsConfig {
    /// `/lbstat` and `/metrics` port (`statisticPort`, alias `apiPort`); `None` = off.
    pub port: Option<u16>,
}

impl Config {
    /// The embedded default: loopback, UDP, external 5060, internal 5065.
    pub fn embedded_default() -> Config {
        todo_default()
    }
}

fn todo_default() -> Config {
    let lo: IpAddr = IpAddr::from([127, 0, 0, 1]);
    Config {
        cores: Cores::Count(1),
        sip: SipConfig {
            external: Leg {
                host: lo,
                ports: Ports { udp: Some(5060), ..Ports::default() },
                ip_load_balancer_addresses: Vec::new(),
                ip_load_balancer_ports: Ports::default(),
            },
            internal: Some(Leg {
                host: lo,
                ports: Ports { udp: Some(5065), ..Ports::default() },
                ip_load_balancer_addresses: Vec::new(),
                ip_load_balancer_ports: Ports::default(),
            }),
            internal_transport: None,
            extra_server_nodes: Vec::new(),
            use_ip_load_balancer_address_in_via: false,
            public_ip: None,
            send_trying: true,
            unavailable_status: 503,
            unavailable_reason: "Service Unavailable".into(),
            blocked_values: vec!["sipvicious".into(), "sipcli".into(), "friendly-scanner".into()],
            matching_hostname_for_route: None,
            is_filter_subdomain: false,
            max_message_size: 65535,
            socket_buffer_bytes: 4 << 20,
        },
        registry: RegistryConfig {
            node_timeout: Duration::from_millis(8400),
            heartbeat_interval: Duration::from_millis(150),
            static_nodes: Vec::new(),
            probe: ProbeConfig {
                interval: Duration::from_millis(1000),
                timeout: Duration::from_millis(1000),
                failures_to_down: 3,
                successes_to_up: 1,
            },
        },
        algorithm: AlgorithmConfig {
            kind: AlgorithmKind::CallIdAffinity,
            call_id_affinity_max_time_in_cache: Duration::from_secs(500),
            call_id_affinity_max_entries: 1_000_000,
            call_id_affinity_group_failover: false,
            sip_header_affinity_key: "Call-ID".into(),
            http_affinity_key: "appsession".into(),
            subcluster_map: Vec::new(),
        },
        http: HttpConfig { http_port: None, https_port: None, unavailable_host: None, remote_server_ssl: false },
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
        },
        tls: TlsConfig::default(),
        stats: StatsConfig { port: Some(2006) },
    }
}
