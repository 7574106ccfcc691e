//! Building contexts: which settings are refused, with which one-line
//! message, and when TLS counts as used.

use super::*;
use crate::config::{self, Config};

fn with_protocols(list: &[&str]) -> TlsConfig {
    TlsConfig {
        client_protocols: list.iter().map(|s| s.to_string()).collect(),
        client_auth: TlsClientAuth::DisabledAll,
        ..TlsConfig::default()
    }
}

fn with_suites(list: &[&str]) -> TlsConfig {
    TlsConfig {
        enabled_cipher_suites: list.iter().map(|s| s.to_string()).collect(),
        client_auth: TlsClientAuth::DisabledAll,
        ..TlsConfig::default()
    }
}

#[test]
fn tlsv1_is_refused_naming_the_key_and_the_versions_rustls_speaks() {
    for old in ["TLSv1", "TLSv1.1", "SSLv3", "SSLv2Hello"] {
        let e = setup_err(&with_protocols(&["TLSv1.2", old]), CLIENT);
        assert_eq!(
            e.to_string(),
            format!(
                "ssl.tlsClientProtocols (gov.nist.javax.sip.TLS_CLIENT_PROTOCOLS): `{old}` is not \
                 supported: rustls speaks only TLSv1.2 and TLSv1.3; list those (or leave the key \
                 unset for both)"
            )
        );
    }
    let e = setup_err(&with_protocols(&["TLSv2"]), CLIENT);
    assert_eq!(
        e.problem,
        "`TLSv2` is not a TLS version; use TLSv1.2 and/or TLSv1.3"
    );
}

#[test]
fn versions_are_case_insensitive_and_default_to_both() {
    ctx(&with_protocols(&["tlsv1.3", " TLSv1.2 "]), CLIENT);
    ctx(&with_protocols(&[]), CLIENT);
}

#[test]
fn unknown_or_unsupported_cipher_suite_is_named() {
    for bad in ["TLS_RSA_WITH_AES_128_CBC_SHA", "NOT_A_SUITE"] {
        let e = setup_err(&with_suites(&["TLS_AES_128_GCM_SHA256", bad]), CLIENT);
        assert_eq!(e.key, "ssl.enabledCipherSuites");
        assert_eq!(
            e.problem,
            format!(
                "`{bad}` is not a cipher suite rustls supports; supported: TLS_AES_256_GCM_SHA384, \
                 TLS_AES_128_GCM_SHA256, TLS_CHACHA20_POLY1305_SHA256, \
                 TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, \
                 TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, \
                 TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, \
                 TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"
            )
        );
    }
}

#[test]
fn suites_must_fit_some_allowed_version() {
    let mut tls = with_suites(&["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]);
    tls.client_protocols = vec!["TLSv1.3".into()];
    let e = setup_err(&tls, CLIENT);
    assert_eq!(e.key, "ssl.enabledCipherSuites");
    assert!(
        e.problem.starts_with("no listed cipher suite is usable"),
        "{e}"
    );
    // With both versions allowed, a TLS 1.3-only list is fine (1.2 is just off).
    ctx(&with_suites(&["TLS_AES_128_GCM_SHA256"]), CLIENT);
}

#[test]
fn java_keystores_are_refused_with_the_conversion_command() {
    let dir = TempDir::new();
    for (magic, kind) in [([0xFE, 0xED, 0xFE, 0xED], "JKS"), ([0xCE; 4], "JCEKS")] {
        let path = dir.path().join(format!("ks.{kind}"));
        let mut bytes = magic.to_vec();
        bytes.extend_from_slice(&[0, 0, 0, 2, 0, 0, 0, 1]);
        std::fs::write(&path, bytes).unwrap();
        let p = path.display();
        let tls = TlsConfig {
            key_store: Some(p.to_string()),
            ..TlsConfig::default()
        };
        assert_eq!(
            setup_err(&tls, SERVER).to_string(),
            format!(
                "ssl.keyStore (javax.net.ssl.keyStore): {p}: this is a Java {kind} keystore, which \
                 sip-balancer cannot read; convert it to PKCS#12 with `keytool -importkeystore \
                 -srckeystore {p} -destkeystore {p}.p12 -deststoretype PKCS12` and point \
                 ssl.keyStore at the .p12 (same password), or to PEM with `openssl pkcs12 -in \
                 {p}.p12 -out {p}.pem -nodes` after that"
            )
        );
        let tls = TlsConfig {
            trust_store: Some(p.to_string()),
            client_auth: TlsClientAuth::Disabled,
            ..TlsConfig::default()
        };
        let e = setup_err(&tls, CLIENT);
        assert_eq!(
            (e.key, e.file.as_deref()),
            ("ssl.trustStore", Some(&*p.to_string()))
        );
        assert!(e.problem.contains("ssl.trustStore at the .p12"), "{e}");
    }
}

#[test]
fn a_listener_needs_key_material() {
    let e = setup_err(&TlsConfig::default(), SERVER);
    assert_eq!(
        e.to_string(),
        "ssl.keyStore (javax.net.ssl.keyStore): a TLS listener is configured (a SIP \
         tlsPort/wssPort, http.httpsPort or smpp.smppSslPort) but neither ssl.keyStore nor \
         ssl.certificateFile is set"
    );
}

#[test]
fn verifying_needs_anchors_unless_disabled_all() {
    let tls = TlsConfig::default();
    let e = setup_err(&tls, CLIENT);
    assert_eq!(e.key, "ssl.trustStore");
    assert!(
        e.problem
            .starts_with("TLS towards nodes needs trust anchors"),
        "{e}"
    );
    let tls = TlsConfig {
        client_auth: TlsClientAuth::DisabledAll,
        ..TlsConfig::default()
    };
    let c = ctx(&tls, CLIENT);
    assert!(c.client_config().is_some() && c.server_config().is_none());
}

#[test]
fn missing_file_names_key_and_path() {
    let tls = TlsConfig {
        key_store: Some("/nonexistent/ks.p12".into()),
        ..TlsConfig::default()
    };
    assert_eq!(
        setup_err(&tls, SERVER).to_string(),
        "ssl.keyStore (javax.net.ssl.keyStore): /nonexistent/ks.p12: cannot read: No such file \
         or directory (os error 2)"
    );
}

#[test]
fn key_of_another_certificate_is_refused() {
    let dir = TempDir::new();
    let pki = pki(&dir);
    let tls = TlsConfig {
        certificate_file: s(&pki.server_chain),
        private_key_file: s(&pki.client_key),
        ..TlsConfig::default()
    };
    let e = setup_err(&tls, SERVER);
    assert_eq!(e.key, "ssl.certificateFile");
    assert_eq!(e.file, s(&pki.server_chain));
    assert!(
        e.problem
            .starts_with("unusable certificate chain and private key: "),
        "{e}"
    );
}

#[test]
fn pem_key_store_without_a_key_is_refused() {
    let dir = TempDir::new();
    let pki = pki(&dir);
    let tls = TlsConfig {
        key_store: s(&pki.server_chain),
        ..TlsConfig::default()
    };
    let e = setup_err(&tls, SERVER);
    assert_eq!(e.file, s(&pki.server_chain));
    assert!(e.problem.starts_with("no private key"), "{e}");
}

#[test]
fn embedded_default_uses_no_tls_even_with_tlsv1_listed() {
    let mut cfg = Config::embedded_default();
    assert_eq!(Roles::of(&cfg), Roles::default());
    cfg.tls.client_protocols = vec!["TLSv1".into()];
    assert!(TlsContext::for_config(&cfg).unwrap().is_none());
}

#[test]
fn the_guides_sample_properties_load_and_refuse_tlsv1_only_at_tls_start() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lb.properties");
    let cfg = config::load(&path).unwrap();
    assert_eq!(
        Roles::of(&cfg),
        Roles {
            server: true,
            client: true
        }
    );
    let e = TlsContext::for_config(&cfg).unwrap_err();
    assert_eq!(e.key, "ssl.tlsClientProtocols");
    assert!(e.problem.starts_with("`TLSv1` is not supported"), "{e}");
}

fn roles(yaml: &str) -> Roles {
    Roles::of(&config::from_yaml_str(yaml, "t.yaml").unwrap())
}

#[test]
fn roles_follow_listeners_and_node_transports() {
    let udp = "sip: { external: { udpPort: 5060 } }\n";
    assert_eq!(roles(udp), Roles::default());
    let tls = "sip: { external: { udpPort: 5060, tlsPort: 5061 } }\n";
    assert_eq!(
        roles(tls),
        Roles {
            server: true,
            client: true
        }
    );
    let forced = "sip: { external: { udpPort: 5060 }, internalTransport: tls }\n";
    assert_eq!(roles(forced), CLIENT);
    let https_terminated =
        "http: { httpPort: 2080, httpsPort: 2081 }\nssl: { terminateTLSTraffic: true }\n";
    assert_eq!(roles(https_terminated), SERVER);
    let https = "http: { httpPort: 2080, httpsPort: 2081 }\n";
    assert_eq!(
        roles(https),
        Roles {
            server: true,
            client: true
        }
    );
    assert_eq!(
        roles("http: { httpPort: 2080, isRemoteServerSsl: true }\n"),
        CLIENT
    );
}

#[test]
fn yaml_pem_keys_are_alternatives_to_the_key_store() {
    let cfg = config::from_yaml_str(
        "ssl: { certificateFile: /etc/lb/chain.pem, privateKeyFile: /etc/lb/key.pem }\n",
        "t.yaml",
    )
    .unwrap();
    assert_eq!(
        cfg.tls.certificate_file.as_deref(),
        Some("/etc/lb/chain.pem")
    );
    assert_eq!(cfg.tls.private_key_file.as_deref(), Some("/etc/lb/key.pem"));
    let both = "ssl: { keyStore: /etc/lb/ks.p12, certificateFile: /etc/lb/chain.pem }\n";
    assert_eq!(
        config::from_yaml_str(both, "t.yaml")
            .unwrap_err()
            .to_string(),
        "t.yaml:1: ssl.certificateFile: ssl.keyStore and ssl.certificateFile are alternatives: \
         set one"
    );
    let lone_key = "ssl: { privateKeyFile: /etc/lb/key.pem }\n";
    assert_eq!(
        config::from_yaml_str(lone_key, "t.yaml")
            .unwrap_err()
            .problem,
        "ssl.privateKeyFile needs ssl.certificateFile"
    );
}
