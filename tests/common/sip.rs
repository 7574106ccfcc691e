//! Tiny SIP text helpers for tests: build requests and replies, read
//! headers back. Deliberately independent of the crate's own parser, so a
//! parser bug cannot hide itself in the assertions.

use std::net::SocketAddr;

/// Compact header forms (RFC 3261 §7.3.3) mapped to their long names.
const COMPACT: &[(&str, &str)] = &[
    ("v", "via"),
    ("i", "call-id"),
    ("l", "content-length"),
    ("f", "from"),
    ("t", "to"),
    ("m", "contact"),
    ("c", "content-type"),
    ("k", "supported"),
];

/// Headers whose comma-separated values are separate entries.
const MULTI: &[&str] = &["via", "route", "record-route"];

fn long_name(name: &str) -> String {
    let lower = name.trim().to_ascii_lowercase();
    COMPACT
        .iter()
        .find(|(short, _)| *short == lower)
        .map(|(_, long)| long.to_string())
        .unwrap_or(lower)
}

/// A received SIP message as text, with header lookups.
#[derive(Debug, Clone)]
pub struct Msg {
    /// The whole datagram, lossily decoded.
    pub text: String,
}

impl Msg {
    /// Wraps raw bytes.
    pub fn parse(bytes: &[u8]) -> Msg {
        Msg {
            text: String::from_utf8_lossy(bytes).into_owned(),
        }
    }

    /// First line without CRLF.
    pub fn start_line(&self) -> &str {
        self.text.lines().next().unwrap_or("")
    }

    /// Status code if this is a response.
    pub fn status(&self) -> Option<u16> {
        let line = self.start_line();
        let rest = line.strip_prefix("SIP/2.0 ")?;
        rest.get(..3)?.parse().ok()
    }

    /// Reason phrase if this is a response.
    pub fn reason(&self) -> Option<&str> {
        self.status()?;
        self.start_line().get(12..)
    }

    /// Method if this is a request.
    pub fn method(&self) -> Option<&str> {
        if self.status().is_some() {
            return None;
        }
        self.start_line().split(' ').next()
    }

    /// Request-URI if this is a request.
    pub fn request_uri(&self) -> Option<&str> {
        self.method()?;
        self.start_line().split(' ').nth(1)
    }

    /// Header section lines (after the start line, before the blank line),
    /// with folded continuation lines joined.
    fn header_lines(&self) -> Vec<String> {
        let head = self.text.split("\r\n\r\n").next().unwrap_or("");
        let mut out: Vec<String> = Vec::new();
        for line in head.split("\r\n").skip(1) {
            if line.starts_with(' ') || line.starts_with('\t') {
                if let Some(last) = out.last_mut() {
                    last.push(' ');
                    last.push_str(line.trim());
                    continue;
                }
            }
            out.push(line.to_string());
        }
        out
    }

    /// Every value of header `name` in order (compact forms understood;
    /// Via/Route/Record-Route comma lists split into entries).
    pub fn headers(&self, name: &str) -> Vec<String> {
        let want = long_name(name);
        let mut out = Vec::new();
        for line in self.header_lines() {
            let Some((n, v)) = line.split_once(':') else {
                continue;
            };
            if long_name(n) != want {
                continue;
            }
            if MULTI.contains(&want.as_str()) {
                out.extend(split_commas(v));
            } else {
                out.push(v.trim().to_string());
            }
        }
        out
    }

    /// First value of header `name`.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers(name).into_iter().next()
    }

    /// All Via entries, top first.
    pub fn vias(&self) -> Vec<String> {
        self.headers("via")
    }

    /// All Record-Route entries, top first.
    pub fn record_routes(&self) -> Vec<String> {
        self.headers("record-route")
    }

    /// All Route entries, top first.
    pub fn routes(&self) -> Vec<String> {
        self.headers("route")
    }

    /// Call-ID value.
    pub fn call_id(&self) -> Option<String> {
        self.header("call-id")
    }

    /// CSeq number.
    pub fn cseq_num(&self) -> Option<u32> {
        self.header("cseq")?.split_whitespace().next()?.parse().ok()
    }

    /// Body after the blank line.
    pub fn body(&self) -> &str {
        self.text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b)
            .unwrap_or("")
    }
}

/// Splits a header value on commas that are outside `<...>` and quotes.
pub fn split_commas(v: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (mut depth, mut quoted, mut cur) = (0i32, false, String::new());
    for ch in v.chars() {
        match ch {
            '"' => quoted = !quoted,
            '<' if !quoted => depth += 1,
            '>' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                out.push(cur.trim().to_string());
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(ch);
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

/// Value of `;name=value` in a header entry (or a URI), if present.
pub fn param(entry: &str, name: &str) -> Option<String> {
    let inner = entry.trim_start_matches('<');
    inner
        .split([';', '>'])
        .skip(1)
        .filter_map(|p| p.split_once('=').or(Some((p, ""))))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim().to_string())
}

/// `branch` parameter of a Via entry.
pub fn branch(via: &str) -> Option<String> {
    param(via, "branch")
}

/// `host:port` sent-by of a Via entry (`SIP/2.0/UDP host:port;...`).
pub fn via_sent_by(via: &str) -> String {
    let after = via.split_whitespace().nth(1).unwrap_or("");
    after.split(';').next().unwrap_or("").to_string()
}

/// A request to build. Fields are public; `to_bytes` renders it.
#[derive(Debug, Clone)]
pub struct Req {
    /// Method name.
    pub method: String,
    /// Request-URI.
    pub ruri: String,
    /// Via entries, top first, full values (`SIP/2.0/UDP h:p;branch=...`).
    pub vias: Vec<String>,
    /// Call-ID.
    pub call_id: String,
    /// CSeq number (method is `method`, or `cseq_method` if set).
    pub cseq: u32,
    /// CSeq method when it differs from `method` (never for these tests).
    pub from_tag: String,
    /// To tag: `Some` makes the request in-dialog.
    pub to_tag: Option<String>,
    /// Max-Forwards; `None` omits the header.
    pub max_forwards: Option<u32>,
    /// Extra raw header lines (`Name: value`).
    pub extra: Vec<String>,
    /// Body; Content-Length is computed.
    pub body: String,
}

impl Req {
    /// A request with one Via from `from`, branch `branch`, Max-Forwards 70.
    pub fn new(method: &str, ruri: &str, from: SocketAddr, call_id: &str, branch: &str) -> Req {
        Req {
            method: method.to_string(),
            ruri: ruri.to_string(),
            vias: vec![format!("SIP/2.0/UDP {from};branch={branch};rport")],
            call_id: call_id.to_string(),
            cseq: 1,
            from_tag: "ftag1".to_string(),
            to_tag: None,
            max_forwards: Some(70),
            extra: Vec::new(),
            body: String::new(),
        }
    }

    /// Adds a raw header line.
    pub fn with(mut self, line: &str) -> Req {
        self.extra.push(line.to_string());
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: &str) -> Req {
        self.body = body.to_string();
        self
    }

    /// Renders the request.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut s = format!("{} {} SIP/2.0\r\n", self.method, self.ruri);
        for v in &self.vias {
            s.push_str(&format!("Via: {v}\r\n"));
        }
        if let Some(mf) = self.max_forwards {
            s.push_str(&format!("Max-Forwards: {mf}\r\n"));
        }
        s.push_str(&format!(
            "From: <sip:alice@client.test>;tag={}\r\n",
            self.from_tag
        ));
        match &self.to_tag {
            Some(t) => s.push_str(&format!("To: <sip:bob@server.test>;tag={t}\r\n")),
            None => s.push_str("To: <sip:bob@server.test>\r\n"),
        }
        s.push_str(&format!("Call-ID: {}\r\n", self.call_id));
        s.push_str(&format!("CSeq: {} {}\r\n", self.cseq, self.method));
        s.push_str("Contact: <sip:alice@127.0.0.1>\r\n");
        for line in &self.extra {
            s.push_str(line);
            s.push_str("\r\n");
        }
        if !self.body.is_empty() {
            s.push_str("Content-Type: text/plain\r\n");
        }
        s.push_str(&format!("Content-Length: {}\r\n\r\n", self.body.len()));
        s.push_str(&self.body);
        s.into_bytes()
    }
}

/// A response to `req`: copies Via, From, To (adding `to_tag` if the
/// request had none and `code > 100`), Call-ID, CSeq and Record-Route.
pub fn reply(req: &Msg, code: u16, reason: &str, to_tag: &str) -> Vec<u8> {
    let mut s = format!("SIP/2.0 {code} {reason}\r\n");
    for v in req.vias() {
        s.push_str(&format!("Via: {v}\r\n"));
    }
    for rr in req.record_routes() {
        s.push_str(&format!("Record-Route: {rr}\r\n"));
    }
    s.push_str(&format!(
        "From: {}\r\n",
        req.header("from").unwrap_or_default()
    ));
    let to = req.header("to").unwrap_or_default();
    if code > 100 && param(&to, "tag").is_none() {
        s.push_str(&format!("To: {to};tag={to_tag}\r\n"));
    } else {
        s.push_str(&format!("To: {to}\r\n"));
    }
    s.push_str(&format!(
        "Call-ID: {}\r\n",
        req.call_id().unwrap_or_default()
    ));
    s.push_str(&format!(
        "CSeq: {}\r\n",
        req.header("cseq").unwrap_or_default()
    ));
    s.push_str("Content-Length: 0\r\n\r\n");
    s.into_bytes()
}

/// A heartbeat body announcing a node at `127.0.0.1:udp_port`.
pub fn heartbeat_body(hostname: &str, udp_port: u16, graceful: bool) -> String {
    let mut b = format!("hostname={hostname}\nip=127.0.0.1\nudpPort={udp_port}\nversion=0\n");
    if graceful {
        b.push_str("GRACEFUL_SHUTDOWN=true\n");
    }
    b
}

/// A heartbeat request (`OPTIONS` or `INFO`) from `from` to `to`.
pub fn heartbeat(method: &str, from: SocketAddr, to: SocketAddr, seq: u32, body: &str) -> Vec<u8> {
    let mut r = Req::new(
        method,
        &format!("sip:{to}"),
        from,
        &format!("hb-{}-{seq}@127.0.0.1", from.port()),
        &format!("z9hG4bKhb{}x{seq}", from.port()),
    )
    .with("Mobicents-Heartbeat: 1")
    .body(body);
    r.cseq = seq;
    r.to_bytes()
}

/// `key=value` lines of a heartbeat body.
pub fn parse_heartbeat_fields(body: &str) -> std::collections::BTreeMap<String, String> {
    body.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}
