//! Bookkeeping shared by the UDP relays (UDP ASSOCIATE, UDP-TUN relay mode): which targets a client
//! talked to (only their answers are forwarded back) and a small cache of resolved names.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;

use socks_wire::{Address, Domain};

use crate::outbound::Outbound;

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
