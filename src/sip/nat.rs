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

use memchr::memmem;

use super::edit::Edits;
use super::headers;
use super::message::{HeaderName, Message};
use super::settings::{ip_lb_addr, listen_addr, per_transport, rr_template};
use super::transport::{self, Transport};
use super::write::{push_host, push_u32};
use crate::config::Config;

/// Precomputed public-address patching.
#[derive(Debug, Clone)]
pub struct Nat {
    /// The public address (of the external leg's address family).
    pub ip: IpAddr,
    /// The public address as a URI host (IPv6 bracketed).
    public_host: Vec<u8>,
    /// Finds the external leg's host, as we write it in a URI, in a
    /// Record-Route value (no list parsing: this runs on every response).
    private_host: memmem::Finder<'static>,
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
        let mut public_host = Vec::new();
        push_host(&mut public_host, ip);
        let mut private = Vec::new();
        push_host(&mut private, ext.host);
        Some(Nat {
            ip,
            public_host,
            private_host: memmem::Finder::new(&private).into_owned(),
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
            let value = msg.slice(h.value);
            for at in self.private_host.find_iter(value) {
                let end = at + self.private_host.needle().len();
                if !is_uri_host_start(&value[..at]) || !self.is_external_port(&value[end..]) {
                    continue;
                }
                let start = h.value.start + at as u32;
                let (t, mark) = edits.text();
                t.extend_from_slice(&self.public_host);
                edits.finish(mark, start, start + (end - at) as u32);
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

impl Nat {
    /// Whether `rest`, the text after a host, is `:port` with one of our
    /// external ports, or no port (5060) when we listen on 5060; the host
    /// must end there (`;`, `>`, `,`, whitespace or the end).
    fn is_external_port(&self, rest: &[u8]) -> bool {
        let host_ends =
            |b: Option<&u8>| b.is_none_or(|b| b";>,?".contains(b) || b.is_ascii_whitespace());
        match rest.strip_prefix(b":") {
            Some(p) => {
                let digits = p.iter().take_while(|b| b.is_ascii_digit()).count();
                host_ends(p.get(digits))
                    && headers::parse_u16(&p[..digits])
                        .is_some_and(|n| self.external_ports.contains(&n))
            }
            None => host_ends(rest.first()) && self.external_ports.contains(&5060),
        }
    }
}

/// Whether a host found after `before` starts a URI's host part: right
/// after the scheme (`sip:`, `sips:`) or after a user part (`@`).
fn is_uri_host_start(before: &[u8]) -> bool {
    let ends = |s: &[u8]| {
        before.len() >= s.len() && before[before.len() - s.len()..].eq_ignore_ascii_case(s)
    };
    ends(b"sip:") || ends(b"sips:") || ends(b"@")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_record_routes_naming_our_external_host_and_port_change() {
        let yaml = "sip:\n  external: { host: 127.0.0.1, udpPort: 5060, tcpPort: 5070 }\n  \
                    internal: { host: 127.0.0.1, udpPort: 5065 }\n  publicIp: 203.0.113.7\n";
        let cfg = crate::config::from_yaml_str(yaml, "t.yaml").unwrap();
        let nat = Nat::new(&cfg).unwrap();
        let rr = "<sip:127.0.0.1:5060;lr>, <sip:127.0.0.10:5060;lr>,<sip:127.0.0.1:5065;lr>, \
                  <sip:lb@127.0.0.1:5070;transport=tcp;lr>, <sip:127.0.0.1;lr>, \
                  <sip:x.example.com;lr;maddr=127.0.0.1>, <SIP:127.0.0.1:50600;lr>";
        let text = format!(
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKx\r\nRecord-Route: {rr}\r\n\
             From: <sip:a@b>;tag=1\r\nTo: <sip:b@c>;tag=2\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\
             Contact: <sip:bob@10.0.0.1:4060>\r\nContent-Length: 0\r\n\r\n"
        );
        let msg = Message::parse(text.as_bytes()).unwrap();
        let mut edits = Edits::default();
        nat.patch(&msg, Transport::Tcp, true, &mut edits);
        let mut out = Vec::new();
        edits.apply(msg.buf(), &mut out);
        let out = String::from_utf8(out).unwrap();
        assert!(
            out.contains(
                "Record-Route: <sip:203.0.113.7:5060;lr>, <sip:127.0.0.10:5060;lr>,<sip:127.0.0.1:5065;lr>, \
                 <sip:lb@203.0.113.7:5070;transport=tcp;lr>, <sip:203.0.113.7;lr>, \
                 <sip:x.example.com;lr;maddr=127.0.0.1>, <SIP:127.0.0.1:50600;lr>\r\n"
            ),
            "{out}"
        );
        assert!(
            out.contains("Contact: <sip:bob@203.0.113.7:5070>\r\n"),
            "{out}"
        );
    }
}
