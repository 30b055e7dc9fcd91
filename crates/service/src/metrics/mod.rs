//! Prometheus metrics with upstream GOST's names: [`Metrics`] counts connections as an [`Observer`] and
//! renders the text exposition format; [`MetricsServer`] serves it over HTTP (upstream `-metrics` /
//! `metrics:`).
//!
//! | metric | type | labels | meaning |
//! |---|---|---|---|
//! | `gost_services` | gauge | host | services currently listening |
//! | `gost_service_requests_total` | counter | host, service | connections accepted |
//! | `gost_service_requests_in_flight` | gauge | host, service | connections being served |
//! | `gost_service_request_duration_seconds` | histogram | host, service | connection lifetimes |
//! | `gost_service_transfer_input_bytes_total` | counter | host, service | bytes read from clients |
//! | `gost_service_transfer_output_bytes_total` | counter | host, service | bytes written to clients |
//! | `gost_service_handler_errors_total` | counter | host, service | connections whose handler failed |
//! | `gost_service_denied_total` | counter | host, service, reason | refusals by access policy: `auth`, `admission`, `bypass` (gost-rs) |
//! | `gost_service_refused_total` | counter | host, service | clients closed at accept by the connection cap or the connection limits (gost-rs) |
//! | `gost_chain_errors_total` | counter | host, chain, node | dials through a chain that failed because of the chain (`node`: the route's first node) |
//! | `gost_chain_node_connect_duration_seconds` | histogram | host, chain, node | time to reach a route's first node |
//!
//! Byte counters grow while a relay runs (every [`crate::PROGRESS_STEP`] bytes, see
//! [`crate::Observer::progress`]) and when a connection closes. The chain metrics are fed through
//! [`gost_chain::ChainObserver`], which `Metrics` implements: hand the same `Arc` to
//! [`gost_chain::Chain::with_observer`]. `host` is this machine's hostname unless set with
//! [`Metrics::with_host`].
//!
//! ```
//! use std::sync::Arc;
//! use gost_service::metrics::Metrics;
//!
//! let metrics = Arc::new(Metrics::with_host("h"));
//! // Pass `metrics.clone()` to `ServiceBuilder::observer`, then scrape:
//! let text = metrics.render();
//! assert!(text.contains("gost_services{host=\"h\"} 0"));
//! ```

mod chain;
mod endpoint;
mod histogram;
mod http;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

pub use chain::NODE_CONNECT_BUCKETS;
pub use endpoint::{DEFAULT_PATH, Endpoint, EndpointError};
pub use http::{MetricsServer, serve};

use self::chain::ChainStats;
use self::histogram::Histogram;
use crate::access::Denied;
use crate::observe::{Closed, Conn, Observer, Outcome};
use crate::relay::Transferred;

/// Upper bounds (seconds) of the request duration buckets, as upstream.
pub const DURATION_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0, 60.0,
];

/// The counters of every service, fed as an [`Observer`]. Share one `Arc<Metrics>` between all services
/// and the [`MetricsServer`].
#[derive(Debug)]
pub struct Metrics {
    host: String,
    running: Mutex<BTreeMap<String, u64>>,
    services: RwLock<BTreeMap<String, Arc<ServiceStats>>>,
    chains: ChainStats,
}

#[derive(Debug)]
struct ServiceStats {
    requests: AtomicU64,
    in_flight: AtomicI64,
    input: AtomicU64,
    output: AtomicU64,
    errors: AtomicU64,
    /// Clients closed at accept by the connection cap or limits ([`Observer::refused`]).
    refused: AtomicU64,
    duration: Histogram,
    /// Refusals by [`Denied`] reason, in [`DENIED`] order.
    denied: [AtomicU64; DENIED.len()],
}

impl Default for ServiceStats {
    fn default() -> Self {
        ServiceStats {
            requests: AtomicU64::default(),
            in_flight: AtomicI64::default(),
            input: AtomicU64::default(),
            output: AtomicU64::default(),
            errors: AtomicU64::default(),
            refused: AtomicU64::default(),
            duration: Histogram::new(&DURATION_BUCKETS),
            denied: Default::default(),
        }
    }
}

/// The reasons counted by `gost_service_denied_total`.
const DENIED: [Denied; 5] = [
    Denied::Auth,
    Denied::Admission,
    Denied::Bypass,
    Denied::RateLimit,
    Denied::Limiter,
];

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Empty metrics labelled with this machine's hostname.
    pub fn new() -> Metrics {
        Metrics::with_host(hostname())
    }

    /// Empty metrics with this `host` label.
    pub fn with_host(host: impl Into<String>) -> Metrics {
        Metrics {
            host: host.into(),
            running: Mutex::default(),
            services: RwLock::default(),
            chains: ChainStats::default(),
        }
    }

    fn stats(&self, service: &str) -> Arc<ServiceStats> {
        let read = self.services.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(s) = read.get(service) {
            return s.clone();
        }
        drop(read);
        let mut write = self
            .services
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        write.entry(service.to_owned()).or_default().clone()
    }

    /// The metrics in Prometheus text exposition format 0.0.4.
    pub fn render(&self) -> String {
        let host = escape(&self.host);
        let mut out = String::with_capacity(4096);
        let running: u64 = self
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .sum();
        header(
            &mut out,
            "gost_services",
            "gauge",
            "Current number of services",
        );
        let _ = writeln!(out, "gost_services{{host=\"{host}\"}} {running}");
        let services = self.services.read().unwrap_or_else(PoisonError::into_inner);
        let rows: Vec<(String, &ServiceStats)> = services
            .iter()
            .map(|(name, s)| {
                (
                    format!("host=\"{host}\",service=\"{}\"", escape(name)),
                    &**s,
                )
            })
            .collect();
        let simple: [(&str, &str, &str, Sample); 6] = [
            (
                "gost_service_requests_total",
                "counter",
                "Total number of requests",
                |s| s.requests.load(Relaxed).into(),
            ),
            (
                "gost_service_requests_in_flight",
                "gauge",
                "Current in-flight requests",
                |s| s.in_flight.load(Relaxed).into(),
            ),
            (
                "gost_service_transfer_input_bytes_total",
                "counter",
                "Total service input data transfer size in bytes",
                |s| s.input.load(Relaxed).into(),
            ),
            (
                "gost_service_transfer_output_bytes_total",
                "counter",
                "Total service output data transfer size in bytes",
                |s| s.output.load(Relaxed).into(),
            ),
            (
                "gost_service_handler_errors_total",
                "counter",
                "Total service handler errors",
                |s| s.errors.load(Relaxed).into(),
            ),
            (
                "gost_service_refused_total",
                "counter",
                "Total connections closed at accept by the connection cap or limits",
                |s| s.refused.load(Relaxed).into(),
            ),
        ];
        for (name, kind, help, value) in simple {
            header(&mut out, name, kind, help);
            for (labels, s) in &rows {
                let _ = writeln!(out, "{name}{{{labels}}} {}", value(s));
            }
        }
        let name = "gost_service_denied_total";
        header(
            &mut out,
            name,
            "counter",
            "Total requests refused by access policy",
        );
        for (labels, s) in &rows {
            for (i, reason) in DENIED.iter().enumerate() {
                let n = s.denied[i].load(Relaxed);
                let _ = writeln!(out, "{name}{{{labels},reason=\"{}\"}} {n}", reason.as_str());
            }
        }
        let name = "gost_service_request_duration_seconds";
        header(
            &mut out,
            name,
            "histogram",
            "Distribution of request latencies",
        );
        for (labels, s) in &rows {
            s.duration.render(&mut out, name, labels);
        }
        drop(services);
        self.chains.render(&mut out, &host);
        out
    }
}

impl Observer for Metrics {
    fn service_started(&self, service: &str, _addr: SocketAddr) {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        *running.entry(service.to_owned()).or_default() += 1;
        drop(running);
        // Listed with zeros from the start, so dashboards see the service before its first client.
        self.stats(service);
    }

    fn service_stopped(&self, service: &str) {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = running.get_mut(service) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                running.remove(service);
            }
        }
    }

    fn accepted(&self, conn: &Conn) {
        let s = self.stats(conn.service());
        s.requests.fetch_add(1, Relaxed);
        s.in_flight.fetch_add(1, Relaxed);
    }

    fn refused(&self, service: &str, _client: SocketAddr) {
        self.stats(service).refused.fetch_add(1, Relaxed);
    }

    fn denied(&self, service: &str, _client: SocketAddr, reason: Denied) {
        if let Some(i) = DENIED.iter().position(|r| *r == reason) {
            self.stats(service).denied[i].fetch_add(1, Relaxed);
        }
    }

    fn progress(&self, conn: &Conn, delta: Transferred) {
        let s = self.stats(conn.service());
        s.input.fetch_add(delta.a_to_b, Relaxed);
        s.output.fetch_add(delta.b_to_a, Relaxed);
    }

    fn closed(&self, conn: &Conn, c: &Closed<'_>) {
        let s = self.stats(conn.service());
        s.in_flight.fetch_sub(1, Relaxed);
        // What `progress` counted already is part of the summary's whole count.
        let counted = conn.reported();
        s.input
            .fetch_add(c.transferred.a_to_b.saturating_sub(counted.a_to_b), Relaxed);
        s.output
            .fetch_add(c.transferred.b_to_a.saturating_sub(counted.b_to_a), Relaxed);
        if matches!(c.outcome, Outcome::Failed(_)) {
            s.errors.fetch_add(1, Relaxed);
        }
        s.duration.observe(c.duration);
    }
}

/// Reads one plain (non-histogram) sample of a service.
type Sample = fn(&ServiceStats) -> i128;

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}.\n# TYPE {name} {kind}");
}

/// A label value escaped as the exposition format requires.
fn escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// This machine's name, as upstream labels its metrics; `localhost` when it cannot be read.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn closed(a_to_b: u64, b_to_a: u64, ms: u64, outcome: Outcome<'_>) -> Closed<'_> {
        Closed {
            target: None,
            transferred: Transferred { a_to_b, b_to_a },
            duration: Duration::from_millis(ms),
            outcome,
        }
    }

    #[test]
    fn counts_requests_bytes_errors_and_durations() {
        let m = Arc::new(Metrics::with_host("h\"1"));
        m.service_started("socks", SocketAddr::from(([127, 0, 0, 1], 1080)));
        let c1 = Conn::new(
            "socks".into(),
            SocketAddr::from(([127, 0, 0, 1], 5)),
            m.clone(),
        );
        let c2 = Conn::new(
            "socks".into(),
            SocketAddr::from(([127, 0, 0, 1], 6)),
            m.clone(),
        );
        m.accepted(&c1);
        m.accepted(&c2);
        m.closed(&c1, &closed(10, 200, 3, Outcome::Ok));
        let err = crate::Error::AuthFailed("x".into());
        let text = m.render();
        assert!(
            text.contains("gost_service_requests_in_flight{host=\"h\\\"1\",service=\"socks\"} 1"),
            "{text}"
        );
        m.closed(&c2, &closed(1, 2, 20_000, Outcome::Failed(&err)));
        let text = m.render();
        let l = "host=\"h\\\"1\",service=\"socks\"";
        for line in [
            "gost_services{host=\"h\\\"1\"} 1".to_owned(),
            format!("gost_service_requests_total{{{l}}} 2"),
            format!("gost_service_requests_in_flight{{{l}}} 0"),
            format!("gost_service_transfer_input_bytes_total{{{l}}} 11"),
            format!("gost_service_transfer_output_bytes_total{{{l}}} 202"),
            format!("gost_service_handler_errors_total{{{l}}} 1"),
            format!("gost_service_request_duration_seconds_bucket{{{l},le=\"0.005\"}} 1"),
            format!("gost_service_request_duration_seconds_bucket{{{l},le=\"15\"}} 1"),
            format!("gost_service_request_duration_seconds_bucket{{{l},le=\"30\"}} 2"),
            format!("gost_service_request_duration_seconds_bucket{{{l},le=\"+Inf\"}} 2"),
            format!("gost_service_request_duration_seconds_sum{{{l}}} 20.003"),
            format!("gost_service_request_duration_seconds_count{{{l}}} 2"),
            "# TYPE gost_service_request_duration_seconds histogram".to_owned(),
        ] {
            assert!(
                text.lines().any(|x| x == line),
                "missing {line:?} in\n{text}"
            );
        }
        m.denied(
            "socks",
            SocketAddr::from(([127, 0, 0, 1], 7)),
            Denied::Bypass,
        );
        let denied = format!("gost_service_denied_total{{{l},reason=\"bypass\"}} 1");
        assert!(m.render().lines().any(|x| x == denied), "{denied}");
        m.service_stopped("socks");
        assert!(m.render().contains("gost_services{host=\"h\\\"1\"} 0"));
    }
}
