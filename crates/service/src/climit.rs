//! Counting live connections against a service's [`ConnLimits`] (upstream's `climiter`): the accept loop
//! asks for a [`Slot`] before serving a client, and the slot gives its place back when the connection's
//! task ends, however it ends.
//!
//! Only client IPs that have a limit are counted, and an IP's entry is removed when its last connection
//! closes, so the table never holds more entries than there are live connections.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use gost_config::climit::ConnLimits;

/// Live connection counts of one service.
#[derive(Debug)]
pub(crate) struct ConnCounter {
    limits: ConnLimits,
    counts: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The service holds its `$` limit of connections.
    Service(usize),
    /// The client IP holds its `$$` / IP / network limit.
    Client(usize),
}

impl Refused {
    /// `service` or `client`, for logs.
    pub(crate) fn scope(self) -> &'static str {
        match self {
            Refused::Service(_) => "service",
            Refused::Client(_) => "client",
        }
    }

    /// The limit that was reached.
    pub(crate) fn limit(self) -> usize {
        match self {
            Refused::Service(n) | Refused::Client(n) => n,
        }
    }
}

/// One counted connection; dropping it frees the place.
#[derive(Debug)]
pub(crate) struct Slot {
    counter: Arc<ConnCounter>,
    /// The client IP, when it is counted.
    ip: Option<IpAddr>,
}

impl ConnCounter {
    /// A counter for `limits`, or `None` when they limit nothing (nothing to count).
    pub(crate) fn new(limits: ConnLimits) -> Option<Arc<ConnCounter>> {
        (!limits.is_unlimited()).then(|| {
            Arc::new(ConnCounter {
                limits,
                counts: Mutex::default(),
            })
        })
    }

    /// Takes a place for a connection from `ip`, unless the service or the client is at its limit.
    pub(crate) fn try_acquire(self: &Arc<Self>, ip: IpAddr) -> Result<Slot, Refused> {
        let ip = ip.to_canonical();
        let per_client = self.limits.per_client(ip);
        let mut counts = self.lock();
        if let Some(max) = self.limits.service
            && counts.total >= max
        {
            return Err(Refused::Service(max));
        }
        if let Some(max) = per_client {
            let n = counts.per_ip.entry(ip).or_default();
            if *n >= max {
                return Err(Refused::Client(max));
            }
            *n += 1;
        }
        counts.total += 1;
        Ok(Slot {
            counter: self.clone(),
            ip: per_client.map(|_| ip),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        // The counts stay consistent under a panic (no code between the updates can panic).
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    #[cfg(test)]
    fn tracked_ips(&self) -> usize {
        self.lock().per_ip.len()
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.counter.lock();
        counts.total -= 1;
        if let Some(ip) = self.ip
            && let Some(n) = counts.per_ip.get_mut(&ip)
        {
            *n -= 1;
            if *n == 0 {
                counts.per_ip.remove(&ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn counter(lines: &[&str]) -> Arc<ConnCounter> {
        ConnCounter::new(ConnLimits::parse(lines).unwrap()).unwrap()
    }

    #[test]
    fn nothing_to_count_without_limits() {
        assert!(ConnCounter::new(ConnLimits::default()).is_none());
        assert!(ConnCounter::new(ConnLimits::parse(&["$$ 0"]).unwrap()).is_none());
    }

    #[test]
    fn per_client_limit_is_per_ip_and_frees_on_drop() {
        let c = counter(&["$$ 2"]);
        let a1 = c.try_acquire(ip("10.0.0.1")).unwrap();
        let _a2 = c.try_acquire(ip("::ffff:10.0.0.1")).unwrap();
        assert_eq!(
            c.try_acquire(ip("10.0.0.1")).unwrap_err(),
            Refused::Client(2)
        );
        let b = c.try_acquire(ip("10.0.0.2")).unwrap();
        drop(a1);
        let _a3 = c.try_acquire(ip("10.0.0.1")).unwrap();
        drop(b);
        assert_eq!(c.tracked_ips(), 1, "an IP without connections is forgotten");
    }

    #[test]
    fn service_limit_counts_everyone_and_overrides_apply() {
        let c = counter(&["$ 3", "$$ 1", "10.0.0.0/8 0"]);
        let held: Vec<_> = ["10.0.0.1", "10.0.0.1", "192.0.2.1"]
            .into_iter()
            .map(|a| c.try_acquire(ip(a)).unwrap())
            .collect();
        assert_eq!(c.tracked_ips(), 1, "unlimited IPs are not tracked");
        assert_eq!(
            c.try_acquire(ip("10.0.0.9")).unwrap_err(),
            Refused::Service(3)
        );
        drop(held);
        assert_eq!(c.tracked_ips(), 0);
        let _again = c.try_acquire(ip("192.0.2.1")).unwrap();
        assert_eq!(
            c.try_acquire(ip("192.0.2.1")).unwrap_err(),
            Refused::Client(1)
        );
    }
}
