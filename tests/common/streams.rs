//! Stream peers for the TLS and WebSocket tests, written independently of
//! the crate's own `tls` and `ws` modules (so a bug there cannot hide in
//! the assertions): TLS is rustls driven directly over a `TcpStream`,
//! WebSocket (RFC 6455, RFC 7118 `sip` subprotocol) is a small hand-written
//! handshake and frame codec here.
//!
//! [`SipStream`] is one connection carrying SIP over TCP, TLS, WS or WSS,
//! either side; [`StreamNode`] is a node listening on one of those,
//! accepting the balancer's connections and queuing what they carry.
//! Every WebSocket data frame received is recorded ([`FrameInfo`]), so a
//! test can check masking and that each frame holds one SIP message.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};
use sha1::{Digest as _, Sha1};

use super::sip::Msg;

/// Which stream transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Plain TCP.
    Tcp,
    /// TLS.
    Tls,
    /// WebSocket.
    Ws,
    /// WebSocket over TLS.
    Wss,
}

impl Kind {
    /// Whether TLS is under it.
    pub fn tls(self) -> bool {
        matches!(self, Kind::Tls | Kind::Wss)
    }

    /// Whether a WebSocket is on top.
    pub fn ws(self) -> bool {
        matches!(self, Kind::Ws | Kind::Wss)
    }

    /// Via token (`TCP`, `TLS`, `WS`, `WSS`).
    pub fn via(self) -> &'static str {
        match self {
            Kind::Tcp => "TCP",
            Kind::Tls => "TLS",
            Kind::Ws => "WS",
            Kind::Wss => "WSS",
        }
    }

    /// URI `transport=` token.
    pub fn uri(self) -> &'static str {
        match self {
            Kind::Tcp => "tcp",
            Kind::Tls => "tls",
            Kind::Ws => "ws",
            Kind::Wss => "wss",
        }
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certs(path: &Path) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_file_iter(path)
        .expect("read certificates")
        .collect::<Result<Vec<_>, _>>()
        .expect("parse certificates")
}

fn key(path: &Path) -> PrivateKeyDer<'static> {
    PrivateKeyDer::from_pem_file(path).expect("read private key")
}

fn roots(ca: &Path) -> Arc<RootCertStore> {
    let mut roots = RootCertStore::empty();
    for c in certs(ca) {
        roots.add(c).expect("CA as anchor");
    }
    Arc::new(roots)
}

/// A rustls client configuration trusting `ca`, presenting `(chain, key)`
/// when given.
pub fn client_config(ca: &Path, identity: Option<(&Path, &Path)>) -> Arc<ClientConfig> {
    let b = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots(ca));
    let cfg = match identity {
        Some((chain, k)) => b
            .with_client_auth_cert(certs(chain), key(k))
            .expect("client identity"),
        None => b.with_no_client_auth(),
    };
    Arc::new(cfg)
}

/// A rustls server configuration with `(chain, key)`, requiring client
/// certificates from `client_ca` when given.
pub fn server_config(chain: &Path, k: &Path, client_ca: Option<&Path>) -> Arc<ServerConfig> {
    let b = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("versions");
    let b = match client_ca {
        Some(ca) => b.with_client_cert_verifier(
            WebPkiClientVerifier::builder_with_provider(roots(ca), provider())
                .build()
                .expect("verifier"),
        ),
        None => b.with_no_client_auth(),
    };
    Arc::new(
        b.with_single_cert(certs(chain), key(k))
            .expect("server identity"),
    )
}

/// Read + Write over whatever is under the SIP bytes.
trait Io: Read + Write + Send {}
impl<T: Read + Write + Send> Io for T {}

/// One received WebSocket data frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameInfo {
    /// Opcode (1 text, 2 binary, 0 continuation).
    pub opcode: u8,
    /// FIN bit.
    pub fin: bool,
    /// The frame was masked.
    pub masked: bool,
    /// Payload length.
    pub len: usize,
}

/// Which end of a WebSocket we are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WsRole {
    Client,
    Server,
}

/// One SIP connection over TCP, TLS, WS or WSS.
pub struct SipStream {
    io: Box<dyn Io>,
    tcp: TcpStream,
    /// Transport.
    pub kind: Kind,
    ws: Option<WsRole>,
    /// Undecoded WebSocket bytes.
    raw: Vec<u8>,
    /// SIP bytes not yet framed.
    sip: Vec<u8>,
    /// WebSocket data frames received so far.
    pub frames: Vec<FrameInfo>,
    /// The WebSocket opening request (server side) or response (client side).
    pub ws_head: String,
    /// The peer closed (EOF, TLS close, WebSocket close).
    pub closed: bool,
    /// SIP messages taken off this connection so far.
    pub messages: usize,
    /// Payloads of the WebSocket pongs received.
    pub pongs: Vec<Vec<u8>>,
    mask_seed: u32,
}

/// Reads a TLS handshake to its end (or its failure).
pub fn drive_handshake<C, S>(conn: &mut C, sock: &mut TcpStream) -> Result<(), String>
where
    C: std::ops::DerefMut<Target = rustls::ConnectionCommon<S>>,
    S: rustls::SideData,
{
    let deadline = Instant::now() + Duration::from_secs(3);
    while conn.is_handshaking() {
        if Instant::now() > deadline {
            return Err("TLS handshake timed out".into());
        }
        match conn.complete_io(sock) {
            Ok((0, 0)) => return Err("EOF during the TLS handshake".into()),
            Ok(_) => {}
            Err(e) => return Err(format!("TLS handshake: {e}")),
        }
    }
    // Flush the last flight (a client's Finished).
    while conn.wants_write() {
        conn.write_tls(sock)
            .map_err(|e| format!("TLS write: {e}"))?;
    }
    Ok(())
}

impl SipStream {
    /// Connects to `addr` over `kind`. TLS kinds need `tls`; the server
    /// name is the address's IP. Err: what failed (TCP, TLS or WebSocket
    /// handshake).
    pub fn connect(
        kind: Kind,
        addr: SocketAddr,
        tls: Option<Arc<ClientConfig>>,
    ) -> Result<SipStream, String> {
        let mut tcp = TcpStream::connect_timeout(&addr, Duration::from_secs(2))
            .map_err(|e| format!("connect {addr}: {e}"))?;
        tcp.set_nodelay(true).ok();
        tcp.set_read_timeout(Some(Duration::from_millis(200))).ok();
        let clone = tcp.try_clone().map_err(|e| e.to_string())?;
        let io: Box<dyn Io> = if kind.tls() {
            let cfg = tls.ok_or("TLS needs a client config")?;
            let name = ServerName::IpAddress(addr.ip().into());
            let mut conn = ClientConnection::new(cfg, name).map_err(|e| e.to_string())?;
            drive_handshake(&mut conn, &mut tcp)?;
            Box::new(rustls::StreamOwned::new(conn, tcp))
        } else {
            Box::new(tcp)
        };
        let mut s = SipStream::new(io, clone, kind);
        if kind.ws() {
            s.ws = Some(WsRole::Client);
            s.ws_client_handshake(addr)?;
        }
        Ok(s)
    }

    /// The server side of an accepted connection (handshakes done).
    fn accept(
        mut tcp: TcpStream,
        kind: Kind,
        tls: Option<&Arc<ServerConfig>>,
    ) -> Result<SipStream, String> {
        tcp.set_nonblocking(false).ok();
        tcp.set_nodelay(true).ok();
        tcp.set_read_timeout(Some(Duration::from_millis(200))).ok();
        let clone = tcp.try_clone().map_err(|e| e.to_string())?;
        let io: Box<dyn Io> = if kind.tls() {
            let cfg = tls.ok_or("TLS needs a server config")?;
            let mut conn = ServerConnection::new(Arc::clone(cfg)).map_err(|e| e.to_string())?;
            drive_handshake(&mut conn, &mut tcp)?;
            Box::new(rustls::StreamOwned::new(conn, tcp))
        } else {
            Box::new(tcp)
        };
        let mut s = SipStream::new(io, clone, kind);
        if kind.ws() {
            s.ws = Some(WsRole::Server);
            s.ws_server_handshake()?;
        }
        Ok(s)
    }

    fn new(io: Box<dyn Io>, tcp: TcpStream, kind: Kind) -> SipStream {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(7, |d| d.subsec_nanos())
            | 1;
        SipStream {
            io,
            tcp,
            kind,
            ws: None,
            raw: Vec::new(),
            sip: Vec::new(),
            frames: Vec::new(),
            ws_head: String::new(),
            closed: false,
            messages: 0,
            pongs: Vec::new(),
            mask_seed: seed,
        }
    }

    /// Our address.
    pub fn local_addr(&self) -> SocketAddr {
        self.tcp.local_addr().expect("local addr")
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.tcp.peer_addr().expect("peer addr")
    }

    /// Reads raw bytes until `\r\n\r\n` (a WebSocket handshake head);
    /// the bytes after it stay in `raw`.
    fn read_head(&mut self) -> Result<String, String> {
        let deadline = Instant::now() + Duration::from_secs(3);
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(end) = find(&self.raw, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.raw[..end + 4]).into_owned();
                self.raw.drain(..end + 4);
                return Ok(head);
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "no WebSocket handshake head; got {:?}",
                    String::from_utf8_lossy(&self.raw)
                ));
            }
            match self.io.read(&mut chunk) {
                Ok(0) => {
                    return Err(format!(
                        "EOF before the WebSocket head; got {:?}",
                        String::from_utf8_lossy(&self.raw)
                    ))
                }
                Ok(n) => self.raw.extend_from_slice(&chunk[..n]),
                Err(e) if timed_out(&e) => {}
                Err(e) => return Err(format!("read: {e}")),
            }
        }
    }

    fn ws_client_handshake(&mut self, addr: SocketAddr) -> Result<(), String> {
        let mut nonce = [0u8; 16];
        for (i, b) in nonce.iter_mut().enumerate() {
            *b = (self.next_mask() >> (i % 4 * 8)) as u8;
        }
        let key = base64::engine::general_purpose::STANDARD.encode(nonce);
        let req = format!(
            "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Protocol: sip\r\nOrigin: http://{addr}\r\n\r\n"
        );
        self.io
            .write_all(req.as_bytes())
            .and_then(|_| self.io.flush())
            .map_err(|e| format!("write handshake: {e}"))?;
        let head = self.read_head()?;
        self.ws_head = head.clone();
        if !head.starts_with("HTTP/1.1 101") {
            return Err(format!("WebSocket refused: {head:?}"));
        }
        let want = accept_key(&key);
        if header_value(&head, "Sec-WebSocket-Accept").as_deref() != Some(want.as_str()) {
            return Err(format!("bad Sec-WebSocket-Accept (want {want}): {head:?}"));
        }
        if header_value(&head, "Sec-WebSocket-Protocol").as_deref() != Some("sip") {
            return Err(format!("subprotocol sip not selected: {head:?}"));
        }
        // Frames sent right behind the 101 are already in `raw`.
        self.decode_frames();
        Ok(())
    }

    fn ws_server_handshake(&mut self) -> Result<(), String> {
        let head = self.read_head()?;
        self.ws_head = head.clone();
        let key = header_value(&head, "Sec-WebSocket-Key").ok_or("no Sec-WebSocket-Key")?;
        let protocols = header_value(&head, "Sec-WebSocket-Protocol").unwrap_or_default();
        if !head.starts_with("GET ")
            || !protocols.split(',').any(|p| p.trim() == "sip")
            || header_value(&head, "Sec-WebSocket-Version").as_deref() != Some("13")
        {
            let _ = self.io.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n");
            return Err(format!("bad WebSocket request: {head:?}"));
        }
        let resp = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\nSec-WebSocket-Protocol: sip\r\n\r\n",
            accept_key(&key)
        );
        self.io
            .write_all(resp.as_bytes())
            .and_then(|_| self.io.flush())
            .map_err(|e| format!("write 101: {e}"))?;
        self.decode_frames();
        Ok(())
    }

    fn next_mask(&mut self) -> u32 {
        let mut x = self.mask_seed;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.mask_seed = x;
        x
    }

    /// One final WebSocket frame (clients mask, servers do not).
    fn frame(&mut self, opcode: u8, payload: &[u8]) -> Vec<u8> {
        self.ws_frame(opcode, true, payload)
    }

    /// One WebSocket frame as this end writes it (clients mask, servers
    /// do not); `fin` false starts or continues a fragmented message.
    pub fn ws_frame(&mut self, opcode: u8, fin: bool, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![if fin { 0x80 } else { 0 } | opcode];
        let mask = (self.ws == Some(WsRole::Client)).then(|| self.next_mask().to_be_bytes());
        let m = if mask.is_some() { 0x80 } else { 0 };
        match payload.len() {
            n if n < 126 => f.push(m | n as u8),
            n if n < 65_536 => {
                f.push(m | 126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                f.push(m | 127);
                f.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        match mask {
            Some(k) => {
                f.extend_from_slice(&k);
                f.extend(payload.iter().enumerate().map(|(i, b)| b ^ k[i % 4]));
            }
            None => f.extend_from_slice(payload),
        }
        f
    }

    /// Sends one SIP message (one WebSocket text frame over WS/WSS).
    pub fn send(&mut self, sip: &[u8]) {
        let bytes = if self.ws.is_some() {
            self.frame(1, sip)
        } else {
            sip.to_vec()
        };
        self.io
            .write_all(&bytes)
            .and_then(|_| self.io.flush())
            .expect("send on stream");
    }

    /// Writes `bytes` as they are (prepared frames, partial messages) in
    /// one write.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.io
            .write_all(bytes)
            .and_then(|_| self.io.flush())
            .expect("send on stream");
    }

    /// Like [`SipStream::send_raw`], with a failed write (the peer closed
    /// or reset the connection) as an error instead of a panic.
    pub fn try_send_raw(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.io
            .write_all(bytes)
            .and_then(|_| self.io.flush())
            .map_err(|e| e.to_string())
    }

    /// Decodes whole frames from `raw` into `sip` (answering pings and
    /// closes).
    fn decode_frames(&mut self) {
        loop {
            let Some((hdr, len, masked)) = frame_header(&self.raw) else {
                return;
            };
            if self.raw.len() < hdr + len {
                return;
            }
            let b0 = self.raw[0];
            let (fin, opcode) = (b0 & 0x80 != 0, b0 & 0x0f);
            let mut payload = self.raw[hdr..hdr + len].to_vec();
            if masked {
                let k = [
                    self.raw[hdr - 4],
                    self.raw[hdr - 3],
                    self.raw[hdr - 2],
                    self.raw[hdr - 1],
                ];
                for (i, b) in payload.iter_mut().enumerate() {
                    *b ^= k[i % 4];
                }
            }
            self.raw.drain(..hdr + len);
            match opcode {
                0..=2 => {
                    self.frames.push(FrameInfo {
                        opcode,
                        fin,
                        masked,
                        len,
                    });
                    self.sip.extend_from_slice(&payload);
                }
                8 => {
                    self.closed = true;
                    let close = self.frame(8, payload.get(..2).unwrap_or(&[]));
                    let _ = self.io.write_all(&close);
                    return;
                }
                9 => {
                    let pong = self.frame(10, &payload);
                    let _ = self.io.write_all(&pong);
                }
                10 => self.pongs.push(payload),
                _ => {}
            }
        }
    }

    /// Reads what arrives within `wait`. Err: a read error other than a
    /// timeout (a TLS alert, a reset).
    fn fill(&mut self, wait: Duration) -> Result<(), String> {
        if self.closed {
            std::thread::sleep(wait.min(Duration::from_millis(20)));
            return Ok(());
        }
        self.tcp
            .set_read_timeout(Some(wait.max(Duration::from_millis(1))))
            .ok();
        let mut chunk = [0u8; 16_384];
        match self.io.read(&mut chunk) {
            Ok(0) => self.closed = true,
            Ok(n) if self.ws.is_some() => {
                self.raw.extend_from_slice(&chunk[..n]);
                self.decode_frames();
            }
            Ok(n) => self.sip.extend_from_slice(&chunk[..n]),
            Err(e) if timed_out(&e) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => self.closed = true,
            Err(e) => {
                self.closed = true;
                return Err(e.to_string());
            }
        }
        Ok(())
    }

    /// One whole SIP message off the front of `sip` (CRLF keep-alives
    /// skipped).
    fn take_message(&mut self) -> Option<Msg> {
        while self.sip.starts_with(b"\r\n") {
            self.sip.drain(..2);
        }
        let head = find(&self.sip, b"\r\n\r\n")?;
        let m = Msg::parse(&self.sip[..head + 4]);
        let len: usize = m
            .header("Content-Length")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        let end = head + 4 + len;
        if self.sip.len() < end {
            return None;
        }
        let m = Msg::parse(&self.sip[..end]);
        self.sip.drain(..end);
        self.messages += 1;
        Some(m)
    }

    /// Sends a CRLFCRLF keep-alive ping (RFC 5626 §4.4.1; one frame over
    /// WebSocket) and waits up to `dur` for the CRLF pong.
    pub fn keepalive(&mut self, dur: Duration) -> bool {
        self.send(b"\r\n\r\n");
        let deadline = Instant::now() + dur;
        while !self.sip.starts_with(b"\r\n") && !self.closed && Instant::now() < deadline {
            let _ = self.fill(Duration::from_millis(20));
        }
        let pong = self.sip.starts_with(b"\r\n");
        if pong {
            self.sip.drain(..2);
        }
        pong
    }

    /// Reads for `dur` (answering pings, collecting pongs), framing nothing.
    pub fn pump(&mut self, dur: Duration) {
        let deadline = Instant::now() + dur;
        while Instant::now() < deadline && !self.closed {
            let _ = self.fill(Duration::from_millis(20));
        }
    }

    /// The next SIP message within `dur`. Err: the connection failed
    /// (the error text) or closed before one came.
    pub fn next(&mut self, dur: Duration) -> Result<Option<Msg>, String> {
        let deadline = Instant::now() + dur;
        loop {
            if let Some(m) = self.take_message() {
                return Ok(Some(m));
            }
            if self.closed {
                return Err("connection closed".into());
            }
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return Ok(None);
            };
            if left.is_zero() {
                return Ok(None);
            }
            self.fill(left.min(Duration::from_millis(50)))?;
        }
    }

    /// The next message with status `code` within `dur` (others skipped);
    /// panics with what came instead.
    pub fn expect_status(&mut self, code: u16, dur: Duration) -> Msg {
        let deadline = Instant::now() + dur;
        let mut seen = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.next(left) {
                Ok(Some(m)) if m.status() == Some(code) => return m,
                Ok(Some(m)) => seen.push(m.start_line().to_string()),
                Ok(None) => break,
                Err(e) => panic!("waiting for {code}: {e}; got {seen:?}"),
            }
        }
        panic!("no {code} within {dur:?}; got {seen:?}");
    }

    /// Whether the peer ends the connection (EOF or error) within `dur`;
    /// the error text, if any.
    pub fn closed_within(&mut self, dur: Duration) -> Option<String> {
        let deadline = Instant::now() + dur;
        while Instant::now() < deadline {
            if let Err(e) = self.fill(Duration::from_millis(50)) {
                return Some(e);
            }
            if self.closed {
                return Some("EOF".into());
            }
        }
        None
    }
}

/// A node listening on one stream transport: accepts the balancer's
/// connections and hands out the requests they carry.
pub struct StreamNode {
    listener: TcpListener,
    /// Its transport.
    pub kind: Kind,
    tls: Option<Arc<ServerConfig>>,
    /// Accepted connections (index = `usize` in [`StreamNode::next`]).
    pub conns: Vec<SipStream>,
    /// Accept or handshake failures, in order.
    pub failures: Vec<String>,
}

impl StreamNode {
    /// Listens on `addr` over `kind` (TLS kinds need `tls`).
    pub fn bind(addr: SocketAddr, kind: Kind, tls: Option<Arc<ServerConfig>>) -> StreamNode {
        let listener = TcpListener::bind(addr).expect("bind node");
        listener.set_nonblocking(true).expect("nonblocking");
        StreamNode {
            listener,
            kind,
            tls,
            conns: Vec::new(),
            failures: Vec::new(),
        }
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("addr")
    }

    /// The next message on any connection within `dur`, with the index of
    /// its connection; accepts new connections meanwhile.
    pub fn next(&mut self, dur: Duration) -> Option<(Msg, usize)> {
        let deadline = Instant::now() + dur;
        loop {
            while let Ok((s, _)) = self.listener.accept() {
                match SipStream::accept(s, self.kind, self.tls.as_ref()) {
                    Ok(c) => self.conns.push(c),
                    Err(e) => self.failures.push(e),
                }
            }
            for (i, c) in self.conns.iter_mut().enumerate() {
                if let Some(m) = c.take_message() {
                    return Some((m, i));
                }
            }
            for (i, c) in self.conns.iter_mut().enumerate() {
                if c.closed {
                    continue;
                }
                let _ = c.fill(Duration::from_millis(5));
                if let Some(m) = c.take_message() {
                    return Some((m, i));
                }
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The next request within `dur`; panics with `what` if none.
    pub fn must_get(&mut self, dur: Duration, what: &str) -> (Msg, usize) {
        self.next(dur).unwrap_or_else(|| {
            panic!(
                "{:?} node {} received nothing: {what} (failures: {:?})",
                self.kind,
                self.addr(),
                self.failures
            )
        })
    }

    /// Sends `bytes` on connection `conn`.
    pub fn send(&mut self, conn: usize, bytes: &[u8]) {
        self.conns[conn].send(bytes);
    }
}

/// Sec-WebSocket-Accept for `key` (RFC 6455 §4.2.2).
pub fn accept_key(key: &str) -> String {
    let digest = Sha1::new()
        .chain_update(key.as_bytes())
        .chain_update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11")
        .finalize();
    base64::engine::general_purpose::STANDARD.encode(digest)
}

/// `(header length incl. mask key, payload length, masked)` of the frame
/// at the front of `b`, when its header is whole.
fn frame_header(b: &[u8]) -> Option<(usize, usize, bool)> {
    let b1 = *b.get(1)?;
    let masked = b1 & 0x80 != 0;
    let (mut hdr, len) = match b1 & 0x7f {
        126 => (4, u16::from_be_bytes([*b.get(2)?, *b.get(3)?]) as usize),
        127 => {
            let mut l = [0u8; 8];
            l.copy_from_slice(b.get(2..10)?);
            (10, u64::from_be_bytes(l) as usize)
        }
        n => (2, n as usize),
    };
    if masked {
        hdr += 4;
    }
    (b.len() >= hdr).then_some((hdr, len, masked))
}

/// A header's value in an HTTP head (case-insensitive name).
pub fn header_value(head: &str, name: &str) -> Option<String> {
    head.split("\r\n").skip(1).find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_string())
    })
}

fn timed_out(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
