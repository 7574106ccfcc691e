//! The admin port's HTTP, sans-IO: the request head, the original's query
//! parsing, which endpoint a request names, and the response bytes.
//!
//! Endpoints (path compared case-insensitively, as the original):
//!
//! | path | answer |
//! |---|---|
//! | `/lbstat` | `200` JSON ([`super::lbstat::lbstat`]) |
//! | `/lbinfo` | `200` JSON ([`super::lbstat::lbinfo`]) |
//! | `/metrics` | `200` Prometheus text ([`super::prometheus::render`]) |
//! | `/lbloglevel?logLevel=L` | `200 Log level changed`; `400` if `L` is missing or not a level |
//! | `/lbstop[?login=..&password=..]` | `423` + a small HTML page, then the server drains and stops; `401` on wrong credentials |
//! | `/lbnoderegex?…` | `400` with the original's usage text on missing parameters, else `501` (regex pinning is not implemented) |
//! | anything else | `500 Server error` |
//!
//! Query parsing is the original's: the substring after the last `?`,
//! split on `&`, then on the first `=`; a token without `=` has the value
//! `""`; nothing is URL-decoded.

use log::LevelFilter;

/// Largest request head read (bytes up to the blank line).
pub const MAX_HEAD: usize = 8192;

/// A request head, as far as it has arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Head<'a> {
    /// No blank line yet (and under [`MAX_HEAD`]).
    Partial,
    /// A complete head.
    Complete {
        /// Request method (any token is accepted).
        method: &'a str,
        /// Request target (`/lbstat?x=y`).
        target: &'a str,
    },
    /// Not HTTP/1.x, or too long.
    Invalid,
}

/// What a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `/lbstat`.
    LbStat,
    /// `/lbinfo`.
    LbInfo,
    /// `/metrics`.
    Metrics,
    /// `/lbloglevel` with a valid level.
    SetLogLevel(LevelFilter),
    /// `/lbstop`, credentials accepted.
    Stop,
    /// Answer this and do nothing else (errors, unknown paths).
    Answer(Response),
}

/// `/lbstop` credentials (`securityRequired`, `login`, `password`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Expected `login`.
    pub login: String,
    /// Expected `password`.
    pub password: String,
}

/// An HTTP response; the connection is closed after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// `Content-Type`, if any.
    pub content_type: Option<&'static str>,
    /// Body.
    pub body: Vec<u8>,
}

/// Body of the `/lbstop` answer.
pub const BYE_HTML: &str =
    "<html><head><title>sip-balancer</title></head><body>The load balancer is stopping.</body></html>\n";

const TEXT: &str = "text/plain; charset=utf-8";

/// JSON content type.
pub const JSON: &str = "application/json";

const NODE_REGEX_USAGE: &str =
    "Regex NOT set, use : 127.0.0.1:2006/lbnoderegex?regex=(.*)(\\d+)(.*)&ip=127.0.0.1&port=5060";

const STOP_USAGE: &str = "Authorization required : Incorrect login or password request \
                          example : 127.0.0.1:2006/lbstop?login=daddy&password=123456";

/// Parse the head in `buf` (everything read so far).
pub fn parse_head(buf: &[u8]) -> Head<'_> {
    let Some(end) = memchr::memmem::find(buf, b"\r\n\r\n") else {
        return if buf.len() > MAX_HEAD {
            Head::Invalid
        } else {
            Head::Partial
        };
    };
    if end > MAX_HEAD {
        return Head::Invalid;
    }
    let line_end = memchr::memmem::find(buf, b"\r\n").unwrap_or(end);
    let Some(line) = buf
        .get(..line_end)
        .and_then(|l| std::str::from_utf8(l).ok())
    else {
        return Head::Invalid;
    };
    let mut parts = line.split(' ');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(method), Some(target), Some(version), None)
            if !method.is_empty() && target.starts_with('/') && version.starts_with("HTTP/1.") =>
        {
            Head::Complete { method, target }
        }
        _ => Head::Invalid,
    }
}

/// The original's query parameters of `target`, in order.
pub fn query(target: &str) -> Vec<(&str, &str)> {
    let Some((_, q)) = target.rsplit_once('?') else {
        return Vec::new();
    };
    q.split('&')
        .filter(|t| !t.is_empty())
        .map(|t| t.split_once('=').unwrap_or((t, "")))
        .collect()
}

/// The value of parameter `name` (first occurrence).
fn param<'a>(params: &[(&str, &'a str)], name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
}

/// log4j level names (case-insensitive): `OFF`, `FATAL` (= error),
/// `ERROR`, `WARN`, `INFO`, `DEBUG`, `TRACE`, `ALL` (= trace).
pub fn parse_level(s: &str) -> Option<LevelFilter> {
    let levels = [
        ("off", LevelFilter::Off),
        ("fatal", LevelFilter::Error),
        ("error", LevelFilter::Error),
        ("warn", LevelFilter::Warn),
        ("warning", LevelFilter::Warn),
        ("info", LevelFilter::Info),
        ("debug", LevelFilter::Debug),
        ("trace", LevelFilter::Trace),
        ("all", LevelFilter::Trace),
    ];
    levels
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(s))
        .map(|(_, l)| *l)
}

/// What `target` asks for; `credentials` is `Some` when `/lbstop` needs them.
pub fn route(target: &str, credentials: Option<&Credentials>) -> Request {
    let path = target.split('?').next().unwrap_or("");
    let params = query(target);
    let is = |p: &str| path.eq_ignore_ascii_case(p);
    if is("/lbstat") {
        Request::LbStat
    } else if is("/lbinfo") {
        Request::LbInfo
    } else if is("/metrics") {
        Request::Metrics
    } else if is("/lbloglevel") {
        match param(&params, "logLevel").and_then(parse_level) {
            Some(level) => Request::SetLogLevel(level),
            None => Request::Answer(Response::text(
                400,
                "Log level NOT changed, use : 127.0.0.1:2006/lbloglevel?logLevel=DEBUG\n",
            )),
        }
    } else if is("/lbstop") {
        let allowed = credentials.is_none_or(|c| {
            param(&params, "login") == Some(c.login.as_str())
                && param(&params, "password") == Some(c.password.as_str())
        });
        if allowed {
            Request::Stop
        } else {
            Request::Answer(Response::text(401, STOP_USAGE))
        }
    } else if is("/lbnoderegex") {
        node_regex(&params)
    } else {
        Request::Answer(Response::text(500, "Server error"))
    }
}

/// `/lbnoderegex`: the original's parameter checks; the pinning itself is
/// not implemented, which the answer says instead of pretending.
fn node_regex(params: &[(&str, &str)]) -> Request {
    let has = |k| param(params, k).is_some_and(|v| !v.is_empty());
    if !has("regex") {
        return Request::Answer(Response::text(400, NODE_REGEX_USAGE));
    }
    if has("ip") != has("port") {
        return Request::Answer(Response::text(400, NODE_REGEX_USAGE));
    }
    Request::Answer(Response::text(
        501,
        "Regex NOT set: regex to node pinning is not implemented by this balancer",
    ))
}

// === impl Response ===

impl Response {
    /// A plain-text answer.
    pub fn text(status: u16, body: &str) -> Response {
        Response {
            status,
            content_type: Some(TEXT),
            body: body.as_bytes().to_vec(),
        }
    }

    /// A `200` with `body` of `content_type`.
    pub fn ok(content_type: &'static str, body: Vec<u8>) -> Response {
        Response {
            status: 200,
            content_type: Some(content_type),
            body,
        }
    }

    /// The answer to `/lbloglevel`.
    pub fn log_level_changed() -> Response {
        Response::text(200, "Log level changed")
    }

    /// The answer to `/lbstop`: `423 Locked` with [`BYE_HTML`].
    pub fn stopping() -> Response {
        Response {
            status: 423,
            content_type: Some("text/html; charset=utf-8"),
            body: BYE_HTML.as_bytes().to_vec(),
        }
    }

    /// The whole response: status line, headers, body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.body.len() + 128);
        out.extend_from_slice(b"HTTP/1.1 ");
        out.extend_from_slice(self.status.to_string().as_bytes());
        out.push(b' ');
        out.extend_from_slice(reason(self.status).as_bytes());
        out.extend_from_slice(b"\r\n");
        if let Some(ct) = self.content_type {
            out.extend_from_slice(b"Content-Type: ");
            out.extend_from_slice(ct.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"Content-Length: ");
        out.extend_from_slice(self.body.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\nConnection: close\r\n\r\n");
        out.extend_from_slice(&self.body);
        out
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        405 => "Method Not Allowed",
        423 => "Locked",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads() {
        assert_eq!(
            parse_head(b"GET /lbstat HTTP/1.1\r\nHost: x\r\n\r\n"),
            Head::Complete {
                method: "GET",
                target: "/lbstat"
            }
        );
        assert_eq!(
            parse_head(b"GET /lbstat HTTP/1.1\r\nHost: x\r\n"),
            Head::Partial
        );
        assert_eq!(parse_head(b"GET lbstat HTTP/1.1\r\n\r\n"), Head::Invalid);
        assert_eq!(parse_head(b"GET /a b HTTP/1.1\r\n\r\n"), Head::Invalid);
        assert_eq!(parse_head(b"GET /a SIP/2.0\r\n\r\n"), Head::Invalid);
        assert_eq!(parse_head(b"\xff\xfe /a HTTP/1.1\r\n\r\n"), Head::Invalid);
        assert_eq!(parse_head(&vec![b'a'; MAX_HEAD + 1]), Head::Invalid);
        assert_eq!(parse_head(b""), Head::Partial);
    }

    #[test]
    fn query_is_parsed_like_the_original() {
        assert_eq!(
            query("/lbnoderegex?regex=(.*)&ip=1.2.3.4&port"),
            vec![("regex", "(.*)"), ("ip", "1.2.3.4"), ("port", "")]
        );
        // The substring after the LAST '?'.
        assert_eq!(query("/x?a=1?b=2"), vec![("b", "2")]);
        assert_eq!(query("/x?a=b=c"), vec![("a", "b=c")]);
        assert_eq!(query("/x"), Vec::<(&str, &str)>::new());
        assert_eq!(query("/x?a=%41"), vec![("a", "%41")]);
    }

    #[test]
    fn routes() {
        assert_eq!(route("/lbstat", None), Request::LbStat);
        assert_eq!(route("/LBStat?x=1", None), Request::LbStat);
        assert_eq!(route("/lbinfo", None), Request::LbInfo);
        assert_eq!(route("/metrics", None), Request::Metrics);
        assert_eq!(
            route("/lbloglevel?logLevel=DEBUG", None),
            Request::SetLogLevel(LevelFilter::Debug)
        );
        assert_eq!(
            route("/lbloglevel?logLevel=fatal", None),
            Request::SetLogLevel(LevelFilter::Error)
        );
        let Request::Answer(r) = route("/lbloglevel?logLevel=loud", None) else {
            panic!("bad level accepted");
        };
        assert_eq!(r.status, 400);
        let Request::Answer(r) = route("/nothing", None) else {
            panic!("unknown path routed");
        };
        assert_eq!((r.status, r.body.as_slice()), (500, &b"Server error"[..]));
    }

    #[test]
    fn stop_checks_credentials_when_required() {
        assert_eq!(route("/lbstop", None), Request::Stop);
        let c = Credentials {
            login: "daddy".into(),
            password: "123456".into(),
        };
        assert_eq!(
            route("/lbstop?login=daddy&password=123456", Some(&c)),
            Request::Stop
        );
        for bad in [
            "/lbstop",
            "/lbstop?login=daddy&password=1",
            "/lbstop?login=daddy",
        ] {
            let Request::Answer(r) = route(bad, Some(&c)) else {
                panic!("{bad} accepted");
            };
            assert_eq!(r.status, 401);
            assert_eq!(r.body, STOP_USAGE.as_bytes());
        }
    }

    #[test]
    fn node_regex_validates_then_says_not_implemented() {
        let status = |t: &str| match route(t, None) {
            Request::Answer(r) => r.status,
            other => panic!("{t}: {other:?}"),
        };
        assert_eq!(status("/lbnoderegex"), 400);
        assert_eq!(status("/lbnoderegex?ip=1.2.3.4&port=5060"), 400);
        assert_eq!(status("/lbnoderegex?regex=a&ip=1.2.3.4"), 400);
        assert_eq!(status("/lbnoderegex?regex=a&ip=1.2.3.4&port=5060"), 501);
        assert_eq!(status("/lbnoderegex?regex=a"), 501);
    }

    #[test]
    fn response_bytes() {
        let r = Response::text(200, "Log level changed");
        assert_eq!(
            r.to_bytes(),
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n\
              Content-Length: 17\r\nConnection: close\r\n\r\nLog level changed"
                .to_vec()
        );
        let s = Response::stopping().to_bytes();
        assert!(s.starts_with(b"HTTP/1.1 423 Locked\r\n"));
        assert!(s.ends_with(BYE_HTML.as_bytes()));
    }
}
