//! Via work: the branch we derive, stamping `received`/`rport` on the
//! sender's Via (RFC 3581), and popping our own Vias from responses.

use std::net::{IpAddr, SocketAddr};

use super::edit::Edits;
use super::headers::{self, Rport, Via};
use super::message::{HeaderName, Message, Span};
use super::settings::Settings;
use super::transport::ConnRef;
use super::write::{parse_ip, push_ip_param, push_u32};
use crate::balancer::hash::{mix64, Fnv64};

/// Our branch hash: a pure function of the incoming top-Via branch and the
/// Call-ID, so a retransmission and the CANCEL of an INVITE map to the same
/// branch (and so to the same node's transaction), on any shard or instance.
pub fn branch_hash(branch: &[u8], call_id: &[u8]) -> u64 {
    let mut h = Fnv64::new();
    h.write(branch);
    h.write(&[0xff]);
    h.write(call_id);
    mix64(h.finish())
}

/// The first Via value of the message.
pub fn top<'a>(msg: &Message<'a>) -> Option<Via<'a>> {
    let h = msg.header(HeaderName::Via)?;
    headers::vias(msg.buf(), h.value).next()
}

/// Add `received` (and fill an empty `rport`) on the sender's top Via.
pub fn stamp_received(via: &Via<'_>, src: SocketAddr, edits: &mut Edits, buf: &[u8]) {
    let host_is_src = parse_ip(via.host) == Some(src.ip());
    let needs_received = via.received.is_none() && (!host_is_src || via.rport == Rport::Empty);
    if needs_received {
        let (t, mark) = edits.text();
        t.extend_from_slice(b";received=");
        push_ip_param(t, src.ip());
        edits.finish(mark, via.span.end, via.span.end);
    }
    if via.rport == Rport::Empty {
        if let Some(span) = param_span(buf, via, b"rport") {
            let (t, mark) = edits.text();
            t.extend_from_slice(b"rport=");
            push_u32(t, u32::from(src.port()));
            edits.finish(mark, span.start, span.end);
        }
    }
}

/// Span of parameter `name` (name and any value) inside a Via value.
fn param_span(buf: &[u8], via: &Via<'_>, name: &[u8]) -> Option<Span> {
    let start = via.sent_by_end as usize;
    let params = buf.get(start..via.span.end as usize)?;
    let mut off = 0usize;
    for part in params.split(|&b| b == b';') {
        let part_start = start + off;
        off += part.len() + 1;
        let lead = part.len() - part.trim_ascii_start().len();
        let p = part.trim_ascii();
        let pname = p.split(|&b| b == b'=').next().unwrap_or(&[]).trim_ascii();
        if pname.eq_ignore_ascii_case(name) {
            let s = (part_start + lead) as u32;
            return Some(Span {
                start: s,
                end: s + p.len() as u32,
            });
        }
    }
    None
}

/// Start of the sent-by (host) inside a Via value.
pub fn sent_by_start(buf: &[u8], via: &Via<'_>) -> u32 {
    let region = buf
        .get(via.span.start as usize..via.sent_by_end as usize)
        .unwrap_or(&[]);
    let after = region
        .iter()
        .rposition(|&b| b == b' ' || b == b'\t' || b == b'/')
        .map_or(0, |i| i + 1);
    via.span.start + after as u32
}

/// Whether a Via names this balancer.
pub fn is_ours(via: &Via<'_>, settings: &Settings) -> bool {
    settings.is_us(parse_ip(via.host), via.port)
}

/// What popping our Vias from a response found.
#[derive(Debug, Clone, Copy)]
pub struct Popped<'a> {
    /// Dialog version from the branch of the top (our) Via.
    pub version: u32,
    /// The first Via that is not ours: where the response goes.
    pub next: Via<'a>,
    /// The connection one of our Vias recorded (`lbc`): the one the request
    /// came in on, where the response must leave.
    pub conn: Option<ConnRef>,
}

/// Remove the leading Vias that are ours (at most two) and return the first
/// remaining one, or `None` if the top Via is not ours or nothing remains.
/// Each Via is parsed once.
pub fn pop_ours<'a>(
    msg: &Message<'a>,
    settings: &Settings,
    edits: &mut Edits,
) -> Option<Popped<'a>> {
    let buf = msg.buf();
    let mut popped = 0usize;
    let mut version = 0;
    let mut conn = None;
    for h in msg.headers().iter().filter(|h| h.name == HeaderName::Via) {
        let mut removed_from: Option<u32> = None;
        for via in headers::vias(buf, h.value) {
            if popped < 2 && is_ours(&via, settings) {
                if popped == 0 {
                    version = branch_version(&via);
                }
                conn = via_conn(buf, &via).or(conn);
                popped += 1;
                removed_from.get_or_insert(via.span.start);
                continue;
            }
            if popped == 0 {
                return None;
            }
            if let Some(start) = removed_from {
                edits.remove(start, via.span.start);
            }
            return Some(Popped {
                version,
                next: via,
                conn,
            });
        }
        if removed_from.is_some() {
            edits.remove(h.line.start, h.line.end);
        }
    }
    None
}

/// The `lbc` connection parameter of a Via, if any.
fn via_conn(buf: &[u8], via: &Via<'_>) -> Option<ConnRef> {
    let params = buf.get(via.sent_by_end as usize..via.span.end as usize)?;
    super::transport::conn_param(params)
}

/// Text after the last `_` of our branch: the dialog's version.
pub fn branch_version(via: &Via<'_>) -> u32 {
    via.branch
        .and_then(|b| b.rsplit(|&c| c == b'_').next())
        .and_then(headers::parse_u16)
        .map_or(0, u32::from)
}

/// Rewrite a Via's sent-by to `addr` (response failover to a surviving node).
pub fn retarget(buf: &[u8], via: &Via<'_>, ip: IpAddr, port: u16, edits: &mut Edits) {
    let start = sent_by_start(buf, via);
    let (t, mark) = edits.text();
    super::write::push_host_port(t, ip, port);
    edits.finish(mark, start, via.sent_by_end);
}
