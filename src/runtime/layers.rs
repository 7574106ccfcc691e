//! What sits between a stream's bytes and its SIP messages: nothing (TCP),
//! TLS ([`crate::tls::Session`]), a WebSocket ([`crate::ws`], RFC 7118), or
//! a WebSocket over TLS. A [`Layer`] turns received bytes into plain SIP
//! bytes (and the bytes to answer with: handshakes, pongs, alerts), and SIP
//! bytes to send into what goes on the wire.
//!
//! Over WebSocket each message carries one SIP message; they are appended
//! to the connection's SIP input and framed by Content-Length like TCP, so
//! a WebSocket peer must send Content-Length on messages with a body (JsSIP
//! and SIP.js do).

use std::net::SocketAddr;

use log::debug;

use crate::sip::transport::Transport;
use crate::tls::{server_name_for_ip, Session, TlsContext};
use crate::ws::frame::{self, Decoder, Event, OpCode, Role};
use crate::ws::handshake::{self, ClientHandshake};

/// Largest WebSocket handshake head accepted.
const MAX_WS_HEAD: usize = 8192;

/// Outcome of feeding a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LayerOut {
    /// Carry on.
    Ok,
    /// The peer broke the protocol or closed: send what was produced, then
    /// close the connection.
    Close,
}

/// Builds the layers of new connections (this shard's TLS context and the
/// WebSocket message limit).
pub(crate) struct Layers {
    tls: Option<TlsContext>,
    max_message: usize,
    /// Seed of the WebSocket client nonces and masks (RFC 6455 §10.3 wants
    /// them unpredictable to scripts in browsers; a proxy has no such
    /// adversary in its own frames, so a fast generator will do).
    seed: u64,
}

impl Layers {
    pub(crate) fn new(tls: Option<TlsContext>, max_message: usize, shard: usize) -> Layers {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0x9e37_79b9, |d| d.as_nanos() as u64)
            ^ ((shard as u64) << 48)
            | 1;
        Layers {
            tls,
            max_message,
            seed,
        }
    }

    /// The layer of a connection a listener of `transport` accepted;
    /// `None` when it cannot be served (TLS without a server context).
    pub(crate) fn server(&mut self, transport: Transport) -> Option<Layer> {
        let ws = || Ws::server(self.max_message);
        Some(match transport {
            Transport::Udp | Transport::Tcp => Layer::Plain,
            Transport::Ws => Layer::Ws(Box::new(ws())),
            Transport::Tls => Layer::Tls(Box::new(Tls::new(self.server_session()?, None))),
            Transport::Wss => Layer::Tls(Box::new(Tls::new(self.server_session()?, Some(ws())))),
        })
    }

    /// The layer of a connection we open over `transport` to `dst`; `None`
    /// when we cannot speak it (no TLS client configuration).
    pub(crate) fn client(&mut self, transport: Transport, dst: SocketAddr) -> Option<Layer> {
        let nonce = self.next_nonce();
        let mask = self.next();
        let ws = || Ws::client(self.max_message, dst, nonce, mask);
        Some(match transport {
            Transport::Udp | Transport::Tcp => Layer::Plain,
            Transport::Ws => Layer::Ws(Box::new(ws())),
            Transport::Tls => Layer::Tls(Box::new(Tls::new(self.client_session(dst)?, None))),
            Transport::Wss => Layer::Tls(Box::new(Tls::new(self.client_session(dst)?, Some(ws())))),
        })
    }

    fn server_session(&self) -> Option<Session> {
        let ctx = self.tls.as_ref()?;
        Session::server(ctx)
            .map_err(|e| debug!("tls: no server session: {e}"))
            .ok()
    }

    fn client_session(&self, dst: SocketAddr) -> Option<Session> {
        let ctx = self.tls.as_ref()?;
        Session::client(ctx, server_name_for_ip(dst.ip()))
            .map_err(|e| debug!("tls: no client session for {dst}: {e}"))
            .ok()
    }

    fn next(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.seed;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.seed = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn next_nonce(&mut self) -> [u8; 16] {
        let mut n = [0u8; 16];
        n[..8].copy_from_slice(&self.next().to_le_bytes());
        n[8..].copy_from_slice(&self.next().to_le_bytes());
        n
    }
}

/// One connection's layer.
pub(crate) enum Layer {
    /// TCP: bytes are SIP.
    Plain,
    /// SIP over WebSocket.
    Ws(Box<Ws>),
    /// TLS, around plain SIP or a WebSocket.
    Tls(Box<Tls>),
}

impl Layer {
    /// Received `bytes`: append the SIP bytes to `sip`, and what must be
    /// sent back to `reply`.
    pub(crate) fn input(
        &mut self,
        bytes: &[u8],
        sip: &mut Vec<u8>,
        reply: &mut Vec<u8>,
    ) -> LayerOut {
        match self {
            Layer::Plain => {
                sip.extend_from_slice(bytes);
                LayerOut::Ok
            }
            Layer::Ws(ws) => ws.input(bytes, sip, reply),
            Layer::Tls(tls) => tls.input(bytes, sip, reply),
        }
    }

    /// SIP bytes to send: append their wire form to `wire`.
    pub(crate) fn output(&mut self, sip: &[u8], wire: &mut Vec<u8>) {
        match self {
            Layer::Plain => wire.extend_from_slice(sip),
            Layer::Ws(ws) => ws.output(sip, wire),
            Layer::Tls(tls) => tls.output(sip, wire),
        }
    }

    /// Our outgoing connection is up: what to send first (handshakes).
    pub(crate) fn on_connected(&mut self, wire: &mut Vec<u8>) {
        match self {
            Layer::Plain => {}
            Layer::Ws(ws) => ws.on_connected(wire),
            Layer::Tls(tls) => tls.on_connected(wire),
        }
    }

    /// We are about to close: what to send last (a TLS `close_notify`).
    pub(crate) fn close_notify(&mut self, wire: &mut Vec<u8>) {
        if let Layer::Tls(tls) = self {
            tls.session.send_close_notify();
            tls.session.write_ciphertext(wire);
        }
    }

    /// Bytes of an incomplete unit below SIP are held: part of a TLS
    /// record or of a WebSocket frame or fragmented message. Their time
    /// counts as a partial message's (slowloris inside TLS or WS).
    pub(crate) fn holds_partial(&self) -> bool {
        match self {
            Layer::Plain => false,
            Layer::Ws(ws) => ws.holds_partial(),
            Layer::Tls(tls) => {
                tls.session.holds_partial_record() || tls.ws.as_ref().is_some_and(Ws::holds_partial)
            }
        }
    }

    /// A handshake is still under way (its time counts as a message's).
    pub(crate) fn handshaking(&self) -> bool {
        match self {
            Layer::Plain => false,
            Layer::Ws(ws) => !ws.open,
            Layer::Tls(tls) => {
                tls.session.is_handshaking() || tls.ws.as_ref().is_some_and(|w| !w.open)
            }
        }
    }
}

/// A WebSocket: the opening handshake, then frames.
pub(crate) struct Ws {
    role: Role,
    open: bool,
    /// Client side: our handshake, and where it goes.
    client: Option<(ClientHandshake, SocketAddr)>,
    decoder: Decoder,
    /// Received bytes not yet consumed (a partial head or frame header).
    inbuf: Vec<u8>,
    /// Frames written before our client handshake completed.
    pending: Vec<u8>,
    mask: u64,
}

impl Ws {
    fn server(max_message: usize) -> Ws {
        Ws {
            role: Role::Server,
            open: false,
            client: None,
            decoder: Decoder::new(Role::Server, max_message),
            inbuf: Vec::new(),
            pending: Vec::new(),
            mask: 0,
        }
    }

    fn client(max_message: usize, dst: SocketAddr, nonce: [u8; 16], mask: u64) -> Ws {
        Ws {
            role: Role::Client,
            open: false,
            client: Some((ClientHandshake::new(nonce), dst)),
            decoder: Decoder::new(Role::Client, max_message),
            inbuf: Vec::new(),
            pending: Vec::new(),
            mask: mask | 1,
        }
    }

    fn holds_partial(&self) -> bool {
        !self.inbuf.is_empty() || self.decoder.in_message()
    }

    /// The mask of our next frame (clients mask, servers do not).
    fn next_mask(&mut self) -> Option<[u8; 4]> {
        if self.role == Role::Server {
            return None;
        }
        self.mask ^= self.mask << 13;
        self.mask ^= self.mask >> 7;
        self.mask ^= self.mask << 17;
        Some((self.mask as u32).to_le_bytes())
    }

    fn on_connected(&mut self, wire: &mut Vec<u8>) {
        if let Some((hs, dst)) = &self.client {
            let host = dst.to_string();
            if hs.write_request(&host, "/", wire).is_err() {
                debug!("ws: cannot write a handshake for {host}");
            }
        }
    }

    fn input(&mut self, bytes: &[u8], sip: &mut Vec<u8>, reply: &mut Vec<u8>) -> LayerOut {
        self.inbuf.extend_from_slice(bytes);
        if !self.open {
            match self.handshake(reply) {
                Ok(true) => {}
                Ok(false) => return LayerOut::Ok,
                Err(()) => return LayerOut::Close,
            }
        }
        self.frames(sip, reply)
    }

    /// Advance the opening handshake; `Ok(true)` once open.
    fn handshake(&mut self, reply: &mut Vec<u8>) -> Result<bool, ()> {
        let head_len = match &self.client {
            Some((hs, _)) => match hs.parse_response(&self.inbuf, MAX_WS_HEAD) {
                Ok(None) => return Ok(false),
                Ok(Some(r)) => r.head_len,
                Err(e) => {
                    debug!("ws: node refused the handshake: {e:?}");
                    return Err(());
                }
            },
            None => match handshake::parse_request(&self.inbuf, MAX_WS_HEAD) {
                Ok(None) => return Ok(false),
                Ok(Some(req)) if !req.offers_sip => {
                    handshake::write_error(400, "Sec-WebSocket-Protocol sip required", reply);
                    return Err(());
                }
                Ok(Some(req)) => {
                    req.write_accept(reply);
                    req.head_len
                }
                Err(e) => {
                    e.write_response(reply);
                    return Err(());
                }
            },
        };
        self.inbuf.drain(..head_len.min(self.inbuf.len()));
        self.open = true;
        reply.append(&mut self.pending);
        Ok(true)
    }

    fn frames(&mut self, sip: &mut Vec<u8>, reply: &mut Vec<u8>) -> LayerOut {
        let mut off = 0;
        let mut out = LayerOut::Ok;
        let mut control: Option<(OpCode, [u8; 125], usize)> = None;
        while let Some(rest) = self.inbuf.get(off..) {
            match self.decoder.decode(rest) {
                Ok((used, Some(ev))) => {
                    off += used;
                    match ev {
                        Event::Message { payload, .. } => sip.extend_from_slice(payload),
                        Event::Ping(p) => control = Some(copy_control(OpCode::Pong, p)),
                        Event::Pong(_) => {}
                        Event::Close { code, .. } => {
                            let mut buf = [0u8; 125];
                            let code = code.unwrap_or(frame::CLOSE_NORMAL);
                            buf[..2].copy_from_slice(&code.to_be_bytes());
                            control = Some((OpCode::Close, buf, 2));
                            out = LayerOut::Close;
                        }
                    }
                }
                Ok((used, None)) => {
                    off += used;
                    break;
                }
                Err(e) => {
                    let mask = self.next_mask();
                    let _ = frame::close_frame(e.close_code(), "", mask, reply);
                    out = LayerOut::Close;
                    break;
                }
            }
            if let Some((op, buf, len)) = control.take() {
                let mask = self.next_mask();
                let _ = frame::encode(op, buf.get(..len).unwrap_or(&[]), mask, reply);
            }
            if out == LayerOut::Close {
                break;
            }
        }
        self.inbuf.drain(..off.min(self.inbuf.len()));
        out
    }

    fn output(&mut self, sip: &[u8], wire: &mut Vec<u8>) {
        let mask = self.next_mask();
        if self.open {
            let _ = frame::encode(OpCode::Text, sip, mask, wire);
        } else if self.client.is_some() {
            let mut pending = std::mem::take(&mut self.pending);
            let _ = frame::encode(OpCode::Text, sip, mask, &mut pending);
            self.pending = pending;
        }
    }
}

/// A control payload (≤ 125 bytes) copied out of the decoder's borrow.
fn copy_control(op: OpCode, p: &[u8]) -> (OpCode, [u8; 125], usize) {
    let mut buf = [0u8; 125];
    let n = p.len().min(125);
    buf[..n].copy_from_slice(&p[..n]);
    (op, buf, n)
}

/// TLS around plain SIP or a WebSocket.
pub(crate) struct Tls {
    session: Session,
    ws: Option<Ws>,
    /// Decrypted bytes, and the inner layer's answers, reused.
    plain: Vec<u8>,
    inner_reply: Vec<u8>,
}

impl Tls {
    fn new(session: Session, ws: Option<Ws>) -> Tls {
        Tls {
            session,
            ws,
            plain: Vec::new(),
            inner_reply: Vec::new(),
        }
    }

    fn input(&mut self, bytes: &[u8], sip: &mut Vec<u8>, reply: &mut Vec<u8>) -> LayerOut {
        self.plain.clear();
        let fed = self.session.feed(bytes, &mut self.plain);
        let mut out = match fed {
            Ok(_) => LayerOut::Ok,
            Err(e) => {
                debug!("tls: {e}");
                LayerOut::Close
            }
        };
        if !self.plain.is_empty() {
            self.inner_reply.clear();
            let inner = match &mut self.ws {
                None => {
                    sip.extend_from_slice(&self.plain);
                    LayerOut::Ok
                }
                Some(ws) => ws.input(&self.plain, sip, &mut self.inner_reply),
            };
            if !self.inner_reply.is_empty()
                && self.session.write_plaintext(&self.inner_reply).is_err()
            {
                out = LayerOut::Close;
            }
            if inner == LayerOut::Close {
                self.session.send_close_notify();
                out = LayerOut::Close;
            }
        }
        if self.session.peer_closed() {
            out = LayerOut::Close;
        }
        self.session.write_ciphertext(reply);
        out
    }

    fn output(&mut self, sip: &[u8], wire: &mut Vec<u8>) {
        let written = match &mut self.ws {
            None => self.session.write_plaintext(sip),
            Some(ws) => {
                self.plain.clear();
                ws.output(sip, &mut self.plain);
                if self.plain.is_empty() {
                    Ok(())
                } else {
                    self.session.write_plaintext(&self.plain)
                }
            }
        };
        if written.is_err() {
            debug!("tls: message dropped after close_notify");
        }
        self.session.write_ciphertext(wire);
    }

    fn on_connected(&mut self, wire: &mut Vec<u8>) {
        if let Some(ws) = &mut self.ws {
            self.plain.clear();
            ws.on_connected(&mut self.plain);
            if !self.plain.is_empty() {
                let _ = self.session.write_plaintext(&self.plain);
            }
        }
        self.session.write_ciphertext(wire);
    }
}
