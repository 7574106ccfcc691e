//! TLS tests: configuration errors (`setup`), real handshakes between two
//! [`Session`]s over loopback TCP (`handshake`), and against independent
//! peers — rustls' own blocking stream, `openssl s_client`, stores made by
//! `openssl pkcs12` and Java's `keytool` (`external`).
//!
//! Certificates come from `tests/common/certs.rs` (rcgen), fresh per test.

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use super::{Roles, ServerName, Session, SessionError, SetupError, TlsContext};
use crate::config::{TlsClientAuth, TlsConfig};

#[allow(unreachable_pub, dead_code)]
#[path = "../../../tests/common/certs.rs"]
mod certs;

use certs::{write_pki, TestPki};

mod external;
mod handshake;
mod setup;

/// The request the client sends.
const INVITE: &[u8] = b"INVITE sip:bob@127.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bKtls1\r\n\
Call-ID: tls-1@test\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
/// The response the server sends back.
const OK: &[u8] = b"SIP/2.0 200 OK\r\n\
Via: SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bKtls1\r\n\
Call-ID: tls-1@test\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";

const SERVER: Roles = Roles {
    server: true,
    client: false,
};
const CLIENT: Roles = Roles {
    server: false,
    client: true,
};
const LOCAL: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

/// A directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "sip-balancer-tls-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let dir = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A CA with server (SANs 127.0.0.1, ::1, localhost) and client certificates.
fn pki(dir: &TempDir) -> TestPki {
    write_pki(dir.path(), &["127.0.0.1", "::1", "localhost"])
}

fn s(p: &Path) -> Option<String> {
    Some(p.display().to_string())
}

/// The listener side: the server bundle as key store, the CA as trust store.
fn server_tls(pki: &TestPki, auth: TlsClientAuth) -> TlsConfig {
    TlsConfig {
        key_store: s(&pki.server_bundle),
        trust_store: s(&pki.ca),
        client_auth: auth,
        ..TlsConfig::default()
    }
}

/// The connecting side: trusts the CA, presents the client certificate if asked.
fn client_tls(pki: &TestPki, with_cert: bool) -> TlsConfig {
    TlsConfig {
        key_store: if with_cert {
            s(&pki.client_bundle)
        } else {
            None
        },
        trust_store: s(&pki.ca),
        ..TlsConfig::default()
    }
}

fn ctx(tls: &TlsConfig, roles: Roles) -> TlsContext {
    TlsContext::from_config(tls, roles).unwrap_or_else(|e| panic!("{e}"))
}

fn setup_err(tls: &TlsConfig, roles: Roles) -> SetupError {
    TlsContext::from_config(tls, roles).unwrap_err()
}

fn ip_name(ip: IpAddr) -> ServerName<'static> {
    super::server_name_for_ip(ip)
}

/// Why a pumped side stopped (the payloads show in assertion messages).
#[derive(Debug)]
#[allow(dead_code)]
enum Fail {
    Tls(SessionError),
    Eof,
    Io(io::Error),
}

/// A [`Session`] driven over a blocking TCP socket, as a shard would drive
/// it over its ring: read → feed → write whatever is pending.
struct Pump {
    session: Session,
    sock: TcpStream,
    plain: Vec<u8>,
    out: Vec<u8>,
}

impl Pump {
    fn new(session: Session, sock: TcpStream) -> Pump {
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        sock.set_nodelay(true).unwrap();
        Pump {
            session,
            sock,
            plain: Vec::new(),
            out: Vec::new(),
        }
    }

    fn flush(&mut self) -> Result<(), Fail> {
        self.out.clear();
        self.session.write_ciphertext(&mut self.out);
        if self.out.is_empty() {
            return Ok(());
        }
        self.sock.write_all(&self.out).map_err(Fail::Io)
    }

    fn read_once(&mut self) -> Result<(), Fail> {
        let mut buf = [0u8; 4096];
        let n = self.sock.read(&mut buf).map_err(Fail::Io)?;
        if n == 0 {
            return Err(Fail::Eof);
        }
        match self.session.feed(&buf[..n], &mut self.plain) {
            Ok(_) => self.flush(),
            Err(e) => {
                // The alert goes out before the connection closes.
                let _ = self.flush();
                Err(Fail::Tls(e))
            }
        }
    }

    fn handshake(&mut self) -> Result<(), Fail> {
        self.flush()?;
        while self.session.is_handshaking() {
            self.read_once()?;
        }
        Ok(())
    }

    fn send(&mut self, data: &[u8]) -> Result<(), Fail> {
        self.session.write_plaintext(data).map_err(Fail::Tls)?;
        self.flush()
    }

    /// One SIP message without body: everything up to the blank line.
    fn recv_message(&mut self) -> Result<Vec<u8>, Fail> {
        loop {
            if let Some(end) = memchr::memmem::find(&self.plain, b"\r\n\r\n") {
                return Ok(self.plain.drain(..end + 4).collect());
            }
            self.read_once()?;
        }
    }

    /// Reads until the peer's close_notify (true) or EOF / an error (false).
    fn until_closed(&mut self) -> bool {
        while !self.session.peer_closed() {
            if self.read_once().is_err() {
                return false;
            }
        }
        true
    }

    /// Half-closes and waits for the peer's EOF, so that closing never
    /// resets a connection whose alert the peer has not read yet.
    fn linger(mut self) {
        let _ = self.sock.shutdown(std::net::Shutdown::Write);
        let _ = self.sock.set_read_timeout(Some(Duration::from_secs(2)));
        let mut buf = [0u8; 1024];
        while matches!(self.sock.read(&mut buf), Ok(n) if n > 0) {}
    }
}

/// What one side saw.
#[derive(Debug)]
struct Seen {
    /// The message received, or why there was none.
    got: Result<Vec<u8>, Fail>,
    version: Option<&'static str>,
    suite: Option<&'static str>,
    peer_cert: bool,
    /// Server only: the client's close_notify arrived after the exchange.
    peer_closed: bool,
}

impl Seen {
    fn of(pump: &Pump, got: Result<Vec<u8>, Fail>) -> Seen {
        Seen {
            got,
            version: pump.session.protocol_version(),
            suite: pump.session.cipher_suite(),
            peer_cert: pump.session.peer_has_certificate(),
            peer_closed: pump.session.peer_closed(),
        }
    }

    fn message(&self) -> &[u8] {
        match &self.got {
            Ok(m) => m,
            Err(e) => panic!("no message: {e:?}"),
        }
    }

    fn tls_error(&self) -> &SessionError {
        match &self.got {
            Err(Fail::Tls(e)) => e,
            other => panic!("expected a TLS error, got {other:?}"),
        }
    }
}

/// Binds a loopback listener on `ip`, port 0.
fn listen(ip: IpAddr) -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind(SocketAddr::new(ip, 0)).unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

/// The server half: accept, handshake, read the INVITE, answer 200 OK,
/// wait for close_notify.
fn serve_one(listener: TcpListener, server: TlsContext) -> Seen {
    let (sock, _) = listener.accept().unwrap();
    let mut pump = Pump::new(Session::server(&server).unwrap(), sock);
    let got = pump.handshake().and_then(|()| pump.recv_message());
    let got = match got {
        Ok(m) => pump.send(OK).map(|()| m),
        Err(e) => Err(e),
    };
    if got.is_ok() {
        pump.until_closed();
    }
    let seen = Seen::of(&pump, got);
    pump.linger();
    seen
}

/// The client half: connect, handshake, send the INVITE, read the answer,
/// close with close_notify.
fn call_one(addr: SocketAddr, client: &TlsContext, name: ServerName<'static>) -> Seen {
    let sock = TcpStream::connect(addr).unwrap();
    let mut pump = Pump::new(Session::client(client, name).unwrap(), sock);
    let got = pump
        .handshake()
        .and_then(|()| pump.send(INVITE))
        .and_then(|()| pump.recv_message());
    if got.is_ok() {
        pump.session.send_close_notify();
        let _ = pump.flush();
    }
    let seen = Seen::of(&pump, got);
    pump.linger();
    seen
}

/// A full exchange over loopback `ip`: (server's view, client's view).
fn exchange(
    server: &TlsContext,
    client: &TlsContext,
    ip: IpAddr,
    name: ServerName<'static>,
) -> (Seen, Seen) {
    let (listener, addr) = listen(ip);
    let server = server.clone();
    let handle = thread::spawn(move || serve_one(listener, server));
    let client_seen = call_one(addr, client, name);
    (handle.join().unwrap(), client_seen)
}

/// Asserts both messages crossed intact.
fn assert_exchanged(server: &Seen, client: &Seen) {
    assert_eq!(server.message(), INVITE);
    assert_eq!(client.message(), OK);
    assert!(server.peer_closed, "server saw no close_notify");
}
