//! SMPP through the balancer with real peers: PyPI `smpplib` ESMEs
//! (`tests/smpp/esme.py`) against two asyncio SMSC simulators
//! (`tests/smpp/smsc.py`), the balancer in between in regular mode (one
//! SMSC connection per ESME, bound with its credentials), also as an
//! SMPP-only balancer (`sip.enabled: false`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::time::Duration;

use common::certs::write_pki;
use common::smpp::{esme, lb_config, smpplib_available, Smsc};
use common::{free_port, Balancer, LbConfig, TempDir};

fn config(smpp_port: u16, servers: &[u16]) -> LbConfig {
    lb_config(smpp_port, servers, "")
}

#[test]
fn esmes_submit_through_the_balancer_and_rebind_when_an_smsc_dies() {
    if !smpplib_available() {
        return;
    }
    let mut a = Smsc::start("A", &["--receipts"]);
    let b = Smsc::start("B", &["--receipts"]);
    let port = free_port();
    let lb = Balancer::start(&config(port, &[a.port, b.port]));
    std::thread::sleep(Duration::from_millis(300));

    // A transceiver submits 10 with a window of 3 and waits for receipts;
    // sequence numbers come back as the ESME sent them.
    let (report, ok) = esme(
        port,
        &[
            "-n",
            "10",
            "--window",
            "3",
            "--receipts",
            "--first-seq",
            "7",
        ],
    );
    assert!(ok, "ESME through the balancer: {report}");
    let submits = report["submits"].as_array().expect("submits");
    assert_eq!(submits.len(), 10, "{report}");
    for s in submits {
        assert_eq!(s["sent_seq"], s["got_seq"], "sequence restored: {s}");
        assert_eq!(s["status"], 0, "{s}");
    }
    assert_eq!(report["bind"]["status"], 0, "{report}");

    // Each bind picks the next SMSC (round robin); with A dead, binds and
    // submits go to B.
    a.die();
    for _ in 0..2 {
        let (report, ok) = esme(port, &["-n", "3", "--bind", "transmitter"]);
        assert!(ok, "after A died: {report}");
    }
    drop(b);
    lb.stop();
}

/// `sip: { enabled: false }`: an SMPP-only balancer binds none of its SIP
/// legs' ports and relays submits as usual.
#[test]
fn an_smpp_only_balancer_binds_no_sip_socket_and_relays() {
    if !smpplib_available() {
        return;
    }
    let b = Smsc::start("B", &[]);
    let port = free_port();
    let mut cfg = config(port, &[b.port]);
    cfg.sip_enabled = false;
    let lb = Balancer::start(&cfg);
    for addr in [lb.external, lb.internal] {
        assert!(
            std::net::UdpSocket::bind(addr).is_ok(),
            "SIP/UDP {addr} is not bound"
        );
    }
    let (report, ok) = esme(port, &["-n", "5", "--window", "2"]);
    assert!(ok, "ESME through an SMPP-only balancer: {report}");
    let statuses: Vec<_> = report["submits"]
        .as_array()
        .expect("submits")
        .iter()
        .map(|s| s["status"].as_u64())
        .collect();
    assert_eq!(statuses, vec![Some(0); 5], "{report}");
    drop(b);
    lb.stop();
}

#[test]
fn invalid_command_gets_generic_nack() {
    // Raw bytes: a PDU with an unknown command id before any bind.
    let b = Smsc::start("B", &[]);
    let port = free_port();
    let lb = Balancer::start(&config(port, &[b.port]));
    std::thread::sleep(Duration::from_millis(200));
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(3))).ok();
    // command_length 16, command_id 0x000000FF (none), status 0, seq 42.
    s.write_all(&[0, 0, 0, 16, 0, 0, 0, 0xff, 0, 0, 0, 0, 0, 0, 0, 42])
        .expect("send");
    let mut resp = [0u8; 16];
    std::io::Read::read_exact(&mut s, &mut resp).expect("generic_nack");
    assert_eq!(&resp[4..8], &[0x80, 0, 0, 0], "generic_nack");
    assert_eq!(&resp[8..12], &[0, 0, 0, 3], "ESME_RINVCMDID");
    assert_eq!(&resp[12..16], &[0, 0, 0, 42], "our sequence number");
    drop(b);
    lb.stop();
}

/// The `ssl:` section and an `smppSslPort` beside the plain port.
fn tls_config(
    smpp_port: u16,
    ssl_port: u16,
    servers: &[u16],
    pki: &common::certs::TestPki,
    terminate: bool,
) -> LbConfig {
    let mut cfg = config(smpp_port, servers);
    cfg.extra_yaml = cfg.extra_yaml.replacen(
        "smppPort:",
        &format!("smppSslPort: {ssl_port}, smppPort:"),
        1,
    );
    cfg.extra_yaml += &format!(
        "ssl:\n  certificateFile: \"{}\"\n  privateKeyFile: \"{}\"\n  trustStore: \"{}\"\n  \
         terminateTLSTraffic: {terminate}\n",
        pki.server_chain.display(),
        pki.server_key.display(),
        pki.ca.display()
    );
    cfg
}

#[test]
fn tls_esmes_bind_and_submit_with_and_without_termination() {
    if !smpplib_available() {
        return;
    }
    let dir = TempDir::new("smpp-pki");
    let pki = write_pki(&dir.path, &["127.0.0.1"]);
    let ca = pki.ca.display().to_string();

    // Terminated: TLS ESMEs reach a plain SMSC.
    let plain = Smsc::start("P", &[]);
    let (port, ssl_port) = (free_port(), free_port());
    let lb = Balancer::start(&tls_config(port, ssl_port, &[plain.port], &pki, true));
    std::thread::sleep(Duration::from_millis(300));
    let (report, ok) = esme(ssl_port, &["-n", "5", "--tls-ca", &ca]);
    assert!(ok, "TLS ESME, TLS ended at the balancer: {report}");
    assert_eq!(report["bind"]["status"], 0, "{report}");
    // The plain listener still serves plain ESMEs.
    let (report, ok) = esme(port, &["-n", "2"]);
    assert!(ok, "plain ESME beside the TLS listener: {report}");
    // A plain client on the TLS port gets no bind.
    let (report, ok) = esme(ssl_port, &["-n", "1", "--timeout", "2"]);
    assert!(!ok, "plain SMPP on the TLS port must fail: {report}");
    lb.stop();
    drop(plain);

    // Not terminated: TLS all the way to a TLS SMSC.
    let chain = pki.server_chain.display().to_string();
    let key = pki.server_key.display().to_string();
    let secure = Smsc::start("S", &["--tls-cert", &chain, "--tls-key", &key]);
    let (port, ssl_port) = (free_port(), free_port());
    let lb = Balancer::start(&tls_config(port, ssl_port, &[secure.port], &pki, false));
    std::thread::sleep(Duration::from_millis(300));
    let (report, ok) = esme(ssl_port, &["-n", "5", "--tls-ca", &ca]);
    assert!(ok, "TLS ESME to a TLS SMSC through the balancer: {report}");
    lb.stop();
    drop(secure);
}
