use super::*;

fn props(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn start_of_the_reference_node() {
    let body = br#"{"start":{"hostName":"node1","ip":"10.0.0.5","httpPort":"8080","udpPort":"5080","tcpPort":"5080","version":"2","sessionId":"1700000000123","restcommInstanceId":"ID1","heartbeatPort":"2222"}}"#;
    let cmd = parse(body).unwrap();
    assert_eq!(
        cmd,
        Command::Start {
            properties: props(&[
                ("Restcomm-Instance-Id", "ID1"),
                ("heartbeatPort", "2222"),
                ("hostName", "node1"),
                ("httpPort", "8080"),
                ("ip", "10.0.0.5"),
                ("sessionId", "1700000000123"),
                ("tcpPort", "5080"),
                ("udpPort", "5080"),
                ("version", "2"),
            ])
        }
    );
    assert_eq!(cmd.reply(), br#"{"start":"OK"}"#);
    let peer: IpAddr = "10.0.0.9".parse().unwrap();
    assert!(matches!(cmd.into_event(peer), Event::Start { src, .. } if src == peer));
}

#[test]
fn session_commands_take_numbers_or_strings() {
    assert_eq!(
        parse(br#"{"heartbeat":{"sessionId":1700000000123}}"#).unwrap(),
        Command::Heartbeat {
            session_id: "1700000000123".into()
        }
    );
    let shutdown = parse(br#"{"shutdown":{"sessionId":"42"}}"#).unwrap();
    assert_eq!(shutdown.reply(), br#"{"shutdown":"OK"}"#);
    assert_eq!(
        shutdown.into_event(IpAddr::from([127, 0, 0, 1])),
        Event::SessionShutdown {
            session_id: "42".into()
        }
    );
    let stop = parse(br#"{ "stop" : { "sessionId" : 7 } }"#).unwrap();
    assert_eq!(stop.reply(), br#"{"stop":"OK"}"#);
    assert_eq!(
        stop.into_event(IpAddr::from([127, 0, 0, 1])),
        Event::SessionStop {
            session_id: "7".into()
        }
    );
    let sw = parse(br#"{"switchover":{"fromJvmRoute":"a","toJvmRoute":"b"}}"#).unwrap();
    assert_eq!(sw.reply(), b"null");
    assert_eq!(
        sw.into_event(IpAddr::from([127, 0, 0, 1])),
        Event::Switchover {
            from_jvm_route: "a".into(),
            to_jvm_route: "b".into()
        }
    );
}

#[test]
fn bad_bodies_are_errors() {
    assert_eq!(parse(b"").unwrap_err(), JsonError::NotJson);
    assert_eq!(parse(b"[1]").unwrap_err(), JsonError::NotJson);
    assert_eq!(parse(b"{\"start\":").unwrap_err(), JsonError::NotJson);
    assert_eq!(parse(b"{}").unwrap_err(), JsonError::NotOneCommand);
    assert_eq!(
        parse(br#"{"heartbeat":{"sessionId":1},"stop":{"sessionId":1}}"#).unwrap_err(),
        JsonError::NotOneCommand
    );
    assert_eq!(
        parse(br#"{"reboot":{}}"#).unwrap_err(),
        JsonError::UnknownCommand("reboot".into())
    );
    assert_eq!(
        parse(br#"{"heartbeat":{}}"#).unwrap_err(),
        JsonError::MissingField("sessionId")
    );
    assert_eq!(
        parse(br#"{"stop":{"sessionId":{"x":1}}}"#).unwrap_err(),
        JsonError::MissingField("sessionId")
    );
    assert_eq!(
        parse(br#"{"switchover":{"fromJvmRoute":"a"}}"#).unwrap_err(),
        JsonError::MissingField("toJvmRoute")
    );
    assert_eq!(
        parse(&vec![b' '; MAX_BODY + 1]).unwrap_err(),
        JsonError::TooLarge
    );
    for bytes in [&b"\xff\xfe"[..], b"{\"start\":[1,2]}", b"{\"start\":null}"] {
        let _ = parse(bytes); // total: never panics
    }
}

#[test]
fn stop_notice_and_its_answer() {
    assert_eq!(
        stop_notice(IpAddr::from([10, 0, 0, 1]), 2610),
        br#"{"stop":{"ipAddress":"10.0.0.1","port":2610}}"#
    );
    assert!(is_stop_ok(br#"{"stop":"OK"}"#));
    assert!(!is_stop_ok(br#"{"stop":"NO"}"#));
    assert!(!is_stop_ok(b"garbage"));
}
