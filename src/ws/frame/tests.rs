//! Frame codec tests: the RFC 6455 §5.7 examples byte for byte, resumable
//! feeding, and every refusal with the close status it carries.

use super::*;

/// An owned copy of an event, so tests can collect them.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Got {
    Message(bool, Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(Option<u16>, String),
}

fn own(event: Event<'_>) -> Got {
    match event {
        Event::Message { text, payload } => Got::Message(text, payload.to_vec()),
        Event::Ping(p) => Got::Ping(p.to_vec()),
        Event::Pong(p) => Got::Pong(p.to_vec()),
        Event::Close { code, reason } => Got::Close(code, reason.to_owned()),
    }
}

/// Feeds `input` in chunks of `step` bytes the way a runtime would: keep the
/// unconsumed bytes, append the next read, decode until no event.
fn feed(decoder: &mut Decoder, input: &[u8], step: usize) -> Result<Vec<Got>, WsError> {
    let mut got = Vec::new();
    let mut pending: Vec<u8> = Vec::new();
    for chunk in input.chunks(step.max(1)) {
        pending.extend_from_slice(chunk);
        let mut off = 0;
        loop {
            let (used, event) = decoder.decode(&pending[off..])?;
            off += used;
            match event {
                Some(e) => got.push(own(e)),
                None => break,
            }
        }
        pending.drain(..off);
        assert!(
            pending.len() < 14,
            "decoder left {} bytes unconsumed",
            pending.len()
        );
    }
    Ok(got)
}

fn server() -> Decoder {
    Decoder::new(Role::Server, 1 << 20)
}

fn client() -> Decoder {
    Decoder::new(Role::Client, 1 << 20)
}

fn text(s: &str) -> Got {
    Got::Message(true, s.as_bytes().to_vec())
}

const HELLO_UNMASKED: &[u8] = &[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
const HELLO_MASKED: &[u8] = &[
    0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
];
const HEL_LO: &[u8] = &[0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f];
const PING_HELLO: &[u8] = &[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
const PONG_HELLO_MASKED: &[u8] = &[
    0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
];
const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

fn binary_frame(len: usize) -> (Vec<u8>, Vec<u8>) {
    let payload: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
    let mut frame = vec![0x82];
    match len {
        0..=125 => frame.push(len as u8),
        126..=0xFFFF => {
            frame.push(126);
            frame.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            frame.push(127);
            frame.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&payload);
    (frame, payload)
}

// === RFC 6455 §5.7 examples, decoded ===

#[test]
fn rfc_single_frame_unmasked_text() {
    assert_eq!(
        feed(&mut client(), HELLO_UNMASKED, 64),
        Ok(vec![text("Hello")])
    );
}

#[test]
fn rfc_single_frame_masked_text() {
    assert_eq!(
        feed(&mut server(), HELLO_MASKED, 64),
        Ok(vec![text("Hello")])
    );
}

#[test]
fn rfc_fragmented_unmasked_text() {
    let mut d = client();
    assert_eq!(feed(&mut d, HEL_LO, 64), Ok(vec![text("Hello")]));
    assert!(!d.in_message());
}

#[test]
fn rfc_ping_and_masked_pong() {
    assert_eq!(
        feed(&mut client(), PING_HELLO, 64),
        Ok(vec![Got::Ping(b"Hello".to_vec())])
    );
    assert_eq!(
        feed(&mut server(), PONG_HELLO_MASKED, 64),
        Ok(vec![Got::Pong(b"Hello".to_vec())])
    );
}

#[test]
fn rfc_256_bytes_and_64_kib_binary() {
    for len in [256, 65536] {
        let (frame, payload) = binary_frame(len);
        assert_eq!(
            &frame[..2],
            if len == 256 {
                &[0x82, 0x7E][..]
            } else {
                &[0x82, 0x7F][..]
            }
        );
        assert_eq!(
            feed(&mut client(), &frame, frame.len()),
            Ok(vec![Got::Message(false, payload.clone())])
        );
        assert_eq!(
            feed(&mut client(), &frame, 1000),
            Ok(vec![Got::Message(false, payload)])
        );
    }
}

#[test]
fn unmasked_whole_frame_borrows_the_input() {
    let mut d = client();
    let (used, event) = d.decode(HELLO_UNMASKED).unwrap();
    assert_eq!(used, HELLO_UNMASKED.len());
    let Some(Event::Message { payload, .. }) = event else {
        panic!("{event:?}")
    };
    assert_eq!(payload.as_ptr(), HELLO_UNMASKED[2..].as_ptr());
}

// === resumable feeding ===

#[test]
fn byte_at_a_time_gives_the_same_events() {
    let mut stream = Vec::new();
    stream.extend_from_slice(HEL_LO);
    stream.extend_from_slice(PING_HELLO);
    stream.extend_from_slice(HELLO_UNMASKED);
    stream.extend_from_slice(&binary_frame(300).0);
    stream.extend_from_slice(&binary_frame(70000).0);
    let whole = feed(&mut client(), &stream, stream.len()).unwrap();
    assert_eq!(whole.len(), 5);
    for step in [1, 2, 3, 7, 13, 4096] {
        assert_eq!(
            feed(&mut client(), &stream, step).unwrap(),
            whole,
            "step {step}"
        );
    }
}

#[test]
fn masked_byte_at_a_time() {
    let mut stream = Vec::new();
    encode_frame(
        OpCode::Text,
        false,
        b"INVITE sip:",
        Some([1, 2, 3, 4]),
        &mut stream,
    )
    .unwrap();
    encode(OpCode::Ping, b"p", Some([9, 9, 9, 9]), &mut stream).unwrap();
    encode_frame(
        OpCode::Continuation,
        true,
        b"bob@b SIP/2.0",
        Some([5, 6, 7, 8]),
        &mut stream,
    )
    .unwrap();
    stream.extend_from_slice(HELLO_MASKED);
    let expect = vec![
        Got::Ping(b"p".to_vec()),
        text("INVITE sip:bob@b SIP/2.0"),
        text("Hello"),
    ];
    for step in [1, 2, 5, 100] {
        assert_eq!(
            feed(&mut server(), &stream, step),
            Ok(expect.clone()),
            "step {step}"
        );
    }
}

#[test]
fn partial_header_consumes_nothing() {
    let (frame, _) = binary_frame(70000);
    let mut d = client();
    for n in 0..10 {
        assert_eq!(d.decode(&frame[..n]).unwrap(), (0, None), "prefix {n}");
    }
    let (used, event) = d.decode(&frame[..20]).unwrap();
    assert_eq!((used, event), (20, None));
    assert!(d.in_message());
}

#[test]
fn interleaved_ping_inside_fragmented_message() {
    let mut stream = Vec::new();
    encode_frame(OpCode::Text, false, b"Hel", None, &mut stream).unwrap();
    encode(OpCode::Ping, b"x", None, &mut stream).unwrap();
    encode_frame(OpCode::Continuation, false, b"l", None, &mut stream).unwrap();
    encode(OpCode::Pong, b"", None, &mut stream).unwrap();
    encode_frame(OpCode::Continuation, true, b"o", None, &mut stream).unwrap();
    let expect = vec![Got::Ping(b"x".to_vec()), Got::Pong(vec![]), text("Hello")];
    for step in [1, 3, stream.len()] {
        assert_eq!(feed(&mut client(), &stream, step), Ok(expect.clone()));
    }
}

#[test]
fn utf8_split_across_fragments_is_checked_when_complete() {
    let e_acute = "é".as_bytes();
    let mut stream = Vec::new();
    encode_frame(OpCode::Text, false, &e_acute[..1], None, &mut stream).unwrap();
    encode_frame(OpCode::Continuation, true, &e_acute[1..], None, &mut stream).unwrap();
    assert_eq!(feed(&mut client(), &stream, 1), Ok(vec![text("é")]));
}

#[test]
fn binary_is_not_checked_for_utf8() {
    let mut stream = Vec::new();
    encode(OpCode::Binary, &[0xFF, 0xFE], None, &mut stream).unwrap();
    assert_eq!(
        feed(&mut client(), &stream, 9),
        Ok(vec![Got::Message(false, vec![0xFF, 0xFE])])
    );
}

// === close ===

#[test]
fn close_with_and_without_status() {
    let mut stream = Vec::new();
    close_frame(1000, "bye", Some(KEY), &mut stream).unwrap();
    stream.extend_from_slice(HELLO_MASKED);
    let mut d = server();
    assert_eq!(
        feed(&mut d, &stream, 2),
        Ok(vec![Got::Close(Some(1000), "bye".into())])
    );
    assert!(d.is_closed());
    assert_eq!(d.decode(HELLO_MASKED).unwrap(), (HELLO_MASKED.len(), None));

    let mut empty = Vec::new();
    encode(OpCode::Close, b"", None, &mut empty).unwrap();
    assert_eq!(empty, [0x88, 0x00]);
    assert_eq!(
        feed(&mut client(), &empty, 1),
        Ok(vec![Got::Close(None, String::new())])
    );
}

#[test]
fn bad_close_payloads() {
    let cases: [(&[u8], WsError, u16); 4] = [
        (&[0x03], WsError::BadClosePayload, 1002),
        (&[0x03, 0xED], WsError::BadCloseCode(1005), 1002),
        (&[0x03, 0xE7], WsError::BadCloseCode(999), 1002),
        (&[0x03, 0xE8, 0xFF], WsError::BadUtf8, 1007),
    ];
    for (payload, err, code) in cases {
        let mut frame = Vec::new();
        encode(OpCode::Close, payload, None, &mut frame).unwrap();
        assert_eq!(feed(&mut client(), &frame, 64), Err(err));
        assert_eq!(err.close_code(), code);
        let mut masked = Vec::new();
        encode(OpCode::Close, payload, Some(KEY), &mut masked).unwrap();
        assert_eq!(feed(&mut server(), &masked, 1), Err(err));
    }
}

#[test]
fn close_codes_a_peer_may_send() {
    for code in [1000, 1001, 1002, 1003, 1007, 1011, 1014, 3000, 4999] {
        assert!(valid_close_code(code), "{code}");
    }
    for code in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000] {
        assert!(!valid_close_code(code), "{code}");
    }
}

// === refusals ===

fn refused(role: Role, max: usize, bytes: &[u8]) -> WsError {
    let mut d = Decoder::new(role, max);
    let err = feed(&mut d, bytes, bytes.len()).unwrap_err();
    assert_eq!(d.decode(&[]), Err(err), "errors are sticky");
    for step in [1, 2] {
        assert_eq!(
            feed(&mut Decoder::new(role, max), bytes, step).unwrap_err(),
            err,
            "step {step}"
        );
    }
    err
}

#[test]
fn reserved_bits_are_refused() {
    for b0 in [0xC1, 0xA1, 0x91] {
        let err = refused(Role::Client, 100, &[b0, 0x01, b'x']);
        assert_eq!((err, err.close_code()), (WsError::ReservedBits, 1002));
    }
}

#[test]
fn reserved_opcodes_are_refused() {
    for op in [3u8, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] {
        let err = refused(Role::Client, 100, &[0x80 | op, 0x00]);
        assert_eq!((err, err.close_code()), (WsError::UnknownOpcode(op), 1002));
    }
}

#[test]
fn control_frame_rules() {
    assert_eq!(
        refused(Role::Client, 1000, &[0x89, 126, 0, 126]),
        WsError::ControlTooLong
    );
    assert_eq!(
        refused(Role::Client, 1000, &[0x8A, 127]),
        WsError::ControlTooLong
    );
    assert_eq!(
        refused(Role::Client, 1000, &[0x09, 0x00]),
        WsError::ControlFragmented
    );
    assert_eq!(
        refused(Role::Client, 1000, &[0x08, 0x00]),
        WsError::ControlFragmented
    );
    // 125 bytes is the most a control frame may carry.
    let mut ping = vec![0x89, 125];
    ping.extend_from_slice(&[b'a'; 125]);
    assert_eq!(
        feed(&mut client(), &ping, 1),
        Ok(vec![Got::Ping(vec![b'a'; 125])])
    );
}

#[test]
fn masking_follows_the_role() {
    assert_eq!(
        refused(Role::Server, 100, HELLO_UNMASKED),
        WsError::Unmasked
    );
    assert_eq!(refused(Role::Client, 100, HELLO_MASKED), WsError::Masked);
}

#[test]
fn length_with_top_bit_set_is_refused() {
    let mut frame = vec![0x82, 0x7F];
    frame.extend_from_slice(&(1u64 << 63).to_be_bytes());
    assert_eq!(
        refused(Role::Client, usize::MAX, &frame),
        WsError::LengthOverflow
    );
}

#[test]
fn oversize_messages_are_refused_with_1009() {
    let (frame, _) = binary_frame(101);
    let err = refused(Role::Client, 100, &frame);
    assert_eq!((err, err.close_code()), (WsError::TooBig, 1009));
    // Exactly the limit passes.
    let (frame, payload) = binary_frame(100);
    assert_eq!(
        feed(&mut Decoder::new(Role::Client, 100), &frame, 1),
        Ok(vec![Got::Message(false, payload)])
    );
    // Fragments that only together pass the limit.
    let mut stream = Vec::new();
    encode_frame(OpCode::Text, false, &[b'a'; 60], Some(KEY), &mut stream).unwrap();
    encode_frame(
        OpCode::Continuation,
        true,
        &[b'a'; 41],
        Some(KEY),
        &mut stream,
    )
    .unwrap();
    assert_eq!(refused(Role::Server, 100, &stream), WsError::TooBig);
}

#[test]
fn fragment_sequencing() {
    let mut stray = Vec::new();
    encode_frame(OpCode::Continuation, true, b"x", None, &mut stray).unwrap();
    assert_eq!(
        refused(Role::Client, 100, &stray),
        WsError::UnexpectedContinuation
    );

    let mut nested = Vec::new();
    encode_frame(OpCode::Text, false, b"a", None, &mut nested).unwrap();
    encode(OpCode::Binary, b"b", None, &mut nested).unwrap();
    assert_eq!(
        refused(Role::Client, 100, &nested),
        WsError::ExpectedContinuation
    );
}

#[test]
fn bad_utf8_text_is_refused_with_1007() {
    let mut frame = Vec::new();
    encode(OpCode::Text, &[b'a', 0xC3], Some(KEY), &mut frame).unwrap();
    let err = refused(Role::Server, 100, &frame);
    assert_eq!((err, err.close_code()), (WsError::BadUtf8, 1007));
    let mut unmasked = Vec::new();
    encode(OpCode::Text, &[0xFF], None, &mut unmasked).unwrap();
    assert_eq!(refused(Role::Client, 100, &unmasked), WsError::BadUtf8);
}

// === encoder ===

#[test]
fn encoder_writes_the_rfc_examples() {
    let mut out = Vec::new();
    encode(OpCode::Text, b"Hello", None, &mut out).unwrap();
    assert_eq!(out, HELLO_UNMASKED);
    out.clear();
    encode(OpCode::Text, b"Hello", Some(KEY), &mut out).unwrap();
    assert_eq!(out, HELLO_MASKED);
    out.clear();
    encode_frame(OpCode::Text, false, b"Hel", None, &mut out).unwrap();
    encode_frame(OpCode::Continuation, true, b"lo", None, &mut out).unwrap();
    assert_eq!(out, HEL_LO);
    out.clear();
    encode(OpCode::Ping, b"Hello", None, &mut out).unwrap();
    assert_eq!(out, PING_HELLO);
    out.clear();
    encode(OpCode::Pong, b"Hello", Some(KEY), &mut out).unwrap();
    assert_eq!(out, PONG_HELLO_MASKED);
    for len in [256, 65536] {
        let (frame, payload) = binary_frame(len);
        out.clear();
        encode(OpCode::Binary, &payload, None, &mut out).unwrap();
        assert_eq!(out, frame);
    }
}

#[test]
fn encoder_round_trips_every_length_class() {
    for len in [0, 1, 7, 8, 9, 125, 126, 127, 65535, 65536, 100_001] {
        let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let mut masked = Vec::new();
        encode(
            OpCode::Binary,
            &payload,
            Some([0xA5, 0x01, 0xFF, 0x10]),
            &mut masked,
        )
        .unwrap();
        assert_eq!(
            feed(&mut server(), &masked, 997),
            Ok(vec![Got::Message(false, payload.clone())]),
            "{len}"
        );
        let mut plain = Vec::new();
        encode(OpCode::Binary, &payload, None, &mut plain).unwrap();
        assert_eq!(
            feed(&mut client(), &plain, 997),
            Ok(vec![Got::Message(false, payload)]),
            "{len}"
        );
    }
}

#[test]
fn encoder_refuses_bad_control_frames() {
    let mut out = vec![1, 2];
    assert_eq!(
        encode(OpCode::Ping, &[0; 126], None, &mut out),
        Err(WsError::ControlTooLong)
    );
    assert_eq!(
        encode_frame(OpCode::Pong, false, b"", None, &mut out),
        Err(WsError::ControlFragmented)
    );
    assert_eq!(
        close_frame(1000, &"x".repeat(124), None, &mut out),
        Err(WsError::ControlTooLong)
    );
    assert_eq!(out, [1, 2]);
    close_frame(1001, &"x".repeat(123), None, &mut out).unwrap();
    assert_eq!(&out[2..6], &[0x88, 125, 0x03, 0xE9]);
}

#[test]
fn close_frame_bytes() {
    let mut out = Vec::new();
    close_frame(CLOSE_TOO_BIG, "big", None, &mut out).unwrap();
    assert_eq!(out, [0x88, 0x05, 0x03, 0xF1, b'b', b'i', b'g']);
}

#[test]
fn mask_applies_at_any_offset() {
    let data: Vec<u8> = (0..37).collect();
    let mut whole = data.clone();
    mask::apply(&mut whole, KEY, 0);
    for split in 0..data.len() {
        let mut parts = data.clone();
        let (a, b) = parts.split_at_mut(split);
        mask::apply(a, KEY, 0);
        mask::apply(b, KEY, split);
        assert_eq!(parts, whole, "split {split}");
    }
    assert_eq!(whole[..4], [KEY[0], 1 ^ KEY[1], 2 ^ KEY[2], 3 ^ KEY[3]]);
}

#[test]
fn warm_decoder_and_encoder_do_not_allocate() {
    let mut d = server();
    let mut out = Vec::with_capacity(4096);
    let message = [b'S'; 1500];
    let run = |d: &mut Decoder, out: &mut Vec<u8>| {
        out.clear();
        encode_frame(OpCode::Text, false, &message[..700], Some(KEY), out).unwrap();
        encode(OpCode::Ping, b"k", Some(KEY), out).unwrap();
        encode_frame(OpCode::Continuation, true, &message[700..], Some(KEY), out).unwrap();
        encode(OpCode::Text, &message, Some(KEY), out).unwrap();
        let mut off = 0;
        let mut events = 0;
        while let (used, Some(_)) = d.decode(&out[off..]).unwrap() {
            off += used;
            events += 1;
        }
        assert_eq!((events, off), (3, out.len()));
    };
    run(&mut d, &mut out);
    let before = crate::test_alloc::allocations();
    for _ in 0..100 {
        run(&mut d, &mut out);
    }
    assert_eq!(crate::test_alloc::allocations() - before, 0);
}
