//! Test certificates made with rcgen: a CA, and a server and a client
//! certificate it signed, written as PEM files into a directory. Used by the
//! TLS unit tests (`src/tls/tests`) and by integration tests.
//!
//! Keys are ECDSA P-256 (rcgen's default with ring). Files written:
//! `ca.pem`, `server.pem` (leaf then CA), `server.key`, `server-bundle.pem`
//! (chain then key: what `ssl.keyStore` may point at), `client.pem`,
//! `client.key`, `client-bundle.pem`.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// Paths of the files [`write_pki`] wrote.
#[derive(Debug, Clone)]
pub struct TestPki {
    /// The directory holding them.
    pub dir: PathBuf,
    /// CA certificate (the trust store).
    pub ca: PathBuf,
    /// Server chain: leaf, then CA.
    pub server_chain: PathBuf,
    /// Server private key (PKCS#8 PEM).
    pub server_key: PathBuf,
    /// Server chain then key in one file.
    pub server_bundle: PathBuf,
    /// Client chain: leaf, then CA.
    pub client_chain: PathBuf,
    /// Client private key (PKCS#8 PEM).
    pub client_key: PathBuf,
    /// Client chain then key in one file.
    pub client_bundle: PathBuf,
}

/// Writes a fresh CA and a server certificate for `server_sans` (IP
/// addresses such as `127.0.0.1`/`::1` become IP SANs, anything else DNS
/// SANs), and a client certificate (`client.test`), into `dir`.
pub fn write_pki(dir: &Path, server_sans: &[&str]) -> TestPki {
    std::fs::create_dir_all(dir).expect("create cert dir");
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, ca_name(dir));
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params.self_signed(&ca_key).expect("CA cert");
    let ca_pem = ca_cert.pem();
    let issuer = Issuer::new(ca_params, ca_key);

    let sans: Vec<String> = server_sans.iter().map(|s| s.to_string()).collect();
    let server = leaf(
        &issuer,
        sans,
        "sip-balancer test server",
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    let client = leaf(
        &issuer,
        vec!["client.test".to_owned()],
        "sip-balancer test client",
        ExtendedKeyUsagePurpose::ClientAuth,
    );

    let pki = TestPki {
        dir: dir.to_path_buf(),
        ca: dir.join("ca.pem"),
        server_chain: dir.join("server.pem"),
        server_key: dir.join("server.key"),
        server_bundle: dir.join("server-bundle.pem"),
        client_chain: dir.join("client.pem"),
        client_key: dir.join("client.key"),
        client_bundle: dir.join("client-bundle.pem"),
    };
    write(&pki.ca, &ca_pem);
    for (chain, key, bundle, (cert_pem, key_pem)) in [
        (
            &pki.server_chain,
            &pki.server_key,
            &pki.server_bundle,
            server,
        ),
        (
            &pki.client_chain,
            &pki.client_key,
            &pki.client_bundle,
            client,
        ),
    ] {
        let chain_pem = format!("{cert_pem}{ca_pem}");
        write(chain, &chain_pem);
        write(key, &key_pem);
        write(bundle, &format!("{chain_pem}{key_pem}"));
    }
    pki
}

/// A CA name of its own per directory: two test CAs never share a
/// subject, so a certificate of the other one is an unknown issuer.
fn ca_name(dir: &Path) -> String {
    let tail = dir.file_name().map(|n| n.to_string_lossy().into_owned());
    format!("sip-balancer test CA {}", tail.unwrap_or_default())
}

/// An end-entity certificate signed by `issuer`: (certificate PEM, key PEM).
fn leaf(
    issuer: &Issuer<'_, KeyPair>,
    sans: Vec<String>,
    common_name: &str,
    usage: ExtendedKeyUsagePurpose,
) -> (String, String) {
    let key = KeyPair::generate().expect("leaf key");
    let mut params = CertificateParams::new(sans).expect("leaf params");
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![usage];
    params.use_authority_key_identifier_extension = true;
    let cert = params.signed_by(&key, issuer).expect("sign leaf");
    (cert.pem(), key.serialize_pem())
}

/// The balancer's top-level `ssl:` YAML section: the server certificate
/// of `f` as its own, the CA as its trust store, client authentication
/// `auth` (`Disabled`, `Want`, …) and `terminateTLSTraffic: terminate`.
pub fn ssl_yaml(f: &TestPki, auth: &str, terminate: bool) -> String {
    format!(
        "ssl:\n  certificateFile: \"{}\"\n  privateKeyFile: \"{}\"\n  trustStore: \"{}\"\n  \
         tlsClientAuthType: {auth}\n  terminateTLSTraffic: {terminate}\n",
        f.server_chain.display(),
        f.server_key.display(),
        f.ca.display()
    )
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}
