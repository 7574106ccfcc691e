use super::*;
use crate::config::Config;

fn msg(text: &str) -> Message<'_> {
    Message::parse(text.as_bytes()).unwrap()
}

const INVITE: &str = "INVITE sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1\r\n\
From: \"Alice\" <sip:alice@atlanta.com>;tag=1\r\n\
To: <tel:+15551234;phone-context=x>\r\n\
Call-ID: abc@10.0.0.1\r\n\
X-Tenant:  acme \r\n\
CSeq: 1 INVITE\r\n\
Content-Length: 0\r\n\r\n";

fn key(name: &str, pattern: Option<&str>, fallback: &str) -> AffinityKey {
    let mut cfg = Config::embedded_default().algorithm;
    cfg.sip_header_affinity_key = name.into();
    cfg.sip_header_affinity_exclusion_pattern = pattern.map(Into::into);
    cfg.sip_header_affinity_fallback_key = fallback.into();
    AffinityKey::from_config(&cfg)
}

#[test]
fn sources() {
    let m = msg(INVITE);
    let k = |name| key(name, None, "Call-ID").extract(&m);
    assert_eq!(k("Call-ID"), b"abc@10.0.0.1");
    assert_eq!(k("i"), b"abc@10.0.0.1");
    assert_eq!(k("From"), b"alice");
    assert_eq!(k("from.user"), b"alice");
    assert_eq!(k("To"), b"+15551234");
    assert_eq!(k("to.user"), b"+15551234");
    assert_eq!(k("x-tenant"), b"acme");
    assert_eq!(k("X-Missing"), b"abc@10.0.0.1", "missing header: fallback");
}

#[test]
fn exclusion_uses_the_fallback() {
    let m = msg(INVITE);
    assert_eq!(key("From", Some("^ali"), "X-Tenant").extract(&m), b"acme");
    assert_eq!(key("From", Some("^bob"), "X-Tenant").extract(&m), b"alice");
    assert_eq!(
        key("From", Some("alice"), "X-Nope").extract(&m),
        b"abc@10.0.0.1",
        "fallback missing: Call-ID"
    );
}

#[test]
fn uri_without_user_keys_by_host() {
    let text = INVITE.replace("<sip:alice@atlanta.com>", "<sip:atlanta.com>");
    let m = msg(&text);
    assert_eq!(key("From", None, "Call-ID").extract(&m), b"atlanta.com");
    assert_eq!(
        key("From", None, "Call-ID").hash(&m),
        key_hash(b"atlanta.com")
    );
}

#[test]
fn call_id_key_is_recognised() {
    assert!(key("Call-ID", None, "Call-ID").is_call_id());
    assert!(!key("To", None, "Call-ID").is_call_id());
}
