//! Import of the original `lb.properties` (Restcomm/Mobicents ≤ 2.1.x).
//!
//! Two steps: [`parse`] reads Java properties syntax (`key=value`,
//! `key = value`, `key: value`, `key value`, `#`/`!` comments, backslash
//! continuation, `\t \n \uXXXX` escapes) into entries with their line; then
//! [`import`] maps every known key onto a [`FileConfig`], remembering where
//! each value came from so that [`super::build`] errors point back at the
//! properties key and line.
//!
//! Leniency follows Java: unknown keys (real files carry junk, and the
//! guide's sample has broken line wraps) only give a warning; keys of the
//! JAIN-SIP stack, RMI, JMX and removed features are accepted and listed as
//! ignored. A bad *value* of a known key is an error. An empty value means
//! "unset". This module neither reads files nor logs.

use std::collections::HashMap;

mod keys;
pub(crate) mod syntax;

pub use syntax::{parse, Entry};

use keys::{is_ignored, nist_key, P};

use super::build::{algorithm_kind, parse_transport};
use super::error::ConfigError;
use super::file::{
    FileAlgorithm, FileConfig, FileHealth, FileHttp, FileLeg, FileSip, FileSmpp, FileSsl, StrList,
};

/// The result of importing a properties file.
#[derive(Debug, Clone, Default)]
pub struct Imported {
    /// Known keys mapped onto the native structure.
    pub file: FileConfig,
    /// Keys accepted but without effect here (stack tuning, RMI, JMX…).
    pub ignored: Vec<String>,
    /// Things the operator should know: unknown keys, lenient mappings.
    pub warnings: Vec<String>,
    /// YAML path → (properties key, line) of every value set.
    pub origins: HashMap<String, (String, usize)>,
}

// === import ===

/// Maps parsed entries onto a [`FileConfig`].
pub fn import(text: &str, file: &str) -> Result<Imported, ConfigError> {
    let mut im = Importer {
        file: file.to_owned(),
        out: Imported::default(),
        late: HashMap::new(),
    };
    let mut seen: HashMap<String, usize> = HashMap::new();
    for e in parse(text, file)? {
        if let Some(prev) = seen.insert(e.key.clone(), e.line) {
            im.out.warnings.push(format!(
                "{file}:{}: {}: also set on line {prev}; the last one wins",
                e.line, e.key
            ));
        }
        im.apply(&e)?;
    }
    im.finish()?;
    Ok(im.out)
}

/// What a key does.
enum Kind {
    /// Mapped onto the native structure.
    Known,
    /// Accepted, without effect.
    Ignored,
    /// Not a key of the original.
    Unknown,
}

struct Importer {
    file: String,
    out: Imported,
    /// Keys resolved after all entries are read: key → (value, line).
    late: HashMap<&'static str, (String, usize)>,
}

// === impl Importer ===

impl Importer {
    fn apply(&mut self, e: &Entry) -> Result<(), ConfigError> {
        let kind = if e.value.is_empty() {
            self.classify_only(&e.key)
        } else {
            self.map(e)?
        };
        match kind {
            Kind::Known => {}
            Kind::Ignored => self.out.ignored.push(e.key.clone()),
            Kind::Unknown => self.out.warnings.push(format!(
                "{}:{}: {}: unknown key, ignored",
                self.file, e.line, e.key
            )),
        }
        Ok(())
    }

    /// Classification of a key whose value is empty (= unset).
    fn classify_only(&mut self, key: &str) -> Kind {
        let probe = Entry {
            key: key.to_owned(),
            value: String::new(),
            line: 0,
        };
        let mut scratch = Importer {
            file: String::new(),
            out: Imported::default(),
            late: HashMap::new(),
        };
        match scratch.map(&probe) {
            Ok(Kind::Known) | Err(_) => Kind::Known,
            Ok(other) => other,
        }
    }

    /// Maps one key; the 80-line match is the key table itself.
    #[allow(clippy::too_many_lines)]
    fn map(&mut self, e: &Entry) -> Result<Kind, ConfigError> {
        match e.key.as_str() {
            "host" => self.out.file.host = Some(self.text(e, "host")),
            "externalHost" => self.ext().host = Some(self.text(e, "sip.external.host")),
            "internalHost" => self.int().host = Some(self.text(e, "sip.internal.host")),
            "externalPort" => self.ports(
                e,
                &[
                    ("sip.external.udpPort", P::ExtUdp),
                    ("sip.external.tcpPort", P::ExtTcp),
                ],
            )?,
            "internalPort" => self.ports(
                e,
                &[
                    ("sip.internal.udpPort", P::IntUdp),
                    ("sip.internal.tcpPort", P::IntTcp),
                ],
            )?,
            "externalSecurePort" | "externalTlsPort" => {
                self.ports(e, &[("sip.external.tlsPort", P::ExtTls)])?
            }
            "internalSecurePort" | "internalTlsPort" => {
                self.ports(e, &[("sip.internal.tlsPort", P::IntTls)])?
            }
            "externalUdpPort" => self.ports(e, &[("sip.external.udpPort", P::ExtUdp)])?,
            "externalTcpPort" => self.ports(e, &[("sip.external.tcpPort", P::ExtTcp)])?,
            "externalWsPort" => self.ports(e, &[("sip.external.wsPort", P::ExtWs)])?,
            "externalWssPort" => self.ports(e, &[("sip.external.wssPort", P::ExtWss)])?,
            "internalUdpPort" => self.ports(e, &[("sip.internal.udpPort", P::IntUdp)])?,
            "internalTcpPort" => self.ports(e, &[("sip.internal.tcpPort", P::IntTcp)])?,
            "internalWsPort" => self.ports(e, &[("sip.internal.wsPort", P::IntWs)])?,
            "internalWssPort" => self.ports(e, &[("sip.internal.wssPort", P::IntWss)])?,
            "externalIpLoadBalancerAddress" => {
                self.ext().ip_load_balancer_address =
                    Some(self.list(e, "sip.external.ipLoadBalancerAddress"))
            }
            "internalIpLoadBalancerAddress" => {
                self.int().ip_load_balancer_address =
                    Some(self.list(e, "sip.internal.ipLoadBalancerAddress"))
            }
            "externalIpLoadBalancerPort" | "externalLoadBalancerPort" => self.ports(
                e,
                &[
                    ("sip.external.ipLoadBalancerUdpPort", P::ExtLbUdp),
                    ("sip.external.ipLoadBalancerTcpPort", P::ExtLbTcp),
                ],
            )?,
            "internalIpLoadBalancerPort" | "internalLoadBalancerPort" => self.ports(
                e,
                &[
                    ("sip.internal.ipLoadBalancerUdpPort", P::IntLbUdp),
                    ("sip.internal.ipLoadBalancerTcpPort", P::IntLbTcp),
                ],
            )?,
            "externalSecureIpLoadBalancerPort" | "externalIpLoadBalancerTlsPort" => {
                self.ports(e, &[("sip.external.ipLoadBalancerTlsPort", P::ExtLbTls)])?
            }
            "internalSecureIpLoadBalancerPort" | "internalIpLoadBalancerTlsPort" => {
                self.ports(e, &[("sip.internal.ipLoadBalancerTlsPort", P::IntLbTls)])?
            }
            "externalIpLoadBalancerUdpPort" => {
                self.ports(e, &[("sip.external.ipLoadBalancerUdpPort", P::ExtLbUdp)])?
            }
            "externalIpLoadBalancerTcpPort" => {
                self.ports(e, &[("sip.external.ipLoadBalancerTcpPort", P::ExtLbTcp)])?
            }
            "externalIpLoadBalancerWsPort" => {
                self.ports(e, &[("sip.external.ipLoadBalancerWsPort", P::ExtLbWs)])?
            }
            "externalIpLoadBalancerWssPort" => {
                self.ports(e, &[("sip.external.ipLoadBalancerWssPort", P::ExtLbWss)])?
            }
            "internalIpLoadBalancerUdpPort" => {
                self.ports(e, &[("sip.internal.ipLoadBalancerUdpPort", P::IntLbUdp)])?
            }
            "internalIpLoadBalancerTcpPort" => {
                self.ports(e, &[("sip.internal.ipLoadBalancerTcpPort", P::IntLbTcp)])?
            }
            "internalIpLoadBalancerWsPort" => {
                self.ports(e, &[("sip.internal.ipLoadBalancerWsPort", P::IntLbWs)])?
            }
            "internalIpLoadBalancerWssPort" => {
                self.ports(e, &[("sip.internal.ipLoadBalancerWssPort", P::IntLbWss)])?
            }
            "externalTransport"
            | "internalTransport"
            | "isTransportWs"
            | "userAffinityMaxTimeInCache"
            | "userAffinityGroupFailover" => self.defer(e),
            "nodeTimeout" => self.out.file.node_timeout = Some(self.number(e, "nodeTimeout")?),
            "heartbeatInterval" => {
                self.out.file.heartbeat_interval = Some(self.number(e, "heartbeatInterval")?)
            }
            "statisticPort" | "apiPort" => {
                self.out.file.statistic_port = Some(self.port(e, "statisticPort")?)
            }
            "batchWaitMicros" => {
                self.out.file.batch_wait_micros = Some(self.number(e, "batchWaitMicros")?)
            }
            "busyPollMicros" => {
                self.out.file.busy_poll_micros = Some(self.number(e, "busyPollMicros")?)
            }
            "shutdownTimeout" => {
                self.out.file.shutdown_timeout = Some(self.number(e, "shutdownTimeout")?)
            }
            "securityRequired" => {
                self.out.file.security_required = Some(self.boolean(e, "securityRequired")?)
            }
            "watchConfig" => self.out.file.watch_config = Some(self.boolean(e, "watchConfig")?),
            "login" => self.out.file.login = Some(self.text(e, "login")),
            "password" => self.out.file.password = Some(self.text(e, "password")),
            "algorithmClass" => self.algorithm_class(e)?,
            "callIdAffinityMaxTimeInCache" => {
                self.alg().call_id_affinity_max_time_in_cache =
                    Some(self.number(e, "algorithm.callIdAffinityMaxTimeInCache")?)
            }
            "callIdAffinityGroupFailover" => {
                self.alg().call_id_affinity_group_failover =
                    Some(self.boolean(e, "algorithm.callIdAffinityGroupFailover")?)
            }
            "sipHeaderAffinityKey" => {
                self.alg().sip_header_affinity_key = Some(self.affinity_key(e))
            }
            "httpAffinityKey" => {
                self.alg().http_affinity_key = Some(self.text(e, "algorithm.httpAffinityKey"))
            }
            "subclusterMap" => self.alg().subcluster_map = Some(self.subclusters(e)),
            "sipHeaderAffinityExclusionPattern" => {
                self.alg().sip_header_affinity_exclusion_pattern =
                    Some(self.text(e, "algorithm.sipHeaderAffinityExclusionPattern"))
            }
            "sipHeaderAffinityFallbackKey" => {
                self.alg().sip_header_affinity_fallback_key =
                    Some(self.text(e, "algorithm.sipHeaderAffinityFallbackKey"))
            }
            "responsesStatusCodeNodeRemoval" => {
                let codes = self.list(e, "health.responsesStatusCodeNodeRemoval");
                self.health().responses_status_code_node_removal =
                    Some(super::file::U16List(codes.0))
            }
            "maxNumberResponsesWithError" => {
                let n = self.number(e, "health.maxNumberResponsesWithError")?;
                self.health().max_number_responses_with_error = Some(self.small(e, n)?)
            }
            "maxErrorTime" => {
                self.health().max_error_time = Some(self.number(e, "health.maxErrorTime")?)
            }
            "maxRequestNumberWithoutResponse" => {
                let n = self.number(e, "health.maxRequestNumberWithoutResponse")?;
                self.health().max_request_number_without_response = Some(self.small(e, n)?)
            }
            "maxResponseTime" => {
                self.health().max_response_time = Some(self.number(e, "health.maxResponseTime")?)
            }
            "trafficRampupCyclePeriod" => {
                self.health().traffic_rampup_cycle_period =
                    Some(self.number(e, "health.trafficRampupCyclePeriod")?)
            }
            "trafficPercentageIncrease" => {
                let n = self.number(e, "health.trafficPercentageIncrease")?;
                self.health().traffic_percentage_increase = Some(self.small(e, n)?)
            }
            "extraServerNodes" => {
                self.sip().extra_server_nodes = Some(self.list(e, "sip.extraServerNodes"))
            }
            "useIpLoadBalancerAddressInViaHeaders" => {
                self.sip().use_ip_load_balancer_address_in_via_headers =
                    Some(self.boolean(e, "sip.useIpLoadBalancerAddressInViaHeaders")?)
            }
            "public-ip" | "publicIp" => self.sip().public_ip = Some(self.text(e, "sip.publicIp")),
            "publicIpv6" => self.sip().public_ipv6 = Some(self.text(e, "sip.publicIpv6")),
            "isSendTrying" => {
                self.sip().is_send_trying = Some(self.boolean(e, "sip.isSendTrying")?)
            }
            "blocked-values" | "blockedValues" => {
                self.sip().blocked_values = Some(self.list(e, "sip.blockedValues"))
            }
            "matchingHostnameForRoute" => {
                self.sip().matching_hostname_for_route =
                    Some(self.text(e, "sip.matchingHostnameForRoute"))
            }
            "isFilterSubdomain" => {
                self.sip().is_filter_subdomain = Some(self.boolean(e, "sip.isFilterSubdomain")?)
            }
            "httpPort" => self.http().http_port = Some(self.port(e, "http.httpPort")?),
            "httpsPort" => self.http().https_port = Some(self.port(e, "http.httpsPort")?),
            "unavailableHost" => {
                self.http().unavailable_host = Some(self.text(e, "http.unavailableHost"))
            }
            "isRemoteServerSsl" => {
                self.http().is_remote_server_ssl = Some(self.boolean(e, "http.isRemoteServerSsl")?)
            }
            "requestCheckPattern" => {
                self.http().request_check_pattern = Some(self.text(e, "http.requestCheckPattern"))
            }
            _ => return self.map_smpp_ssl(e),
        }
        Ok(Kind::Known)
    }

    fn map_smpp_ssl(&mut self, e: &Entry) -> Result<Kind, ConfigError> {
        match e.key.as_str() {
            "smppHost" => self.smpp().smpp_host = Some(self.text(e, "smpp.smppHost")),
            "smppPort" => self.smpp().smpp_port = Some(self.port(e, "smpp.smppPort")?),
            "smppSslPort" => self.smpp().smpp_ssl_port = Some(self.port(e, "smpp.smppSslPort")?),
            "remoteServers" => {
                self.smpp().remote_servers = Some(self.list(e, "smpp.remoteServers"))
            }
            "timeoutResponse" => {
                self.smpp().timeout_response = Some(self.number(e, "smpp.timeoutResponse")?)
            }
            "timeoutConnection" => {
                self.smpp().timeout_connection = Some(self.number(e, "smpp.timeoutConnection")?)
            }
            "timeoutEnquire" => {
                self.smpp().timeout_enquire = Some(self.number(e, "smpp.timeoutEnquire")?)
            }
            "reconnectPeriod" => {
                self.smpp().reconnect_period = Some(self.number(e, "smpp.reconnectPeriod")?)
            }
            "timeoutConnectionCheckClientSide" => {
                self.smpp().timeout_connection_check_client_side =
                    Some(self.number(e, "smpp.timeoutConnectionCheckClientSide")?)
            }
            "timeoutConnectionCheckServerSide" => {
                self.smpp().timeout_connection_check_server_side =
                    Some(self.number(e, "smpp.timeoutConnectionCheckServerSide")?)
            }
            "muxMode" => self.smpp().mux_mode = Some(self.boolean(e, "smpp.muxMode")?),
            "maxConnectionSize" => {
                let n = self.number(e, "smpp.maxConnectionSize")?;
                self.smpp().max_connection_size = Some(usize::try_from(n).unwrap_or(usize::MAX))
            }
            "javax.net.ssl.keyStore" => self.ssl().key_store = Some(self.text(e, "ssl.keyStore")),
            "javax.net.ssl.keyStorePassword" => {
                self.ssl().key_store_password = Some(self.text(e, "ssl.keyStorePassword"))
            }
            "javax.net.ssl.trustStore" => {
                self.ssl().trust_store = Some(self.text(e, "ssl.trustStore"))
            }
            "javax.net.ssl.trustStorePassword" => {
                self.ssl().trust_store_password = Some(self.text(e, "ssl.trustStorePassword"))
            }
            "terminateTLSTraffic" => {
                self.ssl().terminate_tls_traffic = Some(self.boolean(e, "ssl.terminateTLSTraffic")?)
            }
            k if nist_key(k, "TLS_CLIENT_PROTOCOLS") => {
                self.ssl().tls_client_protocols = Some(self.list(e, "ssl.tlsClientProtocols"))
            }
            k if nist_key(k, "ENABLED_CIPHER_SUITES") => {
                self.ssl().enabled_cipher_suites = Some(self.list(e, "ssl.enabledCipherSuites"))
            }
            k if nist_key(k, "TLS_CLIENT_AUTH_TYPE") => {
                self.ssl().tls_client_auth_type = Some(self.text(e, "ssl.tlsClientAuthType"))
            }
            k if is_ignored(k) => return Ok(Kind::Ignored),
            _ => return Ok(Kind::Unknown),
        }
        Ok(Kind::Known)
    }

    // --- keys whose meaning depends on other keys ---

    fn defer(&mut self, e: &Entry) {
        let key = match e.key.as_str() {
            "externalTransport" => "externalTransport",
            "internalTransport" => "internalTransport",
            "isTransportWs" => "isTransportWs",
            "userAffinityMaxTimeInCache" => "userAffinityMaxTimeInCache",
            _ => "userAffinityGroupFailover",
        };
        self.late.insert(key, (e.value.clone(), e.line));
    }

    /// Resolves deferred keys once every entry is known.
    fn finish(&mut self) -> Result<(), ConfigError> {
        self.finish_transports()?;
        if let Some((v, line)) = self.late.remove("isTransportWs") {
            let ws = self.boolean(
                &Entry {
                    key: "isTransportWs".into(),
                    value: v,
                    line,
                },
                "",
            )?;
            let ext = self.out.file.sip.as_ref().and_then(|s| s.external.as_ref());
            if ws && ext.is_none_or(|l| l.ws_port.is_none() && l.wss_port.is_none()) {
                self.out.warnings.push(format!(
                    "{}:{line}: isTransportWs: true has no effect without externalWsPort/externalWssPort",
                    self.file
                ));
            }
        }
        self.finish_user_affinity()
    }

    /// `internalTransport` forces the node-leg transport only when it differs
    /// from `externalTransport` (default UDP): 1.x files set both equal.
    fn finish_transports(&mut self) -> Result<(), ConfigError> {
        let mut resolved = [None, None];
        for (i, key) in ["externalTransport", "internalTransport"]
            .into_iter()
            .enumerate()
        {
            if let Some((v, line)) = self.late.remove(key) {
                let t = parse_transport(key, &v)
                    .map_err(|b| ConfigError::new(&self.file, Some(line), key, b.problem))?;
                resolved[i] = Some((t, v, line));
            }
        }
        let external = resolved[0].as_ref().map_or(super::Transport::Udp, |r| r.0);
        if let Some((t, v, line)) = resolved[1].take() {
            if t != external {
                self.sip().internal_transport = Some(v);
                self.origin("sip.internalTransport", "internalTransport", line);
            }
        }
        Ok(())
    }

    /// The UserBased algorithm's own keys fill the shared affinity keys when
    /// those are not set (the HEAD XML format folded them the same way).
    fn finish_user_affinity(&mut self) -> Result<(), ConfigError> {
        if let Some((v, line)) = self.late.remove("userAffinityMaxTimeInCache") {
            let e = Entry {
                key: "userAffinityMaxTimeInCache".into(),
                value: v,
                line,
            };
            let n = self.number(&e, "algorithm.callIdAffinityMaxTimeInCache")?;
            self.alg()
                .call_id_affinity_max_time_in_cache
                .get_or_insert(n);
        }
        if let Some((v, line)) = self.late.remove("userAffinityGroupFailover") {
            let e = Entry {
                key: "userAffinityGroupFailover".into(),
                value: v,
                line,
            };
            let b = self.boolean(&e, "algorithm.callIdAffinityGroupFailover")?;
            self.alg().call_id_affinity_group_failover.get_or_insert(b);
        }
        Ok(())
    }

    // --- special values ---

    /// Known class names map to their algorithm; an unknown *Java* class
    /// name (a custom or commercial plug-in such as the guide's
    /// `TelestaxProxyAlgorithm`) falls back to Call-ID affinity with a
    /// warning; anything else is an error.
    fn algorithm_class(&mut self, e: &Entry) -> Result<(), ConfigError> {
        let value = if algorithm_kind(&e.value).is_some() {
            e.value.clone()
        } else if e.value.contains('.') {
            self.out.warnings.push(format!(
                "{}:{}: algorithmClass: unknown class `{}`, using Call-ID affinity",
                self.file, e.line, e.value
            ));
            "callIdAffinity".to_owned()
        } else {
            return Err(self.bad(e, &format!("unknown algorithm `{}`", e.value)));
        };
        if e.value.rsplit('.').next() == Some("PersistentConsistentHashBalancerAlgorithm") {
            self.out.warnings.push(format!(
                "{}:{}: algorithmClass: PersistentConsistentHash was removed upstream; using HeaderConsistentHash",
                self.file, e.line
            ));
        }
        self.origin("algorithm.algorithmClass", &e.key, e.line);
        self.alg().algorithm_class = Some(value);
        Ok(())
    }

    /// 1.x wrote `from.user` / `to.user`; 2.x and later `From` / `To`.
    fn affinity_key(&mut self, e: &Entry) -> String {
        self.origin("algorithm.sipHeaderAffinityKey", &e.key, e.line);
        match e.value.to_ascii_lowercase().as_str() {
            "from.user" => "From".to_owned(),
            "to.user" => "To".to_owned(),
            _ => e.value.clone(),
        }
    }

    /// `( 10.0.0.1, 10.0.0.2 ) ( 10.0.0.3 )`: groups in parentheses.
    fn subclusters(&mut self, e: &Entry) -> Vec<Vec<String>> {
        self.origin("algorithm.subclusterMap", &e.key, e.line);
        let compact: String = e.value.chars().filter(|c| !c.is_whitespace()).collect();
        compact
            .split(")(")
            .map(|g| StrList::from_comma_list(g.trim_matches(['(', ')'])).0)
            .collect()
    }

    // --- typed values; each records where the value came from ---

    fn text(&mut self, e: &Entry, path: &str) -> String {
        self.origin(path, &e.key, e.line);
        e.value.clone()
    }

    fn list(&mut self, e: &Entry, path: &str) -> StrList {
        self.origin(path, &e.key, e.line);
        StrList::from_comma_list(&e.value)
    }

    fn number(&mut self, e: &Entry, path: &str) -> Result<u64, ConfigError> {
        let n = e
            .value
            .parse::<u64>()
            .map_err(|_| self.bad(e, &format!("`{}` is not a whole number", e.value)))?;
        self.origin(path, &e.key, e.line);
        Ok(n)
    }

    fn boolean(&mut self, e: &Entry, path: &str) -> Result<bool, ConfigError> {
        let b = match e.value.to_ascii_lowercase().as_str() {
            "true" => true,
            "false" => false,
            _ => return Err(self.bad(e, &format!("`{}` is not true or false", e.value))),
        };
        if !path.is_empty() {
            self.origin(path, &e.key, e.line);
        }
        Ok(b)
    }

    fn port(&mut self, e: &Entry, path: &str) -> Result<u16, ConfigError> {
        let p = e
            .value
            .parse::<u16>()
            .map_err(|_| self.bad(e, &format!("`{}` is not a port (1-65535)", e.value)))?;
        self.origin(path, &e.key, e.line);
        Ok(p)
    }

    fn ports(&mut self, e: &Entry, targets: &[(&str, P)]) -> Result<(), ConfigError> {
        for (path, slot) in targets {
            let p = self.port(e, path)?;
            *self.slot(*slot) = Some(p);
        }
        Ok(())
    }

    fn bad(&self, e: &Entry, problem: &str) -> ConfigError {
        ConfigError::new(&self.file, Some(e.line), &e.key, problem)
    }

    fn origin(&mut self, path: &str, key: &str, line: usize) {
        self.out
            .origins
            .insert(path.to_owned(), (key.to_owned(), line));
    }

    // --- sections, created on first use ---

    fn sip(&mut self) -> &mut FileSip {
        self.out.file.sip.get_or_insert_with(FileSip::default)
    }

    fn ext(&mut self) -> &mut FileLeg {
        self.sip().external.get_or_insert_with(FileLeg::default)
    }

    fn int(&mut self) -> &mut FileLeg {
        self.sip().internal.get_or_insert_with(FileLeg::default)
    }

    fn health(&mut self) -> &mut FileHealth {
        self.out.file.health.get_or_insert_with(FileHealth::default)
    }

    /// A count that must fit 32 bits.
    fn small(&self, e: &Entry, n: u64) -> Result<u32, ConfigError> {
        u32::try_from(n).map_err(|_| self.bad(e, &format!("{n} is too large")))
    }

    fn alg(&mut self) -> &mut FileAlgorithm {
        self.out
            .file
            .algorithm
            .get_or_insert_with(FileAlgorithm::default)
    }

    fn http(&mut self) -> &mut FileHttp {
        self.out.file.http.get_or_insert_with(FileHttp::default)
    }

    fn smpp(&mut self) -> &mut FileSmpp {
        self.out.file.smpp.get_or_insert_with(FileSmpp::default)
    }

    fn ssl(&mut self) -> &mut FileSsl {
        self.out.file.ssl.get_or_insert_with(FileSsl::default)
    }

    fn slot(&mut self, p: P) -> &mut Option<u16> {
        match p {
            P::ExtUdp => &mut self.ext().udp_port,
            P::ExtTcp => &mut self.ext().tcp_port,
            P::ExtTls => &mut self.ext().tls_port,
            P::ExtWs => &mut self.ext().ws_port,
            P::ExtWss => &mut self.ext().wss_port,
            P::IntUdp => &mut self.int().udp_port,
            P::IntTcp => &mut self.int().tcp_port,
            P::IntTls => &mut self.int().tls_port,
            P::IntWs => &mut self.int().ws_port,
            P::IntWss => &mut self.int().wss_port,
            P::ExtLbUdp => &mut self.ext().ip_load_balancer_udp_port,
            P::ExtLbTcp => &mut self.ext().ip_load_balancer_tcp_port,
            P::ExtLbTls => &mut self.ext().ip_load_balancer_tls_port,
            P::ExtLbWs => &mut self.ext().ip_load_balancer_ws_port,
            P::ExtLbWss => &mut self.ext().ip_load_balancer_wss_port,
            P::IntLbUdp => &mut self.int().ip_load_balancer_udp_port,
            P::IntLbTcp => &mut self.int().ip_load_balancer_tcp_port,
            P::IntLbTls => &mut self.int().ip_load_balancer_tls_port,
            P::IntLbWs => &mut self.int().ip_load_balancer_ws_port,
            P::IntLbWss => &mut self.int().ip_load_balancer_wss_port,
        }
    }
}

#[cfg(test)]
mod tests;
