//! Criterion benches for the SIP head index and the lookups every
//! datagram needs (top Via, Call-ID).

// `criterion_group!` expands to an undocumented `pub fn`.
#![allow(missing_docs)]

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use sip_balancer::sip::headers;
use sip_balancer::sip::message::Message;

const SDP: &str = "v=0\r\no=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=sendrecv\r\n";

fn invite() -> Vec<u8> {
    let mut buf = format!(
        "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
         Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds;rport\r\n\
         Max-Forwards: 70\r\n\
         Route: <sip:lb.example.com;lr>\r\n\
         To: Bob <sip:bob@biloxi.example.com>\r\n\
         From: \"Alice\" <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
         Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
         CSeq: 314159 INVITE\r\n\
         Contact: <sip:alice@192.0.2.10:5060>\r\n\
         Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE\r\n\
         Supported: replaces, timer\r\n\
         User-Agent: softphone/1.0\r\n\
         Content-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n",
        SDP.len()
    )
    .into_bytes();
    buf.extend_from_slice(SDP.as_bytes());
    buf
}

const OK_200: &[u8] = b"SIP/2.0 200 OK\r\n\
Via: SIP/2.0/UDP lb.example.com:5060;branch=z9hG4bKlb1\r\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds;received=192.0.2.10;rport=5062\r\n\
Record-Route: <sip:lb.example.com;lr>\r\n\
To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:bob@192.0.2.4>\r\n\
Content-Length: 0\r\n\r\n";

fn bench_parse(c: &mut Criterion) {
    let invite = invite();
    let mut group = c.benchmark_group("sip_parse");
    group.throughput(Throughput::Bytes(invite.len() as u64));
    group.bench_function("invite_sdp", |b| {
        b.iter(|| Message::parse(black_box(&invite)).is_ok())
    });
    group.throughput(Throughput::Bytes(OK_200.len() as u64));
    group.bench_function("200_ok", |b| {
        b.iter(|| Message::parse(black_box(OK_200)).is_ok())
    });
    group.throughput(Throughput::Bytes(invite.len() as u64));
    group.bench_function("invite_sdp+top_via+call_id", |b| {
        b.iter(|| {
            let Ok(msg) = Message::parse(black_box(&invite)) else {
                return 0;
            };
            let via = headers::top_via(&msg);
            via.and_then(|v| v.branch).map_or(0, <[u8]>::len) + msg.call_id().len()
        })
    });
    group.finish();
}

criterion_group!(benches, bench_parse);
criterion_main!(benches);
