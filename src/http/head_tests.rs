use super::*;

fn req(text: &[u8]) -> Result<Head, HeadError> {
    let mut h = Head::default();
    match h.parse_request(text)? {
        true => Ok(h),
        false => Err(HeadError::Malformed),
    }
}

#[test]
fn request_index() {
    let buf = b"POST /a?b=c HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, X-Foo\r\nContent-Length: 5\r\nX-Foo: 1\r\n\r\nhello";
    let h = req(buf).unwrap();
    assert_eq!(h.len, buf.len() - 5);
    assert_eq!(h.method.get(buf), b"POST");
    assert_eq!(h.target.get(buf), b"/a?b=c");
    assert_eq!(h.framing, Framing::Length(5));
    assert!(h.keep_alive && !h.close && h.wants_keep_alive());
    assert!(h.is_listed(buf, b"x-foo"));
    assert_eq!(h.fields.len(), 4);
    assert_eq!(h.fields[1].kind, Kind::Connection);
    assert_eq!(h.host.unwrap().get(buf), b"x");
}

#[test]
fn partial_and_errors() {
    let mut h = Head::default();
    assert_eq!(h.parse_request(b"GET / HTTP/1.1\r\nHost: x\r\n"), Ok(false));
    assert_eq!(
        req(b"GET / HTTP/1.1\r\n\r\n").unwrap_err(),
        HeadError::BadHost
    );
    assert_eq!(
        req(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n").unwrap_err(),
        HeadError::BadHost
    );
    assert!(req(b"GET / HTTP/1.0\r\n\r\n").is_ok());
    assert_eq!(
        req(b"GET / HTTP/2.0\r\n\r\n").unwrap_err(),
        HeadError::Malformed
    );
    assert_eq!(
        req(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n")
            .unwrap_err(),
        HeadError::LengthAndChunked
    );
    assert_eq!(
        req(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n").unwrap_err(),
        HeadError::BadTransferEncoding
    );
    assert_eq!(
        req(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n")
            .unwrap_err(),
        HeadError::BadContentLength
    );
    assert_eq!(
        req(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\n")
            .unwrap()
            .framing,
        Framing::Length(5)
    );
    assert_eq!(
        req(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n").unwrap_err(),
        HeadError::BadContentLength
    );
}

#[test]
fn upgrade_and_expect() {
    let buf = b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\nSec-WebSocket-Protocol: chat, SIP\r\nExpect: 100-continue\r\n\r\n";
    let h = req(buf).unwrap();
    assert!(h.upgrade_websocket && h.conn_upgrade && h.ws_sip && h.expect_continue);
}

#[test]
fn response_index() {
    let buf = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    let mut h = Head::default();
    assert_eq!(h.parse_response(buf), Ok(true));
    assert_eq!((h.code, h.framing), (200, Framing::Chunked));
    assert_eq!(h.status_line.get(buf), b"HTTP/1.1 200 OK");
    assert_eq!(h.parse_response(b"HTTP/1.0 200 OK\r\n\r\n"), Ok(true));
    assert_eq!((h.minor, h.framing), (0, Framing::UntilClose));
    assert!(!h.wants_keep_alive());
}

#[test]
fn completeness_scan() {
    assert!(!may_be_complete(b"GET / HTTP/1.1\r\nHost: x\r\n", 0));
    assert!(may_be_complete(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 0));
    assert!(may_be_complete(b"GET / HTTP/1.1\nHost: x\n\n", 20));
    let buf = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    for from in 0..buf.len() {
        assert!(may_be_complete(buf, from), "{from}");
    }
}
