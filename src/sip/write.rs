//! Allocation-free writers for the bits the proxy generates: decimal
//! numbers, IP addresses, hex. `format!` is banned on the forwarding path;
//! these append straight into a reused `Vec<u8>`.

use std::net::{IpAddr, Ipv4Addr};

/// Append `n` in decimal.
pub fn push_u32(out: &mut Vec<u8>, mut n: u32) {
    let mut digits = [0u8; 10];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// Append an IPv4 address in dotted-quad form.
pub fn push_ipv4(out: &mut Vec<u8>, ip: Ipv4Addr) {
    for (i, octet) in ip.octets().into_iter().enumerate() {
        if i > 0 {
            out.push(b'.');
        }
        push_u32(out, u32::from(octet));
    }
}

/// Append an IP address as it appears in a URI host (IPv6 bracketed).
pub fn push_host(out: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => push_ipv4(out, v4),
        IpAddr::V6(v6) => {
            use std::io::Write;
            // IPv6 is rare on this path; fmt writes into the Vec without allocating.
            let _ = write!(out, "[{v6}]");
        }
    }
}

/// Append an IP address as a parameter value (`received=`, `node_host=`): IPv6 unbracketed.
pub fn push_ip_param(out: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => push_ipv4(out, v4),
        IpAddr::V6(v6) => {
            use std::io::Write;
            let _ = write!(out, "{v6}");
        }
    }
}

/// Append `host:port`.
pub fn push_host_port(out: &mut Vec<u8>, ip: IpAddr, port: u16) {
    push_host(out, ip);
    out.push(b':');
    push_u32(out, u32::from(port));
}

/// Append `v` as 16 lowercase hex digits.
pub fn push_hex64(out: &mut Vec<u8>, v: u64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for shift in (0..16).rev() {
        out.push(HEX[((v >> (shift * 4)) & 0xf) as usize]);
    }
}

/// Parse an IP literal from header bytes (IPv6 may be bracketed).
pub fn parse_ip(host: &[u8]) -> Option<IpAddr> {
    if let Some(v4) = parse_ipv4(host) {
        return Some(IpAddr::V4(v4));
    }
    let host = host
        .strip_prefix(b"[")
        .and_then(|h| h.strip_suffix(b"]"))
        .unwrap_or(host);
    std::str::from_utf8(host).ok()?.parse().ok()
}

/// Dotted-quad IPv4 without going through `str` (the common case on the
/// forwarding path); anything else is left to the std parser.
fn parse_ipv4(host: &[u8]) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = host.split(|&b| b == b'.');
    for o in &mut octets {
        let part = parts.next()?;
        if part.is_empty() || part.len() > 3 || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        if part.len() > 1 && part.first() == Some(&b'0') {
            return None; // leading zeros: let the std parser decide (it rejects them)
        }
        let n = part.iter().fold(0u32, |n, &d| n * 10 + u32::from(d - b'0'));
        *o = u8::try_from(n).ok()?;
    }
    parts.next().is_none().then_some(Ipv4Addr::from(octets))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_addresses() {
        let mut v = Vec::new();
        push_u32(&mut v, 0);
        v.push(b' ');
        push_u32(&mut v, 4294967295);
        v.push(b' ');
        push_host_port(&mut v, "10.0.0.21".parse().unwrap(), 5080);
        v.push(b' ');
        push_host_port(&mut v, "::1".parse().unwrap(), 5060);
        v.push(b' ');
        push_hex64(&mut v, 0xdead_beef);
        assert_eq!(
            v,
            b"0 4294967295 10.0.0.21:5080 [::1]:5060 00000000deadbeef"
        );
        assert_eq!(parse_ip(b"[::1]"), Some("::1".parse().unwrap()));
        assert_eq!(parse_ip(b"127.0.0.1"), Some("127.0.0.1".parse().unwrap()));
        assert_eq!(parse_ip(b"example.com"), None);
        for bad in [
            &b"1.2.3"[..],
            b"1.2.3.4.5",
            b"256.1.1.1",
            b"01.2.3.4",
            b"1..3.4",
            b"1.2.3.4 ",
        ] {
            assert_eq!(
                parse_ip(bad),
                std::str::from_utf8(bad).unwrap().parse().ok(),
                "{bad:?}"
            );
        }
        assert_eq!(parse_ip(b"10.0.0.255"), Some("10.0.0.255".parse().unwrap()));
    }
}
