//! The `http:` keys: defaults, values, and errors that name the key.

use std::time::Duration;

use crate::config::{from_properties_str, from_yaml_str, UrlRewrite};

#[test]
fn new_keys_parse() {
    let text = "http:\n  httpPort: 2080\n  unavailableHost: 10.0.0.9\n  requestCheckPattern: '/restcomm/.*'\n  urlRewrite:\n    - { pattern: '^/someCompany/(.*)', replacement: '/restcomm/$1' }\n  redirectToHttps: false\n  addForwardedHeaders: false\n  maxHeadSize: 4096\n  maxUriLength: 100\n  headerTimeout: 500\n  idleTimeout: 600\n  upstreamIdleTimeout: 700\n  responseTimeout: 800\n  maxConnections: 9\n";
    let h = from_yaml_str(text, "t.yaml").unwrap().http;
    assert_eq!(h.unavailable_host, Some("10.0.0.9:80".parse().unwrap()));
    assert_eq!(h.request_check_pattern.as_deref(), Some("/restcomm/.*"));
    assert_eq!(
        h.url_rewrite,
        [UrlRewrite {
            pattern: "^/someCompany/(.*)".into(),
            replacement: "/restcomm/$1".into()
        }]
    );
    assert!(!h.redirect_to_https && !h.add_forwarded_headers);
    assert_eq!((h.max_head_size, h.max_uri_length), (4096, 100));
    assert_eq!(h.header_timeout, Duration::from_millis(500));
    assert_eq!(h.idle_timeout, Duration::from_millis(600));
    assert_eq!(h.upstream_idle_timeout, Duration::from_millis(700));
    assert_eq!(h.response_timeout, Duration::from_millis(800));
    assert_eq!(h.max_connections, 9);
}

#[test]
fn unavailable_host_may_be_a_name_with_or_without_a_port() {
    let h = |v: &str| {
        let h = from_yaml_str(&format!("http: {{ unavailableHost: '{v}' }}\n"), "t.yaml")
            .unwrap()
            .http;
        (h.unavailable_host, h.unavailable_host_name)
    };
    assert_eq!(h("Google.com"), (None, Some(("google.com".into(), 80))));
    assert_eq!(
        h("sorry.example.net:8080"),
        (None, Some(("sorry.example.net".into(), 8080)))
    );
    assert_eq!(
        h("10.0.0.9:81"),
        (Some("10.0.0.9:81".parse().unwrap()), None)
    );
}

#[test]
fn bad_values_name_the_key() {
    let cases = [
        (
            "http: { unavailableHost: 'fallback..example.com' }\n",
            "http.unavailableHost",
        ),
        (
            "http: { unavailableHost: 'fallback.example.com:0' }\n",
            "http.unavailableHost",
        ),
        (
            "http: { unavailableHost: 'under_score.example.com' }\n",
            "http.unavailableHost",
        ),
        (
            "http: { requestCheckPattern: '(' }\n",
            "http.requestCheckPattern",
        ),
        ("http: { maxHeadSize: 10 }\n", "http.maxHeadSize"),
        ("http: { headerTimeout: 0 }\n", "http.headerTimeout"),
        ("http: { maxConnections: 0 }\n", "http.maxConnections"),
        (
            "http: { urlRewrite: [ { pattern: '[' } ] }\n",
            "http.urlRewrite[0].pattern",
        ),
    ];
    for (text, key) in cases {
        let e = from_yaml_str(text, "t.yaml").unwrap_err();
        assert_eq!(e.key, key, "{text}");
    }
}

#[test]
fn properties_names() {
    let text = "httpPort=2080\nunavailableHost=10.0.0.9:8080\nrequestCheckPattern=/x\n";
    let (cfg, _) = from_properties_str(text, "lb.properties").unwrap();
    assert_eq!(
        cfg.http.unavailable_host,
        Some("10.0.0.9:8080".parse().unwrap())
    );
    assert_eq!(cfg.http.request_check_pattern.as_deref(), Some("/x"));
    let e = from_properties_str("requestCheckPattern=(\n", "lb.properties").unwrap_err();
    assert_eq!((e.key.as_str(), e.line), ("requestCheckPattern", Some(1)));
}
