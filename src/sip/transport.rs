//! Transports as the proxy sees them: the [`Transport`] of each leg, the
//! [`ConnRef`] naming a stream connection (owned by one shard), and the
//! parameter `lbc` that carries a connection reference in our own Via and
//! Record-Route entries, so a response or an in-dialog request finds the
//! connection it must leave on, whichever shard processes it.

use super::headers;
pub use crate::config::Transport;

/// All transports, in [`index`] order.
pub const ALL: [Transport; 5] = [
    Transport::Udp,
    Transport::Tcp,
    Transport::Tls,
    Transport::Ws,
    Transport::Wss,
];

/// Position of a transport in [`ALL`] (for per-transport tables).
pub const fn index(t: Transport) -> usize {
    match t {
        Transport::Udp => 0,
        Transport::Tcp => 1,
        Transport::Tls => 2,
        Transport::Ws => 3,
        Transport::Wss => 4,
    }
}

/// Upper-case token as written in a Via (`SIP/2.0/TCP`).
pub const fn via_token(t: Transport) -> &'static [u8] {
    match t {
        Transport::Udp => b"UDP",
        Transport::Tcp => b"TCP",
        Transport::Tls => b"TLS",
        Transport::Ws => b"WS",
        Transport::Wss => b"WSS",
    }
}

/// Lower-case token as written in a URI's `transport=` parameter.
pub const fn uri_token(t: Transport) -> &'static [u8] {
    match t {
        Transport::Udp => b"udp",
        Transport::Tcp => b"tcp",
        Transport::Tls => b"tls",
        Transport::Ws => b"ws",
        Transport::Wss => b"wss",
    }
}

/// A transport token in any case (`UDP`, `tcp`, `WSS`…); `None` if unknown.
pub fn parse_token(token: &[u8]) -> Option<Transport> {
    ALL.into_iter()
        .find(|&t| token.eq_ignore_ascii_case(via_token(t)))
}

/// Whether the transport is a byte stream (needs a connection).
pub const fn is_stream(t: Transport) -> bool {
    !matches!(t, Transport::Udp)
}

/// The transport a URI asks for: its `transport=` parameter; UDP when
/// absent or unknown.
pub fn of_uri_params(params: &[u8]) -> Transport {
    headers::params(params)
        .find(|(name, _)| name.eq_ignore_ascii_case(b"transport"))
        .and_then(|(_, v)| v.and_then(parse_token))
        .unwrap_or(Transport::Udp)
}

/// A stream connection as the runtime names it: which shard owns it, its
/// transport, and a shard-local identity (slot and generation) that stops
/// matching once the connection is gone. Opaque to the proxy except for the
/// owner and the transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnRef(u64);

const SHARD_SHIFT: u32 = 56;
const TRANSPORT_SHIFT: u32 = 53;
const LOCAL_MASK: u64 = (1 << TRANSPORT_SHIFT) - 1;

impl ConnRef {
    /// A reference to connection `local` (< 2^53) of `shard` (< 256).
    pub fn new(shard: usize, transport: Transport, local: u64) -> ConnRef {
        ConnRef(
            ((shard as u64 & 0xff) << SHARD_SHIFT)
                | ((index(transport) as u64) << TRANSPORT_SHIFT)
                | (local & LOCAL_MASK),
        )
    }

    /// The shard that owns the connection.
    pub fn shard(self) -> usize {
        (self.0 >> SHARD_SHIFT) as usize
    }

    /// The connection's transport.
    pub fn transport(self) -> Transport {
        let i = ((self.0 >> TRANSPORT_SHIFT) & 0x7) as usize;
        ALL.get(i).copied().unwrap_or(Transport::Tcp)
    }

    /// The shard-local part (slot and generation, the runtime's business).
    pub fn local(self) -> u64 {
        self.0 & LOCAL_MASK
    }

    /// The raw value (what `lbc=` carries, in hex).
    pub fn raw(self) -> u64 {
        self.0
    }

    /// From a raw value; `None` for a value no [`ConnRef::new`] makes.
    pub fn from_raw(raw: u64) -> Option<ConnRef> {
        let t = (raw >> TRANSPORT_SHIFT) & 0x7;
        (t >= 1 && (t as usize) < ALL.len()).then_some(ConnRef(raw))
    }
}

/// Name of the parameter carrying a [`ConnRef`] in our Via / Record-Route.
pub const CONN_PARAM: &[u8] = b"lbc";

/// Append `;lbc=<16 hex>`.
pub fn push_conn_param(out: &mut Vec<u8>, conn: ConnRef) {
    out.extend_from_slice(b";lbc=");
    super::write::push_hex64(out, conn.raw());
}

/// The [`ConnRef`] in a `;`-separated parameter list, if any.
pub fn conn_param(params: &[u8]) -> Option<ConnRef> {
    headers::params(params)
        .find(|(name, _)| name.eq_ignore_ascii_case(CONN_PARAM))
        .and_then(|(_, v)| v)
        .and_then(parse_hex64)
        .and_then(ConnRef::from_raw)
}

fn parse_hex64(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 16 {
        return None;
    }
    v.iter().try_fold(0u64, |acc, &b| {
        let d = (b as char).to_digit(16)?;
        Some((acc << 4) | u64::from(d))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conn_ref_round_trips_through_its_parameter() {
        let c = ConnRef::new(3, Transport::Tls, 0x1234_5678_9abc);
        assert_eq!(c.shard(), 3);
        assert_eq!(c.transport(), Transport::Tls);
        assert_eq!(c.local(), 0x1234_5678_9abc);
        let mut p = Vec::new();
        push_conn_param(&mut p, c);
        assert_eq!(conn_param(&p), Some(c));
        assert_eq!(conn_param(b";lbc=zz"), None);
        assert_eq!(
            conn_param(b";lbc=0"),
            None,
            "transport 0 (UDP) is no connection"
        );
        assert_eq!(conn_param(b";x=1"), None);
    }

    #[test]
    fn tokens_parse_in_any_case() {
        assert_eq!(parse_token(b"tcp"), Some(Transport::Tcp));
        assert_eq!(parse_token(b"WSS"), Some(Transport::Wss));
        assert_eq!(parse_token(b"SCTP"), None);
        assert_eq!(of_uri_params(b";lr;transport=TLS"), Transport::Tls);
        assert_eq!(of_uri_params(b";lr"), Transport::Udp);
    }
}
