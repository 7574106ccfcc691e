//! Bodies, persistence and the fields changed on the way.

use super::*;

const CHUNKED_REQ: &[u8] = b"POST /up HTTP/1.1\r\nHost: lb\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1a;x=y\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-T: 1\r\n\r\n";

fn one_node() -> Net {
    let mut s = settings();
    s.forwarded_headers = false;
    Net::new(s, vec![node(1, &[])])
}

#[test]
fn chunked_request_split_anywhere_is_relayed_unchanged() {
    let at = CHUNKED_REQ
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap()
        + 4;
    let body = &CHUNKED_REQ[at..];
    assert!(body.starts_with(b"5\r\nhello"));
    let mut pipelined = CHUNKED_REQ.to_vec();
    pipelined.extend_from_slice(&get("/next"));
    for cut in 0..pipelined.len() {
        let mut net = one_node();
        let c = net.client();
        net.send(c, b"GET /warm HTTP/1.1\r\nHost: lb\r\n\r\n");
        let up = net.accept();
        net.take(up);
        net.send(up, &ok("w"));
        net.take(c);
        net.send(c, &pipelined[..cut]);
        net.send(c, &pipelined[cut..]);
        let got = net.take(up);
        assert!(
            got.ends_with(body),
            "cut {cut}: {:?}",
            String::from_utf8_lossy(&got)
        );
        assert!(got.starts_with(b"POST /up HTTP/1.1\r\n"), "cut {cut}");
        // The next request waits for the response, then goes out.
        net.send(up, &ok("done"));
        assert!(net.take_text(c).ends_with("done"));
        assert!(
            net.take_text(up).starts_with("GET /next HTTP/1.1\r\n"),
            "cut {cut}"
        );
    }
}

#[test]
fn chunked_response_is_relayed_unchanged_and_the_connection_reused() {
    let mut net = one_node();
    let c = net.client();
    let (up, _) = net.request_to_new_node(c, &get("/a"));
    let body = b"4\r\nwiki\r\n5;e\r\npedia\r\n0\r\n\r\n";
    net.send(up, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    for b in body.chunks(3) {
        net.send(up, b);
    }
    let text = net.take(c);
    assert!(text.ends_with(body));
    net.send(c, &get("/b"));
    assert!(net.connects.is_empty(), "the pooled connection is reused");
    assert!(net.take_text(up).starts_with("GET /b "));
    assert_eq!(net.counters().upstream_reuses, 1);
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let mut net = one_node();
    let c = net.client();
    let mut three = get("/1");
    three.extend_from_slice(&get("/2"));
    three.extend_from_slice(&get("/3"));
    net.send(c, &three);
    let up = net.accept();
    for i in 1..=3 {
        let got = net.take_text(up);
        assert!(got.starts_with(&format!("GET /{i} ")), "{got}");
        assert_eq!(got.matches("GET").count(), 1, "one at a time");
        net.send(up, &ok(&format!("r{i}")));
    }
    let text = net.take_text(c);
    let order: Vec<_> = ["r1", "r2", "r3"]
        .iter()
        .map(|r| text.find(r).unwrap())
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(net.counters().requests, 3);
    assert_eq!(net.counters().upstream_connects, 1);
}

#[test]
fn expect_100_continue_is_forwarded_and_the_interim_relayed() {
    let mut net = one_node();
    let c = net.client();
    let (up, got) = net.request_to_new_node(
        c,
        b"PUT /f HTTP/1.1\r\nHost: lb\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n",
    );
    assert!(got.contains("Expect: 100-continue\r\n"));
    net.send(up, b"HTTP/1.1 100 Continue\r\n\r\n");
    assert_eq!(net.take_text(c), "HTTP/1.1 100 Continue\r\n\r\n");
    net.send(c, b"data");
    assert_eq!(net.take_text(up), "data");
    net.send(up, &ok("stored"));
    assert!(net.take_text(c).starts_with("HTTP/1.1 200 OK\r\n"));
    assert_eq!(net.counters().responses_by_class[0], 1);
}

#[test]
fn head_204_and_304_have_no_body() {
    let mut net = one_node();
    let c = net.client();
    let (up, _) = net.request_to_new_node(c, b"HEAD / HTTP/1.1\r\nHost: lb\r\n\r\n");
    net.send(up, b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
    net.send(c, &get("/204"));
    assert!(
        net.take_text(up).starts_with("GET /204 "),
        "HEAD response ended"
    );
    net.send(up, b"HTTP/1.1 204 No Content\r\n\r\n");
    net.send(c, &get("/304"));
    assert!(net.take_text(up).starts_with("GET /304 "));
    net.send(
        up,
        b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
    );
    net.send(c, &get("/last"));
    assert!(net.take_text(up).starts_with("GET /last "));
    assert_eq!(net.counters().upstream_connects, 1);
}

#[test]
fn hop_by_hop_fields_are_removed_both_ways() {
    let mut net = one_node();
    let c = net.client();
    let (up, got) = net.request_to_new_node(
        c,
        b"GET / HTTP/1.1\r\nHost: lb\r\nConnection: keep-alive, X-Secret\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\nUpgrade: h2c\r\nX-Secret: 1\r\nX-Kept: 2\r\n\r\n",
    );
    assert_eq!(field_names(&got), ["host", "x-kept"]);
    net.send(
        up,
        b"HTTP/1.1 200 OK\r\nConnection: close, X-Node\r\nX-Node: a\r\nKeep-Alive: timeout=5\r\nContent-Length: 2\r\n\r\nok",
    );
    let text = net.take_text(c);
    assert_eq!(field_names(&text), ["content-length"]);
    // The node closes its side; the client's connection stays.
    assert!(net.is_closed(up));
    assert!(!net.is_closed(c));
}

#[test]
fn connection_cannot_strip_framing_fields() {
    let mut net = one_node();
    let c = net.client();
    let (_, got) = net.request_to_new_node(
        c,
        b"POST / HTTP/1.1\r\nHost: lb\r\nConnection: Content-Length, Host\r\nContent-Length: 2\r\n\r\nhi",
    );
    assert!(
        got.contains("Content-Length: 2\r\n") && got.contains("Host: lb\r\n"),
        "{got}"
    );
    assert!(got.ends_with("\r\n\r\nhi"));
}

#[test]
fn forwarded_fields_are_added_or_extended() {
    let mut net = Net::new(settings(), vec![node(1, &[])]);
    let c = net.client();
    let (_, got) = net.request_to_new_node(c, &get("/"));
    assert!(got.contains("X-Forwarded-For: 192.0.2.7\r\n"), "{got}");
    assert!(got.contains("X-Forwarded-Proto: http\r\n"));
    assert!(got.contains("Forwarded: for=192.0.2.7;proto=http\r\n"));
    let c = net.client_on(true);
    net.lb.settings();
    let req = b"GET / HTTP/1.1\r\nHost: lb\r\nX-Forwarded-For: 10.1.1.1\r\nX-Forwarded-Proto: gopher\r\nForwarded: for=10.1.1.1\r\n\r\n";
    net.send(c, req);
    let up = net.accept();
    let got = net.take_text(up);
    assert!(
        got.contains("X-Forwarded-For: 10.1.1.1, 192.0.2.7\r\n"),
        "{got}"
    );
    assert!(got.contains("Forwarded: for=10.1.1.1, for=192.0.2.7;proto=https\r\n"));
    assert!(got.contains("X-Forwarded-Proto: https\r\n") && !got.contains("gopher"));
}

#[test]
fn http_1_0_keep_alive_semantics() {
    let mut net = one_node();
    let c = net.client();
    let (up, got) = net.request_to_new_node(c, b"GET /a HTTP/1.0\r\n\r\n");
    assert!(got.starts_with("GET /a HTTP/1.0\r\n") && got.contains("Connection: keep-alive\r\n"));
    net.send(up, &ok("x"));
    let text = net.take_text(c);
    assert!(text.contains("Connection: close\r\n"), "{text}");
    assert!(net.is_closed(c));
    // With keep-alive the HTTP/1.0 client is kept, and told so.
    let c = net.client();
    net.send(c, b"GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    let up = if net.connects.is_empty() {
        up
    } else {
        net.accept()
    };
    net.take(up);
    net.send(up, &ok("y"));
    let text = net.take_text(c);
    assert!(text.contains("Connection: keep-alive\r\n"), "{text}");
    assert!(!net.is_closed(c));
}

#[test]
fn response_until_close_ends_the_client_connection() {
    let mut net = one_node();
    let c = net.client();
    let (up, _) = net.request_to_new_node(c, &get("/"));
    net.send(up, b"HTTP/1.1 200 OK\r\n\r\npart one ");
    net.send(up, b"part two");
    net.hang_up(up);
    let text = net.take_text(c);
    assert!(text.contains("Connection: close\r\n"));
    assert!(text.ends_with("part one part two"));
    assert!(net.is_closed(c));
    assert_eq!(net.counters().errors, 0);
}

#[test]
fn body_waiting_for_the_connection_pauses_the_client() {
    let mut net = one_node();
    let c = net.client();
    let total = 200 * 1024;
    net.send(
        c,
        format!("POST / HTTP/1.1\r\nHost: lb\r\nContent-Length: {total}\r\n\r\n").as_bytes(),
    );
    let chunk = vec![b'z'; 16 * 1024];
    let mut sent = 0;
    while !net.paused.contains(&c) {
        net.send(c, &chunk);
        sent += chunk.len();
        assert!(sent <= 128 * 1024, "no pause");
    }
    let up = net.accept();
    assert!(!net.paused.contains(&c), "resumed once passed on");
    let mut got = net.take(up);
    while sent < total {
        let n = chunk.len().min(total - sent);
        net.send(c, &chunk[..n]);
        sent += n;
        assert!(net.paused.is_empty(), "streams while connected");
    }
    got.extend(net.take(up));
    let head = format!("POST / HTTP/1.1\r\nHost: lb\r\nContent-Length: {total}\r\n\r\n");
    assert_eq!(got.len(), head.len() + total);
    assert!(got.starts_with(head.as_bytes()));
}

#[test]
fn pipelined_flood_is_paused_until_the_response() {
    let mut net = one_node();
    let c = net.client();
    let (up, _) = net.request_to_new_node(c, &get("/first"));
    let mut flood = Vec::new();
    while flood.len() <= 70 * 1024 {
        flood.extend_from_slice(&get("/more"));
    }
    net.send(c, &flood);
    assert!(net.paused.contains(&c));
    net.send(up, &ok("1"));
    assert!(net.take_text(up).starts_with("GET /more "));
    assert!(net.paused.contains(&c), "still a lot buffered");
}

#[test]
fn counters_count_bytes_methods_and_classes() {
    let mut net = one_node();
    let c = net.client();
    let (up, got) = net.request_to_new_node(c, b"DELETE /x HTTP/1.1\r\nHost: lb\r\n\r\n");
    let resp = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
    net.send(up, resp);
    let n = net.counters();
    assert_eq!(
        n.requests_by_method[crate::http::head::Method::Delete.index()],
        1
    );
    assert_eq!(n.responses_by_class[3], 1);
    assert_eq!(n.bytes_to_server, got.len() as u64);
    assert_eq!(n.bytes_to_client, resp.len() as u64);
}

#[test]
fn steady_keep_alive_exchange_does_not_allocate() {
    let mut net = one_node();
    let c = net.client();
    let (up, _) = net.request_to_new_node(c, &get("/warm"));
    net.send(up, &ok("w"));
    let req = b"GET /x?jsessionid=abc.nowhere HTTP/1.1\r\nHost: lb\r\nCookie: a=b\r\nConnection: keep-alive, X-A\r\nX-A: 1\r\n\r\n";
    let resp = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    let mut out = Actions::default();
    let exchange = |lb: &mut HttpBalancer, now: Instant, out: &mut Actions| {
        lb.on_data(c, req, now, out);
        assert!(matches!(out.list.last(), Some(Action::Send { conn, .. }) if *conn == up));
        out.clear();
        lb.on_data(up, resp, now, out);
        assert!(matches!(out.list.last(), Some(Action::Send { conn, .. }) if *conn == c));
        out.clear();
    };
    let mut now = net.now;
    for _ in 0..10 {
        exchange(&mut net.lb, now, &mut out);
    }
    let before = crate::test_alloc::allocations();
    for _ in 0..100 {
        now += MS;
        exchange(&mut net.lb, now, &mut out);
    }
    assert_eq!(crate::test_alloc::allocations() - before, 0);
    assert_eq!(net.lb.counters().upstream_connects, 1);
}
