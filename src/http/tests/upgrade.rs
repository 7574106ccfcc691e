//! WebSocket upgrades: the SIP subprotocol goes to the node's wsPort, and
//! after `101` the pair is a raw tunnel.

use super::*;

const UPGRADE: &[u8] = b"GET /ws HTTP/1.1\r\nHost: lb\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: sip\r\n\r\n";
const SWITCHED: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: sip\r\n\r\n";

#[test]
fn sip_websocket_is_tunnelled_to_the_ws_port() {
    let mut net = Net::two();
    let c = net.client();
    net.send(c, UPGRADE);
    let (_, addr, tls) = *net.connects.back().unwrap();
    assert_eq!(addr.port(), 5062);
    assert!(!tls);
    let up = net.accept();
    let got = net.take_text(up);
    assert!(
        got.contains("Upgrade: websocket\r\n") && got.contains("Connection: upgrade\r\n"),
        "{got}"
    );
    // Early frame bytes from the client wait for the 101.
    let frame_c = [
        0x81u8,
        0x85,
        1,
        2,
        3,
        4,
        b'h' ^ 1,
        b'e' ^ 2,
        b'l' ^ 3,
        b'l' ^ 4,
        b'o' ^ 1,
    ];
    net.send(c, &frame_c);
    assert!(net.take(up).is_empty());
    let mut resp = SWITCHED.to_vec();
    let frame_n = [0x82u8, 0x02, 0xff, 0x00];
    resp.extend_from_slice(&frame_n);
    net.send(up, &resp);
    let text = net.take(c);
    assert!(text.starts_with(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"));
    assert!(text.ends_with(&frame_n), "bytes after the 101 head pass");
    assert_eq!(net.take(up), frame_c, "early client bytes follow the 101");
    // Raw both ways, any bytes (binary, pings, anything).
    for i in 0..=255u8 {
        net.send(c, &[i, 0, i]);
        net.send(up, &[0, i]);
    }
    assert_eq!(net.take(up).len(), 256 * 3);
    assert_eq!(net.take(c).len(), 256 * 2);
    assert_eq!(net.counters().tunnels, 1);
    net.hang_up(up);
    assert!(net.is_closed(c));
}

#[test]
fn other_websockets_go_to_the_http_port() {
    let mut net = Net::two();
    let c = net.client();
    let req =
        b"GET /chat HTTP/1.1\r\nHost: lb\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n";
    net.send(c, req);
    assert_eq!(net.connects.back().unwrap().1.port(), 8080);
}

#[test]
fn refused_upgrade_is_a_plain_response() {
    let mut net = Net::two();
    let c = net.client();
    let (up, _) = net.request_to_new_node(c, UPGRADE);
    net.send(up, b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    assert!(net.take_text(c).starts_with("HTTP/1.1 400 Bad Request\r\n"));
    net.send(c, &get("/after"));
    assert_eq!(net.connects.back().unwrap().1.port(), 8080);
}

#[test]
fn unasked_101_is_502() {
    let mut net = Net::two();
    let c = net.client();
    let (up, _) = net.request_to_new_node(c, &get("/"));
    net.send(up, SWITCHED);
    assert!(net.take_text(c).starts_with("HTTP/1.1 502 "));
}
