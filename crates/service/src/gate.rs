//! The service's gate: everything that refuses a client by its address alone, asked once per accepted
//! connection before a byte is read from it — inside the listener, before any TLS or WebSocket handshake,
//! when the listener supports a [`gost_transport::Gate`], otherwise right after `accept`.
//!
//! In order: admission ([`crate::Admission`], upstream's `admission`), the request rate (gost-access's
//! `RequestLimiter`, upstream's `rlimiter`), the service's cap on live connections
//! ([`crate::ServiceOptions::max_connections`]), the connection limits
//! ([`crate::ServiceOptions::conn_limits`], upstream's `climiter`) and the process's descriptor budget
//! (`crate::fds`). An admitted connection gets a [`Pass`] holding its places in each until it ends; a refused one is closed at once,
//! logged (admission at `info` per client; the cap and the limits at `warn`, at most once per 5 s with the
//! number of suppressed lines; the request rate at `info`, at most once per 5 s) and reported to the
//! observer.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use gost_transport::{Gate, Pass, RateLimited};
use tokio::sync::Semaphore;
use tracing::{info, warn};

use gost_access::limit::RequestLimiter;

use crate::access::{Admission, Denied};
use crate::climit::{ConnCounter, ConnLimitsSource, Refused};
use crate::fds::{self, Claim, Kind};
use crate::observe::Observer;

/// [`RateLimited::allow`] on a limiter that threads share. A poisoned lock is used anyway: only whether a
/// log line is written depends on it.
pub(crate) fn log_allowed(log: &Mutex<RateLimited>) -> Option<u64> {
    log.lock().unwrap_or_else(PoisonError::into_inner).allow()
}

/// Admission, the connection cap and the connection limits of one service.
pub(crate) struct ServiceGate {
    service: Arc<str>,
    admission: Option<Arc<dyn Admission>>,
    requests: Vec<Arc<RequestLimiter>>,
    cap: Arc<Semaphore>,
    max_connections: usize,
    counter: Option<Arc<ConnCounter>>,
    observer: Arc<dyn Observer>,
    refusals: Mutex<RateLimited>,
    rate_refusals: Mutex<RateLimited>,
}

impl ServiceGate {
    pub(crate) fn new(
        service: Arc<str>,
        admission: Option<Arc<dyn Admission>>,
        requests: Vec<Arc<RequestLimiter>>,
        max_connections: usize,
        limits: ConnLimitsSource,
        observer: Arc<dyn Observer>,
    ) -> ServiceGate {
        let max_connections = max_connections.max(1);
        ServiceGate {
            service,
            admission,
            requests,
            cap: Arc::new(Semaphore::new(max_connections)),
            max_connections,
            counter: ConnCounter::new(limits),
            observer,
            refusals: Mutex::new(RateLimited::new(Duration::from_secs(5))),
            rate_refusals: Mutex::new(RateLimited::new(Duration::from_secs(5))),
        }
    }

    fn refuse(&self, client: SocketAddr, scope: &str, limit: usize) {
        self.observer.refused(&self.service, client);
        if let Some(suppressed) = log_allowed(&self.refusals) {
            warn!(service = %self.service, %client, scope, limit, suppressed,
                "connection limit reached; connection closed");
        }
    }
}

impl Gate for ServiceGate {
    fn admit(&self, client: SocketAddr) -> Option<Pass> {
        if let Some(admission) = &self.admission
            && !admission.admit(client.ip())
        {
            info!(service = %self.service, %client, reason = "admission", "client refused");
            self.observer
                .denied(&self.service, client, Denied::Admission);
            return None;
        }
        if !self.requests.iter().all(|r| r.allow(client.ip())) {
            self.observer
                .denied(&self.service, client, Denied::RateLimit);
            if let Some(suppressed) = log_allowed(&self.rate_refusals) {
                info!(service = %self.service, %client, reason = "rlimiter", suppressed,
                    "client refused");
            }
            return None;
        }
        let Ok(permit) = self.cap.clone().try_acquire_owned() else {
            self.refuse(client, "connections", self.max_connections);
            return None;
        };
        let slot = match self.counter.as_ref().map(|c| c.try_acquire(client.ip())) {
            None => None,
            Some(Ok(slot)) => Some(slot),
            Some(Err(Refused::NotLoaded)) => {
                self.observer.refused(&self.service, client);
                if let Some(suppressed) = log_allowed(&self.refusals) {
                    warn!(service = %self.service, %client, suppressed,
                        "connection limits not loaded yet (a climiter source was never read); connection closed");
                }
                return None;
            }
            Some(Err(refused)) => {
                self.refuse(client, refused.scope(), refused.limit());
                return None;
            }
        };
        let Some(fds) = Claim::take(Kind::Connection) else {
            self.refuse(client, "descriptors", fds::capacity(Kind::Connection));
            return None;
        };
        Some(Pass::new((permit, slot, fds)))
    }
}
