//! Handshake tests: the RFC 6455 §1.3 / §4 and RFC 7118 examples byte for
//! byte, incomplete heads, and each refusal with its HTTP status.

use super::*;

/// RFC 7118 §A.1's request (the RFC 6455 sample key).
const SIP_REQUEST: &[u8] = b"GET / HTTP/1.1\r\n\
Host: sip-ws.example.com\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Origin: http://www.example.com\r\n\
Sec-WebSocket-Protocol: sip\r\n\
Sec-WebSocket-Version: 13\r\n\r\n";

/// RFC 7118 §A.1's response.
const SIP_RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
Sec-WebSocket-Protocol: sip\r\n\r\n";

const NONCE: [u8; 16] = *b"the sample nonce";

fn with(request: &[u8], from: &str, to: &str) -> Vec<u8> {
    let text = std::str::from_utf8(request).unwrap();
    assert!(text.contains(from), "{from}");
    text.replacen(from, to, 1).into_bytes()
}

#[test]
fn rfc_accept_example() {
    assert_eq!(
        &accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
        b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
}

#[test]
fn parses_the_rfc_7118_request() {
    let req = parse_request(SIP_REQUEST, 4096).unwrap().unwrap();
    assert_eq!(
        req,
        Request {
            path: "/",
            host: "sip-ws.example.com",
            key: "dGhlIHNhbXBsZSBub25jZQ==",
            offers_sip: true,
            origin: Some("http://www.example.com"),
            head_len: SIP_REQUEST.len(),
        }
    );
    let mut out = Vec::new();
    req.write_accept(&mut out);
    assert_eq!(out, SIP_RESPONSE);
}

#[test]
fn rfc_6455_chat_request_does_not_offer_sip() {
    let request = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://example.com\r\n\
Sec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n\r\n";
    let req = parse_request(request, 4096).unwrap().unwrap();
    assert_eq!((req.path, req.offers_sip), ("/chat", false));
    let mut out = Vec::new();
    req.write_accept(&mut out);
    assert_eq!(
        out,
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
    );
}

#[test]
fn every_prefix_is_incomplete_and_frames_may_follow() {
    for n in 0..SIP_REQUEST.len() {
        assert_eq!(
            parse_request(&SIP_REQUEST[..n], 4096),
            Ok(None),
            "prefix {n}"
        );
    }
    let mut buf = SIP_REQUEST.to_vec();
    buf.extend_from_slice(&[0x81, 0x85, 1, 2, 3, 4]);
    assert_eq!(
        parse_request(&buf, 4096).unwrap().unwrap().head_len,
        SIP_REQUEST.len()
    );
}

#[test]
fn names_and_tokens_are_case_insensitive_and_lists_are_split() {
    let request = b"GET /ws?x=1 HTTP/1.1\r\nhost:a:5060\r\nUPGRADE:  WebSocket \r\n\
connection: keep-alive, Upgrade\r\nsec-websocket-key:dGhlIHNhbXBsZSBub25jZQ==\r\n\
SEC-WEBSOCKET-VERSION: 13\r\nSec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: foo, SIP\r\n\r\n";
    let req = parse_request(request, 4096).unwrap().unwrap();
    assert_eq!(
        (req.path, req.host, req.offers_sip, req.origin),
        ("/ws?x=1", "a:5060", true, None)
    );
}

#[test]
fn head_size_limit() {
    assert_eq!(
        parse_request(SIP_REQUEST, SIP_REQUEST.len())
            .unwrap()
            .unwrap()
            .head_len,
        SIP_REQUEST.len()
    );
    assert_eq!(
        parse_request(SIP_REQUEST, SIP_REQUEST.len() - 1),
        Err(HandshakeError::TooLarge)
    );
    assert_eq!(
        parse_request(&SIP_REQUEST[..100], 100),
        Err(HandshakeError::TooLarge)
    );
    assert_eq!(parse_request(&SIP_REQUEST[..99], 100), Ok(None));
    assert_eq!(HandshakeError::TooLarge.status(), 431);
}

#[test]
fn refusals() {
    let cases: Vec<(Vec<u8>, HandshakeError)> = vec![
        (with(SIP_REQUEST, "GET", "POST"), HandshakeError::NotGet),
        (
            with(SIP_REQUEST, "HTTP/1.1", "HTTP/1.0"),
            HandshakeError::NotHttp11,
        ),
        (
            with(SIP_REQUEST, " HTTP/1.1", ""),
            HandshakeError::NotHttp11,
        ),
        (
            with(SIP_REQUEST, "GET / HTTP/1.1", "GET"),
            HandshakeError::Malformed,
        ),
        (
            with(SIP_REQUEST, "Upgrade: websocket", "Upgrade: h2c"),
            HandshakeError::NoUpgrade,
        ),
        (
            with(SIP_REQUEST, "Connection: Upgrade", "Connection: close"),
            HandshakeError::NoConnectionUpgrade,
        ),
        (
            with(SIP_REQUEST, "Version: 13", "Version: 8"),
            HandshakeError::BadVersion,
        ),
        (
            with(SIP_REQUEST, "Sec-WebSocket-Version: 13\r\n", ""),
            HandshakeError::BadVersion,
        ),
        (
            with(
                SIP_REQUEST,
                "dGhlIHNhbXBsZSBub25jZQ==",
                "dGhlIHNhbXBsZSBub25j",
            ),
            HandshakeError::BadKey,
        ),
        // Base64 of 15 bytes padded out to 24 characters is not a key.
        (
            with(
                SIP_REQUEST,
                "dGhlIHNhbXBsZSBub25jZQ==",
                "dGhlIHNhbXBsZSBub25jZQ=A",
            ),
            HandshakeError::BadKey,
        ),
        (
            with(
                SIP_REQUEST,
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
                "",
            ),
            HandshakeError::BadKey,
        ),
        (
            with(SIP_REQUEST, "Host: sip-ws.example.com\r\n", ""),
            HandshakeError::NoHost,
        ),
        (
            with(SIP_REQUEST, "Host: sip-ws.example.com", "Host:"),
            HandshakeError::NoHost,
        ),
        (
            with(SIP_REQUEST, "Origin", "Host"),
            HandshakeError::Duplicate,
        ),
        (
            with(SIP_REQUEST, "Origin:", "Origin"),
            HandshakeError::Malformed,
        ),
        (
            with(SIP_REQUEST, "Origin:", "Or igin:"),
            HandshakeError::Malformed,
        ),
        (
            with(SIP_REQUEST, "Origin: http", "Origin: \x01http"),
            HandshakeError::Malformed,
        ),
        (
            with(SIP_REQUEST, "\r\nOrigin", "\r\n folded"),
            HandshakeError::Malformed,
        ),
        (
            with(SIP_REQUEST, "GET / ", "GET /\x7f "),
            HandshakeError::BadTarget,
        ),
    ];
    for (request, err) in cases {
        assert_eq!(
            parse_request(&request, 4096),
            Err(err),
            "{}",
            String::from_utf8_lossy(&request)
        );
    }
}

#[test]
fn error_responses() {
    let mut out = Vec::new();
    HandshakeError::BadVersion.write_response(&mut out);
    assert_eq!(
        out,
        b"HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    out.clear();
    HandshakeError::BadKey.write_response(&mut out);
    assert!(out.starts_with(b"HTTP/1.1 400 Bad Request\r\n"));
    out.clear();
    write_error(7, "No\r\nX: y", &mut out);
    assert!(out.starts_with(b"HTTP/1.1 100 NoX: y\r\nSec-WebSocket-Version"));
}

// === client side ===

#[test]
fn client_request_bytes() {
    let hs = ClientHandshake::new(NONCE);
    assert_eq!(hs.key(), b"dGhlIHNhbXBsZSBub25jZQ==");
    let mut out = Vec::new();
    hs.write_request("10.0.0.5:5082", "/", &mut out).unwrap();
    assert_eq!(
        out,
        b"GET / HTTP/1.1\r\nHost: 10.0.0.5:5082\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: sip\r\n\r\n"
    );
    assert_eq!(
        hs.write_request("a b", "/", &mut out),
        Err(HandshakeError::NoHost)
    );
    assert_eq!(
        hs.write_request("a", "/\r\nX: y", &mut out),
        Err(HandshakeError::BadTarget)
    );
    assert_eq!(
        hs.write_request("a", "", &mut out),
        Err(HandshakeError::BadTarget)
    );
}

#[test]
fn client_accepts_the_rfc_7118_response() {
    let hs = ClientHandshake::new(NONCE);
    for n in 0..SIP_RESPONSE.len() {
        assert_eq!(
            hs.parse_response(&SIP_RESPONSE[..n], 4096),
            Ok(None),
            "prefix {n}"
        );
    }
    let mut buf = SIP_RESPONSE.to_vec();
    buf.extend_from_slice(&[0x81, 0x00]);
    assert_eq!(
        hs.parse_response(&buf, 4096),
        Ok(Some(Response {
            head_len: SIP_RESPONSE.len()
        }))
    );
    let bare = with(SIP_RESPONSE, " Switching Protocols", "");
    assert!(
        hs.parse_response(&bare, 4096).unwrap().is_some(),
        "the reason phrase is optional"
    );
}

#[test]
fn client_refusals() {
    let hs = ClientHandshake::new(NONCE);
    let cases: Vec<(Vec<u8>, HandshakeError)> = vec![
        (
            with(SIP_RESPONSE, "101 Switching Protocols", "200 OK"),
            HandshakeError::BadStatus(200),
        ),
        (
            with(SIP_RESPONSE, "101 Switching Protocols", "1x1 What"),
            HandshakeError::BadStatus(0),
        ),
        (
            with(SIP_RESPONSE, "HTTP/1.1", "HTTP/1.0"),
            HandshakeError::NotHttp11,
        ),
        (
            with(
                SIP_RESPONSE,
                "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
                "s3pPLMBiTxaQ9kYGzzhZRbK+xOo",
            ),
            HandshakeError::BadAccept,
        ),
        (
            with(
                SIP_RESPONSE,
                "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n",
                "",
            ),
            HandshakeError::BadAccept,
        ),
        (
            with(SIP_RESPONSE, "Sec-WebSocket-Protocol: sip\r\n", ""),
            HandshakeError::NoProtocol,
        ),
        (
            with(SIP_RESPONSE, "Protocol: sip", "Protocol: chat"),
            HandshakeError::NoProtocol,
        ),
        (
            with(SIP_RESPONSE, "Upgrade: websocket", "Upgrade: h2c"),
            HandshakeError::NoUpgrade,
        ),
        (
            with(SIP_RESPONSE, "Connection: Upgrade", "Connection: close"),
            HandshakeError::NoConnectionUpgrade,
        ),
        (
            with(
                SIP_RESPONSE,
                "\r\n\r\n",
                "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
            ),
            HandshakeError::UnexpectedExtension,
        ),
    ];
    for (response, err) in cases {
        assert_eq!(
            hs.parse_response(&response, 4096),
            Err(err),
            "{}",
            String::from_utf8_lossy(&response)
        );
    }
    // Another nonce expects another accept value.
    let other = ClientHandshake::new([0; 16]);
    assert_eq!(
        other.parse_response(SIP_RESPONSE, 4096),
        Err(HandshakeError::BadAccept)
    );
}

#[test]
fn client_and_server_agree() {
    for nonce in [[0u8; 16], [0xFF; 16], NONCE] {
        let hs = ClientHandshake::new(nonce);
        let mut request = Vec::new();
        hs.write_request("node1:5082", "/sip", &mut request)
            .unwrap();
        let req = parse_request(&request, 4096).unwrap().unwrap();
        assert_eq!(
            (req.host, req.path, req.offers_sip, req.head_len),
            ("node1:5082", "/sip", true, request.len())
        );
        let mut response = Vec::new();
        req.write_accept(&mut response);
        assert_eq!(
            hs.parse_response(&response, 4096),
            Ok(Some(Response {
                head_len: response.len()
            }))
        );
    }
}
