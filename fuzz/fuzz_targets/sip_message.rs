//! Fuzz `Message::parse` and every typed header view over arbitrary bytes:
//! nothing may panic, and every span handed out must lie inside the buffer.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sip_balancer::sip::headers;
use sip_balancer::sip::message::{HeaderName, Message};

fuzz_target!(|buf: &[u8]| {
    let Ok(msg) = Message::parse(buf) else { return };
    let body = msg.body();
    assert!(body.start <= body.end && body.end as usize <= buf.len());
    if let Some(uri) = msg.request_uri() {
        let _ = headers::sip_uri(buf, uri);
    }
    let _ = headers::top_via(&msg);
    for h in msg.headers() {
        assert!(h.line.end as usize <= buf.len());
        assert!(h.line.start <= h.value.start && h.value.start <= h.value.end);
        let value = msg.slice(h.value);
        match h.name {
            HeaderName::Via => {
                for via in headers::vias(buf, h.value) {
                    assert!(via.span.end as usize <= buf.len());
                    assert!(via.sent_by_end <= via.span.end);
                }
            }
            HeaderName::Route | HeaderName::RecordRoute | HeaderName::Contact => {
                for na in headers::name_addrs(buf, h.value) {
                    assert!(na.span.end as usize <= buf.len());
                    let _ = headers::param(na.uri.params, b"lr");
                }
            }
            HeaderName::MaxForwards => drop(headers::max_forwards(value)),
            HeaderName::CSeq => drop(headers::cseq(value)),
            HeaderName::From | HeaderName::To => drop(headers::has_tag(value)),
            _ => drop(headers::parse_u16(value)),
        }
    }
});
