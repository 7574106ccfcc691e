//! The two error types of TLS: [`SetupError`] when configurations are built
//! at start (one line for the operator, the binary exits 2 with it) and
//! [`SessionError`] when a connection's TLS fails (the shard closes that
//! connection, after sending whatever alert is queued).

use std::fmt;

/// Why the TLS configuration could not be built: the `ssl` key at fault,
/// the file when one is involved, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupError {
    /// YAML key, e.g. `ssl.keyStore`; `Display` adds the `lb.properties` spelling.
    pub key: &'static str,
    /// The file at fault (key store, trust store, PEM file), when there is one.
    pub file: Option<String>,
    /// What is wrong, one line.
    pub problem: String,
}

/// A connection's TLS failed; the runtime closes it after draining
/// [`Session::write_ciphertext`](super::Session::write_ciphertext) (which
/// then holds the alert telling the peer why).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SessionError {
    /// The handshake failed: no common version or cipher suite, a
    /// certificate that does not verify, a required client certificate
    /// missing, or an alert from the peer during the handshake.
    Handshake(rustls::Error),
    /// A TLS error after the handshake: a corrupt record, an unexpected
    /// message or a fatal alert from the peer.
    Protocol(rustls::Error),
    /// The peer sent more than rustls buffers for one record or handshake
    /// message (64 KiB).
    Oversized,
    /// Plaintext was written after [`Session::send_close_notify`](super::Session::send_close_notify).
    Closed,
    /// The [`TlsContext`](super::TlsContext) was built without this role
    /// (no server configuration for an accepted connection, or no client
    /// configuration for an outgoing one).
    NoConfig(super::Role),
}

// === impl SetupError ===

impl SetupError {
    /// A problem with `key` that involves no particular file.
    pub(crate) fn new(key: &'static str, problem: impl Into<String>) -> Self {
        SetupError {
            key,
            file: None,
            problem: problem.into(),
        }
    }

    /// A problem with the file `file` named by `key`.
    pub(crate) fn file(key: &'static str, file: &str, problem: impl Into<String>) -> Self {
        SetupError {
            key,
            file: Some(file.to_owned()),
            problem: problem.into(),
        }
    }
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key)?;
        if let Some(alias) = properties_alias(self.key) {
            write!(f, " ({alias})")?;
        }
        if let Some(file) = &self.file {
            write!(f, ": {file}")?;
        }
        // Messages from other crates may carry line breaks; keep one line.
        f.write_str(":")?;
        for word in self.problem.split_whitespace() {
            write!(f, " {word}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SetupError {}

/// The `lb.properties` key behind a YAML `ssl.*` key, for operators who
/// wrote the properties file.
fn properties_alias(key: &str) -> Option<&'static str> {
    Some(match key {
        "ssl.keyStore" => "javax.net.ssl.keyStore",
        "ssl.keyStorePassword" => "javax.net.ssl.keyStorePassword",
        "ssl.trustStore" => "javax.net.ssl.trustStore",
        "ssl.trustStorePassword" => "javax.net.ssl.trustStorePassword",
        "ssl.tlsClientProtocols" => "gov.nist.javax.sip.TLS_CLIENT_PROTOCOLS",
        "ssl.enabledCipherSuites" => "gov.nist.javax.sip.ENABLED_CIPHER_SUITES",
        "ssl.tlsClientAuthType" => "gov.nist.javax.sip.TLS_CLIENT_AUTH_TYPE",
        _ => return None,
    })
}

// === impl SessionError ===

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::Handshake(e) => write!(f, "TLS handshake failed: {e}"),
            SessionError::Protocol(e) => write!(f, "TLS error: {e}"),
            SessionError::Oversized => f.write_str("TLS record or handshake message too large"),
            SessionError::Closed => f.write_str("TLS session already closed"),
            SessionError::NoConfig(role) => write!(f, "no TLS {role:?} configuration"),
        }
    }
}

impl std::error::Error for SessionError {}
