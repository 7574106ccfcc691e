//! Proxy-Require (RFC 3261 §16.3 step 5): a proxy must refuse a request
//! whose Proxy-Require names an option tag it does not understand with
//! `420 Bad Extension` and an `Unsupported` header listing those tags
//! (§8.2.2.3, §20.40). The balancer implements no proxy extension, so every
//! tag is unsupported. ACK (never answered) and CANCEL (which follows its
//! INVITE and must not carry Proxy-Require, §9.1) are not checked.
//! `Require` is for the UAS (the node) and passes through.

use super::message::{HeaderName, Message, Method};
use super::reply;

/// Whether `msg` must be refused: a non-empty Proxy-Require on a request
/// other than ACK and CANCEL.
pub fn refused(msg: &Message<'_>, method: Method) -> bool {
    !matches!(method, Method::Ack | Method::Cancel)
        && msg
            .headers_named(HeaderName::ProxyRequire)
            .any(|h| tags(msg.slice(h.value)).next().is_some())
}

/// Append `420 Bad Extension` with `Unsupported: <every Proxy-Require tag>`.
pub fn write_bad_extension(out: &mut Vec<u8>, msg: &Message<'_>) {
    reply::write_with(out, msg, 420, b"Bad Extension", |out| {
        out.extend_from_slice(b"Unsupported: ");
        let mut first = true;
        for h in msg.headers_named(HeaderName::ProxyRequire) {
            for tag in tags(msg.slice(h.value)) {
                if !first {
                    out.extend_from_slice(b", ");
                }
                first = false;
                out.extend_from_slice(tag);
            }
        }
        out.extend_from_slice(b"\r\n");
    });
}

/// The comma-separated option tags of one header value, trimmed (folded
/// whitespace included), empty elements skipped.
fn tags(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQ: &str = "OPTIONS sip:user@example.com SIP/2.0\r\n\
        To: sip:j_user@example.com\r\nFrom: sip:caller@example.net;tag=242etr\r\n\
        Max-Forwards: 6\r\nCall-ID: bext01.0ha0isndaksdj\r\n\
        Require: nothingSupportsThis\r\n\
        Proxy-Require: noProxiesSupportThis,\r\n norDoAnyProxiesSupportThis\r\n\
        Proxy-Require: sec-agree\r\n\
        CSeq: 8 OPTIONS\r\nVia: SIP/2.0/UDP fold.example.com;branch=z9hG4bKkdjuw\r\n\
        Content-Length: 0\r\n\r\n";

    #[test]
    fn every_tag_is_listed_as_unsupported() {
        let msg = Message::parse(REQ.as_bytes()).unwrap();
        assert!(refused(&msg, Method::Options));
        assert!(!refused(&msg, Method::Ack));
        assert!(!refused(&msg, Method::Cancel));
        let mut out = Vec::new();
        write_bad_extension(&mut out, &msg);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("SIP/2.0 420 Bad Extension\r\n"), "{text}");
        assert!(
            text.contains(
                "\r\nUnsupported: noProxiesSupportThis, norDoAnyProxiesSupportThis, sec-agree\r\n"
            ),
            "{text}"
        );
        assert!(text.contains("To: sip:j_user@example.com;tag=lb"), "{text}");
        assert!(text.ends_with("Content-Length: 0\r\n\r\n"));
    }

    #[test]
    fn empty_proxy_require_is_not_refused() {
        let text = REQ.replace(
            "Proxy-Require: noProxiesSupportThis,\r\n norDoAnyProxiesSupportThis\r\nProxy-Require: sec-agree\r\n",
            "Proxy-Require: ,\r\n",
        );
        let msg = Message::parse(text.as_bytes()).unwrap();
        assert!(!refused(&msg, Method::Options));
    }
}
