//! NAT public address patching (`publicIp`, `publicIpv6`; original §2.11):
//! when the balancer listens on a private address behind a NAT, the UAs
//! outside must send in-dialog requests to its public address. Applied, as
//! in the original, to responses coming from nodes and to initial
//! INVITE / SUBSCRIBE requests coming from nodes:
//!
//! - every Record-Route entry naming the external leg's host on one of its
//!   listening ports gets the public address as host (ours included: a
//!   request from a node gets its external Record-Route written with the
//!   public address straight from [`Nat::rr_external`]); entries naming an
//!   IP load balancer are left alone;
//! - the first Contact URI gets `public:port` as host and port, `port` being
//!   the external leg's port for the transport towards the client.
//!
//! Deliberate deviations from the original: the Contact keeps its display
//! name, user part and parameters (the original replaced the whole header
//! by `sip:<public>:<port>`, using the display name as user part), and the
//! Contact of a response to REGISTER (the registrar's bindings) or of a 3xx
//! (redirect targets) is left alone. A caller that a routing rule gives our
//! real addresses (§2.12) gets no patching either.
//!
//! Everything is computed once from the configuration; patching records
//! edits and writes into the edit scratch, no allocation.

use std::net::IpAddr;

use super::edit::Edits;
use super::headers;
use super::message::{HeaderName, Message};
use super::settings::{ip_lb_addr, listen_addr, per_transport, rr_template};
use super::transport::{self, Transport};
use super::write::{parse_ip, push_host, push_u32};
use crate::config::Config;

/// Precomputed public-address patching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nat {
    /// The public address (of the external leg's address family).
    pub ip: IpAddr,
    /// The external leg's host: the private address being replaced.
    private_host: IpAddr,
    /// The external leg's listening ports.
    external_ports: Vec<u16>,
    /// External Record-Route templates with the public address (IP-LB
    /// addresses kept where configured), per transport.
    pub rr_external: [Vec<u8>; 5],
    /// External port per transport, for the Contact.
    contact_port: [u16; 5],
}

// === impl Nat ===

impl Nat {
    /// `None` unless a public address of the external leg's family is set.
    pub fn new(cfg: &Config) -> Option<Nat> {
        let ext = &cfg.sip.external;
        let ip = match ext.host {
            IpAddr::V4(_) => cfg.sip.public_ip?,
            IpAddr::V6(_) => cfg.sip.public_ipv6?,
        };
        let p = ext.ports;
        let external_ports = [p.udp, p.tcp, p.tls, p.ws, p.wss]
            .into_iter()
            .flatten()
            .collect();
        let rr_external = per_transport(|t| {
            let addr = ip_lb_addr(ext, t)
                .unwrap_or_else(|| std::net::SocketAddr::new(ip, listen_addr(ext, t).port()));
            rr_template(t, addr)
        });
        Some(Nat {
            ip,
            private_host: ext.host,
            external_ports,
            rr_external,
            contact_port: transport::ALL.map(|t| listen_addr(ext, t).port()),
        })
    }

    /// Record the patching edits for `msg`, which leaves towards a client
    /// over `towards`; the first Contact too when `contact`.
    pub fn patch(&self, msg: &Message<'_>, towards: Transport, contact: bool, edits: &mut Edits) {
        let buf = msg.buf();
        for h in msg.headers_named(HeaderName::RecordRoute) {
            for entry in headers::name_addrs(buf, h.value) {
                let uri = entry.uri;
                let port = uri.port.unwrap_or(5060);
                if parse_ip(uri.host) != Some(self.private_host)
                    || !self.external_ports.contains(&port)
                {
                    continue;
                }
                let (t, mark) = edits.text();
                push_host(t, self.ip);
                if let Some(p) = uri.port {
                    t.push(b':');
                    push_u32(t, u32::from(p));
                }
                edits.finish(mark, uri.host_port.start, uri.host_port.end);
            }
        }
        if !contact {
            return;
        }
        let Some(h) = msg.header(HeaderName::Contact) else {
            return;
        };
        let Some(entry) = headers::name_addrs(buf, h.value).next() else {
            return;
        };
        let (t, mark) = edits.text();
        push_host(t, self.ip);
        t.push(b':');
        push_u32(t, u32::from(self.contact_port[transport::index(towards)]));
        edits.finish(mark, entry.uri.host_port.start, entry.uri.host_port.end);
    }
}

/// Whether the Contact of a response from a node is the node's own target
/// (patched), not a registrar's bindings (REGISTER) or redirect targets (3xx).
pub fn response_contact_is_target(msg: &Message<'_>) -> bool {
    let redirect = msg.status_code().is_some_and(|c| (300..400).contains(&c));
    let register = msg
        .value(HeaderName::CSeq)
        .and_then(headers::cseq)
        .is_some_and(|(_, m)| m.eq_ignore_ascii_case(b"REGISTER"));
    !redirect && !register
}
