//! What a configuration reload (SIGHUP) changes: the old and the new
//! [`Config`] compared, section by section, into what the runtime applies
//! live and what only a restart applies.
//!
//! Live: the static node list (`nodes`), the `algorithm` section (choice and
//! parameters) and `smpp.remoteServers` (not in `muxMode`, whose links are
//! per server). Everything else — listening
//! addresses and ports, `cores`, TLS material, timers and limits read when
//! a shard starts — is reported by key as needing a restart and stays as it
//! was. Pure: no file, no clock.

use super::{Config, StaticNode};

/// The keys a reload applies live, as YAML paths (the key and everything
/// under it), each with its condition (empty: always). Every other key
/// needs a restart. [`Diff::between`] applies exactly these; the "on
/// reload" column of `docs/config-reference.md` is rendered from here
/// ([`super::reference`]).
pub const LIVE: &[(&str, &str)] = &[
    ("nodes", ""),
    ("algorithm", ""),
    ("smpp.remoteServers", "not in `muxMode`"),
];

/// `Some(condition)` if a reload applies the key at `path` (a YAML path
/// such as `algorithm.algorithmClass` or `nodes[].ip`) live.
pub fn live(path: &str) -> Option<&'static str> {
    LIVE.iter().find_map(|&(key, condition)| {
        let rest = path.strip_prefix(key)?;
        (rest.is_empty() || rest.starts_with('.') || rest.starts_with('[')).then_some(condition)
    })
}

/// The difference between the running configuration and a reloaded one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diff {
    /// Static nodes in the new list only, as `hostname ip:port`.
    pub nodes_added: Vec<String>,
    /// Static nodes in the old list only.
    pub nodes_removed: Vec<String>,
    /// Static nodes in both whose attributes (hostname, version, ports…) changed.
    pub nodes_changed: Vec<String>,
    /// Keys of the `algorithm` section that changed.
    pub algorithm: Vec<&'static str>,
    /// `smpp.remoteServers` changed (and can be applied: not `muxMode`).
    pub smpp_servers: bool,
    /// Keys that changed but only take effect after a restart.
    pub restart: Vec<&'static str>,
}

// === impl Diff ===

impl Diff {
    /// Compare the running `old` configuration with a reloaded `new` one.
    pub fn between(old: &Config, new: &Config) -> Diff {
        let mut d = Diff::default();
        d.diff_nodes(&old.registry.static_nodes, &new.registry.static_nodes);
        d.algorithm = algorithm_keys(old, new);
        let servers = old.smpp.remote_servers != new.smpp.remote_servers;
        let mux = old.smpp.mux_mode || new.smpp.mux_mode;
        d.smpp_servers = servers && !mux;
        d.restart = restart_keys(old, new);
        if servers && mux {
            d.restart.push("smpp.remoteServers (muxMode)");
        }
        d
    }

    /// Whether the static node list changed.
    pub fn nodes_changed(&self) -> bool {
        !(self.nodes_added.is_empty()
            && self.nodes_removed.is_empty()
            && self.nodes_changed.is_empty())
    }

    /// Whether anything is applied live.
    pub fn is_live(&self) -> bool {
        self.nodes_changed() || !self.algorithm.is_empty() || self.smpp_servers
    }

    /// One line for the log: what is applied live.
    pub fn summary(&self, old: &Config, new: &Config) -> String {
        let mut parts = Vec::new();
        let list = |v: &[String]| v.join(", ");
        if !self.nodes_added.is_empty() {
            parts.push(format!("nodes added: {}", list(&self.nodes_added)));
        }
        if !self.nodes_removed.is_empty() {
            parts.push(format!(
                "nodes removed (draining): {}",
                list(&self.nodes_removed)
            ));
        }
        if !self.nodes_changed.is_empty() {
            parts.push(format!("nodes changed: {}", list(&self.nodes_changed)));
        }
        if !self.algorithm.is_empty() {
            parts.push(format!(
                "algorithm {:?} -> {:?} ({})",
                old.algorithm.kind,
                new.algorithm.kind,
                self.algorithm.join(", ")
            ));
        }
        if self.smpp_servers {
            parts.push(format!("smpp.remoteServers: {:?}", new.smpp.remote_servers));
        }
        if parts.is_empty() {
            parts.push("nothing applied live".to_owned());
        }
        parts.join("; ")
    }

    fn diff_nodes(&mut self, old: &[StaticNode], new: &[StaticNode]) {
        for n in new {
            match old.iter().find(|o| o.identity() == n.identity()) {
                None => self.nodes_added.push(label(n)),
                Some(o) if o != n => self.nodes_changed.push(label(n)),
                Some(_) => {}
            }
        }
        for o in old {
            if !new.iter().any(|n| n.identity() == o.identity()) {
                self.nodes_removed.push(label(o));
            }
        }
    }
}

/// `hostname ip:port` of a static node.
fn label(n: &StaticNode) -> String {
    match n.ports.first().or(n.http_port).or(n.ssl_port) {
        Some(p) => format!("{} {}:{p}", n.hostname, n.ip),
        None => format!("{} {}", n.hostname, n.ip),
    }
}

/// The `algorithm` keys whose values differ.
fn algorithm_keys(old: &Config, new: &Config) -> Vec<&'static str> {
    let (a, b) = (&old.algorithm, &new.algorithm);
    let mut keys = Vec::new();
    let mut key = |name, changed: bool| {
        if changed {
            keys.push(name);
        }
    };
    key("algorithmClass", a.kind != b.kind);
    key(
        "callIdAffinityMaxTimeInCache",
        a.call_id_affinity_max_time_in_cache != b.call_id_affinity_max_time_in_cache,
    );
    key(
        "callIdAffinityMaxEntries",
        a.call_id_affinity_max_entries != b.call_id_affinity_max_entries,
    );
    key(
        "callIdAffinityGroupFailover",
        a.call_id_affinity_group_failover != b.call_id_affinity_group_failover,
    );
    key(
        "sipHeaderAffinityKey",
        a.sip_header_affinity_key != b.sip_header_affinity_key,
    );
    key(
        "sipHeaderAffinityExclusionPattern",
        a.sip_header_affinity_exclusion_pattern != b.sip_header_affinity_exclusion_pattern,
    );
    key(
        "sipHeaderAffinityFallbackKey",
        a.sip_header_affinity_fallback_key != b.sip_header_affinity_fallback_key,
    );
    key(
        "httpAffinityKey",
        a.http_affinity_key != b.http_affinity_key,
    );
    key("subclusterMap", a.subcluster_map != b.subcluster_map);
    keys
}

/// The keys outside the live set whose values differ.
fn restart_keys(old: &Config, new: &Config) -> Vec<&'static str> {
    let mut keys = Vec::new();
    let mut key = |name, changed: bool| {
        if changed {
            keys.push(name);
        }
    };
    key("cores", old.cores != new.cores);
    key("batchWaitMicros", old.batch_wait != new.batch_wait);
    key("busyPollMicros", old.busy_poll != new.busy_poll);
    let (a, b) = (&old.sip, &new.sip);
    key("sip.enabled", a.enabled != b.enabled);
    key("sip.external", a.external != b.external);
    key("sip.internal", a.internal != b.internal);
    key(
        "sip.internalTransport",
        a.internal_transport != b.internal_transport,
    );
    key(
        "sip.extraServerNodes",
        a.extra_server_nodes != b.extra_server_nodes,
    );
    key(
        "sip.useIpLoadBalancerAddressInViaHeaders",
        a.use_ip_load_balancer_address_in_via != b.use_ip_load_balancer_address_in_via,
    );
    key("sip.publicIp", a.public_ip != b.public_ip);
    key("sip.publicIpv6", a.public_ipv6 != b.public_ipv6);
    key(
        "sip.routingRulesIpv4",
        a.routing_rules_ipv4 != b.routing_rules_ipv4,
    );
    key(
        "sip.routingRulesIpv6",
        a.routing_rules_ipv6 != b.routing_rules_ipv6,
    );
    key("sip.isSendTrying", a.send_trying != b.send_trying);
    key(
        "sip.unavailableStatus",
        a.unavailable_status != b.unavailable_status,
    );
    key(
        "sip.unavailableReason",
        a.unavailable_reason != b.unavailable_reason,
    );
    key("sip.blockedValues", a.blocked_values != b.blocked_values);
    key(
        "sip.matchingHostnameForRoute",
        a.matching_hostname_for_route != b.matching_hostname_for_route,
    );
    key(
        "sip.isFilterSubdomain",
        a.is_filter_subdomain != b.is_filter_subdomain,
    );
    key(
        "sip.maxMessageSize",
        a.max_message_size != b.max_message_size,
    );
    key(
        "sip.socketBufferBytes",
        a.socket_buffer_bytes != b.socket_buffer_bytes,
    );
    key("sip.streams", a.streams != b.streams);
    let (a, b) = (&old.registry, &new.registry);
    key("nodeTimeout", a.node_timeout != b.node_timeout);
    key(
        "heartbeatInterval",
        a.heartbeat_interval != b.heartbeat_interval,
    );
    key("heartbeatPort", a.heartbeat_port != b.heartbeat_port);
    key("probe", a.probe != b.probe);
    key("health", a.health != b.health);
    key("http", old.http != new.http);
    let (a, b) = (&old.smpp, &new.smpp);
    let mut a_rest = a.clone();
    a_rest.remote_servers.clone_from(&b.remote_servers);
    key("smpp (other than remoteServers)", a_rest != *b);
    key("ssl", old.tls != new.tls);
    key("statisticPort", old.stats.port != new.stats.port);
    key(
        "shutdownTimeout",
        old.stats.shutdown_timeout != new.stats.shutdown_timeout,
    );
    key(
        "securityRequired/login/password",
        old.stats.stop_credentials != new.stats.stop_credentials,
    );
    key("watchConfig", old.watch_config != new.watch_config);
    keys
}

#[cfg(test)]
#[path = "reload_tests.rs"]
mod tests;
