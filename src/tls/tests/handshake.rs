//! Real handshakes between two [`Session`]s over loopback TCP, one per
//! thread, each exchanging a SIP message: key material forms, client-auth
//! modes, cipher suite restriction, names.

use rustls::{AlertDescription, CertificateError};

use super::*;

#[test]
fn pem_key_store_ip_name_both_ways() {
    let dir = TempDir::new();
    let pki = pki(&dir);
    let server = ctx(&server_tls(&pki, TlsClientAuth::Disabled), SERVER);
    let client = ctx(&client_tls(&pki, false), CLIENT);
    let (srv, cli) = exchange(&server, &client, LOCAL, ip_name(LOCAL));
    assert_exchanged(&srv, &cli);
    assert_eq!(
        (srv.version, cli.version),
        (Some("TLSv1.3"), Some("TLSv1.3"))
    );
    assert!(
        !srv.peer_cert,
        "Disabled must not request a client certificate"
    );
    assert!(cli.peer_cert);
}

#[test]
fn ipv6_name_and_separate_pem_files() {
    let dir = TempDir::new();
    let pki = pki(&dir);
    let tls = TlsConfig {
        certificate_file: s(&pki.server_chain),
        private_key_file: s(&pki.server_key),
        ..TlsConfig::default()
    };
    let server = ctx(&tls, SERVER);
    let client = ctx(&client_tls(&pki, false), CLIENT);
    let v6: IpAddr = "::1".parse().unwrap();
    let (srv, cli) = exchange(&server, &client, v6, ip_name(v6));
    assert_exchanged(&srv, &cli);
}

#[test]
fn dns_name_and_one_pem_file_with_chain_and_key() {
    let dir = TempDir::new();
    let pki = pki(&dir);
    let tls = TlsConfig {
        certificate_file: s(&pki.server_bundle),
        ..TlsConfig::default()
    };
    let server = ctx(&tls, SERVER);
    let client = ctx(&client_tls(&pki, false), CLIENT);
    let name = ServerName::try_from("localhost").unwrap();
    let (srv, cli) = exchange(&server, &client, LOCAL, name);
    assert_exchanged(&srv, &cli);
}

#[test]
fn a_certificate_for_another_ip_is_rejected() {
    let dir = TempDir::new();
    let pki = pki(&dir);
    let server = ctx(&server_tls(&pki, TlsClientAuth::Disabled), SERVER);
    let client = ctx(&client_tls(&pki, false), CLIENT);
    let other: IpAddr = "10.1.2.3".parse().unwrap();
    let (srv, cli) = exchange(&server, &client, LOCAL, ip_name(other));
    match cli.tls_error() {
        SessionError::Handshake(rustls::Error::InvalidCertificate(
            CertificateError::NotValidForNameContext { .. },
        )) => {}
        e => panic!("client: {e:?}"),
    }
    assert_eq!(
        srv.tls_error(),
        &SessionError::Handshake(rustls::Error::AlertReceived(
            AlertDescription::BadCertificate
        ))
    );
}

#[test]
fn enabled_rejects_a_client_without_certificate_on_both_sides() {
    let dir = TempDir::new();
    let pki = pki(&dir);
    let server = ctx(&server_tls(&pki, TlsClientAuth::Enabled), SERVER);
    let client = ctx(&client_tls(&pki, false), CLIENT);
    let (srv, cli) = exchange(&server, &client, LOCAL, ip_name(LOCAL));
    assert_eq!(
        srv.tls_error(),
        &SessionError::Handshake(rustls::Error::NoCertificatesPresented)
    );
    // TLS 1.3: the client finished its half and learns from the alert.
    assert_eq!(
        cli.tls_error(),
        &SessionError::Protocol(rustls::Error::AlertReceived(
            AlertDescription::CertificateRequired
        ))
    );
}

#[test]
fn enabled_accepts_a_client_certificate_from_the_trust_store() {
    let dir = TempDir::new();
    let pki = pki(&dir);
    let server = ctx(&server_tls(&pki, TlsClientAuth::Enabled), SERVER);
    let client = ctx(&client_tls(&pki, true), CLIENT);
    let (srv, cli) = exchange(&server, &client, LOCAL, ip_name(LOCAL));
    assert_exchanged(&srv, &cli);
    assert!(srv.peer_cert);
}

#[test]
fn enabled_rejects_a_client_certificate_from_another_ca() {
    let dir = TempDir::new();
    let pki = pki(&dir);
    let rogue_dir = TempDir::new();
    let rogue = super::pki(&rogue_dir);
    let server = ctx(&server_tls(&pki, TlsClientAuth::Enabled), SERVER);
    // Trusts the real server, presents a certificate of another CA.
    let client_cfg = TlsConfig {
        key_store: s(&rogue.client_bundle),
        trust_store: s(&pki.ca),
        ..TlsConfig::default()
    };
    let client = ctx(&client_cfg, CLIENT);
    let (srv, cli) = exchange(&server, &client, LOCAL, ip_name(LOCAL));
    assert_eq!(
        srv.tls_error(),
        &SessionError::Handshake(rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer
        ))
    );
    assert_eq!(
        cli.tls_error(),
        &SessionError::Protocol(rustls::Error::AlertReceived(AlertDescription::UnknownCA))
    );
}

#[test]
fn want_accepts_clients_with_and_without_certificate() {
    let dir = TempDir::new();
    let pki = pki(&dir);
    let server = ctx(&server_tls(&pki, TlsClientAuth::Want), SERVER);
    for with_cert in [false, true] {
        let client = ctx(&client_tls(&pki, with_cert), CLIENT);
        let (srv, cli) = exchange(&server, &client, LOCAL, ip_name(LOCAL));
        assert_exchanged(&srv, &cli);
        assert_eq!(srv.peer_cert, with_cert);
    }
}

#[test]
fn want_still_verifies_a_certificate_that_is_given() {
    let dir = TempDir::new();
    let pki = pki(&dir);
    let rogue_dir = TempDir::new();
    let rogue = super::pki(&rogue_dir);
    let server = ctx(&server_tls(&pki, TlsClientAuth::Want), SERVER);
    let client_cfg = TlsConfig {
        key_store: s(&rogue.client_bundle),
        trust_store: s(&pki.ca),
        ..TlsConfig::default()
    };
    let (srv, _) = exchange(&server, &ctx(&client_cfg, CLIENT), LOCAL, ip_name(LOCAL));
    assert_eq!(
        srv.tls_error(),
        &SessionError::Handshake(rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer
        ))
    );
}

#[test]
fn enabled_without_trust_store_trusts_the_key_store_chain() {
    let dir = TempDir::new();
    let pki = pki(&dir);
    // server.pem's chain holds the CA that also signed client.pem.
    let mut tls = server_tls(&pki, TlsClientAuth::Enabled);
    tls.trust_store = None;
    let server = ctx(&tls, SERVER);
    let (srv, cli) = exchange(
        &server,
        &ctx(&client_tls(&pki, true), CLIENT),
        LOCAL,
        ip_name(LOCAL),
    );
    assert_exchanged(&srv, &cli);
    assert!(srv.peer_cert);
}

#[test]
fn disabled_all_connects_to_an_unknown_server_which_disabled_refuses() {
    let dir = TempDir::new();
    let pki = pki(&dir);
    let other_dir = TempDir::new();
    let other = super::pki(&other_dir);
    let server = ctx(&server_tls(&other, TlsClientAuth::Disabled), SERVER);

    let mut strict = client_tls(&pki, false);
    strict.client_auth = TlsClientAuth::Disabled;
    let (_, cli) = exchange(&server, &ctx(&strict, CLIENT), LOCAL, ip_name(LOCAL));
    assert_eq!(
        cli.tls_error(),
        &SessionError::Handshake(rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer
        ))
    );

    let mut trusting = strict;
    trusting.client_auth = TlsClientAuth::DisabledAll;
    let name = ip_name("10.9.9.9".parse().unwrap()); // not even the right name
    let (srv, cli) = exchange(&server, &ctx(&trusting, CLIENT), LOCAL, name);
    assert_exchanged(&srv, &cli);
}

#[test]
fn configured_cipher_suite_is_the_one_negotiated() {
    let dir = TempDir::new();
    let pki = pki(&dir);
    let client = ctx(&client_tls(&pki, false), CLIENT);
    for (suite, version) in [
        ("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLSv1.2"),
        ("TLS_CHACHA20_POLY1305_SHA256", "TLSv1.3"),
        ("TLS_AES_256_GCM_SHA384", "TLSv1.3"),
    ] {
        let mut tls = server_tls(&pki, TlsClientAuth::Disabled);
        tls.enabled_cipher_suites = vec![suite.to_owned()];
        let (srv, cli) = exchange(&ctx(&tls, SERVER), &client, LOCAL, ip_name(LOCAL));
        assert_exchanged(&srv, &cli);
        assert_eq!((srv.suite, cli.suite), (Some(suite), Some(suite)));
        assert_eq!(srv.version, Some(version));
    }
}

#[test]
fn no_common_version_fails_the_handshake() {
    let dir = TempDir::new();
    let pki = pki(&dir);
    let mut server_cfg = server_tls(&pki, TlsClientAuth::Disabled);
    server_cfg.client_protocols = vec!["TLSv1.3".into()];
    let mut client_cfg = client_tls(&pki, false);
    client_cfg.client_protocols = vec!["TLSv1.2".into()];
    let (srv, cli) = exchange(
        &ctx(&server_cfg, SERVER),
        &ctx(&client_cfg, CLIENT),
        LOCAL,
        ip_name(LOCAL),
    );
    assert!(
        matches!(srv.tls_error(), SessionError::Handshake(_)),
        "{srv:?}"
    );
    assert_eq!(
        cli.tls_error(),
        &SessionError::Handshake(rustls::Error::AlertReceived(
            AlertDescription::ProtocolVersion
        ))
    );
}

#[test]
fn per_shard_contexts_interoperate() {
    let dir = TempDir::new();
    let pki = pki(&dir);
    let server = ctx(&server_tls(&pki, TlsClientAuth::Want), SERVER).for_shard();
    let client = ctx(&client_tls(&pki, true), CLIENT).for_shard();
    let (srv, cli) = exchange(&server, &client, LOCAL, ip_name(LOCAL));
    assert_exchanged(&srv, &cli);
}

/// Moves every pending record from one session to the other, one byte per
/// `feed` call: records split anywhere must still decode.
fn trickle(from: &mut Session, to: &mut Session, plain: &mut Vec<u8>) -> Result<(), SessionError> {
    let mut wire = Vec::new();
    from.write_ciphertext(&mut wire);
    for b in &wire {
        to.feed(std::slice::from_ref(b), plain)?;
    }
    Ok(())
}

#[test]
fn in_memory_byte_by_byte_and_close_notify() {
    let dir = TempDir::new();
    let pki = pki(&dir);
    let server = ctx(&server_tls(&pki, TlsClientAuth::Disabled), SERVER);
    let client = ctx(&client_tls(&pki, false), CLIENT);
    let mut srv = Session::server(&server).unwrap();
    let mut cli = Session::client(&client, ip_name(LOCAL)).unwrap();
    assert!(cli.pending_ciphertext(), "ClientHello is ready at once");
    assert!(!srv.pending_ciphertext());
    let (mut at_srv, mut at_cli) = (Vec::new(), Vec::new());
    // An empty read is not an EOF.
    assert_eq!(srv.feed(&[], &mut at_srv), Ok(0));
    cli.write_plaintext(INVITE).unwrap(); // held until the handshake is done
    for _ in 0..4 {
        trickle(&mut cli, &mut srv, &mut at_srv).unwrap();
        trickle(&mut srv, &mut cli, &mut at_cli).unwrap();
    }
    assert!(!srv.is_handshaking() && !cli.is_handshaking());
    assert_eq!(at_srv, INVITE);
    srv.write_plaintext(OK).unwrap();
    srv.send_close_notify();
    assert_eq!(srv.write_plaintext(OK), Err(SessionError::Closed));
    trickle(&mut srv, &mut cli, &mut at_cli).unwrap();
    assert_eq!(at_cli, OK);
    assert!(cli.peer_closed());
    // Bytes after close_notify are ignored, not an error.
    assert_eq!(cli.feed(b"\x17\x03\x03\x00\x01x", &mut at_cli), Ok(0));
}

#[test]
fn garbage_from_the_network_is_an_error_with_an_alert() {
    let dir = TempDir::new();
    let pki = pki(&dir);
    let server = ctx(&server_tls(&pki, TlsClientAuth::Disabled), SERVER);
    let mut srv = Session::server(&server).unwrap();
    let mut plain = Vec::new();
    let e = srv
        .feed(b"OPTIONS sip:x SIP/2.0\r\n\r\n", &mut plain)
        .unwrap_err();
    assert!(matches!(e, SessionError::Handshake(_)), "{e:?}");
    let mut alert = Vec::new();
    assert!(srv.write_ciphertext(&mut alert) > 0);
    assert_eq!(alert[0], 0x15, "an alert record");
}

#[test]
fn sessions_need_their_role() {
    let tls = TlsConfig {
        client_auth: TlsClientAuth::DisabledAll,
        ..TlsConfig::default()
    };
    let only_client = ctx(&tls, CLIENT);
    assert_eq!(
        Session::server(&only_client).unwrap_err(),
        SessionError::NoConfig(super::super::Role::Server)
    );
}
