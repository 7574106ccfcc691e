//! [`TlsContext`]: the rustls server and client configurations built once
//! at start from [`TlsConfig`], and [`Roles`], the rule saying when a
//! configuration uses TLS at all.
//!
//! Reading the key and trust store files happens here, once, at start.
//! Nothing here runs per connection.

use std::sync::Arc;

use rustls::client::Resumption;
use rustls::crypto::CryptoProvider;
use rustls::server::{ServerSessionMemoryCache, WebPkiClientVerifier};
use rustls::{ClientConfig, RootCertStore, ServerConfig, SupportedProtocolVersion};

use super::store::{self, Identity};
use super::verify::AcceptAnyServerCert;
use super::{names, SetupError};
use crate::config::{Config, TlsClientAuth, TlsConfig, Transport};

/// Sessions remembered for resumption, per configuration (so per shard
/// after [`TlsContext::for_shard`]).
const SESSION_CACHE_ENTRIES: usize = 256;

/// The two sides of TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Accepting connections: SIP TLS/WSS listeners, HTTPS, SMPP over TLS.
    Server,
    /// Opening connections: TLS towards nodes (SIP, HTTP, SMPP).
    Client,
}

/// Which sides of TLS a configuration uses; [`Roles::of`] is the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Roles {
    /// A TLS listener exists: needs a certificate and key.
    pub server: bool,
    /// The balancer may open TLS connections: needs trust anchors, unless
    /// `tlsClientAuthType` is `DisabledAll`.
    pub client: bool,
}

/// The server and client configurations of one shard (or of the process,
/// before [`for_shard`](TlsContext::for_shard)).
#[derive(Debug, Clone)]
pub struct TlsContext {
    server: Option<Arc<ServerConfig>>,
    client: Option<Arc<ClientConfig>>,
}

/// An identity with the key and file it came from, for error messages.
struct Loaded {
    identity: Identity,
    key: &'static str,
    file: String,
}

// === impl Roles ===

impl Roles {
    /// TLS is used when a listener speaks it (a SIP `tlsPort`/`wssPort` on
    /// either leg, `http.httpsPort`, `smpp.smppSslPort`) — the server role —
    /// or when the balancer may open TLS connections — the client role:
    /// `internalTransport` TLS/WSS, SIP TLS/WSS listeners (their traffic
    /// goes on over TLS unless `terminateTLSTraffic` or another
    /// `internalTransport`, and requests towards TLS clients may need a new
    /// connection), `isRemoteServerSsl`, and HTTPS or SMPP-TLS listeners
    /// without `terminateTLSTraffic`.
    pub fn of(config: &Config) -> Roles {
        let sip = &config.sip;
        let sip_tls = std::iter::once(&sip.external)
            .chain(sip.internal.as_ref())
            .any(|leg| leg.ports.tls.is_some() || leg.ports.wss.is_some());
        let https = config.http.https_port.is_some();
        let smpp_tls = config.smpp.ssl_port.is_some();
        let pass_through = !config.tls.terminate_tls_traffic;
        Roles {
            server: sip_tls || https || smpp_tls,
            client: matches!(
                sip.internal_transport,
                Some(Transport::Tls | Transport::Wss)
            ) || sip_tls
                || config.http.remote_server_ssl
                || (pass_through && (https || smpp_tls)),
        }
    }

    /// Whether any TLS is used.
    pub fn any(self) -> bool {
        self.server || self.client
    }
}

// === impl TlsContext ===

impl TlsContext {
    /// The context `config` needs, or `None` when it uses no TLS (then
    /// nothing in `ssl` is checked: the original's sample `lb.properties`
    /// lists `TLSv1` without any TLS port).
    pub fn for_config(config: &Config) -> Result<Option<TlsContext>, SetupError> {
        let roles = Roles::of(config);
        if !roles.any() {
            return Ok(None);
        }
        TlsContext::from_config(&config.tls, roles).map(Some)
    }

    /// Reads the key and trust stores named by `tls` and builds the
    /// configurations for `roles`, with the ring provider (never the
    /// process-wide default provider).
    ///
    /// Versions (`tlsClientProtocols`) and suites (`enabledCipherSuites`)
    /// are checked whatever the roles; the server role needs a key store;
    /// `Enabled`/`Want` and the client role (unless `DisabledAll`) need
    /// trust anchors: `trustStore`, else the key store's own chain.
    pub fn from_config(tls: &TlsConfig, roles: Roles) -> Result<TlsContext, SetupError> {
        let versions = names::protocol_versions(&tls.client_protocols)?;
        let suites = names::cipher_suites(&tls.enabled_cipher_suites)?;
        names::check_combination(&versions, &suites)?;
        let provider = Arc::new(CryptoProvider {
            cipher_suites: suites,
            ..rustls::crypto::ring::default_provider()
        });
        let identity = load_identity(tls)?;
        let anchors = load_anchors(tls, identity.as_ref())?;
        let build = Build {
            tls,
            provider: &provider,
            versions: &versions,
            identity: identity.as_ref(),
            anchors: anchors.as_ref(),
        };
        let ctx = TlsContext {
            server: roles.server.then(|| build.server()).transpose()?,
            client: roles.client.then(|| build.client()).transpose()?,
        };
        log_summary(tls, &build, roles);
        Ok(ctx)
    }

    /// A copy for one shard: same settings, its own session caches, so
    /// that shards share no lock when they resume sessions.
    pub fn for_shard(&self) -> TlsContext {
        let server = self.server.as_ref().map(|s| {
            let mut c = ServerConfig::clone(s);
            c.session_storage = ServerSessionMemoryCache::new(SESSION_CACHE_ENTRIES);
            Arc::new(c)
        });
        let client = self.client.as_ref().map(|s| {
            let mut c = ClientConfig::clone(s);
            c.resumption = Resumption::in_memory_sessions(SESSION_CACHE_ENTRIES);
            Arc::new(c)
        });
        TlsContext { server, client }
    }

    /// The configuration for accepted connections, if built.
    pub fn server_config(&self) -> Option<&Arc<ServerConfig>> {
        self.server.as_ref()
    }

    /// The configuration for connections the balancer opens, if built.
    pub fn client_config(&self) -> Option<&Arc<ClientConfig>> {
        self.client.as_ref()
    }
}

/// What both configurations are built from.
struct Build<'a> {
    tls: &'a TlsConfig,
    provider: &'a Arc<CryptoProvider>,
    versions: &'a [&'static SupportedProtocolVersion],
    identity: Option<&'a Loaded>,
    anchors: Option<&'a (Arc<RootCertStore>, &'static str)>,
}

impl Build<'_> {
    fn server(&self) -> Result<Arc<ServerConfig>, SetupError> {
        let Some(loaded) = self.identity else {
            return Err(SetupError::new(
                "ssl.keyStore",
                "a TLS listener is configured (a SIP tlsPort/wssPort, http.httpsPort or \
                 smpp.smppSslPort) but neither ssl.keyStore nor ssl.certificateFile is set",
            ));
        };
        let builder = ServerConfig::builder_with_provider(Arc::clone(self.provider))
            .with_protocol_versions(self.versions)
            .map_err(|e| SetupError::new("ssl.tlsClientProtocols", e.to_string()))?;
        let builder = match self.tls.client_auth {
            TlsClientAuth::Enabled | TlsClientAuth::Want => {
                let roots = self.roots_for("ssl.tlsClientAuthType Enabled/Want")?;
                let mut verifier =
                    WebPkiClientVerifier::builder_with_provider(roots, Arc::clone(self.provider));
                if self.tls.client_auth == TlsClientAuth::Want {
                    verifier = verifier.allow_unauthenticated();
                }
                let verifier = verifier
                    .build()
                    .map_err(|e| SetupError::new(self.anchor_key(), e.to_string()))?;
                builder.with_client_cert_verifier(verifier)
            }
            TlsClientAuth::Disabled | TlsClientAuth::DisabledAll => builder.with_no_client_auth(),
        };
        let id = &loaded.identity;
        builder
            .with_single_cert(id.chain.clone(), id.key.clone_key())
            .map(Arc::new)
            .map_err(|e| unusable_identity(loaded, &e))
    }

    fn client(&self) -> Result<Arc<ClientConfig>, SetupError> {
        let builder = ClientConfig::builder_with_provider(Arc::clone(self.provider))
            .with_protocol_versions(self.versions)
            .map_err(|e| SetupError::new("ssl.tlsClientProtocols", e.to_string()))?;
        let builder = if self.tls.client_auth == TlsClientAuth::DisabledAll {
            let verifier = AcceptAnyServerCert::new(Arc::clone(self.provider));
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
        } else {
            builder.with_root_certificates(self.roots_for("TLS towards nodes")?)
        };
        let config = match self.identity {
            Some(loaded) => {
                let id = &loaded.identity;
                builder
                    .with_client_auth_cert(id.chain.clone(), id.key.clone_key())
                    .map_err(|e| unusable_identity(loaded, &e))?
            }
            None => builder.with_no_client_auth(),
        };
        Ok(Arc::new(config))
    }

    /// The trust anchors, or the error saying `what` needs them.
    fn roots_for(&self, what: &str) -> Result<Arc<RootCertStore>, SetupError> {
        match self.anchors {
            Some((roots, _)) => Ok(Arc::clone(roots)),
            None => Err(SetupError::new(
                "ssl.trustStore",
                format!(
                    "{what} needs trust anchors to verify peer certificates: set ssl.trustStore \
                     (a PEM CA bundle or PKCS#12 file) or a key store; tlsClientAuthType \
                     DisabledAll connects to nodes without verifying them"
                ),
            )),
        }
    }

    fn anchor_key(&self) -> &'static str {
        self.anchors.map_or("ssl.trustStore", |(_, key)| key)
    }
}

fn unusable_identity(loaded: &Loaded, e: &rustls::Error) -> SetupError {
    SetupError::file(
        loaded.key,
        &loaded.file,
        format!("unusable certificate chain and private key: {e}"),
    )
}

/// Reads a whole file named by `key`.
fn read(key: &'static str, path: &str) -> Result<Vec<u8>, SetupError> {
    std::fs::read(path).map_err(|e| SetupError::file(key, path, format!("cannot read: {e}")))
}

fn load_identity(tls: &TlsConfig) -> Result<Option<Loaded>, SetupError> {
    if let Some(path) = &tls.key_store {
        let bytes = read("ssl.keyStore", path)?;
        let identity = store::identity_from_key_store(
            "ssl.keyStore",
            path,
            &bytes,
            tls.key_store_password.as_deref(),
        )?;
        return Ok(Some(Loaded {
            identity,
            key: "ssl.keyStore",
            file: path.clone(),
        }));
    }
    let Some(cert_path) = &tls.certificate_file else {
        return Ok(None);
    };
    let cert = read("ssl.certificateFile", cert_path)?;
    let key = match &tls.private_key_file {
        Some(path) => Some((path.as_str(), read("ssl.privateKeyFile", path)?)),
        None => None,
    };
    let identity = store::identity_from_pem_files(
        (cert_path, &cert),
        key.as_ref().map(|(p, b)| (*p, b.as_slice())),
    )?;
    Ok(Some(Loaded {
        identity,
        key: "ssl.certificateFile",
        file: cert_path.clone(),
    }))
}

/// `trustStore`, else the key store's own chain (so a balancer and nodes
/// with certificates from one CA work when that CA is in the chain).
fn load_anchors(
    tls: &TlsConfig,
    identity: Option<&Loaded>,
) -> Result<Option<(Arc<RootCertStore>, &'static str)>, SetupError> {
    let (key, file, certs) = match (&tls.trust_store, identity) {
        (Some(path), _) => {
            let bytes = read("ssl.trustStore", path)?;
            let pw = tls.trust_store_password.as_deref();
            let certs = store::trust_anchors("ssl.trustStore", path, &bytes, pw)?;
            ("ssl.trustStore", path.as_str(), certs)
        }
        (None, Some(loaded)) => (
            loaded.key,
            loaded.file.as_str(),
            loaded.identity.chain.clone(),
        ),
        (None, None) => return Ok(None),
    };
    let mut roots = RootCertStore::empty();
    for (i, cert) in certs.into_iter().enumerate() {
        roots.add(cert).map_err(|e| {
            SetupError::file(
                key,
                file,
                format!("certificate {} cannot be a trust anchor: {e}", i + 1),
            )
        })?;
    }
    Ok(Some((Arc::new(roots), key)))
}

fn log_summary(tls: &TlsConfig, build: &Build<'_>, roles: Roles) {
    let versions: Vec<&str> = build
        .versions
        .iter()
        .map(|v| names::version_name(v))
        .collect();
    let anchors = match build.anchors {
        Some((roots, key)) => format!("{} trust anchors from {key}", roots.len()),
        None => "no trust anchors".to_owned(),
    };
    log::info!(
        "TLS: server {}, client {}, {}, client auth {:?}, {anchors}, {} cipher suites",
        if roles.server { "on" } else { "off" },
        if roles.client { "on" } else { "off" },
        versions.join("+"),
        tls.client_auth,
        build.provider.cipher_suites.len(),
    );
}
