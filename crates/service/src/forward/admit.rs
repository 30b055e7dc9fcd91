//! Admission on the forwarders that have no listener of their own to ask it (`udp`, `rtcp`, `rudp`):
//! each datagram or remote peer is checked by its address before anything is done with it. A refused
//! `udp`/`rudp` datagram is dropped before a session is started for it; a refused `rtcp` peer's stream
//! is closed before a byte is read from it and the target is never dialled.
//!
//! A refused UDP client may send thousands of datagrams a second, so the refusals are logged at `info`
//! at most once per 5 s, with the number of refusals left unlogged since the last line; each one is
//! reported to the observer (the `gost_service_denied_total{reason="admission"}` metric).

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gost_transport::RateLimited;
use tracing::info;

use crate::access::{Admission, Denied};
use crate::gate::log_allowed;
use crate::observe::{NoObserver, Observer};

/// Upstream's name of a forwarding service without a configured name.
const UNNAMED: &str = "forward";

/// A forwarder's admission, its service name for logs and metrics, and its observer (set through the
/// forwarder's `admission()`; by default every peer is served).
#[derive(Clone)]
pub struct PeerAdmission {
    admission: Option<Arc<dyn Admission>>,
    service: Arc<str>,
    observer: Arc<dyn Observer>,
    log: Arc<Mutex<RateLimited>>,
}

impl std::fmt::Debug for PeerAdmission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerAdmission")
            .field("service", &self.service)
            .field("admission", &self.admission.is_some())
            .finish_non_exhaustive()
    }
}

impl Default for PeerAdmission {
    fn default() -> Self {
        PeerAdmission {
            admission: None,
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
        let reported = peer.unwrap_or_else(|| SocketAddr::from((IpAddr::from([0, 0, 0, 0]), 0)));
        self.observer
            .denied(&self.service, reported, Denied::Admission);
        if let Some(suppressed) = log_allowed(&self.log) {
            info!(service = %self.service, client = %shown, reason = "admission", suppressed,
                "client refused");
        }
        false
    }
}
