//! A real peer: Python's `websockets` library (asyncio client and server)
//! over loopback TCP, against a blocking std::net driver of this codec, in
//! both roles. Skipped (with a note on stderr) where `python3 -c "import
//! websockets"` fails.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::ws::frame::{self, Decoder, Event, OpCode, Role};
use crate::ws::handshake::{parse_request, ClientHandshake};

fn have_websockets() -> bool {
    let ok = Command::new("python3")
        .args([
            "-c",
            "import websockets.asyncio.client, websockets.asyncio.server",
        ])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("skipped: python3 with the websockets package is not installed");
    }
    ok
}

fn python(script: &str, arg: &str) -> Child {
    Command::new("python3")
        .args(["-c", script, arg])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Kills the peer if the test fails before it exits.
struct Reap(Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads until `ready` takes a complete head; returns the bytes read.
fn read_head(
    sock: &mut TcpStream,
    mut ready: impl FnMut(&[u8]) -> Option<usize>,
) -> (Vec<u8>, usize) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 512];
    loop {
        if let Some(n) = ready(&buf) {
            return (buf, n);
        }
        let n = sock.read(&mut chunk).unwrap();
        assert!(n > 0, "peer closed during the handshake");
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Decodes frames from the socket until `on_event` returns false.
fn frames(
    sock: &mut TcpStream,
    mut pending: Vec<u8>,
    role: Role,
    mut on_event: impl FnMut(Event<'_>) -> bool,
) {
    let mut decoder = Decoder::new(role, 1 << 20);
    let mut chunk = [0u8; 1024];
    loop {
        let mut off = 0;
        loop {
            let (used, event) = decoder.decode(&pending[off..]).unwrap();
            off += used;
            match event {
                Some(e) if !on_event(e) => return,
                Some(_) => {}
                None => break,
            }
        }
        pending.drain(..off);
        let n = sock.read(&mut chunk).unwrap();
        assert!(n > 0, "peer closed without a close frame");
        pending.extend_from_slice(&chunk[..n]);
    }
}

const CLIENT: &str = r#"
import asyncio, sys
from websockets.asyncio.client import connect
async def main():
    async with connect("ws://127.0.0.1:" + sys.argv[1] + "/sip", subprotocols=["sip"], max_size=None) as ws:
        assert ws.subprotocol == "sip", ws.subprotocol
        await ws.send("REGISTER sip:example.com SIP/2.0\r\n\r\n")
        assert await ws.recv() == "REGISTER sip:example.com SIP/2.0\r\n\r\n"
        await ws.send(b"\x00\xffbinary")
        assert await ws.recv() == b"\x00\xffbinary"
        await ws.send(["INVITE ", "sip:bob@b ", "SIP/2.0"])
        assert await ws.recv() == "INVITE sip:bob@b SIP/2.0"
        big = "x" * 70000
        await ws.send(big)
        assert await ws.recv() == big
        pong = await ws.ping(b"abc")
        await asyncio.wait_for(pong, 5)
        await ws.close(1000, "bye")
        assert ws.close_code == 1000, ws.close_code
    print("client ok")
asyncio.run(main())
"#;

#[test]
fn python_client_against_our_server() {
    if !have_websockets() {
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let mut peer = Reap(python(CLIENT, &port));
    let (mut sock, _) = listener.accept().unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();

    let (buf, head_len) = read_head(&mut sock, |b| {
        parse_request(b, 8192).unwrap().map(|r| r.head_len)
    });
    let req = parse_request(&buf, 8192).unwrap().unwrap();
    assert_eq!((req.path, req.offers_sip), ("/sip", true));
    let mut out = Vec::new();
    req.write_accept(&mut out);
    sock.write_all(&out).unwrap();

    let mut writer = sock.try_clone().unwrap();
    let (mut messages, mut pings) = (0, 0);
    let mut close = None;
    frames(&mut sock, buf[head_len..].to_vec(), Role::Server, |event| {
        out.clear();
        match event {
            Event::Message { text, payload } => {
                messages += 1;
                let op = if text { OpCode::Text } else { OpCode::Binary };
                frame::encode(op, payload, None, &mut out).unwrap();
            }
            Event::Ping(p) => {
                pings += 1;
                frame::encode(OpCode::Pong, p, None, &mut out).unwrap();
            }
            Event::Pong(_) => {}
            Event::Close { code, reason } => {
                close = Some((code, reason.to_owned()));
                frame::close_frame(code.unwrap_or(1000), "", None, &mut out).unwrap();
            }
        }
        writer.write_all(&out).unwrap();
        close.is_none()
    });
    assert_eq!(
        (messages, pings, close),
        (4, 1, Some((Some(1000), "bye".to_owned())))
    );
    // The server closes the TCP connection first (RFC 6455 §7.1.1).
    drop((sock, writer));
    let mut output = String::new();
    peer.0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut output)
        .unwrap();
    assert!(peer.0.wait().unwrap().success(), "the Python client failed");
    assert_eq!(output, "client ok\n");
}

const SERVER: &str = r#"
import asyncio, sys
from websockets.asyncio.server import serve
async def echo(ws):
    assert ws.subprotocol == "sip", ws.subprotocol
    async for message in ws:
        await ws.send(message)
    print("closed", ws.close_code, ws.close_reason, flush=True)
async def main():
    async with serve(echo, "127.0.0.1", 0, subprotocols=["sip"], max_size=None) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        await asyncio.wait_for(server.serve_forever(), 20)
asyncio.run(main())
"#;

#[test]
fn our_client_against_python_server() {
    if !have_websockets() {
        return;
    }
    let mut peer = Reap(python(SERVER, ""));
    let mut lines = BufReader::new(peer.0.stdout.take().unwrap()).lines();
    let port = lines.next().unwrap().unwrap();
    let mut sock = TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();

    let hs = ClientHandshake::new(*b"0123456789abcdef");
    let mut out = Vec::new();
    hs.write_request(&format!("127.0.0.1:{port}"), "/", &mut out)
        .unwrap();
    sock.write_all(&out).unwrap();
    let (buf, head_len) = read_head(&mut sock, |b| {
        hs.parse_response(b, 8192).unwrap().map(|r| r.head_len)
    });

    // Masked frames: a text message, a binary one, one in three fragments
    // with a ping between them, and a 70 000-byte one.
    out.clear();
    let big = vec![b'y'; 70_000];
    frame::encode(
        OpCode::Text,
        b"OPTIONS sip:n SIP/2.0\r\n\r\n",
        Some([1, 2, 3, 4]),
        &mut out,
    )
    .unwrap();
    frame::encode(OpCode::Binary, &[0, 0xFF, 7], Some([9, 8, 7, 6]), &mut out).unwrap();
    frame::encode_frame(OpCode::Text, false, b"BYE ", Some([0xAA; 4]), &mut out).unwrap();
    frame::encode(OpCode::Ping, b"hb", Some([5; 4]), &mut out).unwrap();
    frame::encode_frame(
        OpCode::Continuation,
        false,
        b"sip:a ",
        Some([0x11, 0, 0, 0x22]),
        &mut out,
    )
    .unwrap();
    frame::encode_frame(
        OpCode::Continuation,
        true,
        b"SIP/2.0",
        Some([0; 4]),
        &mut out,
    )
    .unwrap();
    frame::encode(OpCode::Text, &big, Some([0x5A, 0xA5, 0x3C, 0xC3]), &mut out).unwrap();
    sock.write_all(&out).unwrap();

    let (mut got, mut pongs) = (Vec::new(), Vec::new());
    let mut writer = sock.try_clone().unwrap();
    frames(
        &mut sock,
        buf[head_len..].to_vec(),
        Role::Client,
        |event| match event {
            Event::Message { text, payload } => {
                got.push((
                    text,
                    payload.len(),
                    payload.get(..4).unwrap_or(payload).to_vec(),
                ));
                if got.len() == 4 {
                    out.clear();
                    frame::close_frame(1001, "shutdown", Some([7, 7, 7, 7]), &mut out).unwrap();
                    writer.write_all(&out).unwrap();
                }
                true
            }
            Event::Pong(p) => {
                pongs.push(p.to_vec());
                true
            }
            Event::Ping(_) => true,
            Event::Close { code, .. } => {
                assert_eq!(code, Some(1001));
                false
            }
        },
    );
    assert_eq!(
        got,
        [
            (true, 25, b"OPTI".to_vec()),
            (false, 3, vec![0, 0xFF, 7]),
            (true, 17, b"BYE ".to_vec()),
            (true, 70_000, b"yyyy".to_vec()),
        ]
    );
    assert_eq!(pongs, [b"hb"]);
    drop((sock, writer));
    assert_eq!(lines.next().unwrap().unwrap(), "closed 1001 shutdown");
}
