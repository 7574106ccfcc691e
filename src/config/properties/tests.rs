//! Tests of the Java properties reader and the key mapping.

use super::*;

fn entries(text: &str) -> Vec<(String, String, usize)> {
    parse(text, "t")
        .unwrap()
        .into_iter()
        .map(|e| (e.key, e.value, e.line))
        .collect()
}

fn kv(k: &str, v: &str, line: usize) -> (String, String, usize) {
    (k.to_owned(), v.to_owned(), line)
}

#[test]
fn separators_and_comments() {
    let text = "# c\n! c\n\na=1\nb = 2\nc: 3\nd 4\n  e=5  \nf\n";
    assert_eq!(
        entries(text),
        [
            kv("a", "1", 4),
            kv("b", "2", 5),
            kv("c", "3", 6),
            kv("d", "4", 7),
            kv("e", "5", 8),
            kv("f", "", 9)
        ]
    );
}

#[test]
fn continuation_and_escapes() {
    let text = "list=a,\\\n    b,\\\n    c\nk\\=x=\\u0041\\t\\\\\nodd=x\\\\\nnext=1\n";
    assert_eq!(
        entries(text),
        [
            kv("list", "a,b,c", 1),
            kv("k=x", "A\t\\", 4),
            kv("odd", "x\\", 5),
            kv("next", "1", 6)
        ]
    );
}

#[test]
fn continued_line_starting_with_hash_is_content() {
    assert_eq!(entries("a=1\\\n#2\n"), [kv("a", "1#2", 1)]);
}

#[test]
fn malformed_unicode_escape_is_an_error() {
    let e = parse("a=\\u00g1\n", "t").unwrap_err();
    assert_eq!((e.line, e.key.as_str()), (Some(1), "a"));
}

#[test]
fn one_x_ports_open_udp_and_tcp() {
    let im = import(
        "externalPort=5060\ninternalPort=5065\nexternalSecurePort=5061\n",
        "t",
    )
    .unwrap();
    let sip = im.file.sip.unwrap();
    let ext = sip.external.unwrap();
    assert_eq!(
        (ext.udp_port, ext.tcp_port, ext.tls_port),
        (Some(5060), Some(5060), Some(5061))
    );
    let int = sip.internal.unwrap();
    assert_eq!((int.udp_port, int.tcp_port), (Some(5065), Some(5065)));
}

#[test]
fn bad_value_of_known_key_is_an_error() {
    let e = import("host=127.0.0.1\nexternalPort=99999\n", "lb.properties").unwrap_err();
    assert_eq!(
        e.to_string(),
        "lb.properties:2: externalPort: `99999` is not a port (1-65535)"
    );
    let e = import("isSendTrying=yes\n", "t").unwrap_err();
    assert_eq!(e.key, "isSendTrying");
    let e = import("nodeTimeout=8s\n", "t").unwrap_err();
    assert_eq!(e.key, "nodeTimeout");
}

#[test]
fn unknown_keys_warn_and_empty_values_are_unset() {
    let im = import("point\nm\nhttpPort=\nfoo=bar\n", "t").unwrap();
    assert_eq!(im.warnings.len(), 3, "{:?}", im.warnings);
    assert!(im.warnings[0].contains("t:1: point: unknown key"));
    assert!(im.file.http.is_none());
}

#[test]
fn stack_and_legacy_keys_are_ignored() {
    let text = "javax.sip.STACK_NAME=x\ngov.nist.javax.sip.THREAD_POOL_SIZE=64\nrmiRegistryPort=2000\njavax.net.debug=ssl\n";
    let im = import(text, "t").unwrap();
    assert_eq!(im.ignored.len(), 4);
    assert!(im.warnings.is_empty());
}

#[test]
fn transports_force_only_when_they_differ() {
    let im = import("internalTransport=UDP\nexternalTransport=UDP\n", "t").unwrap();
    assert_eq!(im.file.sip.and_then(|s| s.internal_transport), None);
    let im = import("internalTransport=TCP\nexternalTransport=UDP\n", "t").unwrap();
    assert_eq!(
        im.file.sip.and_then(|s| s.internal_transport),
        Some("TCP".into())
    );
    let e = import("externalTransport=SCTP\n", "t").unwrap_err();
    assert_eq!((e.line, e.key.as_str()), (Some(1), "externalTransport"));
}

#[test]
fn algorithm_classes() {
    let alg = |text: &str| {
        import(text, "t")
            .unwrap()
            .file
            .algorithm
            .unwrap()
            .algorithm_class
            .unwrap()
    };
    let misspelt =
        "algorithmClass=org.mobicens.tools.sip.balancer.PureConsistentHashBalancerAlgorithm\n";
    assert_eq!(
        alg(misspelt),
        "org.mobicens.tools.sip.balancer.PureConsistentHashBalancerAlgorithm"
    );
    let im = import(
        "algorithmClass=org.mobicens.tools.telestaxproxy.TelestaxProxyAlgorithm\n",
        "t",
    )
    .unwrap();
    assert_eq!(
        im.file.algorithm.unwrap().algorithm_class.unwrap(),
        "callIdAffinity"
    );
    assert_eq!(im.warnings.len(), 1);
    assert!(import("algorithmClass=RoundRobin\n", "t").is_err());
}

#[test]
fn legacy_affinity_keys() {
    let im = import(
        "sipHeaderAffinityKey=from.user\nuserAffinityMaxTimeInCache=60\n",
        "t",
    )
    .unwrap();
    let alg = im.file.algorithm.unwrap();
    assert_eq!(alg.sip_header_affinity_key.as_deref(), Some("From"));
    assert_eq!(alg.call_id_affinity_max_time_in_cache, Some(60));
}

#[test]
fn subcluster_map_groups() {
    let im = import(
        "subclusterMap=( 192.168.1.1, 192.168.1.2 ) ( 10.10.10.10,20.20.20.20)\n",
        "t",
    )
    .unwrap();
    let map = im.file.algorithm.unwrap().subcluster_map.unwrap();
    assert_eq!(
        map,
        [
            vec!["192.168.1.1", "192.168.1.2"],
            vec!["10.10.10.10", "20.20.20.20"]
        ]
    );
}

#[test]
fn tls_keys_with_both_nist_spellings() {
    let text = "gov.nist.java.sip.TLS_CLIENT_PROTOCOLS=TLSv1.2,TLSv1.3\ngov.nist.javax.sip.TLS_CLIENT_AUTH_TYPE=Want\n";
    let ssl = import(text, "t").unwrap().file.ssl.unwrap();
    assert_eq!(ssl.tls_client_protocols.unwrap().0, ["TLSv1.2", "TLSv1.3"]);
    assert_eq!(ssl.tls_client_auth_type.as_deref(), Some("Want"));
}

#[test]
fn duplicate_key_last_wins_with_warning() {
    let im = import("nodeTimeout=100\nnodeTimeout=200\n", "t").unwrap();
    assert_eq!(im.file.node_timeout, Some(200));
    assert_eq!(im.warnings.len(), 1);
}

#[test]
fn smpp_mux_mode_and_window() {
    let text = "smppPort=2776\nremoteServers=127.0.0.1:10021\nmuxMode=true\nmaxConnectionSize=25\n";
    let im = import(text, "t").unwrap();
    assert!(im.ignored.is_empty() && im.warnings.is_empty());
    let smpp = im.file.smpp.clone().unwrap();
    assert_eq!(
        (smpp.mux_mode, smpp.max_connection_size),
        (Some(true), Some(25))
    );
    let c = crate::config::build::build(&im.file).unwrap();
    assert!(c.smpp.mux_mode);
    assert_eq!(c.smpp.max_connection_size, 25);
    let zero = import("maxConnectionSize=0\n", "t").unwrap();
    let e = crate::config::build::build(&zero.file).unwrap_err();
    assert_eq!(e.path, "smpp.maxConnectionSize");
}
