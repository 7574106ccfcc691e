//! UDP sockets and stream listeners built with socket2.
//!
//! Every option is set explicitly (SO_REUSEPORT for the per-shard
//! listeners, SO_RCVBUF/SO_SNDBUF, non-blocking) and a bind error comes
//! back as an `io::Error` naming the address. Sockets are bound on the
//! starting thread, so every bind error is reported before any shard runs,
//! then moved to the shard whose ring serves them.

use std::io;
use std::net::SocketAddr;

use log::warn;
use socket2::{Domain, Protocol, Socket, Type};

/// How a socket shares its address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sharing {
    /// SO_REUSEPORT: one socket per shard, the kernel spreads peers (4-tuple hash).
    ReusePort,
    /// A private socket (the registry's probe socket).
    Exclusive,
}

/// One socket per shard on `addr`. With port 0 the kernel picks a port for
/// the first socket and the others join it. Returns the bound address too.
pub(crate) fn bind_group(
    addr: SocketAddr,
    shards: usize,
    buffer_bytes: usize,
) -> io::Result<(SocketAddr, Vec<Socket>)> {
    let first = bind_udp(addr, buffer_bytes, Sharing::ReusePort)?;
    let bound = local_addr(&first)?;
    warn_if_capped(&first, bound, buffer_bytes);
    let mut group = Vec::with_capacity(shards);
    group.push(first);
    for _ in 1..shards {
        group.push(bind_udp(bound, buffer_bytes, Sharing::ReusePort)?);
    }
    Ok((bound, group))
}

/// A non-blocking UDP socket bound to `addr`; errors name the address.
pub(crate) fn bind_udp(
    addr: SocketAddr,
    buffer_bytes: usize,
    sharing: Sharing,
) -> io::Result<Socket> {
    build_udp(addr, buffer_bytes, sharing)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot bind udp {addr}: {e}")))
}

/// One SO_REUSEPORT listening stream socket per shard on `addr` (port 0:
/// the kernel picks one for the first and the others join it).
pub(crate) fn bind_tcp_group(
    addr: SocketAddr,
    shards: usize,
) -> io::Result<(SocketAddr, Vec<Socket>)> {
    let first = bind_tcp(addr)?;
    let bound = local_addr(&first)?;
    let mut group = Vec::with_capacity(shards);
    group.push(first);
    for _ in 1..shards {
        group.push(bind_tcp(bound)?);
    }
    Ok((bound, group))
}

fn bind_tcp(addr: SocketAddr) -> io::Result<Socket> {
    let build = || -> io::Result<Socket> {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        socket.set_reuse_address(true)?;
        socket.set_reuse_port(true)?;
        if addr.is_ipv6() {
            socket.set_only_v6(true)?;
        }
        socket.set_nonblocking(true)?;
        socket.bind(&addr.into())?;
        socket.listen(1024)?;
        Ok(socket)
    };
    build().map_err(|e| io::Error::new(e.kind(), format!("cannot listen on tcp {addr}: {e}")))
}

/// The address a socket is bound to.
pub(crate) fn local_addr(socket: &Socket) -> io::Result<SocketAddr> {
    socket
        .local_addr()?
        .as_socket()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "socket has no IP address"))
}

fn build_udp(addr: SocketAddr, buffer_bytes: usize, sharing: Sharing) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if sharing == Sharing::ReusePort {
        socket.set_reuse_port(true)?;
    }
    socket.set_recv_buffer_size(buffer_bytes)?;
    socket.set_send_buffer_size(buffer_bytes)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok(socket)
}

/// Linux silently caps SO_RCVBUF/SO_SNDBUF at `net.core.{r,w}mem_max` (and
/// reports double the granted size); say so once, at start.
fn warn_if_capped(socket: &Socket, addr: SocketAddr, wanted: usize) {
    let rcv = socket.recv_buffer_size().unwrap_or(0);
    let snd = socket.send_buffer_size().unwrap_or(0);
    if rcv < wanted || snd < wanted {
        warn!(
            "udp {addr}: socket buffers capped at rcv={rcv} snd={snd} bytes (wanted {wanted}); \
             raise net.core.rmem_max / wmem_max"
        );
    }
}
