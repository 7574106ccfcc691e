//! The body of a SIP `Mobicents-Heartbeat` request: Java `.properties` text
//! (`key=value` or `key: value` lines, `#`/`!` comments).
//!
//! Lenient and total, after `java.util.Properties.load`: lines end in LF,
//! CR or CRLF; a line whose first non-blank character is `#` or `!` is a
//! comment; the key ends at the first unescaped `=`, `:` or blank, and one
//! `=`/`:` surrounded by blanks separates it from the value; a line ending in
//! an odd number of backslashes continues on the next line; `\t \n \r \f
//! \uXXXX` and `\<any>` escapes are understood. Differences from Java: a
//! repeated key keeps its first position with the last value, empty keys
//! are dropped, and a bad `\u` escape is kept literally instead of failing.
//!
//! [`Announcement`] reads the properties the registry uses (`ip`,
//! `hostname`, ports, `version`, `jvmRoute`, `GRACEFUL_SHUTDOWN`);
//! [`super::liveness`] decides what they mean for the node.

use std::net::IpAddr;

use super::node::Node;
use crate::config::properties::syntax;
use crate::config::Ports;

/// Parse properties text. Invalid UTF-8 is replaced; never panics.
pub fn parse_properties(body: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(body);
    let mut out: Vec<(String, String)> = Vec::new();
    for (_, line) in syntax::logical_lines(&text) {
        let (raw_key, raw_value) = syntax::split_key_value(&line);
        // Lenient where the config reader is strict: a bad escape stays literal.
        let key = syntax::unescape(raw_key).unwrap_or_else(|_| raw_key.to_owned());
        let value = syntax::unescape(raw_value).unwrap_or_else(|_| raw_value.to_owned());
        if key.is_empty() {
            continue;
        }
        match out.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => out.push((key, value)),
        }
    }
    out
}

/// What one heartbeat announces.
pub(crate) struct Announcement {
    pub(crate) ip: IpAddr,
    pub(crate) hostname: String,
    pub(crate) ports: Ports,
    pub(crate) version: u32,
    pub(crate) jvm_route: Option<String>,
    pub(crate) graceful: bool,
    /// `sessionId`: changes when the node restarts.
    pub(crate) session_id: Option<String>,
}

// === impl Announcement ===

impl Announcement {
    /// What `props` announce; `src_ip` is the packet source (the default
    /// `ip`), `src_port` the default `udpPort` (a SIP heartbeat's source
    /// port; `None` for a JSON `start`, whose connection port means
    /// nothing). `None` when the `ip` property is present but not an IP
    /// literal, or when the node names no port at all.
    pub(crate) fn parse(
        src_ip: IpAddr,
        src_port: Option<u16>,
        props: &[(String, String)],
    ) -> Option<Announcement> {
        let ip = match property(props, "ip") {
            Some(text) => text
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse()
                .ok()?,
            None => src_ip,
        };
        let port = |key| property(props, key).and_then(|v| v.parse::<u16>().ok());
        let hostname = property(props, "hostname").or_else(|| property(props, "hostName"));
        let ports = Ports {
            udp: port("udpPort").or(src_port),
            tcp: port("tcpPort"),
            tls: port("tlsPort"),
            ws: port("wsPort"),
            wss: port("wssPort"),
        };
        if ports == Ports::default() {
            return None;
        }
        Some(Announcement {
            ip,
            hostname: hostname.map_or_else(|| ip.to_string(), str::to_owned),
            ports,
            version: property(props, "version")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
            jvm_route: property(props, "jvmRoute").map(str::to_owned),
            graceful: property(props, "GRACEFUL_SHUTDOWN")
                .is_some_and(|v| v.eq_ignore_ascii_case("true")),
            session_id: property(props, "sessionId").map(str::to_owned),
        })
    }

    /// The port that names the node with its ip: UDP, else the first port.
    pub(crate) fn identity_port(&self) -> u16 {
        let p = &self.ports;
        [p.udp, p.tcp, p.tls, p.ws, p.wss]
            .into_iter()
            .flatten()
            .next()
            .unwrap_or(0)
    }

    pub(crate) fn apply_to(self, node: &mut Node, properties: Vec<(String, String)>) {
        node.hostname = self.hostname;
        node.ports = self.ports;
        node.version = self.version;
        node.jvm_route = self.jvm_route;
        node.properties = properties;
    }
}

/// Last value of `key`, trimmed; empty values count as absent.
pub(crate) fn property<'a>(props: &'a [(String, String)], key: &str) -> Option<&'a str> {
    props
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::parse_properties;

    fn p(s: &str) -> Vec<(String, String)> {
        parse_properties(s.as_bytes())
    }

    fn kv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn separators() {
        assert_eq!(
            p("a=1\nb: 2\nc 3\nd = 4\ne\t:\t5\nf\n"),
            kv(&[
                ("a", "1"),
                ("b", "2"),
                ("c", "3"),
                ("d", "4"),
                ("e", "5"),
                ("f", "")
            ])
        );
    }

    #[test]
    fn heartbeat_body_crlf() {
        let body = "hostname=node1\r\nip=10.0.0.5\r\nudpPort=5080\r\nversion=2\r\nGRACEFUL_SHUTDOWN=true\r\n";
        assert_eq!(
            p(body),
            kv(&[
                ("hostname", "node1"),
                ("ip", "10.0.0.5"),
                ("udpPort", "5080"),
                ("version", "2"),
                ("GRACEFUL_SHUTDOWN", "true")
            ])
        );
    }

    #[test]
    fn comments_blanks_and_trimming() {
        assert_eq!(
            p("# c\n  ! c2\n\n   key = v w  \n"),
            kv(&[("key", "v w  ")])
        );
    }

    #[test]
    fn value_keeps_later_separators() {
        assert_eq!(
            p("url=sip:a@b:5060;x=y"),
            kv(&[("url", "sip:a@b:5060;x=y")])
        );
    }

    #[test]
    fn continuation_and_escapes() {
        assert_eq!(
            p("list=a,\\\n    b\nk\\=x=1\ntab=\\t\\u0041\\q"),
            kv(&[("list", "a,b"), ("k=x", "1"), ("tab", "\tAq")])
        );
        assert_eq!(
            p("l=a,\\\r\n b\r\nm=1\rn=2"),
            kv(&[("l", "a,b"), ("m", "1"), ("n", "2")])
        );
        assert_eq!(
            p("even=a\\\\\nnext=1"),
            kv(&[("even", "a\\"), ("next", "1")])
        );
    }

    #[test]
    fn repeated_key_last_value_wins() {
        assert_eq!(p("a=1\nb=2\na=3"), kv(&[("a", "3"), ("b", "2")]));
    }

    #[test]
    fn lenient_on_garbage() {
        assert_eq!(p(""), kv(&[]));
        assert_eq!(p("=novalue\n:\n"), kv(&[]));
        assert_eq!(
            p("bad=\\u12\ntrail=\\"),
            kv(&[("bad", "\\u12"), ("trail", "")])
        );
        let bytes = [b'k', b'=', 0xff, 0xfe, b'\n', b'\\'];
        assert_eq!(parse_properties(&bytes), kv(&[("k", "\u{fffd}\u{fffd}")]));
    }
}
