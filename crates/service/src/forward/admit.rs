//! Admission and limits on the forwarders that have no listener of their own to ask them (`udp`,
//! `rtcp`, `rudp`): each datagram or remote peer is checked by its address before anything is done with
//! it. A refused `udp`/`rudp` datagram is dropped before a session is started for it; a refused `rtcp`
//! peer's stream is closed before a byte is read from it and the target is never dialled.
//!
//! The limits ([`Limits`]) are asked once per new session (`udp`, `rudp`: a client address the
//! forwarder has no live session for) or remote peer (`rtcp`): that is one request for `rlimiter`,
//! whose refusals are dropped or closed as admission's are, and one connection for `limiter`, whose
//! buckets the session's datagrams or the peer's stream draw from.
//!
//! A refused UDP client may send thousands of datagrams a second, so the refusals are logged at `info`
//! at most once per 5 s, with the number of refusals left unlogged since the last line; each one is
//! reported to the observer (the `gost_service_denied_total{reason=…}` metric).

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gost_access::limit::ConnThrottle;
use gost_transport::RateLimited;
use tracing::info;

use crate::access::{Admission, Denied};
use crate::gate::log_allowed;
use crate::limit::Limits;
use crate::observe::{NoObserver, Observer};

/// Upstream's name of a forwarding service without a configured name.
const UNNAMED: &str = "forward";

/// A forwarder's admission and limits, its service name for logs and metrics, and its observer (set
/// through the forwarder's `admission()`; by default every peer is served, unlimited).
#[derive(Clone)]
pub struct PeerAdmission {
    admission: Option<Arc<dyn Admission>>,
    /// Shared, not inline: every forwarder holds one, and most have no limits.
    limits: Arc<Limits>,
    service: Arc<str>,
    observer: Arc<dyn Observer>,
    log: Arc<Mutex<RateLimited>>,
}

impl std::fmt::Debug for PeerAdmission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerAdmission")
            .field("service", &self.service)
            .field("admission", &self.admission.is_some())
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Default for PeerAdmission {
    fn default() -> Self {
        PeerAdmission {
            admission: None,
            limits: Arc::default(),
            service: UNNAMED.into(),
            observer: Arc::new(NoObserver),
            log: Arc::new(Mutex::new(RateLimited::new(Duration::from_secs(5)))),
        }
    }
}

impl PeerAdmission {
    /// Refuses the peers `admission` refuses; `service` names the forwarder in logs and metrics.
    pub fn set(&mut self, service: &str, admission: Arc<dyn Admission>) {
        self.service = service.into();
        self.admission = Some(admission);
    }

    /// Applies `limits` (upstream's `limiter` and `rlimiter`) to each new session or remote peer;
    /// `service` names the forwarder in logs and metrics.
    pub fn limit(&mut self, service: &str, limits: Limits) {
        self.service = service.into();
        self.limits = Arc::new(limits);
    }

    /// Reports refused peers to `observer` ([`crate::Observer::denied`]).
    pub fn report_to(&mut self, observer: Arc<dyn Observer>) {
        self.observer = observer;
    }

    /// Whether `peer` (`None`: an address that is not an IP, which no admission can clear) may be
    /// served; a refusal is reported and, within the log's rate, logged.
    pub(crate) fn admit(&self, peer: Option<SocketAddr>, shown: &dyn std::fmt::Display) -> bool {
        let Some(admission) = &self.admission else {
            return true;
        };
        if peer.is_some_and(|p| admission.admit(p.ip())) {
            return true;
        }
        self.refuse(peer, shown, Denied::Admission);
        false
    }

    /// A new session or remote peer of admitted `peer`: one request for the `rlimiter` and the
    /// buckets its bytes draw from (`None`: nothing limits it), or `Err` (reported and logged) when it
    /// is over its request rate or a limiter is not loaded yet. A peer that is not an IP cannot be
    /// told apart from others, so limits refuse it.
    pub(crate) fn session(
        &self,
        peer: Option<SocketAddr>,
        shown: &dyn std::fmt::Display,
    ) -> Result<Option<ConnThrottle>, Denied> {
        if self.limits.is_empty() {
            return Ok(None);
        }
        let checked = match peer {
            None => Err(Denied::Limiter),
            Some(p) if !self.limits.requests.iter().all(|r| r.allow(p.ip())) => {
                Err(Denied::RateLimit)
            }
            Some(p) => self.limits.buckets(p),
        };
        match checked {
            Ok(throttle) => Ok((!throttle.is_unlimited()).then_some(throttle)),
            Err(reason) => {
                self.refuse(peer, shown, reason);
                Err(reason)
            }
        }
    }

    fn refuse(&self, peer: Option<SocketAddr>, shown: &dyn std::fmt::Display, reason: Denied) {
        let reported = peer.unwrap_or_else(|| SocketAddr::from((IpAddr::from([0, 0, 0, 0]), 0)));
        self.observer.denied(&self.service, reported, reason);
        if let Some(suppressed) = log_allowed(&self.log) {
            info!(service = %self.service, client = %shown, reason = reason.as_str(), suppressed,
                "client refused");
        }
    }
}
