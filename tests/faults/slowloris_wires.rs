//! What a slow connection writes on ([`Wire`]: a raw TCP socket, or a
//! [`SipStream`] whose handshakes are done) and the bytes it trickles: a
//! TLS ClientHello, a WebSocket opening request, one TLS record, an SMPP
//! bind.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection};

use crate::common::streams::{drive_handshake, SipStream};

/// Where a slow connection writes.
pub(super) trait Wire: Send {
    /// Writes `bytes` (Err: the connection is gone).
    fn put(&mut self, bytes: &[u8]) -> Result<(), String>;
    /// Whether the peer closes (EOF, reset) within `dur`; whatever it
    /// sends meanwhile (an alert, a TLS ticket) is read and dropped.
    fn closed_within(&mut self, dur: Duration) -> bool;
}

/// A plain TCP socket.
pub(super) struct Raw(TcpStream);

impl Raw {
    pub(super) fn connect(addr: SocketAddr) -> Result<Box<dyn Wire>, String> {
        Ok(Box::new(Raw(connect(addr)?)))
    }
}

impl Wire for Raw {
    fn put(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.0.write_all(bytes).map_err(|e| e.to_string())
    }

    fn closed_within(&mut self, dur: Duration) -> bool {
        let deadline = Instant::now() + dur;
        let mut buf = [0u8; 4096];
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            if left.is_zero() {
                break;
            }
            let _ = self
                .0
                .set_read_timeout(Some(left.min(Duration::from_millis(50))));
            match self.0.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => return true,
            }
        }
        false
    }
}

impl Wire for SipStream {
    fn put(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.try_send_raw(bytes)
    }

    fn closed_within(&mut self, dur: Duration) -> bool {
        SipStream::closed_within(self, dur).is_some()
    }
}

fn connect(addr: SocketAddr) -> Result<TcpStream, String> {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))
        .map_err(|e| format!("connect {addr}: {e}"))?;
    s.set_nodelay(true).ok();
    Ok(s)
}

fn tls_client(cfg: Arc<ClientConfig>, addr: SocketAddr) -> Result<ClientConnection, String> {
    ClientConnection::new(cfg, ServerName::IpAddress(addr.ip().into())).map_err(|e| e.to_string())
}

/// The first flight of a TLS client (its ClientHello record).
pub(super) fn hello(cfg: Arc<ClientConfig>, addr: SocketAddr) -> Result<Vec<u8>, String> {
    let mut conn = tls_client(cfg, addr)?;
    let mut out = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut out).map_err(|e| e.to_string())?;
    }
    Ok(out)
}

/// A TLS connection with its handshake done, and the bytes of one record
/// carrying `plain`, to be written raw on it.
pub(super) fn tls_record(
    cfg: Arc<ClientConfig>,
    addr: SocketAddr,
    plain: &[u8],
) -> Result<(Box<dyn Wire>, Vec<u8>), String> {
    let mut tcp = connect(addr)?;
    let mut conn = tls_client(cfg, addr)?;
    drive_handshake(&mut conn, &mut tcp)?;
    conn.writer().write_all(plain).map_err(|e| e.to_string())?;
    let mut record = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut record).map_err(|e| e.to_string())?;
    }
    Ok((Box::new(Raw(tcp)), record))
}

/// A WebSocket opening request for the `sip` subprotocol (RFC 7118).
pub(super) fn upgrade_head(addr: SocketAddr) -> Vec<u8> {
    format!(
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Protocol: sip\r\nOrigin: http://{addr}\r\n\r\n"
    )
    .into_bytes()
}

/// An SMPP 3.4 `bind_transceiver` (sequence number 1).
pub(super) fn bind_pdu(system_id: &str, password: &str) -> Vec<u8> {
    let mut body = Vec::new();
    for field in [system_id, password, ""] {
        body.extend_from_slice(field.as_bytes());
        body.push(0);
    }
    // interface_version 3.4, addr_ton, addr_npi, empty address_range
    body.extend_from_slice(&[0x34, 0, 0, 0]);
    let len = u32::try_from(16 + body.len()).unwrap_or(u32::MAX);
    let mut pdu = len.to_be_bytes().to_vec();
    pdu.extend_from_slice(&0x0000_0009u32.to_be_bytes());
    pdu.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1]);
    pdu.extend_from_slice(&body);
    pdu
}

/// Whether `resp` is a `generic_nack` with `ESME_RINVCMDID` for `seq`.
pub(super) fn generic_nack_of(resp: &[u8; 16], seq: u8) -> bool {
    resp[4..8] == [0x80, 0, 0, 0] && resp[8..12] == [0, 0, 0, 3] && resp[12..16] == [0, 0, 0, seq]
}
