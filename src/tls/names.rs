//! Protocol version and cipher suite names as operators write them
//! (`TLSv1.2`, IANA suite names such as `TLS_AES_128_GCM_SHA256`) mapped to
//! what rustls implements with the ring provider.
//!
//! rustls speaks only TLS 1.2 and 1.3 and only AEAD suites with forward
//! secrecy; everything else is refused with a message saying so.

use rustls::crypto::ring::cipher_suite as cs;
use rustls::{SupportedCipherSuite, SupportedProtocolVersion};

use super::SetupError;

/// YAML key of the protocol list.
const PROTOCOLS_KEY: &str = "ssl.tlsClientProtocols";
/// YAML key of the cipher suite list.
const SUITES_KEY: &str = "ssl.enabledCipherSuites";

/// Every suite of the ring provider under its IANA name (the names Java
/// uses too), TLS 1.3 first.
static SUITES: [(&str, &SupportedCipherSuite); 9] = [
    ("TLS_AES_256_GCM_SHA384", &cs::TLS13_AES_256_GCM_SHA384),
    ("TLS_AES_128_GCM_SHA256", &cs::TLS13_AES_128_GCM_SHA256),
    (
        "TLS_CHACHA20_POLY1305_SHA256",
        &cs::TLS13_CHACHA20_POLY1305_SHA256,
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        &cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        &cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        &cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        &cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        &cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        &cs::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
];

/// The versions to offer and accept; an empty list means TLS 1.2 and 1.3.
pub(crate) fn protocol_versions(
    names: &[String],
) -> Result<Vec<&'static SupportedProtocolVersion>, SetupError> {
    if names.is_empty() {
        return Ok(vec![&rustls::version::TLS13, &rustls::version::TLS12]);
    }
    let mut out: Vec<&'static SupportedProtocolVersion> = Vec::with_capacity(2);
    for name in names {
        let version = protocol_version(name)?;
        if !out.iter().any(|v| v.version == version.version) {
            out.push(version);
        }
    }
    Ok(out)
}

fn protocol_version(name: &str) -> Result<&'static SupportedProtocolVersion, SetupError> {
    let n = name.trim();
    if n.eq_ignore_ascii_case("TLSv1.3") {
        return Ok(&rustls::version::TLS13);
    }
    if n.eq_ignore_ascii_case("TLSv1.2") {
        return Ok(&rustls::version::TLS12);
    }
    let legacy = ["TLSv1", "TLSv1.1", "SSLv3", "SSLv2", "SSLv2Hello"];
    let problem = if legacy.iter().any(|l| n.eq_ignore_ascii_case(l)) {
        format!(
            "`{n}` is not supported: rustls speaks only TLSv1.2 and TLSv1.3; \
             list those (or leave the key unset for both)"
        )
    } else {
        format!("`{n}` is not a TLS version; use TLSv1.2 and/or TLSv1.3")
    };
    Err(SetupError::new(PROTOCOLS_KEY, problem))
}

/// The suites to offer and accept, in the configured order; an empty list
/// means the provider's defaults.
pub(crate) fn cipher_suites(names: &[String]) -> Result<Vec<SupportedCipherSuite>, SetupError> {
    if names.is_empty() {
        return Ok(rustls::crypto::ring::DEFAULT_CIPHER_SUITES.to_vec());
    }
    let mut out: Vec<SupportedCipherSuite> = Vec::with_capacity(names.len());
    for name in names {
        let suite = cipher_suite(name.trim())?;
        if !out.iter().any(|s| s.suite() == suite.suite()) {
            out.push(suite);
        }
    }
    Ok(out)
}

fn cipher_suite(name: &str) -> Result<SupportedCipherSuite, SetupError> {
    match SUITES.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
        Some((_, suite)) => Ok(**suite),
        None => {
            let supported: Vec<&str> = SUITES.iter().map(|(n, _)| *n).collect();
            Err(SetupError::new(
                SUITES_KEY,
                format!(
                    "`{name}` is not a cipher suite rustls supports; supported: {}",
                    supported.join(", ")
                ),
            ))
        }
    }
}

/// IANA name of a negotiated suite (for logs and tests).
pub(crate) fn suite_name(suite: SupportedCipherSuite) -> Option<&'static str> {
    SUITES
        .iter()
        .find(|(_, s)| s.suite() == suite.suite())
        .map(|(n, _)| *n)
}

/// Checks that the versions and suites leave something to negotiate: at
/// least one allowed version needs a listed suite. A version without one is
/// logged and never negotiated.
pub(crate) fn check_combination(
    versions: &[&'static SupportedProtocolVersion],
    suites: &[SupportedCipherSuite],
) -> Result<(), SetupError> {
    let usable = |v: &&SupportedProtocolVersion| suites.iter().any(|s| s.version() == *v);
    for v in versions.iter().filter(|v| !usable(v)) {
        log::warn!(
            "ssl.enabledCipherSuites lists no {} suite: {} will not be negotiated",
            version_name(v),
            version_name(v)
        );
    }
    if versions.iter().any(usable) {
        return Ok(());
    }
    Err(SetupError::new(
        SUITES_KEY,
        "no listed cipher suite is usable with the versions ssl.tlsClientProtocols allows \
         (TLS_AES_* and TLS_CHACHA20_* are TLSv1.3 suites, TLS_ECDHE_* are TLSv1.2 suites)",
    ))
}

/// `TLSv1.2` / `TLSv1.3`, as operators write them.
pub(crate) fn version_name(v: &SupportedProtocolVersion) -> &'static str {
    match v.version {
        rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3",
        _ => "TLSv1.2",
    }
}
