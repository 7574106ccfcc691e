//! Tests for the typed header views.

use super::*;
use crate::sip::message::tests::{invite, ok_200};

/// The whole buffer as one value span.
fn all(text: &[u8]) -> Span {
    Span::new(0, text.len())
}

fn vias_of(text: &[u8]) -> Vec<Via<'_>> {
    vias(text, all(text)).collect()
}

#[test]
fn via_basic() {
    let text = b"SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds;rport";
    let [via] = vias_of(text)[..] else { panic!() };
    assert_eq!(via.transport, b"UDP");
    assert_eq!(via.host, b"pc33.atlanta.example.com");
    assert_eq!(via.port, Some(5060));
    assert_eq!(via.branch, Some(&b"z9hG4bK776asdhds"[..]));
    assert_eq!(via.received, None);
    assert_eq!(via.rport, Rport::Empty);
    assert_eq!(via.span, all(text));
    assert_eq!(
        &text[..via.sent_by_end as usize],
        b"SIP/2.0/UDP pc33.atlanta.example.com:5060"
    );
}

#[test]
fn via_params_any_case() {
    let text = b"sip/2.0/tcp 10.0.0.1;BRANCH=z9hG4bKx;Received=192.0.2.1;RPort=5062;x";
    let via = vias_of(text)[0];
    assert_eq!(via.transport, b"tcp");
    assert_eq!(via.port, None);
    assert_eq!(via.branch, Some(&b"z9hG4bKx"[..]));
    assert_eq!(via.received, Some(&b"192.0.2.1"[..]));
    assert_eq!(via.rport, Rport::Value(5062));
    assert_eq!(vias_of(b"SIP/2.0/UDP h;rport=99999")[0].rport, Rport::Empty);
    assert_eq!(vias_of(b"SIP/2.0/UDP h")[0].rport, Rport::Absent);
}

#[test]
fn via_ipv6_with_absolute_spans() {
    let buf = b"Via: SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK1 , SIP/2.0/TCP [::1];rport=1";
    let value = Span::new(5, buf.len());
    let list: Vec<_> = vias(buf, value).collect();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].host, b"2001:db8::1");
    assert_eq!(list[0].port, Some(5060));
    assert_eq!(
        &buf[list[0].span.range()],
        b"SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK1"
    );
    assert_eq!(&buf[list[0].sent_by_end as usize..][..1], b";");
    assert_eq!(list[1].host, b"::1");
    assert_eq!(list[1].rport, Rport::Value(1));
    assert_eq!(&buf[list[1].span.range()], b"SIP/2.0/TCP [::1];rport=1");
    assert_eq!(list[1].sent_by_end, list[1].span.start + 17);
}

#[test]
fn via_list_with_quotes_and_whitespace() {
    let text = b"SIP/2.0/UDP a.example.com;x=\"1,2\", SIP / 2.0 / UDP b.example.com : 5070 ;branch=z9hG4bKb,,SIP/2.0/WSS c;branch=c";
    let list = vias_of(text);
    let hosts: Vec<_> = list.iter().map(|v| (v.host, v.port)).collect();
    assert_eq!(
        hosts,
        [
            (&b"a.example.com"[..], None),
            (b"b.example.com", Some(5070)),
            (b"c", None)
        ]
    );
    assert_eq!(
        &text[..list[1].sent_by_end as usize]
            .rsplit(|&b| b == b',')
            .next()
            .unwrap(),
        b" SIP / 2.0 / UDP b.example.com : 5070"
    );
}

#[test]
fn via_malformed_stops_iteration() {
    for bad in [
        &b""[..],
        b"SIP/2.0/UDP",
        b"SIP/2.0/UDP ",
        b"SIP/3.0/UDP h",
        b"HTTP/2.0/UDP h",
        b"SIP/2.0 UDP h",
        b"SIP/2.0/UDPh",
        b"SIP/2.0/UDP h:99999",
        b"SIP/2.0/UDP h:",
        b"SIP/2.0/UDP [::1",
        b"SIP/2.0/UDP []",
        b"SIP/2.0/UDP h x",
        b";branch=1",
        b"SIP/2.0/UDP 192.0.2.15;;",
        b"SIP/2.0/UDP h;branch=1;;rport",
        b"SIP/2.0/UDP h ; ; branch=1",
    ] {
        assert!(
            vias_of(bad).is_empty(),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
    assert_eq!(vias_of(b"SIP/2.0/UDP a, garbage, SIP/2.0/UDP b").len(), 1);
    assert!(vias_of(b"SIP/2.0/UDP h;branch=z9hG4bK1;").is_empty());
    let v = vias_of(b"SIP/2.0/UDP h ;branch=z9hG4bK1 ; rport ");
    assert_eq!((v.len(), v[0].branch), (1, Some(&b"z9hG4bK1"[..])));
}

#[test]
fn top_via_of_messages() {
    let buf = ok_200();
    let msg = Message::parse(&buf).unwrap();
    let via = top_via(&msg).unwrap();
    assert_eq!((via.host, via.port), (&b"lb.example.com"[..], Some(5060)));
    let second = vias(&buf, msg.header(HeaderName::Via).unwrap().value)
        .nth(1)
        .unwrap();
    assert_eq!(second.received, Some(&b"192.0.2.10"[..]));
    assert_eq!(second.rport, Rport::Value(5062));
    let buf = invite();
    let msg = Message::parse(&buf).unwrap();
    assert_eq!(
        top_via(&msg).unwrap().branch,
        Some(&b"z9hG4bK776asdhds"[..])
    );
}

#[test]
fn route_lists() {
    let buf = invite();
    let msg = Message::parse(&buf).unwrap();
    let route = msg.header(HeaderName::Route).unwrap();
    let list: Vec<_> = name_addrs(&buf, route.value).collect();
    assert_eq!(list.len(), 2);
    assert_eq!(msg.slice(list[0].span), b"<sip:lb.example.com;lr>");
    assert_eq!(list[0].uri.host, b"lb.example.com");
    assert_eq!(param(list[0].uri.params, b"lr"), Some(None));
    assert_eq!(list[1].uri.port, Some(5080));
    assert_eq!(msg.slice(list[1].uri.host_port), b"node1.example.com:5080");
}

#[test]
fn name_addr_forms() {
    let text = br#""Bob, the \"builder\" <x>" <sip:bob@[2001:db8::2]:5070;transport=tcp>;expires=60, Alice <sips:alice@a.example.com>, sip:carol@c.example.com;lr, <sip:d@e?subject=x>"#;
    let list: Vec<_> = name_addrs(text, all(text)).collect();
    assert_eq!(list.len(), 4);
    assert_eq!(list[0].uri.user, Some(&b"bob"[..]));
    assert_eq!(list[0].uri.host, b"2001:db8::2");
    assert_eq!(&text[list[0].uri.host_port.range()], b"[2001:db8::2]:5070");
    assert_eq!(list[0].uri.params, b";transport=tcp");
    assert!(text[list[0].span.range()].ends_with(b";expires=60"));
    assert_eq!(list[1].uri.host, b"a.example.com");
    assert_eq!(list[2].uri.params, b";lr");
    assert_eq!(&text[list[2].span.range()], b"sip:carol@c.example.com;lr");
    assert_eq!(
        (list[3].uri.host, list[3].uri.params),
        (&b"e"[..], &b""[..])
    );
    // Non-SIP entries end the iteration.
    assert_eq!(name_addrs(b"*", all(b"*")).count(), 0);
    let mixed = b"<sip:a@b>, <tel:+123>, <sip:c@d>";
    assert_eq!(name_addrs(mixed, all(mixed)).count(), 1);
    for bad in [
        &b"\"unterminated <sip:a@b>"[..],
        b"<sip:a@b",
        b"\"x\" sip:a@b",
    ] {
        assert_eq!(
            name_addrs(bad, all(bad)).count(),
            0,
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn sip_uri_forms() {
    let uri = |s: &'static [u8]| sip_uri(s, all(s));
    let u = uri(b"sip:alice:secret@atlanta.example.com:5061;transport=tls;lr?subject=x").unwrap();
    assert_eq!(u.user, Some(&b"alice"[..]));
    assert_eq!((u.host, u.port), (&b"atlanta.example.com"[..], Some(5061)));
    assert_eq!(u.params, b";transport=tls;lr");
    assert_eq!(param(u.params, b"TRANSPORT"), Some(Some(&b"tls"[..])));
    let u = uri(b"SIPS:[::1]:5061").unwrap();
    assert_eq!((u.user, u.host, u.port), (None, &b"::1"[..], Some(5061)));
    assert_eq!(u.host_port, Span::new(5, 15));
    let u = uri(b"sip:user;par=u%40example.net@example.com").unwrap();
    assert_eq!(
        (u.user, u.host),
        (Some(&b"user;par=u%40example.net"[..]), &b"example.com"[..])
    );
    let u = uri(b"sip:192.0.2.1").unwrap();
    assert_eq!(
        (u.host, u.port, u.params),
        (&b"192.0.2.1"[..], None, &b""[..])
    );
    for bad in [
        &b"tel:+1234"[..],
        b"sip:",
        b"sip:@",
        b"sip:host:",
        b"sip:host:65536",
        b"sip:host:5060x",
        b"sip:ho st",
        b"sip:[::1",
        b"sip:[zz]",
        b"<sip:a@b>",
        b"sipx:a@b",
        b"",
    ] {
        assert_eq!(uri(bad), None, "{:?}", String::from_utf8_lossy(bad));
    }
    assert_eq!(sip_uri(b"sip:a", Span::new(0, 99)), None);
    assert_eq!(sip_uri(b"sip:a", Span::new(3, 1)), None);
}

#[test]
fn params() {
    let p = b";lr;Transport=UDP ; maddr = 10.0.0.1;q=\"a;b\";flag";
    assert_eq!(param(p, b"lr"), Some(None));
    assert_eq!(param(p, b"transport"), Some(Some(&b"UDP"[..])));
    assert_eq!(param(p, b"maddr"), Some(Some(&b"10.0.0.1"[..])));
    assert_eq!(param(p, b"q"), Some(Some(&b"\"a;b\""[..])));
    assert_eq!(param(p, b"flag"), Some(None));
    assert_eq!(param(p, b"b\""), None);
    assert_eq!(param(p, b"missing"), None);
    assert_eq!(param(b"tag=1", b"tag"), Some(Some(&b"1"[..])));
    assert_eq!(param(b"tag=", b"tag"), Some(Some(&b""[..])));
    assert_eq!(param(b";;;", b""), None);
    assert_eq!(param(b"", b"x"), None);
}

#[test]
fn scalars() {
    assert_eq!(max_forwards(b"70"), Some(70));
    assert_eq!(max_forwards(b" 0 "), Some(0));
    assert_eq!(max_forwards(b"0068"), Some(68));
    assert_eq!(max_forwards(b"4294967296"), Some(u32::MAX));
    for bad in [&b""[..], b" ", b"-1", b"7 0", b"0x10", b"+1"] {
        assert_eq!(max_forwards(bad), None);
    }
    assert_eq!(cseq(b"314159 INVITE"), Some((314159, &b"INVITE"[..])));
    assert_eq!(cseq(b" 0009\r\n  INVITE "), Some((9, &b"INVITE"[..])));
    assert_eq!(cseq(b"4294967295 ACK"), Some((u32::MAX, &b"ACK"[..])));
    for bad in [
        &b"4294967296 ACK"[..],
        b"INVITE",
        b"1",
        b"1INVITE",
        b"1 INV ITE",
        b"1 <x>",
        b"",
    ] {
        assert_eq!(cseq(bad), None, "{:?}", String::from_utf8_lossy(bad));
    }
    assert_eq!(parse_u16(b"5060"), Some(5060));
    assert_eq!(parse_u16(b"065535"), Some(65535));
    for bad in [
        &b""[..],
        b"65536",
        b"-1",
        b" 1",
        b"1a",
        b"99999999999999999999",
    ] {
        assert_eq!(parse_u16(bad), None);
    }
}

#[test]
fn tags() {
    assert!(has_tag(b"Bob <sip:bob@biloxi.example.com>;tag=a6c85cf"));
    assert!(has_tag(b"<sip:bob@b> ; TAG = x"));
    assert!(has_tag(b"sip:bob@b;tag=x"));
    assert!(has_tag(b"\"a <b> ;tag=no\" <sip:x@y>;tag=yes"));
    assert!(!has_tag(b"Bob <sip:bob@b;tag=inside-uri>"));
    assert!(!has_tag(b"\"tag=x\" <sip:bob@b>;tagx=1"));
    assert!(!has_tag(b"sip:bob@b"));
    assert!(!has_tag(b"<sip:bob@b;tag=1"));
    assert!(!has_tag(b""));
}

#[test]
fn fast_list_and_param_splits_agree_with_the_nesting_scan() {
    let alphabet = b",;<>\"[]\\a=: ";
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..20_000 {
        let mut text = Vec::new();
        for _ in 0..(x % 24) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            text.push(alphabet[(x % alphabet.len() as u64) as usize]);
        }
        let span = Span {
            start: 0,
            end: text.len() as u32,
        };
        let split = super::ListSplit::new(&text, span);
        assert_eq!(
            split.element_end(0),
            split.element_end_slow(0),
            "{:?}",
            String::from_utf8_lossy(&text)
        );
        let mut scan = super::Nesting::default();
        let slow = text.iter().position(|&b| scan.step(b) && b == b';');
        assert_eq!(
            super::param_cut(&text),
            slow,
            "{:?}",
            String::from_utf8_lossy(&text)
        );
    }
}
