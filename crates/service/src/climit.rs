//! Concurrent-connection limits (upstream's `climiter`): [`ConnLimits`] says how many connections the
//! service and each client IP may hold at once, and the accept loop asks a [`ConnCounter`] for a [`Slot`]
//! before serving a client; the slot gives its place back when the connection's task ends, however it
//! ends.
//!
//! The limits are fixed, or re-read by a loader ([`ConnLimitsSource`]): the counter asks for the
//! current ones at every accept, so a reload applies to the next client. Live connections keep their
//! slots and still count, so a lowered limit refuses new clients only, until enough connections end.
//!
//! Every live connection is counted under its client IP (an IP without a limit today may get one at
//! the next reload), and an IP's entry is removed when its last connection closes, so the table never
//! holds more entries than there are live connections.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use gost_access::LoadedList;

/// Concurrent-connection limits of one service (upstream's `climiter`): at most `service` connections
/// at once, and per client IP `per_ip` unless a [`HostLimit`] covering the IP says otherwise. The
/// default limits nothing.
///
/// ```
/// use gost_service::{ConnLimits, HostLimit};
///
/// let mut limits = ConnLimits {
///     service: Some(1000),
///     per_ip: Some(100),
///     ..ConnLimits::default()
/// };
/// limits.set_host(HostLimit { addr: "10.0.0.0".parse().unwrap(), prefix: 8, limit: Some(5) });
/// assert_eq!(limits.per_client("10.9.9.9".parse().unwrap()), Some(5));
/// assert_eq!(limits.per_client("192.0.2.1".parse().unwrap()), Some(100));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnLimits {
    /// Most connections the service holds at once (`$`).
    pub service: Option<usize>,
    /// Most connections one client IP holds at once (`$$`), unless a [`HostLimit`] covers it.
    pub per_ip: Option<usize>,
    /// Per-client limits of IPs and networks; where several cover an IP, the longest prefix applies.
    pub hosts: Vec<HostLimit>,
}

/// A per-client limit for one IP or every IP of a network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostLimit {
    /// An address of the network (IPv4-mapped IPv6 addresses count as IPv4).
    pub addr: IpAddr,
    /// Prefix length: 32 / 128 for a single IP.
    pub prefix: u8,
    /// Most connections each IP in the network holds at once; `None` lifts the `per_ip` limit for them.
    pub limit: Option<usize>,
}

impl HostLimit {
    /// Whether `ip` is in this network: the first `prefix` bits agree.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let same_bits = match (self.addr.to_canonical(), ip.to_canonical()) {
            (IpAddr::V4(a), IpAddr::V4(b)) => (u32::from(a) ^ u32::from(b)).leading_zeros(),
            (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a) ^ u128::from(b)).leading_zeros(),
            _ => return false,
        };
        same_bits >= u32::from(self.prefix)
    }
}

impl ConnLimits {
    /// Adds `host`, replacing a limit of the same network.
    pub fn set_host(&mut self, host: HostLimit) {
        self.hosts
            .retain(|h| !(h.prefix == host.prefix && h.contains(host.addr)));
        self.hosts.push(host);
    }

    /// Whether nothing is limited.
    pub fn is_unlimited(&self) -> bool {
        self.service.is_none()
            && self.per_ip.is_none()
            && self.hosts.iter().all(|h| h.limit.is_none())
    }

    /// The per-client limit of `ip`: the longest matching IP/network, else `per_ip`.
    pub fn per_client(&self, ip: IpAddr) -> Option<usize> {
        self.hosts
            .iter()
            .filter(|h| h.contains(ip))
            .max_by_key(|h| h.prefix)
            .map_or(self.per_ip, |h| h.limit)
    }
}

/// Where a service's connection limits come from.
///
/// ```
/// use gost_service::{ConnLimits, ConnLimitsSource};
///
/// let fixed: ConnLimitsSource = ConnLimits { service: Some(10), ..ConnLimits::default() }.into();
/// assert_eq!(fixed.current().unwrap().service, Some(10));
/// assert!(ConnLimitsSource::default().is_unlimited());
/// ```
#[derive(Debug, Clone)]
pub enum ConnLimitsSource {
    /// Limits that never change (inline `limits:` lines, `?climiter=N`).
    Fixed(Arc<ConnLimits>),
    /// Limits re-read from a file, Redis or HTTP (a `climiters:` entry with loaders); `None` until
    /// every source has been read once, and then the service refuses every client (fail closed).
    Loaded(Arc<LoadedList<ConnLimits>>),
}

impl Default for ConnLimitsSource {
    fn default() -> Self {
        ConnLimitsSource::Fixed(Arc::default())
    }
}

impl From<ConnLimits> for ConnLimitsSource {
    fn from(limits: ConnLimits) -> Self {
        ConnLimitsSource::Fixed(Arc::new(limits))
    }
}

impl From<Arc<LoadedList<ConnLimits>>> for ConnLimitsSource {
    fn from(list: Arc<LoadedList<ConnLimits>>) -> Self {
        ConnLimitsSource::Loaded(list)
    }
}

impl ConnLimitsSource {
    /// The limits in force now; `None` while a loader has not read every source yet.
    pub fn current(&self) -> Option<Arc<ConnLimits>> {
        match self {
            ConnLimitsSource::Fixed(l) => Some(l.clone()),
            ConnLimitsSource::Loaded(list) => list.current(),
        }
    }

    /// Whether nothing is limited now or ever (fixed limits that limit nothing).
    pub fn is_unlimited(&self) -> bool {
        matches!(self, ConnLimitsSource::Fixed(l) if l.is_unlimited())
    }
}

/// Live connection counts of one service.
#[derive(Debug)]
pub(crate) struct ConnCounter {
    limits: ConnLimitsSource,
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
    /// The limits' loader has not read every source yet.
    NotLoaded,
}

impl Refused {
    /// `service` or `client`, for logs.
    pub(crate) fn scope(self) -> &'static str {
        match self {
            Refused::Service(_) => "service",
            Refused::Client(_) => "client",
            Refused::NotLoaded => "climiter not loaded",
        }
    }

    /// The limit that was reached (0 when the limits are not loaded).
    pub(crate) fn limit(self) -> usize {
        match self {
            Refused::Service(n) | Refused::Client(n) => n,
            Refused::NotLoaded => 0,
        }
    }
}

/// One counted connection; dropping it frees the place.
#[derive(Debug)]
pub(crate) struct Slot {
    counter: Arc<ConnCounter>,
    ip: IpAddr,
}

impl ConnCounter {
    /// A counter for `limits`, or `None` when they limit nothing, now or later (nothing to count).
    pub(crate) fn new(limits: ConnLimitsSource) -> Option<Arc<ConnCounter>> {
        (!limits.is_unlimited()).then(|| {
            Arc::new(ConnCounter {
                limits,
                counts: Mutex::default(),
            })
        })
    }

    /// Takes a place for a connection from `ip`, unless the service or the client is at its current
    /// limit, or the limits were never loaded.
    pub(crate) fn try_acquire(self: &Arc<Self>, ip: IpAddr) -> Result<Slot, Refused> {
        let limits = self.limits.current().ok_or(Refused::NotLoaded)?;
        let ip = ip.to_canonical();
        let per_client = limits.per_client(ip);
        let mut counts = self.lock();
        if let Some(max) = limits.service
            && counts.total >= max
        {
            return Err(Refused::Service(max));
        }
        let held = counts.per_ip.get(&ip).copied().unwrap_or(0);
        if let Some(max) = per_client
            && held >= max
        {
            return Err(Refused::Client(max));
        }
        counts.per_ip.insert(ip, held + 1);
        counts.total += 1;
        Ok(Slot {
            counter: self.clone(),
            ip,
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
        if let Some(n) = counts.per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                counts.per_ip.remove(&self.ip);
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

    fn counter(limits: ConnLimits) -> Arc<ConnCounter> {
        ConnCounter::new(limits.into()).unwrap()
    }

    fn per_ip(n: usize) -> ConnLimits {
        ConnLimits {
            per_ip: Some(n),
            ..ConnLimits::default()
        }
    }

    #[test]
    fn nothing_to_count_without_limits() {
        assert!(ConnCounter::new(ConnLimits::default().into()).is_none());
        let mut lifted = ConnLimits::default();
        lifted.set_host(HostLimit {
            addr: ip("10.0.0.0"),
            prefix: 8,
            limit: None,
        });
        assert!(ConnCounter::new(lifted.into()).is_none());
    }

    #[test]
    fn longest_prefix_wins_and_a_later_limit_replaces_its_network() {
        let mut l = per_ip(3);
        for (addr, prefix, limit) in [("192.168.0.0", 16, 7), ("192.168.1.0", 24, 2)] {
            l.set_host(HostLimit {
                addr: ip(addr),
                prefix,
                limit: Some(limit),
            });
        }
        assert_eq!(l.per_client(ip("8.8.8.8")), Some(3));
        assert_eq!(l.per_client(ip("192.168.200.1")), Some(7));
        assert_eq!(l.per_client(ip("::ffff:192.168.1.1")), Some(2));
        l.set_host(HostLimit {
            addr: ip("192.168.1.9"),
            prefix: 24,
            limit: None,
        });
        assert_eq!(l.hosts.len(), 2);
        assert_eq!(l.per_client(ip("192.168.1.1")), None, "replaced: no limit");
    }

    #[test]
    fn per_client_limit_is_per_ip_and_frees_on_drop() {
        let c = counter(per_ip(2));
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
        let mut limits = ConnLimits {
            service: Some(3),
            ..per_ip(1)
        };
        limits.set_host(HostLimit {
            addr: ip("10.0.0.0"),
            prefix: 8,
            limit: None,
        });
        let c = counter(limits);
        let held: Vec<_> = ["10.0.0.1", "10.0.0.1", "192.0.2.1"]
            .into_iter()
            .map(|a| c.try_acquire(ip(a)).unwrap())
            .collect();
        assert_eq!(c.tracked_ips(), 2, "every live client IP is counted");
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

    /// Limits read from a file: `$ N` lines (enough for the counter; the real grammar is the app's).
    async fn loaded(path: &std::path::Path) -> ConnLimitsSource {
        let spec = gost_access::ListSpec {
            name: "climiter-0".into(),
            sources: vec![gost_access::SourceSpec::File(path.into())],
            ..gost_access::ListSpec::default()
        };
        let compile = |lines: &[String]| -> Result<ConnLimits, String> {
            let mut limits = ConnLimits::default();
            for line in lines {
                let n = line.strip_prefix("$ ").ok_or(line)?;
                limits.service = Some(n.parse().map_err(|_| line.clone())?);
            }
            Ok(limits)
        };
        LoadedList::start_checked("climiter", spec, compile)
            .await
            .into()
    }

    #[tokio::test]
    async fn reloaded_limits_apply_to_new_clients_and_live_slots_stay() {
        let path = std::env::temp_dir().join(format!("gost-climit-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let source = loaded(&path).await;
        let ConnLimitsSource::Loaded(list) = &source else {
            unreachable!()
        };
        let c = ConnCounter::new(source.clone()).expect("a loader always counts");
        let a = ip("10.0.0.1");
        assert_eq!(c.try_acquire(a).unwrap_err(), Refused::NotLoaded);

        std::fs::write(&path, "$ 2\n").unwrap();
        list.reload().await;
        let held = [c.try_acquire(a).unwrap(), c.try_acquire(a).unwrap()];
        assert_eq!(c.try_acquire(a).unwrap_err(), Refused::Service(2));

        std::fs::write(&path, "$ 1\n").unwrap();
        list.reload().await;
        let [first, second] = held;
        drop(first);
        assert_eq!(
            c.try_acquire(a).unwrap_err(),
            Refused::Service(1),
            "the live connection still counts"
        );
        std::fs::write(&path, "$ many\n").unwrap();
        list.reload().await;
        assert_eq!(
            list.failed_loads(),
            2,
            "the missing file, then the bad line"
        );
        drop(second);
        let again = c.try_acquire(a).unwrap();
        assert_eq!(
            c.try_acquire(a).unwrap_err(),
            Refused::Service(1),
            "bad line kept `$ 1`"
        );

        std::fs::remove_file(&path).unwrap();
        list.reload().await;
        drop(again);
        assert!(
            c.try_acquire(a).is_ok(),
            "a source gone keeps the last good limits"
        );
    }
}
