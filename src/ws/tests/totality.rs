//! Property tests: the decoder and the handshake parsers return a value
//! (never panic) for any bytes, and the decoder's results do not depend on
//! how the input is split into reads.

use super::Rng;
use crate::ws::frame::{self, Decoder, Event, OpCode, Role, WsError};
use crate::ws::handshake::{parse_request, ClientHandshake};

/// What a whole run of the decoder produced: events (owned) and the error.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    events: Vec<(u8, Vec<u8>)>,
    error: Option<WsError>,
}

fn tag(event: &Event<'_>) -> (u8, Vec<u8>) {
    match *event {
        Event::Message { text, payload } => (u8::from(text), payload.to_vec()),
        Event::Ping(p) => (9, p.to_vec()),
        Event::Pong(p) => (10, p.to_vec()),
        Event::Close { code, reason } => {
            let mut v = code.unwrap_or(0).to_be_bytes().to_vec();
            v.extend_from_slice(reason.as_bytes());
            (8, v)
        }
    }
}

/// Feeds `input` in reads of random sizes, checking the consumption
/// contract on every call.
fn run(role: Role, max: usize, input: &[u8], rng: &mut Rng, max_read: usize) -> Outcome {
    let mut decoder = Decoder::new(role, max);
    let mut events = Vec::new();
    let mut pending = Vec::new();
    let mut fed = 0;
    while fed < input.len() {
        let n = 1 + rng.below(max_read).min(input.len() - fed - 1);
        pending.extend_from_slice(&input[fed..fed + n]);
        fed += n;
        let mut off = 0;
        loop {
            match decoder.decode(&pending[off..]) {
                Err(error) => {
                    return Outcome {
                        events,
                        error: Some(error),
                    }
                }
                Ok((used, event)) => {
                    assert!(used <= pending.len() - off);
                    off += used;
                    match event {
                        Some(e) => events.push(tag(&e)),
                        None => break,
                    }
                }
            }
        }
        pending.drain(..off);
        assert!(
            pending.len() < 14,
            "{} bytes left unconsumed",
            pending.len()
        );
    }
    Outcome {
        events,
        error: None,
    }
}

/// A stream of plausible frames for `role`'s peer: mostly a valid
/// sequence (fragments, interleaved control frames, lengths around the
/// encoding boundaries), sometimes an opcode out of turn, a bad payload or
/// a flipped bit.
fn frames(rng: &mut Rng, role: Role) -> Vec<u8> {
    let mut out = Vec::new();
    let mut open = false;
    for _ in 0..1 + rng.below(6) {
        let control = [OpCode::Ping, OpCode::Pong, OpCode::Ping][rng.below(3)];
        let opcode = match (rng.below(10), open) {
            (0, _) => [
                OpCode::Text,
                OpCode::Binary,
                OpCode::Continuation,
                OpCode::Close,
            ][rng.below(4)],
            (1..=3, _) => control,
            (_, true) => OpCode::Continuation,
            (_, false) => [OpCode::Text, OpCode::Binary][rng.below(2)],
        };
        let fin = opcode.is_control() || rng.below(3) != 0;
        if !opcode.is_control() {
            open = !fin;
        }
        let len =
            [0, 1, 2, 5, 125, 126, 200, 300][rng.below(if opcode.is_control() { 5 } else { 8 })];
        let mut payload = rng.bytes(len);
        if rng.below(8) != 0 {
            payload.iter_mut().for_each(|b| *b &= 0x7F);
        }
        let mask = (role == Role::Server).then(|| [rng.next() as u8, 3, 0x80, rng.next() as u8]);
        if frame::encode_frame(opcode, fin, &payload, mask, &mut out).is_err() {
            out.extend_from_slice(&payload);
        }
    }
    if rng.below(4) == 0 {
        let mask = (role == Role::Server).then_some([1, 2, 3, 4]);
        let _ = frame::close_frame(1000 + rng.below(20) as u16, "end", mask, &mut out);
    }
    if rng.below(4) == 0 && !out.is_empty() {
        let at = rng.below(out.len());
        out[at] ^= 1 << rng.below(8);
    }
    out
}

#[test]
fn decoder_is_total_and_split_independent() {
    let mut rng = Rng::new(0x5EED_0001);
    let mut errors = 0;
    let mut events = 0;
    for round in 0..4000 {
        let role = if round % 2 == 0 {
            Role::Server
        } else {
            Role::Client
        };
        let max = [0, 10, 130, 300, 1 << 16, 1 << 16][rng.below(6)];
        let input = if round % 4 < 2 {
            frames(&mut rng, role)
        } else {
            rng.noise(300)
        };
        let whole = run(role, max, &input, &mut rng, input.len().max(1));
        let read = 1 + rng.below(20);
        let split = run(role, max, &input, &mut rng, read);
        let bytewise = run(role, max, &input, &mut rng, 1);
        assert_eq!(whole, split, "round {round}: {input:02x?}");
        assert_eq!(whole, bytewise, "round {round}: {input:02x?}");
        errors += usize::from(whole.error.is_some());
        events += whole.events.len();
    }
    // The generator exercises both sides of the decoder.
    assert!(
        errors > 1000 && events > 3000,
        "errors {errors}, events {events}"
    );
}

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: sip\r\nSec-WebSocket-Version: 13\r\n\r\n";
const RESPONSE: &[u8] =
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: sip\r\n\r\n";

/// A valid head with a few random edits (flip, insert, delete), or noise.
fn mutate(rng: &mut Rng, base: &[u8]) -> Vec<u8> {
    let mut v = base.to_vec();
    match rng.below(4) {
        0 => return rng.noise(200),
        _ => {
            for _ in 0..1 + rng.below(3) {
                let at = rng.below(v.len() + 1);
                match rng.below(3) {
                    0 if at < v.len() => {
                        v[at] = [b'\r', b'\n', b':', b' ', b',', 0, 0xFF][rng.below(7)]
                    }
                    1 => v.insert(at, rng.next() as u8),
                    _ if at < v.len() => {
                        v.remove(at);
                    }
                    _ => {}
                }
            }
        }
    }
    v
}

#[test]
fn handshake_parsers_are_total() {
    let mut rng = Rng::new(0x5EED_0002);
    let client = ClientHandshake::new(*b"the sample nonce");
    let (mut accepted, mut refused) = (0, 0);
    for _ in 0..4000 {
        let max = [16, 64, 4096][rng.below(3)];
        let request = mutate(&mut rng, REQUEST);
        match parse_request(&request, max) {
            Ok(Some(req)) => {
                accepted += 1;
                assert!(req.head_len <= request.len() && req.head_len <= max);
                // Every shorter prefix of the head is incomplete.
                let cut = rng.below(req.head_len);
                assert_eq!(parse_request(&request[..cut], max), Ok(None));
            }
            Ok(None) => assert!(request.len() < max),
            Err(_) => refused += 1,
        }
        let response = mutate(&mut rng, RESPONSE);
        if let Ok(Some(resp)) = client.parse_response(&response, max) {
            accepted += 1;
            assert!(resp.head_len <= response.len() && resp.head_len <= max);
        }
    }
    assert!(
        accepted > 100 && refused > 1000,
        "accepted {accepted}, refused {refused}"
    );
}
