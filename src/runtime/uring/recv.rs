//! What a multishot `recvmsg` writes and how it is read: the `msghdr`
//! template (room for the source address and one timestamp), the source
//! address and the kernel's receive timestamp (`SO_TIMESTAMPNS`).

#![allow(unsafe_code)]

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::AsRawFd;

use socket2::Socket;

/// Room for the source address in a received buffer (an IPv6 `sockaddr`).
const NAME_LEN: u32 = size_of::<libc::sockaddr_in6>() as u32;
/// Room for the control data: one `SCM_TIMESTAMPNS` message (header and
/// `timespec`, both multiples of the 8-byte control alignment on 64-bit).
const CONTROL_LEN: usize = size_of::<libc::cmsghdr>() + size_of::<libc::timespec>();

/// The `msghdr` a multishot `recvmsg` uses as its layout template.
pub(super) fn recv_msghdr() -> libc::msghdr {
    // SAFETY: msghdr is plain old data; all-zero is a valid value.
    let mut hdr: libc::msghdr = unsafe { std::mem::zeroed() };
    hdr.msg_namelen = NAME_LEN;
    hdr.msg_controllen = CONTROL_LEN;
    hdr
}

/// The `SCM_TIMESTAMPNS` value in a datagram's control data, in ns.
pub(super) fn rx_timestamp(control: &[u8]) -> Option<u64> {
    const HDR: usize = size_of::<libc::cmsghdr>();
    let level = i32::from_ne_bytes(control.get(HDR - 8..HDR - 4)?.try_into().ok()?);
    let kind = i32::from_ne_bytes(control.get(HDR - 4..HDR)?.try_into().ok()?);
    if level != libc::SOL_SOCKET || kind != libc::SCM_TIMESTAMPNS {
        return None;
    }
    let sec = i64::from_ne_bytes(control.get(HDR..HDR + 8)?.try_into().ok()?);
    let nsec = i64::from_ne_bytes(control.get(HDR + 8..HDR + 16)?.try_into().ok()?);
    let ns = sec.checked_mul(1_000_000_000)?.checked_add(nsec)?;
    u64::try_from(ns).ok()
}

/// Ask the kernel to stamp each received datagram (`SO_TIMESTAMPNS`);
/// without it datagrams simply carry no timestamp.
pub(super) fn enable_rx_timestamps(socket: &Socket) {
    let on: libc::c_int = 1;
    // SAFETY: a valid socket descriptor, and a pointer to an int of the
    // size passed, which is what SO_TIMESTAMPNS takes.
    let _ = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            (&on as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
}

/// A `sockaddr_in` / `sockaddr_in6` as the kernel wrote it.
pub(super) fn parse_sockaddr(name: &[u8]) -> Option<SocketAddr> {
    let family = u16::from_ne_bytes([*name.first()?, *name.get(1)?]);
    let port = u16::from_be_bytes([*name.get(2)?, *name.get(3)?]);
    match i32::from(family) {
        libc::AF_INET => {
            let ip: [u8; 4] = name.get(4..8)?.try_into().ok()?;
            Some(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(ip), port)))
        }
        libc::AF_INET6 => {
            let flow: [u8; 4] = name.get(4..8)?.try_into().ok()?;
            let ip: [u8; 16] = name.get(8..24)?.try_into().ok()?;
            let scope: [u8; 4] = name.get(24..28)?.try_into().ok()?;
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(ip),
                port,
                u32::from_be_bytes(flow),
                u32::from_ne_bytes(scope),
            )))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use socket2::SockAddr;

    #[test]
    fn sockaddr_parsing_is_total() {
        assert_eq!(parse_sockaddr(&[]), None);
        assert_eq!(parse_sockaddr(&[2, 0, 0]), None);
        let v4 = SockAddr::from(SocketAddr::from(([10, 1, 2, 3], 5060)));
        // SAFETY: test reads the bytes of a live sockaddr.
        let bytes =
            unsafe { std::slice::from_raw_parts(v4.as_ptr().cast::<u8>(), v4.len() as usize) };
        assert_eq!(
            parse_sockaddr(bytes),
            Some(SocketAddr::from(([10, 1, 2, 3], 5060)))
        );
    }
}
