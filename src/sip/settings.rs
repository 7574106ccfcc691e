//! What the proxy precomputes from the configuration once per shard: our own
//! addresses (to recognise our Vias and Routes and to detect loops), the
//! byte templates of the Via and Record-Route headers we insert (normal and
//! real-address variants), and the compiled policies: routing rules, NAT
//! patching, scanner blocking, the Route host filter.

use std::net::{IpAddr, SocketAddr};

use super::nat::Nat;
use super::routes::RouteHost;
use super::rules::RoutingRules;
use super::scanners::Scanners;
use super::transport::{self, Transport};
use super::write::{push_host_port, push_u32};
use crate::config::{Config, Leg, Ports};

/// The Via and Record-Route byte templates of one addressing variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Templates {
    /// `Via: SIP/2.0/<T> host:port;branch=z9hG4bK` of the external leg, per
    /// transport ([`transport::index`]).
    pub via_external: [Vec<u8>; 5],
    /// Same for the internal leg (the external leg's host in single-entry mode).
    pub via_internal: [Vec<u8>; 5],
    /// `Record-Route: <sip:host:port;transport=<t>;lr` of the external leg per
    /// transport (stamp and `>` follow).
    pub rr_external: [Vec<u8>; 5],
    /// Same for the internal leg; `None` in single-entry mode.
    pub rr_internal: Option<[Vec<u8>; 5]>,
}

/// Precomputed per-shard proxy settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Two entry points (internal leg configured).
    pub two_entry: bool,
    /// External UDP listening address.
    pub external: SocketAddr,
    /// Internal UDP listening address (equals `external` in single-entry mode).
    pub internal: SocketAddr,
    /// Our Via / Record-Route templates: IP load balancer addresses where
    /// configured (Record-Route always, Via with
    /// `useIpLoadBalancerAddressInViaHeaders`).
    pub normal: Templates,
    /// Our real listening addresses everywhere: for callers a routing rule
    /// sends the real addresses (original §2.12).
    pub real: Templates,
    /// Routing rules (`routingRulesIpv4/6`) with `patch = false`.
    pub rules: RoutingRules,
    /// The rules can change a message: they exist and the real addresses
    /// differ from the normal ones, or `publicIp` patching is on.
    pub rules_matter: bool,
    /// `publicIp` / `publicIpv6` patching (original §2.11).
    pub nat: Option<Nat>,
    /// Scanner blocking (`blockedValues`).
    pub scanners: Scanners,
    /// The Route host stripped on arrival (`matchingHostnameForRoute`).
    pub route_host: Option<RouteHost>,
    /// Transport forced towards nodes (`internalTransport`).
    pub internal_transport: Option<Transport>,
    /// TLS clients reach nodes over TCP, WSS clients over WS (`terminateTLSTraffic`).
    pub terminate_tls: bool,
    /// Hosts that are "us" (leg hosts, IP-LB addresses, public IPs).
    own_hosts: Vec<IpAddr>,
    /// Ports that are "us" on those hosts (listening and IP-LB ports).
    own_ports: Vec<u16>,
    /// Where we listen (loop detection).
    pub listening: Vec<SocketAddr>,
    /// `extraServerNodes`.
    pub extra_server_nodes: Vec<SocketAddr>,
    /// Answer `100 Trying` to INVITEs.
    pub send_trying: bool,
    /// Status for "no node".
    pub unavailable_status: u16,
    /// Reason for "no node".
    pub unavailable_reason: Vec<u8>,
    /// Largest datagram accepted.
    pub max_message_size: usize,
}

// === impl Settings ===

impl Settings {
    /// Derive the settings from a validated config.
    pub fn new(cfg: &Config) -> Settings {
        let sip = &cfg.sip;
        let ext = &sip.external;
        let int = sip.internal.as_ref();
        let ext_port = ext.ports.udp.unwrap_or(5060);
        let external = SocketAddr::new(ext.host, ext_port);
        let internal = int.map_or(external, |l| {
            SocketAddr::new(l.host, l.ports.udp.unwrap_or(ext_port))
        });
        let use_lb = sip.use_ip_load_balancer_address_in_via;
        let normal = templates(ext, int, use_lb, record_route_addr);
        let real = templates(ext, int, false, listen_addr);
        let rules = RoutingRules::new(sip);
        let nat = Nat::new(cfg);
        let rules_matter = !rules.is_empty() && (normal != real || nat.is_some());
        let mut own_hosts = vec![ext.host];
        let mut own_ports = Vec::new();
        add_leg(ext, &mut own_hosts, &mut own_ports);
        if let Some(l) = int {
            own_hosts.push(l.host);
            add_leg(l, &mut own_hosts, &mut own_ports);
        }
        own_hosts.extend(sip.public_ip);
        own_hosts.extend(sip.public_ipv6);
        let mut listening: Vec<SocketAddr> = ext.ports.udp.map(|_| external).into_iter().collect();
        for leg in std::iter::once(ext).chain(int) {
            for p in [leg.ports.tcp, leg.ports.tls, leg.ports.ws, leg.ports.wss]
                .into_iter()
                .flatten()
            {
                listening.push(SocketAddr::new(leg.host, p));
            }
        }
        if int.is_some_and(|l| l.ports.udp.is_some()) {
            listening.push(internal);
        }
        Settings {
            two_entry: int.is_some(),
            external,
            internal,
            normal,
            real,
            rules,
            rules_matter,
            nat,
            scanners: Scanners::new(&sip.blocked_values),
            route_host: sip
                .matching_hostname_for_route
                .as_deref()
                .map(|h| RouteHost::new(h, sip.is_filter_subdomain)),
            internal_transport: sip.internal_transport,
            terminate_tls: cfg.tls.terminate_tls_traffic,
            own_hosts,
            own_ports,
            listening,
            extra_server_nodes: sip.extra_server_nodes.clone(),
            send_trying: sip.send_trying,
            unavailable_status: sip.unavailable_status,
            unavailable_reason: sip.unavailable_reason.as_bytes().to_vec(),
            max_message_size: sip.max_message_size,
        }
    }

    /// Whether `host:port` (port absent = 5060) names this balancer.
    pub fn is_us(&self, host: Option<IpAddr>, port: Option<u16>) -> bool {
        let Some(host) = host else { return false };
        let port = port.unwrap_or(5060);
        let host_ok = self.own_hosts.contains(&host)
            || (host.is_unspecified() && self.listening.iter().any(|a| a.port() == port));
        host_ok && self.own_ports.contains(&port)
    }

    /// Whether we listen on `addr` (a forward there would loop).
    pub fn is_listening(&self, addr: SocketAddr) -> bool {
        self.listening.contains(&addr)
    }
}

fn add_leg(leg: &Leg, hosts: &mut Vec<IpAddr>, ports: &mut Vec<u16>) {
    hosts.extend(leg.ip_load_balancer_addresses.iter().copied());
    for p in port_list(&leg.ports).chain(port_list(&leg.ip_load_balancer_ports)) {
        if !ports.contains(&p) {
            ports.push(p);
        }
    }
}

fn port_list(p: &Ports) -> impl Iterator<Item = u16> {
    [p.udp, p.tcp, p.tls, p.ws, p.wss].into_iter().flatten()
}

/// Our port for `t` on a leg: its listening port for that transport, else
/// its UDP port (a leg always has one address to name), else 5060.
fn leg_port(ports: &Ports, t: Transport) -> Option<u16> {
    match t {
        Transport::Udp => ports.udp,
        Transport::Tcp => ports.tcp,
        Transport::Tls => ports.tls,
        Transport::Ws => ports.ws,
        Transport::Wss => ports.wss,
    }
}

pub(crate) fn listen_addr(leg: &Leg, t: Transport) -> SocketAddr {
    let port = leg_port(&leg.ports, t).or(leg.ports.udp).or_else(|| {
        transport::ALL
            .into_iter()
            .find_map(|t| leg_port(&leg.ports, t))
    });
    SocketAddr::new(leg.host, port.unwrap_or(5060))
}

/// Address written in our Via for a leg and transport.
fn via_addr(leg: &Leg, t: Transport, use_ip_lb: bool) -> SocketAddr {
    if use_ip_lb {
        if let Some(addr) = ip_lb_addr(leg, t) {
            return addr;
        }
    }
    listen_addr(leg, t)
}

/// The leg's IP load balancer address for `t`, when configured.
pub(crate) fn ip_lb_addr(leg: &Leg, t: Transport) -> Option<SocketAddr> {
    let ip = *leg.ip_load_balancer_addresses.first()?;
    let port = leg_port(&leg.ip_load_balancer_ports, t)?;
    Some(SocketAddr::new(ip, port))
}

/// Address written in our Record-Route for a leg: the IP load balancer when
/// configured, so in-dialog requests come back through it to any instance.
fn record_route_addr(leg: &Leg, t: Transport) -> SocketAddr {
    ip_lb_addr(leg, t).unwrap_or_else(|| listen_addr(leg, t))
}

/// The four template sets for one addressing variant: `rr_addr` gives the
/// Record-Route address of a leg, `use_ip_lb` puts IP-LB addresses in Vias.
fn templates(
    ext: &Leg,
    int: Option<&Leg>,
    use_ip_lb: bool,
    rr_addr: fn(&Leg, Transport) -> SocketAddr,
) -> Templates {
    Templates {
        via_external: per_transport(|t| via_template(t, via_addr(ext, t, use_ip_lb))),
        via_internal: per_transport(|t| {
            via_template(t, via_addr(int.unwrap_or(ext), t, use_ip_lb))
        }),
        rr_external: per_transport(|t| rr_template(t, rr_addr(ext, t))),
        rr_internal: int.map(|l| per_transport(|t| rr_template(t, rr_addr(l, t)))),
    }
}

pub(crate) fn per_transport(f: impl Fn(Transport) -> Vec<u8>) -> [Vec<u8>; 5] {
    transport::ALL.map(f)
}

fn via_template(t: Transport, addr: SocketAddr) -> Vec<u8> {
    let mut v = b"Via: SIP/2.0/".to_vec();
    v.extend_from_slice(transport::via_token(t));
    v.push(b' ');
    push_host_port(&mut v, addr.ip(), addr.port());
    v.extend_from_slice(b";branch=z9hG4bK");
    v
}

pub(crate) fn rr_template(t: Transport, addr: SocketAddr) -> Vec<u8> {
    let mut v = b"Record-Route: <sip:".to_vec();
    push_host_port(&mut v, addr.ip(), addr.port());
    v.extend_from_slice(b";transport=");
    v.extend_from_slice(transport::uri_token(t));
    v.extend_from_slice(b";lr");
    v
}

/// Append `;node_host=ip;node_port=port;version=v>\r\n` closing a Record-Route.
pub fn push_rr_stamp(out: &mut Vec<u8>, node: Option<(IpAddr, u16, u32)>) {
    if let Some((ip, port, version)) = node {
        out.extend_from_slice(b";node_host=");
        super::write::push_ip_param(out, ip);
        out.extend_from_slice(b";node_port=");
        push_u32(out, u32::from(port));
        out.extend_from_slice(b";version=");
        push_u32(out, version);
    }
    out.extend_from_slice(b">\r\n");
}
