//! What the HTTP balancer needs of the configuration, compiled once.

use std::net::SocketAddr;
use std::time::Duration;

use regex::Regex;

use crate::config::{AlgorithmKind, Config};

/// How a request that names no node (no instance id, no jvmRoute) is placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpAlgorithm {
    /// Round robin over the nodes that take new work.
    RoundRobin,
    /// Rendezvous hash of the `httpAffinityKey` query parameter when the
    /// request has one (the consistent-hash algorithms), else round robin.
    AffinityHash,
    /// The longest-up node (`ActiveStandby`).
    ActiveStandby,
}

/// A compiled `http.urlRewrite` rule.
#[derive(Debug, Clone)]
pub struct Rewrite {
    /// Matched against the request-target.
    pub pattern: Regex,
    /// Replacement (`$1` refers to groups).
    pub replacement: String,
}

/// Settings of one shard's HTTP balancer.
#[derive(Debug, Clone)]
pub struct Settings {
    /// HTTPS listener port (the `302` target).
    pub https_port: Option<u16>,
    /// Answer plain-HTTP requests `302` to HTTPS when `https_port` is set.
    pub redirect_to_https: bool,
    /// Where requests go when no node can take them; `None` = `503`.
    pub unavailable_host: Option<SocketAddr>,
    /// TLS to nodes from the plain listener too (`isRemoteServerSsl`).
    pub remote_server_ssl: bool,
    /// `terminateTLSTraffic`: HTTPS ends here and nodes get plain HTTP.
    pub terminate_tls: bool,
    /// Placement of unnamed requests.
    pub algorithm: HttpAlgorithm,
    /// The `httpAffinityKey` query parameter name.
    pub affinity_key: String,
    /// `requestCheckPattern`.
    pub request_check: Option<Regex>,
    /// `urlRewrite`, applied in order, each to the result of the previous.
    pub rewrites: Vec<Rewrite>,
    /// Add `X-Forwarded-For`, `X-Forwarded-Proto`, `Forwarded`.
    pub forwarded_headers: bool,
    /// Largest head, bytes.
    pub max_head: usize,
    /// Longest request-target, bytes.
    pub max_uri: usize,
    /// Time to complete a request head after its first byte.
    pub header_timeout: Duration,
    /// Idle client connection (and stalled request body) limit.
    pub idle_timeout: Duration,
    /// Idle pooled node connection limit.
    pub upstream_idle_timeout: Duration,
    /// Node silence limit while a response is due.
    pub response_timeout: Duration,
    /// Idle WebSocket / upgraded tunnel limit.
    pub tunnel_idle_timeout: Duration,
    /// Client connections at most.
    pub max_connections: usize,
    /// Client bytes held beyond a head (body waiting for the node
    /// connection, pipelined requests) before reading is paused.
    pub buffer_limit: usize,
    /// Idle pooled connections per (node address, TLS) at most.
    pub pool_per_target: usize,
    /// `Retry-After` of the balancer's own `503`, seconds.
    pub retry_after_secs: u32,
}

impl Default for Settings {
    /// The configuration defaults, round robin, no listener-specific keys.
    fn default() -> Settings {
        Settings::from_config(&Config::embedded_default())
    }
}

// === impl Settings ===

impl Settings {
    /// The settings a validated configuration asks for.
    pub fn from_config(cfg: &Config) -> Settings {
        let h = &cfg.http;
        Settings {
            https_port: h.https_port,
            redirect_to_https: h.redirect_to_https,
            unavailable_host: h.unavailable_host,
            remote_server_ssl: h.remote_server_ssl,
            terminate_tls: cfg.tls.terminate_tls_traffic,
            algorithm: algorithm(&cfg.algorithm.kind),
            affinity_key: cfg.algorithm.http_affinity_key.clone(),
            request_check: h.request_check_pattern.as_deref().and_then(compile),
            rewrites: h
                .url_rewrite
                .iter()
                .filter_map(|r| {
                    Some(Rewrite {
                        pattern: compile(&r.pattern)?,
                        replacement: r.replacement.clone(),
                    })
                })
                .collect(),
            forwarded_headers: h.add_forwarded_headers,
            max_head: h.max_head_size,
            max_uri: h.max_uri_length,
            header_timeout: h.header_timeout,
            idle_timeout: h.idle_timeout,
            upstream_idle_timeout: h.upstream_idle_timeout,
            response_timeout: h.response_timeout,
            tunnel_idle_timeout: Duration::from_secs(3600),
            max_connections: h.max_connections,
            buffer_limit: 64 * 1024,
            pool_per_target: 64,
            retry_after_secs: 5,
        }
    }
}

pub(super) fn algorithm(kind: &AlgorithmKind) -> HttpAlgorithm {
    match kind {
        AlgorithmKind::HeaderConsistentHash
        | AlgorithmKind::PureConsistentHash
        | AlgorithmKind::PersistentConsistentHash => HttpAlgorithm::AffinityHash,
        AlgorithmKind::ActiveStandby => HttpAlgorithm::ActiveStandby,
        _ => HttpAlgorithm::RoundRobin,
    }
}

/// Patterns were checked when the configuration was built.
fn compile(p: &str) -> Option<Regex> {
    match Regex::new(p) {
        Ok(r) => Some(r),
        Err(e) => {
            log::warn!("http: pattern `{p}` ignored: {e}");
            None
        }
    }
}
