//! Routing rules (`routingRulesIpv4`, `routingRulesIpv6`; original §2.12):
//! callers inside a private network must not be handed the public IP load
//! balancer address (or `publicIp`). A caller whose address matches a rule
//! with `patch = false` gets our real listening addresses in the Via and
//! Record-Route headers we insert, and no public-address patching; rules
//! with `patch = true` have no effect, as in the original.
//!
//! The address is, for a request from a client, its source address (the
//! `received` the original's stack put on its Via); for a request from a
//! node, its next hop towards the client (first remaining Route, else the
//! Request-URI — the original looked at the Route only); for a response
//! from a node, where it goes. A pattern must match the whole address as
//! written in canonical form (`10.0.0.5`, `fd00::5`).
//!
//! The patterns are compiled once per shard (each shard owns its regexes,
//! so matching takes no lock); a match formats the address on the stack.

use std::io::Write;
use std::net::IpAddr;

use regex::bytes::Regex;

use crate::config::build::anchored;
use crate::config::{RoutingRule, SipConfig};

/// The compiled `patch = false` rules of each address family.
#[derive(Debug, Clone, Default)]
pub struct RoutingRules {
    v4: Vec<Regex>,
    v6: Vec<Regex>,
}

// === impl RoutingRules ===

impl RoutingRules {
    /// Compile the effective rules (patterns were checked by the config).
    pub fn new(sip: &SipConfig) -> RoutingRules {
        RoutingRules {
            v4: compile(&sip.routing_rules_ipv4),
            v6: compile(&sip.routing_rules_ipv6),
        }
    }

    /// No effective rule.
    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    /// Whether `ip` is a caller that gets our real addresses.
    pub fn wants_real(&self, ip: IpAddr) -> bool {
        let rules = match ip {
            IpAddr::V4(_) => &self.v4,
            IpAddr::V6(_) => &self.v6,
        };
        if rules.is_empty() {
            return false;
        }
        let mut text = [0u8; 48];
        let len = match ip {
            IpAddr::V4(v4) => ipv4_text(v4, &mut text),
            IpAddr::V6(v6) => {
                let mut w = &mut text[..];
                if write!(w, "{v6}").is_err() {
                    return false;
                }
                48 - w.len()
            }
        };
        let addr = text.get(..len).unwrap_or(&[]);
        rules.iter().any(|r| r.is_match(addr))
    }
}

/// Dotted-quad text of `ip` into `out` (at most 15 bytes); its length.
fn ipv4_text(ip: std::net::Ipv4Addr, out: &mut [u8; 48]) -> usize {
    let mut n = 0;
    for (i, octet) in ip.octets().into_iter().enumerate() {
        if i > 0 {
            out[n] = b'.';
            n += 1;
        }
        let digits = [octet / 100, octet / 10 % 10, octet % 10];
        let skip = if octet >= 100 {
            0
        } else if octet >= 10 {
            1
        } else {
            2
        };
        for d in &digits[skip..] {
            out[n] = b'0' + d;
            n += 1;
        }
    }
    n
}

fn compile(rules: &[RoutingRule]) -> Vec<Regex> {
    rules
        .iter()
        .filter(|r| !r.patch)
        .filter_map(|r| match Regex::new(&anchored(&r.ip_pattern)) {
            Ok(re) => Some(re),
            Err(e) => {
                log::error!("routing rule `{}` ignored: {e}", r.ip_pattern);
                None
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(v4: &[(&str, bool)], v6: &[(&str, bool)]) -> RoutingRules {
        let mut sip = crate::config::Config::embedded_default().sip;
        let conv = |l: &[(&str, bool)]| {
            l.iter()
                .map(|&(p, patch)| RoutingRule {
                    ip_pattern: p.into(),
                    patch,
                })
                .collect()
        };
        sip.routing_rules_ipv4 = conv(v4);
        sip.routing_rules_ipv6 = conv(v6);
        RoutingRules::new(&sip)
    }

    #[test]
    fn whole_address_must_match_a_patch_false_rule() {
        let r = rules(&[(r"10\.0\.0\..*", false), (r"192\.168\..*", true)], &[]);
        assert!(r.wants_real("10.0.0.5".parse().unwrap()));
        assert!(!r.wants_real("110.0.0.5".parse().unwrap()), "anchored");
        assert!(
            !r.wants_real("192.168.1.1".parse().unwrap()),
            "patch=true: no effect"
        );
        assert!(!r.wants_real("::1".parse().unwrap()), "no IPv6 rule");
    }

    #[test]
    fn ipv4_text_is_dotted_quad() {
        let mut buf = [0u8; 48];
        for ip in ["0.0.0.0", "10.0.0.5", "192.168.100.255", "1.22.133.9"] {
            let n = ipv4_text(ip.parse().unwrap(), &mut buf);
            assert_eq!(&buf[..n], ip.as_bytes());
        }
    }

    #[test]
    fn families_are_separate() {
        let r = rules(&[], &[("fd00:.*", false)]);
        assert!(r.wants_real("fd00::5".parse().unwrap()));
        assert!(!r.wants_real("10.0.0.5".parse().unwrap()));
        assert!(
            rules(&[("x", true)], &[]).is_empty(),
            "only patch=true rules"
        );
    }
}
