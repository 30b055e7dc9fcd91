//! What the UDP relays (UDP ASSOCIATE, UDP-TUN relay mode) share: the side facing the targets
//! ([`Targets`]: a local socket, or a UDP association through a chain), which targets a client talked to
//! (only their answers are forwarded back) and a small cache of resolved names.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use socks_wire::{Address, Domain};
use tokio::net::UdpSocket;

use crate::outbound::{Outbound, PacketConn};

/// Most names one relay keeps resolved.
const MAX_NAMES: usize = 64;

/// Targets contacted by one client (bounded, least recently used forgotten first) and resolved names.
pub(super) struct Peers {
    seen: HashMap<SocketAddr, Instant>,
    names: HashMap<Domain, SocketAddr>,
    max: usize,
}

/// `::ffff:a.b.c.d` as `a.b.c.d`, so addresses from dual-stack sockets compare equal to IPv4 ones.
pub(super) fn canonical(sa: SocketAddr) -> SocketAddr {
    SocketAddr::new(sa.ip().to_canonical(), sa.port())
}

/// An IPv4 target as a dual-stack IPv6 socket must be given it.
pub(super) fn for_socket(sa: SocketAddr, socket_is_v6: bool) -> SocketAddr {
    match sa {
        SocketAddr::V4(v4) if socket_is_v6 => {
            SocketAddr::new(v4.ip().to_ipv6_mapped().into(), v4.port())
        }
        other => other,
    }
}

/// The side of a UDP relay facing the targets. A local socket is driven directly (the fast path, no
/// per-datagram indirection); through a chain, each answer's source is the address in the header the
/// last hop returns.
pub(super) enum Targets {
    /// A local UDP socket; `v6` says whether IPv4 targets must be given as mapped IPv6 addresses.
    Socket { socket: UdpSocket, v6: bool },
    /// A UDP association on a chain's last hop.
    Chain(Box<PacketConn>),
}

/// Receive buffer asked for on the relays' UDP sockets (the kernel caps it at `net.core.rmem_max`).
const SOCKET_BUFFER: usize = 1 << 20;

/// Asks for a 1 MiB receive buffer on a relay socket, so a burst of datagrams that arrives while the
/// relay task waits for a core queues instead of being dropped (the 208 KiB default holds fewer than
/// 100 datagrams of 1200 bytes). Memory is only used while datagrams wait. Best effort.
pub(super) fn enlarge_receive_buffer(socket: &UdpSocket) {
    let _ = socket2::SockRef::from(socket).set_recv_buffer_size(SOCKET_BUFFER);
}

impl Targets {
    /// The target side of `conn`, unwrapping a direct one into its socket.
    pub(super) fn new(conn: PacketConn) -> io::Result<Targets> {
        match conn.into_udp_socket() {
            Ok(socket) => {
                enlarge_receive_buffer(&socket);
                let v6 = socket.local_addr()?.is_ipv6();
                Ok(Targets::Socket { socket, v6 })
            }
            Err(conn) => Ok(Targets::Chain(conn)),
        }
    }

    /// The local socket's address; `None` through a chain (the datagrams leave from the last hop).
    pub(super) fn local_addr(&self) -> io::Result<Option<SocketAddr>> {
        match self {
            Targets::Socket { socket, .. } => socket.local_addr().map(|a| Some(canonical(a))),
            Targets::Chain(_) => Ok(None),
        }
    }

    /// Sends `payload` to `target`.
    pub(super) async fn send_to(&self, payload: &[u8], target: SocketAddr) -> io::Result<()> {
        match self {
            Targets::Socket { socket, v6 } => socket
                .send_to(payload, for_socket(target, *v6))
                .await
                .map(drop),
            Targets::Chain(conn) => conn
                .send_to(payload, &Address::Ip(target))
                .await
                .map_err(io::Error::from),
        }
    }

    /// Receives one answer into `buf` (a longer one is cut to `buf.len()`, so a buffer one byte larger
    /// than allowed detects oversize). The source is `None` when a hop names it by a domain name, which
    /// cannot be a target the client sent to. Fails when a chain's association ends.
    pub(super) async fn recv_from(
        &self,
        buf: &mut [u8],
    ) -> io::Result<(usize, Option<SocketAddr>)> {
        match self {
            Targets::Socket { socket, .. } => {
                let (n, from) = socket.recv_from(buf).await?;
                Ok((n, Some(canonical(from))))
            }
            Targets::Chain(conn) => {
                let (n, from) = conn.recv_from(buf).await.map_err(io::Error::from)?;
                Ok((n, from.to_socket_addr().map(canonical)))
            }
        }
    }
}

impl Peers {
    pub(super) fn new(max: usize) -> Peers {
        Peers {
            seen: HashMap::new(),
            names: HashMap::new(),
            max: max.max(1),
        }
    }

    /// The socket address of `addr`, resolving names through `outbound` once and caching them.
    pub(super) async fn resolve(
        &mut self,
        outbound: &dyn Outbound,
        addr: &Address,
    ) -> Option<SocketAddr> {
        if let Some(sa) = addr.to_socket_addr() {
            return Some(canonical(sa));
        }
        let domain = addr.domain()?;
        if let Some(sa) = self.names.get(domain) {
            return Some(SocketAddr::new(sa.ip(), addr.port()));
        }
        let sa = canonical(outbound.resolve(addr).await.ok()?);
        if self.names.len() >= MAX_NAMES {
            self.names.clear();
        }
        self.names.insert(domain.clone(), sa);
        Some(sa)
    }

    /// Records that the client sent to `target`.
    pub(super) fn remember(&mut self, target: SocketAddr) {
        let now = Instant::now();
        if let Some(t) = self.seen.get_mut(&target) {
            *t = now;
            return;
        }
        if self.seen.len() >= self.max {
            let oldest = self.seen.iter().min_by_key(|(_, t)| **t).map(|(a, _)| *a);
            if let Some(oldest) = oldest {
                self.seen.remove(&oldest);
            }
        }
        self.seen.insert(target, now);
    }

    /// Whether `from` is a target the client sent to (and marks it as recently used).
    pub(super) fn answers_from(&mut self, from: SocketAddr) -> bool {
        match self.seen.get_mut(&from) {
            Some(t) => {
                *t = Instant::now();
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forgets_the_least_recently_used_target() {
        let mut p = Peers::new(2);
        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:2".parse().unwrap();
        let c: SocketAddr = "127.0.0.1:3".parse().unwrap();
        p.remember(a);
        p.remember(b);
        assert!(p.answers_from(a)); // a is now more recent than b
        p.remember(c);
        assert!(p.answers_from(a) && p.answers_from(c));
        assert!(!p.answers_from(b));
    }

    #[test]
    fn v4_targets_are_mapped_for_dual_stack_sockets() {
        let sa: SocketAddr = "127.0.0.1:53".parse().unwrap();
        assert_eq!(for_socket(sa, true).to_string(), "[::ffff:127.0.0.1]:53");
        assert_eq!(for_socket(sa, false), sa);
        assert_eq!(canonical(for_socket(sa, true)), sa);
    }
}
