//! WebSocket frame decoding (`ws::frame::Decoder`, RFC 6455): total over
//! arbitrary bytes fed the way a connection feeds it, and independent of
//! how the stream is cut: the same bytes delivered in two reads give the
//! same events and the same final error as in one read.
//!
//! The first byte chooses the role (server or client side) and the cut;
//! the rest is the stream.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sip_balancer::ws::frame::{Decoder, Event, Role};

const MAX_MESSAGE: usize = 4096;

/// What a stream produced: owned events, then the error that ended it.
type Outcome = (Vec<String>, Option<String>);

fn drive(chunks: &[&[u8]], role: Role) -> Outcome {
    let mut decoder = Decoder::new(role, MAX_MESSAGE);
    let mut buf: Vec<u8> = Vec::new();
    let mut events = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        // Bounded: every event consumes at least a frame header.
        for _ in 0..=buf.len() {
            match decoder.decode(&buf) {
                Ok((used, event)) => {
                    assert!(used <= buf.len(), "used {used} of {}", buf.len());
                    let done = event.is_none();
                    if let Some(e) = event {
                        if let Event::Message { payload, .. } = e {
                            assert!(payload.len() <= MAX_MESSAGE);
                        }
                        events.push(format!("{e:?}"));
                    }
                    buf.drain(..used);
                    if done {
                        break;
                    }
                }
                Err(e) => return (events, Some(format!("{e:?}"))),
            }
        }
    }
    (events, None)
}

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, stream)) = data.split_first() else {
        return;
    };
    let role = if ctl & 1 == 0 { Role::Server } else { Role::Client };
    let cut = usize::from(ctl >> 1).min(stream.len());
    let whole = drive(&[stream], role);
    let (a, b) = stream.split_at(cut);
    let split = drive(&[a, b], role);
    assert_eq!(whole, split, "cut at {cut} changed the outcome");
});
