//! [`RequestLimiter`]: upstream's request-rate limiter (`rlimiters:` entry): how many requests
//! (connections) per second the service (`$`) and each client IP (`$$`, or its IP or network line,
//! which replaces `$$` for it) may make. A client over a rate is refused at once.
//!
//! A reload starts every client afresh, as upstream. Until every source has been read once the limiter
//! is not loaded and refuses every request (fail closed).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use tracing::{debug, warn};

use super::bucket::Bucket;
use super::lines::{LineError, parse_request_line};
use super::ruled::RuleLists;
use crate::feed::Reload;
use crate::list::ListSpec;

/// What a [`RequestLimiter`] is built from: `matchers` are the inline `limits:` lines.
pub type RequestSpec = ListSpec;

/// The warning of a load that met a bad line.
fn bad_line(name: &str, e: &LineError) {
    warn!(rlimiter = %name, error = %e, "bad line; keeping the previous limits");
}

/// Most client IPs remembered before the idle ones (full buckets) are forgotten.
const MAX_IDLE_CLIENTS: usize = 4096;

/// A request-rate limiter kept fresh from its sources.
pub struct RequestLimiter {
    rules: RuleLists<Option<f64>>,
    service: Arc<Bucket>,
    clients: Mutex<HashMap<IpAddr, Arc<Bucket>>>,
}

impl std::fmt::Debug for RequestLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.rules.debug("RequestLimiter", f)
    }
}

/// A request bucket: one second's worth (at least one request) in store from the start.
fn bucket(rate: Option<f64>) -> Arc<Bucket> {
    let r = rate.unwrap_or(0.0);
    Bucket::new(r, r.max(1.0))
}

impl RequestLimiter {
    /// Checks the inline lines, then builds the limiter, loads it once and re-reads its sources every
    /// `spec.reload` until dropped.
    pub async fn start(spec: RequestSpec) -> Result<Arc<RequestLimiter>, LineError> {
        let limiter = RequestLimiter {
            rules: RuleLists::new("rlimiter", spec, parse_request_line, bad_line)?,
            service: bucket(None),
            clients: Mutex::default(),
        };
        Ok(RuleLists::start(limiter, |l| &l.rules).await)
    }

    /// The limiter's name.
    pub fn name(&self) -> &str {
        self.rules.name()
    }

    /// How many loads failed so far: a source that could not be read, or data with a bad line (each
    /// kept the previous limits).
    pub fn failed_loads(&self) -> u64 {
        self.rules.failed_loads()
    }

    /// Whether one more request from `client` is allowed now (and counts it).
    pub fn allow(&self, client: IpAddr) -> bool {
        let Some(rules) = self.rules.current() else {
            return false;
        };
        let client = client.to_canonical();
        let rate = rules.host(client).copied().unwrap_or(rules.each.flatten());
        if let Some(rate) = rate {
            let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
            if clients.len() >= MAX_IDLE_CLIENTS {
                clients.retain(|_, b| !b.is_full());
            }
            let b = clients.entry(client).or_insert_with(|| bucket(Some(rate)));
            if !b.try_take(1.0) {
                return false;
            }
        }
        self.service.try_take(1.0)
    }
}

impl Reload for RequestLimiter {
    /// Re-reads the sources; every client starts afresh.
    async fn reload(&self) {
        let Some((rules, lines)) = self.rules.load().await else {
            return;
        };
        self.service.reset(rules.service.flatten().unwrap_or(0.0));
        self.clients
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        debug!(rlimiter = %self.rules.name(), lines, "rlimiter loaded");
        self.rules.set(rules);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ip_lines_replace_the_per_ip_rate_and_the_service_rate_is_shared() {
        let spec = RequestSpec {
            name: "r".into(),
            matchers: vec!["$$ 2".into(), "10.0.0.1 1".into(), "$ 4".into()],
            ..RequestSpec::default()
        };
        let l = RequestLimiter::start(spec).await.unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(l.allow(ip("10.0.0.1")));
        assert!(
            !l.allow(ip("10.0.0.1")),
            "its own line allows one per second"
        );
        assert!(l.allow(ip("10.0.0.2")) && l.allow(ip("10.0.0.2")));
        assert!(!l.allow(ip("10.0.0.2")), "$$ allows two per second");
        assert!(l.allow(ip("10.0.0.3")));
        assert!(!l.allow(ip("10.0.0.4")), "the service's four are used up");
    }
}
