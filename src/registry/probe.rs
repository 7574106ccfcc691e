//! Active SIP OPTIONS probing of static nodes.
//!
//! A static node is any SIP server listed in the configuration (SIPp `-aa`,
//! Asterisk, FreeSWITCH…): it sends no heartbeats, so the registry asks.
//! Every `probe.interval` it sends the node one OPTIONS over UDP; *any*
//! response (even 404 or 501) proves the node alive; no response within
//! `probe.timeout` is a failure. `successes_to_up` consecutive successes
//! bring a down node up, `failures_to_down` consecutive failures take it
//! down. At most one probe per node is outstanding.
//!
//! This module holds the per-node state machine ([`ProbeState`]), the
//! request builder ([`options`]) and the response matcher
//! ([`match_response`]); the [`super::Registry`] drives them through
//! `poll_probe` / `handle_probe_response` / `handle_timeout`. No socket, no
//! clock: the runtime sends the bytes from a UDP socket on the control shard
//! and hands back every datagram received on it.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use super::node::{NodeId, NodeState};
use crate::config::ProbeConfig;

/// Prefix of every probe Call-ID: `lbprobe-<node id>-<seq>@<local ip>`.
const CALL_ID_PREFIX: &[u8] = b"lbprobe-";

/// An OPTIONS probe to send now.
#[must_use]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeTransmit {
    /// The probed node.
    pub node: NodeId,
    /// Where to send it (the node's UDP address).
    pub dst: SocketAddr,
    /// The whole datagram.
    pub bytes: Vec<u8>,
}

/// Probe state of one static node.
#[derive(Debug, Clone)]
pub(crate) struct ProbeState {
    /// When the next probe is due.
    next_send: Instant,
    /// The outstanding probe, if any: (seq, deadline).
    pending: Option<(u32, Instant)>,
    /// Sequence number of the last probe sent (CSeq and Call-ID suffix).
    seq: u32,
    /// Consecutive successes.
    successes: u32,
    /// Consecutive failures.
    failures: u32,
}

// === impl ProbeState ===

impl ProbeState {
    /// First probe due at `now`.
    pub(crate) fn new(now: Instant) -> ProbeState {
        ProbeState {
            next_send: now,
            pending: None,
            seq: 0,
            successes: 0,
            failures: 0,
        }
    }

    /// When this node next needs attention: its pending probe's deadline, or
    /// its next send.
    pub(crate) fn deadline(&self) -> Instant {
        self.pending
            .map_or(self.next_send, |(_, deadline)| deadline)
    }

    /// A new sequence number when a probe is due and none is outstanding.
    pub(crate) fn poll_send(&mut self, now: Instant, cfg: &ProbeConfig) -> Option<u32> {
        if self.pending.is_some() || now < self.next_send {
            return None;
        }
        self.seq = self.seq.wrapping_add(1);
        self.pending = Some((self.seq, now + cfg.timeout));
        self.next_send = now + cfg.interval;
        Some(self.seq)
    }

    /// A response with `seq` arrived; `false` if it is not the outstanding probe
    /// (a late answer to a probe already counted as failed).
    pub(crate) fn handle_response(&mut self, seq: u32) -> bool {
        if self.pending.is_some_and(|(s, _)| s == seq) {
            self.pending = None;
            return true;
        }
        false
    }

    /// Whether the outstanding probe timed out (it is then forgotten).
    pub(crate) fn handle_timeout(&mut self, now: Instant) -> bool {
        if self.pending.is_some_and(|(_, deadline)| now >= deadline) {
            self.pending = None;
            return true;
        }
        false
    }

    /// Count an outcome; the state the node must move to, if any.
    pub(crate) fn record(
        &mut self,
        ok: bool,
        state: NodeState,
        cfg: &ProbeConfig,
    ) -> Option<NodeState> {
        if ok {
            self.successes = self.successes.saturating_add(1);
            self.failures = 0;
            (state == NodeState::Down && self.successes >= cfg.successes_to_up.max(1))
                .then_some(NodeState::Up)
        } else {
            self.failures = self.failures.saturating_add(1);
            self.successes = 0;
            (state != NodeState::Down && self.failures >= cfg.failures_to_down.max(1))
                .then_some(NodeState::Down)
        }
    }
}

/// The OPTIONS request probing `node` at `dst`, sent from `local`.
pub(crate) fn options(node: NodeId, seq: u32, dst: SocketAddr, local: SocketAddr) -> Vec<u8> {
    let id = node.0;
    let host = uri_host(local.ip());
    // The probe socket's port makes the Call-ID, branch and tag unique per
    // balancer instance: two instances on one host probing the same node
    // must not look like one dialog to it (SIPp `-aa` answers a known
    // Call-ID to whoever used it first).
    let port = local.port();
    format!(
        "OPTIONS sip:{dst} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {local};branch=z9hG4bK-lbprobe-{id}-{seq}-{port};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:sip-balancer@{host}>;tag=lbprobe{id}-{port}\r\n\
         To: <sip:{dst}>\r\n\
         Call-ID: lbprobe-{id}-{seq}@{host}:{port}\r\n\
         CSeq: {seq} OPTIONS\r\n\
         User-Agent: sip-balancer\r\n\
         Content-Length: 0\r\n\
         \r\n"
    )
    .into_bytes()
}

/// The (node, seq) a datagram answers, if it is a SIP response to one of our probes.
pub(crate) fn match_response(bytes: &[u8]) -> Option<(NodeId, u32)> {
    if !is_response(bytes) {
        return None;
    }
    let call_id = find_call_id(bytes)?;
    let rest = call_id
        .get(CALL_ID_PREFIX.len()..)
        .filter(|_| starts_with_ci(call_id, CALL_ID_PREFIX))?;
    let end = rest.iter().position(|&b| b == b'@').unwrap_or(rest.len());
    let text = std::str::from_utf8(rest.get(..end)?).ok()?;
    let (id, seq) = text.split_once('-')?;
    Some((NodeId(id.parse().ok()?), seq.parse().ok()?))
}

/// An IP as the host part of a SIP URI (IPv6 in brackets).
fn uri_host(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

/// `SIP/2.0 NNN` status line.
fn is_response(bytes: &[u8]) -> bool {
    let status = bytes.get(8..11).unwrap_or_default();
    starts_with_ci(bytes, b"SIP/2.0 ") && status.len() == 3 && status.iter().all(u8::is_ascii_digit)
}

/// Value of the first `Call-ID`/`i` header of the head, trimmed.
fn find_call_id(bytes: &[u8]) -> Option<&[u8]> {
    let lines = bytes.split(|&b| b == b'\n').skip(1);
    for line in lines {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return None; // end of head
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = line.split_at(colon);
        let name = name.trim_ascii();
        if name.eq_ignore_ascii_case(b"call-id") || name.eq_ignore_ascii_case(b"i") {
            return value.get(1..).map(<[u8]>::trim_ascii);
        }
    }
    None
}

fn starts_with_ci(bytes: &[u8], prefix: &[u8]) -> bool {
    bytes
        .get(..prefix.len())
        .is_some_and(|b| b.eq_ignore_ascii_case(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_request_text() {
        let dst: SocketAddr = "10.0.0.7:5080".parse().unwrap();
        let local: SocketAddr = "10.0.0.1:5090".parse().unwrap();
        let text = String::from_utf8(options(NodeId(3), 12, dst, local)).unwrap();
        assert_eq!(
            text,
            "OPTIONS sip:10.0.0.7:5080 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 10.0.0.1:5090;branch=z9hG4bK-lbprobe-3-12-5090;rport\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:sip-balancer@10.0.0.1>;tag=lbprobe3-5090\r\n\
             To: <sip:10.0.0.7:5080>\r\n\
             Call-ID: lbprobe-3-12@10.0.0.1:5090\r\n\
             CSeq: 12 OPTIONS\r\n\
             User-Agent: sip-balancer\r\n\
             Content-Length: 0\r\n\r\n"
        );
    }

    #[test]
    fn options_ipv6_brackets() {
        let dst: SocketAddr = "[2001:db8::7]:5060".parse().unwrap();
        let local: SocketAddr = "[2001:db8::1]:5090".parse().unwrap();
        let text = String::from_utf8(options(NodeId(0), 1, dst, local)).unwrap();
        assert!(text.starts_with("OPTIONS sip:[2001:db8::7]:5060 SIP/2.0\r\n"));
        assert!(text.contains("Call-ID: lbprobe-0-1@[2001:db8::1]:5090\r\n"));
        assert_eq!(
            match_response(
                text.replace("OPTIONS sip:[2001:db8::7]:5060 SIP/2.0", "SIP/2.0 200 OK")
                    .as_bytes()
            ),
            Some((NodeId(0), 1))
        );
    }

    #[test]
    fn matches_any_status_and_compact_form() {
        let r = b"SIP/2.0 501 Not Implemented\r\nVia: x\r\ni : lbprobe-4-9@10.0.0.1 \r\n\r\n";
        assert_eq!(match_response(r), Some((NodeId(4), 9)));
        let r = b"SIP/2.0 404 Not Found\ncall-id:lbprobe-4-10@h\n\n";
        assert_eq!(match_response(r), Some((NodeId(4), 10)));
    }

    #[test]
    fn rejects_requests_foreign_and_garbage() {
        assert_eq!(
            match_response(b"OPTIONS sip:x SIP/2.0\r\nCall-ID: lbprobe-1-1@h\r\n\r\n"),
            None
        );
        assert_eq!(
            match_response(b"SIP/2.0 200 OK\r\nCall-ID: abc@h\r\n\r\n"),
            None
        );
        assert_eq!(
            match_response(b"SIP/2.0 200 OK\r\n\r\nCall-ID: lbprobe-1-1@h\r\n"),
            None
        );
        assert_eq!(
            match_response(b"SIP/2.0 200 OK\r\nCall-ID: lbprobe-x-1@h\r\n\r\n"),
            None
        );
        assert_eq!(match_response(b"SIP/2.0 2"), None);
        assert_eq!(match_response(b""), None);
        assert_eq!(match_response(&[0xff; 40]), None);
    }
}
