//! [`TrafficLimiter`]: upstream's bandwidth limiter (`limiters:` entry). Each connection gets a
//! [`ConnThrottle`]: its input (client → service) and output (service → client) draw from the
//! service's bucket (`$`), a bucket of its own (`$$`) and its client IP's bucket (an IP or network
//! line; every IP of a network has its own, shared by that IP's connections), as upstream combines them.
//!
//! A reload changes the service and IP buckets at once; a connection's own bucket keeps the `$$` rate
//! it started with. Until every source has been read once the limiter is not loaded, and the service
//! refuses clients (fail closed).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use tracing::{debug, warn};

use super::bucket::{Bucket, Throttle};
use super::lines::{InOut, LineError, parse_traffic_line};
use super::ruled::RuleLists;
use crate::feed::Reload;
use crate::list::ListSpec;

/// What a [`TrafficLimiter`] is built from: `matchers` are the inline `limits:` lines (`whitelist` is
/// not used).
pub type TrafficSpec = ListSpec;

/// The warning of a load that met a bad line.
fn bad_line(name: &str, e: &LineError) {
    warn!(limiter = %name, error = %e, "bad line; keeping the previous limits");
}

/// The two directions of one connection.
#[derive(Debug, Clone, Default)]
pub struct ConnThrottle {
    /// What the service receives from the client.
    pub input: Throttle,
    /// What the service sends to the client.
    pub output: Throttle,
}

impl ConnThrottle {
    /// Whether neither direction is limited (the relay may keep its zero-copy path).
    pub fn is_unlimited(&self) -> bool {
        self.input.is_unlimited() && self.output.is_unlimited()
    }

    /// Both sets of buckets: each direction draws from `self`'s and `other`'s.
    pub fn join(self, other: ConnThrottle) -> ConnThrottle {
        ConnThrottle {
            input: self.input.join(other.input),
            output: self.output.join(other.output),
        }
    }
}

/// The buckets of one client IP, kept while a connection of that IP holds them.
type IpBuckets = [Weak<Bucket>; 2];

/// A bandwidth limiter kept fresh from its sources.
pub struct TrafficLimiter {
    rules: RuleLists<InOut>,
    service: [Arc<Bucket>; 2],
    ips: Mutex<HashMap<IpAddr, IpBuckets>>,
}

impl std::fmt::Debug for TrafficLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.rules.debug("TrafficLimiter", f)
    }
}

fn rate(v: Option<u64>) -> f64 {
    v.map_or(0.0, |r| r as f64)
}

impl TrafficLimiter {
    /// Checks the inline lines, then builds the limiter, loads it once and re-reads its sources every
    /// `spec.reload` until dropped. A bad line in a source later keeps the previous rules.
    pub async fn start(spec: TrafficSpec) -> Result<Arc<TrafficLimiter>, LineError> {
        let limiter = TrafficLimiter {
            rules: RuleLists::new("limiter", spec, parse_traffic_line, bad_line)?,
            service: [Bucket::bytes(0), Bucket::bytes(0)],
            ips: Mutex::default(),
        };
        Ok(RuleLists::start(limiter, |l| &l.rules).await)
    }

    /// Whether every source has been read once.
    pub fn is_loaded(&self) -> bool {
        self.rules.current().is_some()
    }

    /// How many loads failed so far: a source that could not be read, or data with a bad line (each
    /// kept the previous limits).
    pub fn failed_loads(&self) -> u64 {
        self.rules.failed_loads()
    }

    /// The limiter's name.
    pub fn name(&self) -> &str {
        self.rules.name()
    }

    /// The buckets of a new connection from `client`; `None` while the limiter is not loaded.
    pub fn connection(&self, client: IpAddr) -> Option<ConnThrottle> {
        let rules = self.rules.current()?;
        let each = rules.each.unwrap_or_default();
        let host = rules.host(client).copied().unwrap_or_default();
        let mut ips = self.ips.lock().unwrap_or_else(PoisonError::into_inner);
        let held = ips.entry(client.to_canonical()).or_default();
        let dirs = [0, 1].map(|d| {
            let mut buckets = vec![self.service[d].clone()];
            if each[d].is_some() {
                buckets.push(Bucket::bytes(each[d].unwrap_or(0)));
            }
            if host[d].is_some() {
                let ip_bucket = held[d].upgrade().unwrap_or_else(|| {
                    let b = Bucket::bytes(host[d].unwrap_or(0));
                    held[d] = Arc::downgrade(&b);
                    b
                });
                buckets.push(ip_bucket);
            }
            Throttle::new(buckets)
        });
        // Clients whose connections all ended are forgotten.
        if ips.len() > 64 {
            ips.retain(|_, b| b.iter().any(|w| w.strong_count() > 0));
        }
        let [input, output] = dirs;
        Some(ConnThrottle { input, output })
    }
}

impl Reload for TrafficLimiter {
    /// Re-reads the sources and applies the new rates to the service and client IP buckets.
    async fn reload(&self) {
        let Some((rules, lines)) = self.rules.load().await else {
            return;
        };
        let service = rules.service.unwrap_or_default();
        for (bucket, r) in self.service.iter().zip(service) {
            bucket.set_rate(rate(r));
        }
        let ips = self.ips.lock().unwrap_or_else(PoisonError::into_inner);
        for (ip, held) in ips.iter() {
            let host = rules.host(*ip).copied().unwrap_or_default();
            for (weak, r) in held.iter().zip(host) {
                if let Some(b) = weak.upgrade() {
                    b.set_rate(rate(r));
                }
            }
        }
        drop(ips);
        debug!(limiter = %self.rules.name(), lines, "limiter loaded");
        self.rules.set(rules);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(lines: &[&str]) -> TrafficSpec {
        TrafficSpec {
            name: "limiter-0".into(),
            matchers: lines.iter().map(|s| s.to_string()).collect(),
            ..TrafficSpec::default()
        }
    }

    #[tokio::test]
    async fn scopes_combine_as_upstream() {
        let l = TrafficLimiter::start(spec(&["$ 10MB", "$$ 1MB 2MB", "10.0.0.0/8 256KB"]))
            .await
            .unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let a = l.connection(ip("10.1.1.1")).unwrap();
        assert_eq!(a.input.rate(), Some(256 << 10));
        assert_eq!(a.output.rate(), Some(2 << 20));
        let b = l.connection(ip("192.0.2.1")).unwrap();
        assert_eq!(b.input.rate(), Some(1 << 20));
        // The IP's bucket is shared by its connections while one holds it.
        let a2 = l.connection(ip("10.1.1.1")).unwrap();
        a.input.consume(200 << 10);
        assert!(
            a2.input.grant(100 << 10).is_err(),
            "the other connection drew from it"
        );
        let none = TrafficLimiter::start(spec(&["$ 0"])).await.unwrap();
        assert!(none.connection(ip("10.1.1.1")).unwrap().is_unlimited());
    }

    #[tokio::test]
    async fn a_bad_inline_line_is_an_error() {
        let e = TrafficLimiter::start(spec(&["$ 1MB", "$$ lots"]))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("`$$ lots`"), "{e}");
    }
}
