use super::*;

fn head(buf: &[u8]) -> Head {
    let mut h = Head::default();
    assert_eq!(h.parse_request(buf), Ok(true));
    h
}

#[test]
fn paths_and_queries() {
    assert_eq!(path(b"/a/b?c=d#e"), b"/a/b");
    assert_eq!(path(b"http://host:80/a?x"), b"/a");
    assert_eq!(path(b"http://host"), b"");
    assert_eq!(query(b"/a?c=d&e=f#g"), Some(&b"c=d&e=f"[..]));
    assert_eq!(
        query_param(b"/a?c=d&appsession=42", b"appsession"),
        Some(&b"42"[..])
    );
    assert_eq!(query_param(b"/a?AppSession=42", b"appsession"), None);
    assert_eq!(query_param(b"/a", b"appsession"), None);
}

#[test]
fn instance_id_from_call_sid() {
    let t = b"/restcomm/2012-04-24/Accounts/ACae6e420f425248d6a26948c17a9e2acf/Calls.json/ID1f2a2222772f4195948d040a2ccc648c-CA00af667a7e4e4b8a9b8a45eb6f6a0c23?x=1";
    assert_eq!(
        instance_id(t),
        Some(&b"ID1f2a2222772f4195948d040a2ccc648c"[..])
    );
    assert_eq!(
        instance_id(b"/restcomm/2012-04-24/Accounts/AC1/Calls.json"),
        None
    );
    assert_eq!(
        instance_id(b"/restcomm/2012-04-24/Accounts/AC1/SMS/ID-x"),
        None
    );
    assert_eq!(
        instance_id(b"/restcomm/2012-04-24/Accounts/AC1/Calls/ID-short"),
        None
    );
}

#[test]
fn session_id_sources_in_order() {
    let buf = b"GET /app;jsessionid=abc.node1?jsessionid=q.node2 HTTP/1.1\r\nHost: x\r\nCookie: a=b; JSESSIONID=c.node3\r\n\r\n";
    let h = head(buf);
    let t = h.target.get(buf);
    assert_eq!(jsessionid(t, &h, buf), Some(&b"abc.node1"[..]));
    let buf = b"GET /app?x=1&JSESSIONID=q.node2 HTTP/1.1\r\nHost: x\r\nCookie: JSESSIONID=c.node3\r\n\r\n";
    let h = head(buf);
    assert_eq!(
        jsessionid(h.target.get(buf), &h, buf),
        Some(&b"q.node2"[..])
    );
    let buf = b"GET /app HTTP/1.1\r\nHost: x\r\nCookie: x=1\r\nCookie: a=b;jsessionid=\"c.node3\"\r\n\r\n";
    let h = head(buf);
    assert_eq!(
        jsessionid(h.target.get(buf), &h, buf),
        Some(&b"c.node3"[..])
    );
    let buf = b"GET /app HTTP/1.1\r\nHost: x\r\n\r\n";
    let h = head(buf);
    assert_eq!(jsessionid(h.target.get(buf), &h, buf), None);
}

#[test]
fn jvm_route_after_last_dot() {
    assert_eq!(jvm_route(b"ABC.def.node1"), Some(&b"node1"[..]));
    assert_eq!(jvm_route(b"ABC"), None);
    assert_eq!(jvm_route(b"ABC."), None);
}
