//! Key material from the bytes of the files the `ssl` keys name: PEM
//! certificate chains and private keys, PKCS#12 key and trust stores, and a
//! clear refusal (with the conversion command) for Java JKS/JCEKS stores.
//!
//! Everything here takes bytes; reading the files is the caller's
//! (`context.rs`), once at start.

use memchr::memmem;
use p12_keystore::{KeyStore, Pkcs12Archive, Pkcs12ImportPolicy};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::{ec_key, SetupError};

/// A certificate chain (leaf first) and its private key.
#[derive(Debug)]
pub(crate) struct Identity {
    /// Leaf first, then intermediates (and possibly the root).
    pub(crate) chain: Vec<CertificateDer<'static>>,
    /// The leaf's private key.
    pub(crate) key: PrivateKeyDer<'static>,
}

/// How a store file is encoded, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    /// Text with `-----BEGIN …-----` sections.
    Pem,
    /// Java KeyStore (magic `FE ED FE ED`).
    Jks,
    /// Java JCEKS store (magic `CE CE CE CE`).
    Jceks,
    /// Anything else: read as DER PKCS#12.
    Der,
}

fn sniff(bytes: &[u8]) -> Format {
    match bytes.get(..4) {
        Some([0xFE, 0xED, 0xFE, 0xED]) => Format::Jks,
        Some([0xCE, 0xCE, 0xCE, 0xCE]) => Format::Jceks,
        _ if memmem::find(bytes, b"-----BEGIN ").is_some() => Format::Pem,
        _ => Format::Der,
    }
}

/// The error for a Java store: rustls cannot read it, here is how to convert it.
fn java_store_error(key: &'static str, file: &str, kind: &str) -> SetupError {
    SetupError::file(
        key,
        file,
        format!(
            "this is a Java {kind} keystore, which sip-balancer cannot read; convert it to \
             PKCS#12 with `keytool -importkeystore -srckeystore {file} -destkeystore {file}.p12 \
             -deststoretype PKCS12` and point {key} at the .p12 (same password), or to PEM with \
             `openssl pkcs12 -in {file}.p12 -out {file}.pem -nodes` after that"
        ),
    )
}

/// Reads a key store: PEM (chain and key in one file) or PKCS#12.
pub(crate) fn identity_from_key_store(
    key: &'static str,
    file: &str,
    bytes: &[u8],
    password: Option<&str>,
) -> Result<Identity, SetupError> {
    match sniff(bytes) {
        Format::Jks => Err(java_store_error(key, file, "JKS")),
        Format::Jceks => Err(java_store_error(key, file, "JCEKS")),
        Format::Pem => Ok(completed(Identity {
            chain: pem_certificates(key, file, bytes)?,
            key: pem_private_key(key, file, bytes)?,
        })),
        Format::Der => {
            identity_from_pkcs12(key, file, bytes, password.unwrap_or("")).map(completed)
        }
    }
}

/// Adds the public key to a Java-style EC key that lacks it (see `ec_key`).
fn completed(mut id: Identity) -> Identity {
    if let (PrivateKeyDer::Pkcs8(key), Some(leaf)) = (&id.key, id.chain.first()) {
        if let Some(full) = ec_key::with_public_key(key.secret_pkcs8_der(), leaf) {
            log::debug!("EC private key without its public key: taken from the certificate");
            id.key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(full));
        }
    }
    id
}

/// Reads `ssl.certificateFile` (PEM chain) and the key from
/// `ssl.privateKeyFile`, or from the certificate file when that is `None`.
pub(crate) fn identity_from_pem_files(
    cert: (&str, &[u8]),
    key: Option<(&str, &[u8])>,
) -> Result<Identity, SetupError> {
    let chain = pem_certificates("ssl.certificateFile", cert.0, cert.1)?;
    let key = match key {
        Some((file, bytes)) => pem_private_key("ssl.privateKeyFile", file, bytes)?,
        None => pem_private_key("ssl.certificateFile", cert.0, cert.1)?,
    };
    Ok(completed(Identity { chain, key }))
}

/// Reads a trust store: PEM CA bundle or PKCS#12 (every certificate in it).
pub(crate) fn trust_anchors(
    key: &'static str,
    file: &str,
    bytes: &[u8],
    password: Option<&str>,
) -> Result<Vec<CertificateDer<'static>>, SetupError> {
    match sniff(bytes) {
        Format::Jks => Err(java_store_error(key, file, "JKS")),
        Format::Jceks => Err(java_store_error(key, file, "JCEKS")),
        Format::Pem => pem_certificates(key, file, bytes),
        Format::Der => {
            let archive = Pkcs12Archive::from_pkcs12(bytes, password.unwrap_or(""))
                .map_err(|e| pkcs12_error(key, file, &e))?;
            let certs: Vec<CertificateDer<'static>> = archive
                .certs
                .iter()
                .map(|bag| CertificateDer::from(bag.cert.as_der().to_vec()))
                .collect();
            if certs.is_empty() {
                return Err(SetupError::file(
                    key,
                    file,
                    "no certificate in this PKCS#12 file",
                ));
            }
            Ok(certs)
        }
    }
}

fn identity_from_pkcs12(
    key: &'static str,
    file: &str,
    bytes: &[u8],
    password: &str,
) -> Result<Identity, SetupError> {
    let store = KeyStore::from_pkcs12(bytes, password, Pkcs12ImportPolicy::Strict)
        .map_err(|e| pkcs12_error(key, file, &e))?;
    let Some((alias, chain)) = store.private_key_chain() else {
        return Err(SetupError::file(
            key,
            file,
            "no private key with its certificate in this PKCS#12 file",
        ));
    };
    log::debug!("{file}: using PKCS#12 entry `{alias}`");
    Ok(Identity {
        chain: chain
            .certs()
            .iter()
            .map(|c| CertificateDer::from(c.as_der().to_vec()))
            .collect(),
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(chain.key().as_der().to_vec())),
    })
}

fn pkcs12_error(key: &'static str, file: &str, e: &p12_keystore::error::Error) -> SetupError {
    let why = match e {
        p12_keystore::error::Error::MacError(_) => "wrong password (MAC check failed)".to_owned(),
        other => other.to_string(),
    };
    SetupError::file(
        key,
        file,
        format!("not PEM, and not a readable PKCS#12 file: {why}"),
    )
}

fn pem_certificates(
    key: &'static str,
    file: &str,
    bytes: &[u8],
) -> Result<Vec<CertificateDer<'static>>, SetupError> {
    let certs = CertificateDer::pem_slice_iter(bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| SetupError::file(key, file, format!("bad PEM: {e}")))?;
    if certs.is_empty() {
        return Err(SetupError::file(
            key,
            file,
            "no `-----BEGIN CERTIFICATE-----` section in this PEM file",
        ));
    }
    Ok(certs)
}

fn pem_private_key(
    key: &'static str,
    file: &str,
    bytes: &[u8],
) -> Result<PrivateKeyDer<'static>, SetupError> {
    let encrypted = memmem::find(bytes, b"-----BEGIN ENCRYPTED PRIVATE KEY-----").is_some()
        || memmem::find(bytes, b"Proc-Type: 4,ENCRYPTED").is_some();
    if encrypted {
        return Err(SetupError::file(
            key,
            file,
            format!(
                "the private key is encrypted, which is not supported; decrypt it with \
                 `openssl pkey -in {file} -out key.pem` (keep it readable only by the balancer) \
                 or use a PKCS#12 key store with ssl.keyStorePassword"
            ),
        ));
    }
    PrivateKeyDer::from_pem_slice(bytes).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => SetupError::file(
            key,
            file,
            "no private key (`-----BEGIN PRIVATE KEY-----`, `RSA PRIVATE KEY` or \
             `EC PRIVATE KEY` section) in this PEM file",
        ),
        other => SetupError::file(key, file, format!("bad PEM: {other}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_java_pem_and_der() {
        assert_eq!(sniff(&[0xFE, 0xED, 0xFE, 0xED, 0, 0, 0, 2]), Format::Jks);
        assert_eq!(sniff(&[0xCE, 0xCE, 0xCE, 0xCE]), Format::Jceks);
        assert_eq!(sniff(b"junk\n-----BEGIN CERTIFICATE-----\n"), Format::Pem);
        assert_eq!(sniff(&[0x30, 0x82, 0x01]), Format::Der);
        assert_eq!(sniff(&[]), Format::Der);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let e =
            identity_from_key_store("ssl.keyStore", "ks", &[0x30, 0x03, 0xFF], None).unwrap_err();
        assert_eq!(e.key, "ssl.keyStore");
        assert!(
            e.problem
                .starts_with("not PEM, and not a readable PKCS#12 file"),
            "{e}"
        );
        let e = trust_anchors(
            "ssl.trustStore",
            "ts",
            b"-----BEGIN CERTIFICATE-----\n",
            None,
        )
        .unwrap_err();
        assert!(e.problem.starts_with("bad PEM"), "{e}");
    }

    #[test]
    fn pem_without_key_names_the_file() {
        let e = identity_from_pem_files(("c.pem", b"nothing here"), None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "ssl.certificateFile: c.pem: no `-----BEGIN CERTIFICATE-----` section in this PEM file"
        );
    }
}
