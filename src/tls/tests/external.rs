//! Against independent implementations: rustls' own blocking stream,
//! `openssl s_client` / `s_server`, PKCS#12 files made by `openssl pkcs12`
//! and Java's `keytool`, a real JKS store and the conversion command the
//! error message gives. openssl and a JDK are part of the machine image.

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc};
use std::time::Instant;

use super::*;

/// Runs a tool to completion; panics with its stderr if it fails.
fn run(tool: &str, args: &[&str]) {
    let out = Command::new(tool)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{tool} not runnable ({e}): it is part of the machine image"));
    assert!(
        out.status.success(),
        "{tool} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn p(path: &Path) -> String {
    path.display().to_string()
}

/// Kills and reaps a child we started, on drop.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads `child`'s stdout on a thread until `want` appears; returns what
/// was read, or panics after 10 s.
fn stdout_until(child: &mut Child, want: &'static [u8]) -> Vec<u8> {
    let mut out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut seen = Vec::new();
        let mut buf = [0u8; 1024];
        while let Ok(n) = out.read(&mut buf) {
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
            if memchr::memmem::find(&seen, want).is_some() {
                break;
            }
        }
        let _ = tx.send(seen);
    });
    rx.recv_timeout(Duration::from_secs(10))
        .unwrap_or_else(|_| panic!("timed out waiting for {:?}", String::from_utf8_lossy(want)))
}

#[test]
fn rustls_stream_client_against_a_session_server() {
    let dir = TempDir::new();
    let pki = pki(&dir);
    let server = ctx(&server_tls(&pki, TlsClientAuth::Enabled), SERVER);
    let client = ctx(&client_tls(&pki, true), CLIENT);
    let (listener, addr) = listen(LOCAL);
    let handle = thread::spawn(move || serve_one(listener, server));

    let conn =
        rustls::ClientConnection::new(Arc::clone(client.client_config().unwrap()), ip_name(LOCAL))
            .unwrap();
    let sock = TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut stream = rustls::StreamOwned::new(conn, sock);
    stream.write_all(INVITE).unwrap();
    let mut got = vec![0u8; OK.len()];
    stream.read_exact(&mut got).unwrap();
    assert_eq!(got, OK);
    stream.conn.send_close_notify();
    stream.flush().unwrap();
    let srv = handle.join().unwrap();
    assert_exchanged(
        &srv,
        &Seen {
            got: Ok(got),
            ..Seen::of_nothing()
        },
    );
    assert!(srv.peer_cert);
}

impl Seen {
    fn of_nothing() -> Seen {
        Seen {
            got: Err(Fail::Eof),
            version: None,
            suite: None,
            peer_cert: false,
            peer_closed: false,
        }
    }
}

/// `openssl s_client` connects to a Session server (verifying our chain
/// and IP), sends the INVITE from its stdin and prints our 200 OK.
fn s_client_exchange(server: TlsContext, extra: &[&str], ca: &Path) -> (Seen, Vec<u8>) {
    let (listener, addr) = listen(LOCAL);
    let handle = thread::spawn(move || {
        let (sock, _) = listener.accept().unwrap();
        let mut pump = Pump::new(Session::server(&server).unwrap(), sock);
        let got = pump.handshake().and_then(|()| pump.recv_message());
        let got = match got {
            Ok(m) => pump.send(OK).map(|()| m),
            Err(e) => Err(e),
        };
        Seen::of(&pump, got)
    });
    let target = addr.to_string();
    let ca = p(ca);
    let mut args = vec![
        "s_client",
        "-connect",
        &target,
        "-CAfile",
        &ca,
        "-verify_return_error",
        "-verify_ip",
        "127.0.0.1",
        "-quiet",
    ];
    args.extend_from_slice(extra);
    let mut child = Reaped(
        Command::new("openssl")
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl is part of the machine image"),
    );
    child.0.stdin.as_mut().unwrap().write_all(INVITE).unwrap();
    let printed = stdout_until(&mut child.0, b"Content-Length: 0\r\n\r\n");
    drop(child);
    (handle.join().unwrap(), printed)
}

#[test]
fn openssl_s_client_talks_to_a_session_server() {
    let dir = TempDir::new();
    let pki = pki(&dir);
    let server = ctx(&server_tls(&pki, TlsClientAuth::Disabled), SERVER);
    let (srv, printed) = s_client_exchange(server, &[], &pki.ca);
    assert_eq!(srv.message(), INVITE);
    assert_eq!(printed, OK);
    assert_eq!(srv.version, Some("TLSv1.3"));
}

#[test]
fn openssl_s_client_tls12_with_client_certificate_and_one_suite() {
    let dir = TempDir::new();
    let pki = pki(&dir);
    let mut tls = server_tls(&pki, TlsClientAuth::Enabled);
    tls.client_protocols = vec!["TLSv1.2".into()];
    tls.enabled_cipher_suites = vec!["TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256".into()];
    let server = ctx(&tls, SERVER);
    let (cert, key) = (p(&pki.client_chain), p(&pki.client_key));
    let extra = ["-tls1_2", "-cert", &cert, "-key", &key];
    let (srv, printed) = s_client_exchange(server, &extra, &pki.ca);
    assert_eq!(printed, OK);
    assert!(srv.peer_cert);
    assert_eq!(srv.version, Some("TLSv1.2"));
    assert_eq!(
        srv.suite,
        Some("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256")
    );
}

#[test]
fn session_client_talks_to_openssl_s_server() {
    let dir = TempDir::new();
    let pki = pki(&dir);
    // A free port for s_server (it cannot report port 0's choice).
    let port = listen(LOCAL).1.port().to_string();
    let (cert, key, chain) = (p(&pki.server_chain), p(&pki.server_key), p(&pki.ca));
    let mut server = Reaped(
        Command::new("openssl")
            .args([
                "s_server",
                "-accept",
                &port,
                "-cert",
                &cert,
                "-key",
                &key,
                "-cert_chain",
                &chain,
                "-naccept",
                "1",
                "-tls1_2",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl is part of the machine image"),
    );
    let mut out = std::io::BufReader::new(server.0.stdout.take().unwrap());
    let mut line = String::new();
    while out.read_line(&mut line).unwrap() > 0 && !line.contains("ACCEPT") {
        line.clear();
    }
    let client = ctx(&client_tls(&pki, false), CLIENT);
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let sock = TcpStream::connect(addr).unwrap();
    let mut pump = Pump::new(Session::client(&client, ip_name(LOCAL)).unwrap(), sock);
    pump.handshake().unwrap();
    assert_eq!(pump.session.protocol_version(), Some("TLSv1.2"));
    pump.send(INVITE).unwrap();
    // s_server prints what it receives; its stdin goes to us.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut printed = Vec::new();
    while memchr::memmem::find(&printed, b"Content-Length: 0").is_none() {
        assert!(Instant::now() < deadline, "s_server printed {printed:?}");
        let mut l = String::new();
        if out.read_line(&mut l).unwrap() == 0 {
            break;
        }
        printed.extend_from_slice(l.as_bytes());
    }
    assert!(
        memchr::memmem::find(&printed, b"INVITE sip:bob@127.0.0.1 SIP/2.0").is_some(),
        "{}",
        String::from_utf8_lossy(&printed)
    );
    server
        .0
        .stdin
        .as_mut()
        .unwrap()
        .write_all(b"SIP/2.0 200 OK\n")
        .unwrap();
    let got = loop {
        if memchr::memmem::find(&pump.plain, b"200 OK\n").is_some() {
            break std::mem::take(&mut pump.plain);
        }
        pump.read_once().unwrap();
    };
    assert_eq!(got, b"SIP/2.0 200 OK\n");
}

/// `openssl pkcs12 -export` of the server chain and key, plus `extra` options.
fn openssl_p12(pki: &TestPki, name: &str, extra: &[&str]) -> PathBuf {
    let out = pki.dir.join(name);
    let (cert, key, o) = (p(&pki.server_chain), p(&pki.server_key), p(&out));
    let mut args = vec![
        "pkcs12",
        "-export",
        "-in",
        &cert,
        "-inkey",
        &key,
        "-out",
        &o,
        "-passout",
        "pass:s3cret",
        "-name",
        "lb",
    ];
    args.extend_from_slice(extra);
    run("openssl", &args);
    out
}

#[test]
fn pkcs12_key_stores_from_openssl_modern_and_3des() {
    let dir = TempDir::new();
    let pki = pki(&dir);
    let client = ctx(&client_tls(&pki, false), CLIENT);
    let modern = openssl_p12(&pki, "aes.p12", &[]);
    let legacy = openssl_p12(
        &pki,
        "3des.p12",
        &[
            "-certpbe",
            "PBE-SHA1-3DES",
            "-keypbe",
            "PBE-SHA1-3DES",
            "-macalg",
            "sha1",
        ],
    );
    for store in [modern, legacy] {
        let tls = TlsConfig {
            key_store: s(&store),
            key_store_password: Some("s3cret".into()),
            ..TlsConfig::default()
        };
        let (srv, cli) = exchange(&ctx(&tls, SERVER), &client, LOCAL, ip_name(LOCAL));
        assert_exchanged(&srv, &cli);

        let wrong = TlsConfig {
            key_store_password: Some("nope".into()),
            ..tls
        };
        let e = setup_err(&wrong, SERVER);
        assert_eq!(e.file, s(&store));
        assert_eq!(
            e.problem,
            "not PEM, and not a readable PKCS#12 file: wrong password (MAC check failed)"
        );
    }
}

#[test]
fn pkcs12_trust_store_from_openssl() {
    let dir = TempDir::new();
    let pki = pki(&dir);
    let trust = pki.dir.join("trust.p12");
    run(
        "openssl",
        &[
            "pkcs12",
            "-export",
            "-nokeys",
            "-in",
            &p(&pki.ca),
            "-out",
            &p(&trust),
            "-passout",
            "pass:t",
        ],
    );
    let client_cfg = TlsConfig {
        trust_store: s(&trust),
        trust_store_password: Some("t".into()),
        ..TlsConfig::default()
    };
    let server = ctx(&server_tls(&pki, TlsClientAuth::Disabled), SERVER);
    let (srv, cli) = exchange(&server, &ctx(&client_cfg, CLIENT), LOCAL, ip_name(LOCAL));
    assert_exchanged(&srv, &cli);
}

#[test]
fn encrypted_pem_key_is_refused_with_the_decrypt_command() {
    let dir = TempDir::new();
    let pki = pki(&dir);
    let enc = pki.dir.join("enc.key");
    run(
        "openssl",
        &[
            "pkcs8",
            "-topk8",
            "-in",
            &p(&pki.server_key),
            "-out",
            &p(&enc),
            "-passout",
            "pass:x",
            "-v2",
            "aes256",
        ],
    );
    let tls = TlsConfig {
        certificate_file: s(&pki.server_chain),
        private_key_file: s(&enc),
        ..TlsConfig::default()
    };
    assert_eq!(
        setup_err(&tls, SERVER).to_string(),
        format!(
            "ssl.privateKeyFile: {e}: the private key is encrypted, which is not supported; \
             decrypt it with `openssl pkey -in {e} -out key.pem` (keep it readable only by the \
             balancer) or use a PKCS#12 key store with ssl.keyStorePassword",
            e = enc.display()
        )
    );
}

/// keytool's self-signed key pair (`EC` or `RSA`) for 127.0.0.1 in a JKS store.
fn keytool_jks(dir: &Path, alg: &str) -> PathBuf {
    let store = dir.join(format!("{alg}.jks"));
    let mut args = vec!["-genkeypair", "-alias", "lb", "-keyalg", alg];
    if alg == "EC" {
        args.extend(["-groupname", "secp256r1"]);
    }
    let path = p(&store);
    args.extend([
        "-dname",
        "CN=sip-balancer",
        "-ext",
        "san=ip:127.0.0.1",
        "-validity",
        "30",
        "-storetype",
        "JKS",
        "-keystore",
        &path,
        "-storepass",
        "123456",
        "-keypass",
        "123456",
    ]);
    run("keytool", &args);
    store
}

/// Java writes EC keys without their public key (ring needs it: `ec_key`
/// adds it from the certificate); RSA keys as they are.
#[test]
fn real_jks_is_refused_and_the_suggested_keytool_command_fixes_it() {
    let dir = TempDir::new();
    for alg in ["EC", "RSA"] {
        let jks = keytool_jks(dir.path(), alg);
        let tls = TlsConfig {
            key_store: s(&jks),
            key_store_password: Some("123456".into()),
            ..TlsConfig::default()
        };
        let e = setup_err(&tls, SERVER);
        assert!(e.problem.starts_with("this is a Java JKS keystore"), "{e}");
        // The command between the first pair of backticks, run as written
        // (plus the passwords keytool would otherwise prompt for).
        let msg = e.to_string();
        let cmd = msg.split('`').nth(1).unwrap();
        let mut words = cmd.split(' ');
        assert_eq!(words.next(), Some("keytool"));
        let mut args: Vec<&str> = words.collect();
        args.extend([
            "-srcstorepass",
            "123456",
            "-deststorepass",
            "123456",
            "-noprompt",
        ]);
        run("keytool", &args);

        let p12 = format!("{}.p12", jks.display());
        let converted = TlsConfig {
            key_store: Some(p12.clone()),
            key_store_password: Some("123456".into()),
            ..TlsConfig::default()
        };
        let server = ctx(&converted, SERVER);
        // The store's self-signed certificate is its own trust anchor.
        let client = ctx(
            &TlsConfig {
                trust_store: Some(p12),
                trust_store_password: Some("123456".into()),
                ..TlsConfig::default()
            },
            CLIENT,
        );
        let (srv, cli) = exchange(&server, &client, LOCAL, ip_name(LOCAL));
        assert_exchanged(&srv, &cli);
    }
}

#[test]
fn java_pkcs12_trust_store_from_keytool_importcert() {
    let dir = TempDir::new();
    let pki = pki(&dir);
    let trust = pki.dir.join("cacerts.p12");
    run(
        "keytool",
        &[
            "-importcert",
            "-noprompt",
            "-alias",
            "ca",
            "-file",
            &p(&pki.ca),
            "-keystore",
            &p(&trust),
            "-storetype",
            "PKCS12",
            "-storepass",
            "changeit",
        ],
    );
    let client_cfg = TlsConfig {
        trust_store: s(&trust),
        trust_store_password: Some("changeit".into()),
        ..TlsConfig::default()
    };
    let server = ctx(&server_tls(&pki, TlsClientAuth::Disabled), SERVER);
    let (srv, cli) = exchange(&server, &ctx(&client_cfg, CLIENT), LOCAL, ip_name(LOCAL));
    assert_exchanged(&srv, &cli);
}
