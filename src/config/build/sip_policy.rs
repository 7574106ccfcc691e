//! The SIP keys that shape what the proxy rewrites or refuses: the NAT
//! public addresses (`publicIp`, `publicIpv6`), the routing rules
//! (`routingRulesIpv4/6`), scanner blocking (`blockedValues`) and the
//! Route host stripped on arrival (`matchingHostnameForRoute`).

use std::net::IpAddr;

use super::{defaults, err, parse_ip, Result};
use crate::config::file::{FileRoutingRule, FileSip, StrList};
use crate::config::RoutingRule;

/// `publicIp` (must be IPv4) and `publicIpv6` (must be IPv6).
pub(super) fn public_ips(sip: &FileSip) -> Result<(Option<IpAddr>, Option<IpAddr>)> {
    let v4 = match sip.public_ip.as_deref().filter(|s| !s.trim().is_empty()) {
        Some(s) => match parse_ip("sip.publicIp", s)? {
            IpAddr::V6(_) => return err("sip.publicIp", format!("`{s}` is IPv6; use publicIpv6")),
            ip => Some(ip),
        },
        None => None,
    };
    let v6 = match sip.public_ipv6.as_deref().filter(|s| !s.trim().is_empty()) {
        Some(s) => match parse_ip("sip.publicIpv6", s)? {
            IpAddr::V4(_) => return err("sip.publicIpv6", format!("`{s}` is IPv4; use publicIp")),
            ip => Some(ip),
        },
        None => None,
    };
    Ok((v4, v6))
}

/// A list of routing rules; every pattern must compile (it is matched
/// against the whole address, so it is checked with anchors around it).
pub(super) fn routing_rules(
    path: &str,
    rules: Option<&Vec<FileRoutingRule>>,
) -> Result<Vec<RoutingRule>> {
    let mut out = Vec::new();
    for (i, r) in rules
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let key = format!("{path}[{i}].ipPattern");
        let Some(p) = r
            .ip_pattern
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty())
        else {
            return err(&key, "missing: every rule needs an ipPattern");
        };
        if let Err(e) = regex::bytes::Regex::new(&anchored(p)) {
            let text = e.to_string();
            let last = text.lines().last().unwrap_or("invalid").trim().to_owned();
            return err(&key, format!("`{p}` is not a regular expression: {last}"));
        }
        out.push(RoutingRule {
            ip_pattern: p.to_owned(),
            patch: r.patch.unwrap_or(false),
        });
    }
    Ok(out)
}

/// `^(?:pattern)$`: a routing rule matches the whole address (Java's
/// `Matcher.matches`), so `10\.0\..*` cannot match `110.0.0.1`.
pub fn anchored(pattern: &str) -> String {
    format!("^(?:{pattern})$")
}

/// `blockedValues`, lower-cased; an empty entry would block every request.
pub(super) fn blocked_values(list: Option<&StrList>) -> Result<Vec<String>> {
    let Some(StrList(v)) = list else {
        return Ok(defaults::BLOCKED_VALUES
            .iter()
            .map(|s| (*s).to_owned())
            .collect());
    };
    let mut out = Vec::with_capacity(v.len());
    for s in v {
        let s = s.trim();
        if s.is_empty() {
            return err(
                "sip.blockedValues",
                "an empty entry would block every request",
            );
        }
        out.push(s.to_ascii_lowercase());
    }
    Ok(out)
}

/// `matchingHostnameForRoute`, lower-cased (host names compare
/// case-insensitively, RFC 3261 §19.1.4); empty = unset.
pub(super) fn route_host(v: Option<&String>) -> Result<Option<String>> {
    let Some(s) = v.map(|s| s.trim()).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let s = s.trim_start_matches('.');
    if s.is_empty() || s.contains(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | ';' | ','))
    {
        return err(
            "sip.matchingHostnameForRoute",
            format!("`{s}` is not a host name"),
        );
    }
    Ok(Some(s.to_ascii_lowercase()))
}
