//! Key tables of the importer: port slots, NIST spellings, ignored keys.

/// A port slot of a leg: listening ports and IP-LB ports.
#[derive(Debug, Clone, Copy)]
pub(super) enum P {
    ExtUdp,
    ExtTcp,
    ExtTls,
    ExtWs,
    ExtWss,
    IntUdp,
    IntTcp,
    IntTls,
    IntWs,
    IntWss,
    ExtLbUdp,
    ExtLbTcp,
    ExtLbTls,
    ExtLbWs,
    ExtLbWss,
    IntLbUdp,
    IntLbTcp,
    IntLbTls,
    IntLbWs,
    IntLbWss,
}

/// `gov.nist.javax.sip.NAME`, or the guide's misspelt `gov.nist.java.sip.NAME`.
pub(super) fn nist_key(key: &str, name: &str) -> bool {
    ["gov.nist.javax.sip.", "gov.nist.java.sip."]
        .iter()
        .any(|p| key.strip_prefix(p) == Some(name))
}

/// Keys the original understood that have no effect here.
pub(super) fn is_ignored(key: &str) -> bool {
    const PREFIXES: [&str; 5] = [
        "javax.sip.",
        "gov.nist.",
        "org.mobicents.",
        "org.restcomm.",
        "javax.net.debug",
    ];
    const KEYS: &[&str] = &[
        "rmiRegistryPort",
        "rmiRemoteObjectPort",
        "jmxHtmlAdapterPort",
        "heartbeatPorts",
        "persistentConsistentHashCacheConfiguration",
        "usePrettyEncoding",
        "smppName",
        "nonBlockingSocketsEnabled",
        "defaultSessionCountersEnabled",
        "isUseRrSendSmppRequestToClient",
        "smppExternalHost",
        "smppInternalHost",
        "toNodeAlgorithmClass",
        "toProviderAlgorithmClass",
        "maxContentLength",
        "performanceTestingMode",
        "earlyDialogWorstCase",
        "isSend5xxResponse",
        "isSend5xxResponseSatusCode",
        "isSend5xxResponseReasonHeader",
        "responseStatusCodeNodeRemoval",
        "responseReasonNodeRemoval",
        "removeNodesOn500Response",
        "isUseWithNexmo",
        "shutdownTimeout",
        "logConfigFile",
        "logLevel",
    ];
    PREFIXES.iter().any(|p| key.starts_with(p)) || KEYS.contains(&key)
}
