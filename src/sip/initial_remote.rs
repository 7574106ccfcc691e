//! `X-Sip-Balancer-InitialRemoteAddr` / `X-Sip-Balancer-InitialRemotePort`
//! (original §2.5 step 1 and §2.8 step 8): the address a client's packet
//! came from, told to the node. Added to client REGISTERs, client requests
//! with a body and every response from a client; removed from anything a
//! node sends out. Copies sent by the client are replaced, so a client
//! cannot pose as another address.

use std::net::SocketAddr;

use super::edit::Edits;
use super::message::{HeaderName, Message};
use super::write::{push_ip_param, push_u32};

/// Remove every `X-Sip-Balancer-InitialRemote*` header of `msg`.
pub(crate) fn strip(msg: &Message<'_>, edits: &mut Edits) {
    for h in msg.headers() {
        if matches!(
            h.name,
            HeaderName::XInitialRemoteAddr | HeaderName::XInitialRemotePort
        ) {
            edits.remove(h.line.start, h.line.end);
        }
    }
}

/// Replace the client's copies with the packet source `src`, appended at
/// the end of the head.
pub(crate) fn stamp(msg: &Message<'_>, src: SocketAddr, edits: &mut Edits) {
    strip(msg, edits);
    let at = msg.head_end();
    let (t, mark) = edits.text();
    t.extend_from_slice(b"X-Sip-Balancer-InitialRemoteAddr: ");
    push_ip_param(t, src.ip());
    t.extend_from_slice(b"\r\nX-Sip-Balancer-InitialRemotePort: ");
    push_u32(t, u32::from(src.port()));
    t.extend_from_slice(b"\r\n");
    edits.finish(mark, at, at);
}
