//! Limits, timers and the balancer's own answers.

use super::*;

fn starts(text: &str, status: &str) -> bool {
    text.starts_with(&format!("HTTP/1.1 {status}"))
}

#[test]
fn oversized_head_is_431() {
    let mut net = Net::two();
    let c = net.client();
    let big = format!(
        "GET / HTTP/1.1\r\nHost: lb\r\nX-Big: {}\r\n",
        "a".repeat(20_000)
    );
    net.send(c, big.as_bytes());
    assert!(starts(&net.take_text(c), "431 "));
    assert!(net.is_closed(c));
    // Many fields.
    let c = net.client();
    let mut many = String::from("GET / HTTP/1.1\r\nHost: lb\r\n");
    for i in 0..150 {
        many.push_str(&format!("X-{i}: 1\r\n"));
    }
    many.push_str("\r\n");
    net.send(c, many.as_bytes());
    assert!(starts(&net.take_text(c), "431 "));
    assert_eq!(net.counters().too_large, 2);
}

#[test]
fn long_target_is_414() {
    let mut net = Net::two();
    let c = net.client();
    net.send(c, &get(&format!("/{}", "x".repeat(9000))));
    assert!(starts(&net.take_text(c), "414 "));
    assert!(net.is_closed(c));
}

#[test]
fn malformed_head_is_400_then_close() {
    for bad in [
        b"GET / HTTP/1.1\r\nHost: lb\r\nBad Field: x\r\n\r\n".as_slice(),
        b"GET / HTTP/1.1\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: lb\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
    ] {
        let mut net = Net::two();
        let c = net.client();
        net.send(c, bad);
        assert!(starts(&net.take_text(c), "400 "), "{bad:?}");
        assert!(net.is_closed(c));
        assert!(net.connects.is_empty());
    }
}

#[test]
fn connect_is_405() {
    let mut net = Net::two();
    let c = net.client();
    net.send(
        c,
        b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
    );
    assert!(starts(&net.take_text(c), "405 "));
}

#[test]
fn malformed_chunked_body_is_400() {
    let mut net = Net::two();
    let c = net.client();
    net.send(
        c,
        b"POST / HTTP/1.1\r\nHost: lb\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    let up = net.accept();
    net.send(c, b"zz\r\n");
    assert!(starts(&net.take_text(c), "400 "));
    assert!(net.is_closed(c) && net.is_closed(up));
}

#[test]
fn slowloris_gets_408_and_others_are_untouched() {
    let mut net = Net::two();
    let slow = net.client();
    let quick = net.client();
    net.send(slow, b"GET / HTTP/1.1\r\n");
    for _ in 0..9 {
        net.advance(100 * MS);
        net.send(slow, b"X");
        let (up, _) = net.deliver(quick, &get("/"));
        net.send(up, &ok("fine"));
        assert!(net.take_text(quick).ends_with("fine"));
    }
    net.advance(200 * MS);
    assert!(starts(&net.take_text(slow), "408 "));
    assert!(net.is_closed(slow));
    assert!(!net.is_closed(quick));
    assert_eq!(net.counters().request_timeouts, 1);
}

#[test]
fn silent_new_connection_and_idle_keep_alive_close_quietly() {
    let mut net = Net::two();
    let c = net.client();
    net.advance(999 * MS);
    assert!(!net.is_closed(c));
    net.advance(2 * MS);
    assert!(net.is_closed(c));
    assert!(net.take(c).is_empty());
    // After a request, the idle timeout applies.
    let c = net.client();
    let (up, _) = net.request_to_new_node(c, &get("/"));
    net.send(up, &ok("1"));
    net.take(c);
    net.advance(1500 * MS);
    assert!(!net.is_closed(c));
    net.advance(600 * MS);
    assert!(net.is_closed(c) && net.take(c).is_empty());
}

#[test]
fn pooled_connection_closes_after_its_idle_timeout() {
    let mut net = Net::two();
    let c = net.client();
    let (up, _) = net.request_to_new_node(c, &get("/"));
    net.send(up, &ok("1"));
    net.advance(3900 * MS);
    assert!(!net.is_closed(up));
    net.advance(200 * MS);
    assert!(net.is_closed(up));
    assert_eq!(net.lb.pool.len(), 0);
}

#[test]
fn silent_node_is_504() {
    let mut net = Net::two();
    let c = net.client();
    let (up, _) = net.request_to_new_node(c, &get("/"));
    net.advance(2999 * MS);
    assert!(net.take(c).is_empty());
    net.advance(2 * MS);
    assert!(starts(&net.take_text(c), "504 "));
    assert!(net.is_closed(c) && net.is_closed(up));
    assert_eq!(net.counters().gateway_timeouts, 1);
}

#[test]
fn node_garbage_and_early_close_are_502() {
    let mut net = Net::two();
    let c = net.client();
    let (up, _) = net.request_to_new_node(c, &get("/"));
    net.send(up, b"SIP/2.0 200 OK\r\n\r\n");
    assert!(starts(&net.take_text(c), "502 "));
    assert!(net.is_closed(c) && net.is_closed(up));
    // A node that takes a POST and closes before answering.
    let c = net.client();
    let (up, _) = net.request_to_new_node(
        c,
        b"POST / HTTP/1.1\r\nHost: lb\r\nContent-Length: 1\r\n\r\nx",
    );
    net.hang_up(up);
    assert!(starts(&net.take_text(c), "502 "));
    assert!(net.connects.is_empty(), "a POST is not sent twice");
}

#[test]
fn stale_pooled_connection_is_retried_for_idempotent_requests() {
    let mut net = Net::new(settings(), vec![node(1, &[])]);
    let c = net.client();
    let (up, _) = net.request_to_new_node(c, &get("/1"));
    net.send(up, &ok("1"));
    net.take(c);
    net.send(c, &get("/2"));
    assert!(net.take_text(up).starts_with("GET /2 "));
    net.hang_up(up);
    let fresh = net.accept();
    assert!(net.take_text(fresh).starts_with("GET /2 "));
    net.send(fresh, &ok("2"));
    assert!(net.take_text(c).ends_with("2"));
    assert_eq!(net.counters().retries, 1);
}

#[test]
fn response_cut_short_closes_the_client() {
    let mut net = Net::two();
    let c = net.client();
    let (up, _) = net.request_to_new_node(c, &get("/"));
    net.send(up, b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
    net.hang_up(up);
    assert!(net.take_text(c).ends_with("abc"));
    assert!(net.is_closed(c));
}

#[test]
fn client_gone_mid_exchange_closes_the_node_connection() {
    let mut net = Net::two();
    let c = net.client();
    let (up, _) = net.request_to_new_node(c, &get("/"));
    net.hang_up(c);
    assert!(net.is_closed(up));
    assert!(
        !net.is_closed(c),
        "no Close for a connection the runtime reported gone"
    );
    // A client gone before its node connection opened: the connection is pooled.
    let c = net.client();
    net.send(c, &get("/"));
    net.hang_up(c);
    let up = net.accept();
    assert!(!net.is_closed(up));
    assert_eq!(net.lb.pool.len(), 1);
}

#[test]
fn max_connections_is_503_and_close() {
    let mut s = settings();
    s.max_connections = 2;
    let mut net = Net::new(s, vec![node(1, &[])]);
    let a = net.client();
    let _b = net.client();
    let c = net.client();
    assert!(starts(&net.take_text(c), "503 "));
    assert!(net.is_closed(c) && !net.is_closed(a));
    assert_eq!(net.counters().refused_connections, 1);
}

#[test]
fn plain_http_is_redirected_when_https_is_on() {
    let mut s = settings();
    s.https_port = Some(2081);
    let mut net = Net::new(s.clone(), vec![node(1, &[])]);
    let c = net.client();
    net.send(
        c,
        b"GET /app?a=1 HTTP/1.1\r\nHost: lb.example.com:2080\r\n\r\n",
    );
    let text = net.take_text(c);
    assert!(
        text.starts_with("HTTP/1.1 302 Found\r\nLocation: https://lb.example.com:2081/app?a=1\r\n"),
        "{text}"
    );
    assert!(net.is_closed(c) && net.connects.is_empty());
    // The HTTPS listener serves; so does HTTP with redirectToHttps off.
    let c = net.client_on(true);
    net.send(c, &get("/"));
    assert_eq!(net.connects.len(), 1);
    s.redirect_to_https = false;
    let mut net = Net::new(s, vec![node(1, &[])]);
    let c = net.client();
    net.send(c, &get("/"));
    assert_eq!(net.connects.len(), 1);
}
