//! Stream framing (`sip::framing::next`, SIP over TCP/TLS/WS): total over
//! arbitrary bytes, and consistent the way a stream reader needs it —
//! a frame found in a buffer is found unchanged whatever arrives after it,
//! no shorter prefix is taken for a message, and a framed message that
//! parses ends exactly where the framer cut it.
//!
//! The first two bytes choose the size limit (`max`), the rest is the
//! stream buffer. Seeds: `fuzz/seeds/sip_framing` (`fuzz/make_seeds.sh`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sip_balancer::sip::framing::{next, Frame};
use sip_balancer::sip::message::Message;

fuzz_target!(|data: &[u8]| {
    let (max, buf) = match data {
        [a, b, rest @ ..] => (usize::from(u16::from_le_bytes([*a, *b])) + 16, rest),
        _ => return,
    };
    let frame = next(buf, max);
    let Frame::Message(n) = frame else {
        return;
    };
    assert!(
        n > 0 && n <= buf.len() && n <= max,
        "{n} of {} (max {max})",
        buf.len()
    );
    for k in [0, 1, n / 2, n.saturating_sub(1)] {
        if k < n {
            let short = next(&buf[..k], max);
            assert!(
                matches!(short, Frame::Partial | Frame::Ping | Frame::Pong),
                "prefix {k} of a {n}-byte message framed as {short:?}"
            );
        }
    }
    let mut longer = buf[..n].to_vec();
    longer.extend_from_slice(b"INVITE sip:x SIP/2.0\r\nContent-Length: 3\r\n\r\nabc");
    assert_eq!(
        next(&longer, max),
        Frame::Message(n),
        "more bytes changed the frame"
    );
    // The framer ends a head at the first blank line exactly as the parser
    // does (CRLF or bare LF), so a framed message that parses ends where
    // the framer cut it.
    if let Ok(msg) = Message::parse(&buf[..n]) {
        assert_eq!(
            msg.body().end as usize,
            n,
            "framer and parser disagree on the body"
        );
    }
});
