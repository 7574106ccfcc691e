//! `http:` → [`HttpConfig`]: ports, the fallback host, regexes, limits and timers.

use super::values::{at_least, ms, parse_socket_addr, port};
use super::{defaults, err, Result};
use crate::config::file::FileHttp;
use crate::config::{HttpConfig, UrlRewrite};
use std::net::SocketAddr;

/// The fallback host as written: an address, or a name still to resolve.
type FallbackHost = (Option<SocketAddr>, Option<(String, u16)>);

/// `unavailableHost`: `ip[:port]`, or a host name with an optional port
/// (the guide's example is `google.com`), port 80 when absent.
fn fallback_host(s: &str) -> Result<FallbackHost> {
    const KEY: &str = "http.unavailableHost";
    let default = defaults::HTTP_UNAVAILABLE_HOST_PORT;
    if let Ok(addr) = parse_socket_addr(KEY, s, Some(default)) {
        return Ok((Some(addr), None));
    }
    let (name, port) = match s.rsplit_once(':') {
        Some((name, p)) => match p.parse::<u16>() {
            Ok(p) if p > 0 => (name, p),
            _ => return err(KEY, format!("`{s}`: `{p}` is not a port (1-65535)")),
        },
        None => (s, default),
    };
    if !is_host_name(name) {
        return err(
            KEY,
            format!("`{s}` is neither ip[:port] nor a host name[:port]"),
        );
    }
    Ok((None, Some((name.to_ascii_lowercase(), port))))
}

/// A DNS name (RFC 1123): dot-separated labels of 1-63 letters, digits and
/// inner hyphens, 253 characters at most, not all digits.
fn is_host_name(s: &str) -> bool {
    let label = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let s = s.strip_suffix('.').unwrap_or(s);
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(label)
        && !s.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

pub(super) fn build_http(h: &FileHttp) -> Result<HttpConfig> {
    let (unavailable_host, unavailable_host_name) =
        match h.unavailable_host.as_deref().map(str::trim) {
            None | Some("") => (None, None),
            Some(s) => fallback_host(s)?,
        };
    let request_check_pattern = h.request_check_pattern.clone().filter(|p| !p.is_empty());
    if let Some(p) = &request_check_pattern {
        check_regex("http.requestCheckPattern", p)?;
    }
    Ok(HttpConfig {
        http_port: port("http.httpPort", h.http_port)?,
        https_port: port("http.httpsPort", h.https_port)?,
        unavailable_host,
        unavailable_host_name,
        remote_server_ssl: h.is_remote_server_ssl.unwrap_or(false),
        redirect_to_https: h.redirect_to_https.unwrap_or(true),
        request_check_pattern,
        url_rewrite: build_rewrites(h.url_rewrite.as_deref().unwrap_or_default())?,
        add_forwarded_headers: h.add_forwarded_headers.unwrap_or(true),
        max_head_size: at_least(
            "http.maxHeadSize",
            h.max_head_size,
            defaults::HTTP_MAX_HEAD_SIZE,
            1024,
        )?,
        max_uri_length: at_least(
            "http.maxUriLength",
            h.max_uri_length,
            defaults::HTTP_MAX_URI_LENGTH,
            16,
        )?,
        header_timeout: ms(
            "http.headerTimeout",
            h.header_timeout,
            defaults::HTTP_HEADER_TIMEOUT_MS,
        )?,
        idle_timeout: ms(
            "http.idleTimeout",
            h.idle_timeout,
            defaults::HTTP_IDLE_TIMEOUT_MS,
        )?,
        upstream_idle_timeout: ms(
            "http.upstreamIdleTimeout",
            h.upstream_idle_timeout,
            defaults::HTTP_UPSTREAM_IDLE_TIMEOUT_MS,
        )?,
        response_timeout: ms(
            "http.responseTimeout",
            h.response_timeout,
            defaults::HTTP_RESPONSE_TIMEOUT_MS,
        )?,
        max_connections: at_least(
            "http.maxConnections",
            h.max_connections,
            defaults::HTTP_MAX_CONNECTIONS,
            1,
        )?,
    })
}

fn build_rewrites(rules: &[crate::config::file::FileUrlRewrite]) -> Result<Vec<UrlRewrite>> {
    let mut out = Vec::with_capacity(rules.len());
    for (i, r) in rules.iter().enumerate() {
        let path = format!("http.urlRewrite[{i}].pattern");
        let Some(pattern) = r.pattern.clone().filter(|p| !p.is_empty()) else {
            return err(&path, "missing (a regular expression)");
        };
        check_regex(&path, &pattern)?;
        out.push(UrlRewrite {
            pattern,
            replacement: r.replacement.clone().unwrap_or_default(),
        });
    }
    Ok(out)
}

fn check_regex(path: &str, p: &str) -> Result<()> {
    match regex::Regex::new(p) {
        Ok(_) => Ok(()),
        Err(e) => {
            let text = e.to_string();
            let line = text.lines().last().unwrap_or("invalid");
            err(
                path,
                format!("`{p}` is not a regular expression: {}", line.trim()),
            )
        }
    }
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
