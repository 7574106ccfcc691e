//! Typed value checks shared by the build steps: ports, timers, counts,
//! addresses and transport names.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::{defaults, err, Result};
use crate::config::file::StrList;
use crate::config::Transport;

pub(super) fn opt<T>(v: &Option<String>, f: impl FnOnce(&str) -> Result<T>) -> Result<Option<T>> {
    v.as_deref().map(f).transpose()
}

pub(super) fn port(path: &str, p: Option<u16>) -> Result<Option<u16>> {
    match p {
        Some(0) => err(path, "0 is not a port (1-65535)"),
        p => Ok(p),
    }
}

pub(super) fn timer(path: &str, v: Option<u64>, default: u64) -> Result<Duration> {
    let v = v.unwrap_or(default);
    if v < defaults::MIN_TIMER_MS {
        return err(
            path,
            format!(
                "{v} ms is below the minimum of {} ms",
                defaults::MIN_TIMER_MS
            ),
        );
    }
    Ok(Duration::from_millis(v))
}

pub(super) fn ms(path: &str, v: Option<u64>, default: u64) -> Result<Duration> {
    match v.unwrap_or(default) {
        0 => err(path, "must be at least 1 ms"),
        v => Ok(Duration::from_millis(v)),
    }
}

pub(super) fn count(path: &str, v: Option<u32>, default: u32) -> Result<u32> {
    match v.unwrap_or(default) {
        0 => err(path, "must be at least 1"),
        v => Ok(v),
    }
}

pub(super) fn at_least(path: &str, v: Option<usize>, default: usize, min: usize) -> Result<usize> {
    let v = v.unwrap_or(default);
    if v < min {
        return err(path, format!("{v} is below the minimum of {min}"));
    }
    Ok(v)
}

/// Parses an IP address (IPv6 may be bracketed).
pub fn parse_ip(path: &str, s: &str) -> Result<IpAddr> {
    let t = s.trim().trim_start_matches('[').trim_end_matches(']');
    t.parse()
        .or_else(|_| err(path, format!("`{s}` is not an IP address")))
}

pub(super) fn ip_list(path: &str, list: Option<&StrList>) -> Result<Vec<IpAddr>> {
    let items = list.map(|l| l.0.as_slice()).unwrap_or_default();
    items.iter().map(|s| parse_ip(path, s)).collect()
}

/// Parses `ip:port`, `[v6]:port`, or — with `default_port` — a bare IP.
pub(super) fn parse_socket_addr(
    path: &str,
    s: &str,
    default_port: Option<u16>,
) -> Result<SocketAddr> {
    let s = s.trim();
    if let Ok(a) = s.parse::<SocketAddr>() {
        if a.port() == 0 {
            return err(path, format!("`{s}`: 0 is not a port (1-65535)"));
        }
        return Ok(a);
    }
    match (
        default_port,
        s.parse::<IpAddr>().or_else(|_| parse_ip(path, s)),
    ) {
        (Some(p), Ok(ip)) => Ok(SocketAddr::new(ip, p)),
        (None, Ok(_)) => err(path, format!("`{s}` needs a port (ip:port)")),
        (_, Err(_)) => err(
            path,
            format!("`{s}` is not ip[:port] with a port 1-65535 (host names are not resolved)"),
        ),
    }
}

/// Parses a SIP transport name, case-insensitively.
pub fn parse_transport(path: &str, s: &str) -> Result<Transport> {
    match s.trim().to_ascii_lowercase().as_str() {
        "udp" => Ok(Transport::Udp),
        "tcp" => Ok(Transport::Tcp),
        "tls" => Ok(Transport::Tls),
        "ws" => Ok(Transport::Ws),
        "wss" => Ok(Transport::Wss),
        _ => err(path, format!("`{s}` is not one of udp, tcp, tls, ws, wss")),
    }
}
