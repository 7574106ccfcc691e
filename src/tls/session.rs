//! [`Session`]: one connection's TLS, sans-IO. The shard owns the socket;
//! it feeds the ciphertext it read, takes the plaintext out, hands in the
//! plaintext to send and drains the ciphertext to write. This module never
//! touches a socket or a clock.
//!
//! Buffers: plaintext and ciphertext go into the caller's `Vec`s (reused by
//! the caller, so they stop growing once warm). rustls' buffered API itself
//! keeps a reused receive buffer but allocates one small buffer per record,
//! received and sent; avoiding that would mean its `unbuffered` API.

use std::io::{BufRead, Write};
use std::net::IpAddr;
use std::sync::Arc;

use rustls::{ClientConnection, Connection, ServerConnection};
use rustls_pki_types::ServerName;

use super::{names, Role, SessionError, TlsContext};

/// The TLS state of one connection, server or client side.
pub struct Session {
    conn: Connection,
    /// The peer's `close_notify` arrived.
    peer_closed: bool,
    /// Our `close_notify` is queued; no more plaintext is accepted.
    close_sent: bool,
    /// Where the received ciphertext stands in its record framing.
    records: RecordScan,
}

/// Follows the TLS record framing (a 5-byte header whose last two bytes
/// are the body length) over the ciphertext as it arrives, so the runtime
/// can tell a peer stopped between records from one trickling a record
/// byte by byte (slowloris inside TLS).
#[derive(Default)]
struct RecordScan {
    /// Header bytes of the next record seen so far (0..5).
    header_seen: usize,
    /// The length bytes of that header, as far as seen.
    length: [u8; 2],
    /// Body bytes of the current record still to come.
    body_left: usize,
}

impl RecordScan {
    const HEADER: usize = 5;

    fn scan(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            if self.body_left > 0 {
                let n = self.body_left.min(bytes.len());
                self.body_left -= n;
                bytes = &bytes[n..];
                continue;
            }
            let Some((&b, rest)) = bytes.split_first() else {
                break;
            };
            bytes = rest;
            if let Some(slot) = self.header_seen.checked_sub(3) {
                if let Some(l) = self.length.get_mut(slot) {
                    *l = b;
                }
            }
            self.header_seen += 1;
            if self.header_seen == Self::HEADER {
                self.header_seen = 0;
                self.body_left = usize::from(u16::from_be_bytes(self.length));
            }
        }
    }

    fn partial(&self) -> bool {
        self.header_seen > 0 || self.body_left > 0
    }
}

/// The name to verify a node's certificate against when it is addressed by
/// IP (its certificate then needs that IP as a subjectAltName, unless
/// `tlsClientAuthType` is `DisabledAll`). No SNI is sent for an IP.
pub fn server_name_for_ip(ip: IpAddr) -> ServerName<'static> {
    ServerName::IpAddress(ip.into())
}

impl Session {
    /// An accepted connection. Fails only when `ctx` has no server role.
    pub fn server(ctx: &TlsContext) -> Result<Session, SessionError> {
        let config = ctx
            .server_config()
            .ok_or(SessionError::NoConfig(Role::Server))?;
        let conn = ServerConnection::new(Arc::clone(config)).map_err(SessionError::Handshake)?;
        Ok(Session::new(conn.into()))
    }

    /// A connection we open to `server_name` (see [`server_name_for_ip`]);
    /// the ClientHello is ready in [`write_ciphertext`](Self::write_ciphertext)
    /// at once.
    pub fn client(
        ctx: &TlsContext,
        server_name: ServerName<'static>,
    ) -> Result<Session, SessionError> {
        let config = ctx
            .client_config()
            .ok_or(SessionError::NoConfig(Role::Client))?;
        let conn = ClientConnection::new(Arc::clone(config), server_name)
            .map_err(SessionError::Handshake)?;
        Ok(Session::new(conn.into()))
    }

    fn new(mut conn: Connection) -> Session {
        // The runtime drains the ciphertext after every write and bounds its
        // own send queue; a rustls limit would only make writes partial.
        conn.set_buffer_limit(None);
        Session {
            conn,
            peer_closed: false,
            close_sent: false,
            records: RecordScan::default(),
        }
    }

    /// Takes all of `ciphertext` (as read from the socket) and appends what
    /// it decrypts to `plaintext`; returns the number of plaintext bytes
    /// appended. Handshake records produce replies: check
    /// [`pending_ciphertext`](Self::pending_ciphertext) afterwards.
    ///
    /// An error is final: drain [`write_ciphertext`](Self::write_ciphertext)
    /// (it holds the alert) and close the connection. Bytes after the peer's
    /// `close_notify` are ignored.
    pub fn feed(
        &mut self,
        mut ciphertext: &[u8],
        plaintext: &mut Vec<u8>,
    ) -> Result<usize, SessionError> {
        let before = plaintext.len();
        self.records.scan(ciphertext);
        let mut stalled = false;
        while !ciphertext.is_empty() {
            match self.conn.read_tls(&mut ciphertext) {
                // Only after close_notify (an empty slice is never passed).
                Ok(0) => break,
                Ok(_) => stalled = false,
                Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                    return Err(SessionError::Oversized)
                }
                // The received-plaintext buffer is full: drained below.
                Err(_) if !stalled => stalled = true,
                Err(_) => return Err(SessionError::Oversized),
            }
            self.process()?;
            self.drain_plaintext(plaintext);
        }
        Ok(plaintext.len() - before)
    }

    fn process(&mut self) -> Result<(), SessionError> {
        let handshaking = self.conn.is_handshaking();
        match self.conn.process_new_packets() {
            Ok(state) => {
                self.peer_closed |= state.peer_has_closed();
                Ok(())
            }
            Err(e) if handshaking => Err(SessionError::Handshake(e)),
            Err(e) => Err(SessionError::Protocol(e)),
        }
    }

    fn drain_plaintext(&mut self, out: &mut Vec<u8>) {
        let mut reader = self.conn.reader();
        loop {
            let n = match reader.fill_buf() {
                Ok(chunk) if !chunk.is_empty() => {
                    out.extend_from_slice(chunk);
                    chunk.len()
                }
                // Empty: no more for now, or closed (tracked by `process`).
                _ => break,
            };
            reader.consume(n);
        }
    }

    /// The ciphertext received so far ends inside a TLS record (its
    /// header or body is incomplete).
    pub fn holds_partial_record(&self) -> bool {
        self.records.partial()
    }

    /// Queues `data` to be encrypted and sent. During the handshake it is
    /// held until the handshake completes. Fails only after
    /// [`send_close_notify`](Self::send_close_notify).
    pub fn write_plaintext(&mut self, data: &[u8]) -> Result<(), SessionError> {
        if self.close_sent {
            return Err(SessionError::Closed);
        }
        self.conn
            .writer()
            .write_all(data)
            .map_err(|_| SessionError::Closed)
    }

    /// Whether there are bytes to send (handshake records, alerts, data).
    pub fn pending_ciphertext(&self) -> bool {
        self.conn.wants_write()
    }

    /// Appends everything that must be sent to `out`; returns the bytes added.
    pub fn write_ciphertext(&mut self, out: &mut Vec<u8>) -> usize {
        let mut total = 0;
        while self.conn.wants_write() {
            match self.conn.write_tls(out) {
                Ok(n) if n > 0 => total += n,
                // Writing into a Vec does not fail; stop rather than spin.
                _ => break,
            }
        }
        total
    }

    /// Whether the handshake is still in progress.
    pub fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    /// Whether the peer presented a certificate (and it verified).
    pub fn peer_has_certificate(&self) -> bool {
        self.conn
            .peer_certificates()
            .is_some_and(|chain| !chain.is_empty())
    }

    /// Queues a `close_notify` alert (drain it with
    /// [`write_ciphertext`](Self::write_ciphertext)); later plaintext is refused.
    pub fn send_close_notify(&mut self) {
        if !self.close_sent {
            self.close_sent = true;
            self.conn.send_close_notify();
        }
    }

    /// Whether the peer sent `close_notify`: it will send nothing more.
    pub fn peer_closed(&self) -> bool {
        self.peer_closed
    }

    /// The role of this session.
    pub fn role(&self) -> Role {
        match self.conn {
            Connection::Server(_) => Role::Server,
            Connection::Client(_) => Role::Client,
        }
    }

    /// `TLSv1.2` or `TLSv1.3` once negotiated.
    pub fn protocol_version(&self) -> Option<&'static str> {
        let version = self.conn.protocol_version()?;
        Some(match version {
            rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3",
            rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2",
            _ => "unknown",
        })
    }

    /// IANA name of the negotiated cipher suite.
    pub fn cipher_suite(&self) -> Option<&'static str> {
        self.conn
            .negotiated_cipher_suite()
            .and_then(names::suite_name)
    }

    /// The SNI host name a client asked for (server sessions).
    pub fn sni(&self) -> Option<&str> {
        match &self.conn {
            Connection::Server(s) => s.server_name(),
            Connection::Client(_) => None,
        }
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("role", &self.role())
            .field("handshaking", &self.is_handshaking())
            .field("peer_closed", &self.peer_closed)
            .field("close_sent", &self.close_sent)
            .finish()
    }
}

#[cfg(test)]
mod record_scan_tests {
    use super::RecordScan;

    #[test]
    fn follows_records_split_anywhere() {
        // Two records: 3-byte body, then 0x0102 = 258-byte body.
        let mut wire = vec![23, 3, 3, 0, 3, b'a', b'b', b'c', 23, 3, 3, 1, 2];
        wire.extend(std::iter::repeat_n(0u8, 258));
        for cut in 0..=wire.len() {
            let mut scan = RecordScan::default();
            scan.scan(&wire[..cut]);
            let inside = cut != 0 && cut != 8 && cut != wire.len();
            assert_eq!(scan.partial(), inside, "cut at {cut}");
            scan.scan(&wire[cut..]);
            assert!(!scan.partial(), "whole after cut {cut}");
        }
        let mut bytewise = RecordScan::default();
        for b in &wire {
            bytewise.scan(std::slice::from_ref(b));
        }
        assert!(!bytewise.partial());
    }
}
