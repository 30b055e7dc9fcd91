//! The service runner: one listener, one handler, and the accept loop between them.
//!
//! The loop asks the service's gate (`crate::gate`: admission, the cap on live connections, the
//! connection limits) about every client before a byte is read — inside the listener, before its TLS or
//! WebSocket handshake, where the listener supports it — and closes at once the clients it refuses; it
//! backs off instead of spinning when the process runs out of file descriptors, logs accept errors at a limited rate, reports each connection to the service's
//! [`Observer`] and writes its structured log events (see [`crate::Observer`]), and shuts down gracefully: on
//! the shutdown signal it stops accepting, lets live connections finish up to a drain deadline, then cuts
//! the rest.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gost_transport::{BoxFuture, Gate, Listener, Pass, RateLimited, Stream};
use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::Error;
use crate::access::Admission;
use crate::climit::ConnLimitsSource;
use crate::gate::ServiceGate;
use crate::limit::Limits;
use crate::observe::{self, Closed, Conn, NoObserver, Observer, Outcome};
use crate::relay::{Relay, Transferred};

/// Serves one accepted connection from start to finish.
pub trait Handler: Send + Sync + 'static {
    /// Runs the protocol on `conn` and reports what happened. `ctx` is the connection (its client
    /// address, `ctx.client()`) and the channel for its events (authentication, target) to the
    /// service's observer.
    ///
    /// A session that ends in relaying bytes returns the two streams in [`Report::relay`] rather than
    /// relaying them itself: the runner relays them after this future is freed, so an idle session
    /// does not keep the handshake's state. The handler bounds its own handshake with a timeout; the
    /// runner only bounds the drain at shutdown.
    fn handle<'a>(&'a self, conn: Stream, ctx: &'a Conn) -> BoxFuture<'a, Report>;
}

/// What a handler did with one connection: the input of the per-connection log line.
#[derive(Debug)]
pub struct Report {
    /// The command and target the client asked for (`"connect example.com:443"`), once known. When
    /// `None`, the runner logs and reports the request the handler gave [`Conn::target`], if any.
    pub target: Option<String>,
    /// Bytes relayed: `a_to_b` client → target, `b_to_a` target → client.
    pub transferred: Transferred,
    /// How the connection ended (so far: the relay's outcome is added when it ends).
    pub result: Result<(), Error>,
    /// The relay the session ends in, run by the service runner ([`Relay::run`]) after the handler.
    pub relay: Option<Relay>,
}

impl Default for Report {
    /// Nothing known yet, a successful outcome, and nothing to relay.
    fn default() -> Self {
        Report {
            target: None,
            transferred: Transferred::default(),
            result: Ok(()),
            relay: None,
        }
    }
}

/// Limits and names of one service.
#[derive(Debug, Clone)]
pub struct ServiceOptions {
    /// Name used in logs (`service-0` for the first `-L`, as upstream names them).
    pub name: String,
    /// Most connections served at once; further clients are closed at accept (before a TLS or WebSocket
    /// handshake), logged at a bounded rate and reported to [`Observer::refused`]. Default 8192.
    pub max_connections: usize,
    /// How long live connections may keep running after shutdown was requested. Default 30 s.
    pub drain_timeout: Duration,
    /// Upstream's `climiter`: most connections at once for the service (`$`) and per client IP (`$$`,
    /// IP and network lines). A client over a limit is closed at once, as one over `max_connections`.
    /// Limits from a loader apply to each new client as they are re-read; until first loaded, every
    /// client is closed. Default: no limit.
    pub conn_limits: ConnLimitsSource,
}

impl Default for ServiceOptions {
    fn default() -> Self {
        ServiceOptions {
            name: "service".into(),
            max_connections: 8192,
            drain_timeout: Duration::from_secs(30),
            conn_limits: ConnLimitsSource::default(),
        }
    }
}

/// A listener plus the handler for everything it accepts.
pub struct Service {
    listener: Box<dyn Listener>,
    handler: Arc<dyn Handler>,
    opts: ServiceOptions,
    observer: Arc<dyn Observer>,
    admission: Option<Arc<dyn Admission>>,
    limits: Limits,
}

impl fmt::Debug for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Service")
            .field("name", &self.opts.name)
            .field("addr", &self.listener.local_addr())
            .finish()
    }
}

/// First and longest pause after an accept failure caused by resource exhaustion.
const BACKOFF_MIN: Duration = Duration::from_millis(5);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

impl Service {
    /// Combines a bound listener and a handler.
    pub fn new(
        listener: impl Listener + 'static,
        handler: impl Handler,
        opts: ServiceOptions,
    ) -> Self {
        Service {
            listener: Box::new(listener),
            handler: Arc::new(handler),
            opts,
            observer: Arc::new(NoObserver),
            admission: None,
            limits: Limits::default(),
        }
    }

    /// Like [`Service::new`] with an already boxed listener and shared handler (listeners built from
    /// configuration come boxed).
    pub fn from_parts(
        listener: Box<dyn Listener>,
        handler: Arc<dyn Handler>,
        opts: ServiceOptions,
    ) -> Self {
        Service {
            listener,
            handler,
            opts,
            observer: Arc::new(NoObserver),
            admission: None,
            limits: Limits::default(),
        }
    }

    /// Reports every connection of this service to `observer` (e.g. [`crate::metrics::Metrics`]).
    /// Combine several with [`crate::Observers`].
    pub fn with_observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = observer;
        self
    }

    /// Closes, right after accept and before a byte is read, the clients `admission` refuses (upstream's
    /// `admission`). The check runs inside the listener, before its TLS or WebSocket handshake, when
    /// the listener supports a [`gost_transport::Gate`]; otherwise right after `accept`. Each refusal
    /// writes one `info` line and reports [`crate::Denied::Admission`] to the observer.
    pub fn with_admission(mut self, admission: Arc<dyn Admission>) -> Self {
        self.admission = Some(admission);
        self
    }

    /// Applies upstream's `limiter` and `rlimiter` to every client (see [`Limits`]): a client over a
    /// request rate is refused by the service's gate, before a byte is read (one `info` line at most
    /// every 5 s, and [`crate::Denied::RateLimit`] to the observer); a limited client's bytes keep to
    /// its rates.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Replaces the service's connection limits ([`ServiceOptions::conn_limits`]).
    pub fn with_conn_limits(mut self, limits: impl Into<ConnLimitsSource>) -> Self {
        self.opts.conn_limits = limits.into();
        self
    }

    /// The service's name (from [`ServiceOptions::name`]).
    pub fn name(&self) -> &str {
        &self.opts.name
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr()
    }

    /// Accepts and serves connections until `shutdown` is cancelled, then drains (see the module docs).
    pub async fn run(self, shutdown: CancellationToken) {
        let Service {
            listener,
            handler,
            opts,
            observer,
            admission,
            limits,
        } = self;
        let name: Arc<str> = opts.name.as_str().into();
        let mut conns = JoinSet::new();
        let mut errors = RateLimited::new(Duration::from_secs(5));
        let mut backoff = BACKOFF_MIN;
        let mut limited = RateLimited::new(Duration::from_secs(5));
        let gate = Arc::new(ServiceGate::new(
            name.clone(),
            admission,
            limits.requests.clone(),
            opts.max_connections,
            opts.conn_limits.clone(),
            observer.clone(),
        ));
        // Listeners that cannot run the gate before their handshake get it right after accept.
        let after_accept = (!listener.set_gate(gate.clone())).then_some(gate);
        info!(service = %name, addr = %listener.local_addr(), "listening");
        observer.service_started(&name, listener.local_addr());
        let next = |delay: Duration| {
            let listener = &listener;
            Box::pin(async move {
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                listener.accept_with_pass().await
            })
        };
        // The pending accept survives loop turns that only reap finished connections, so a listener whose
        // accept is not cancel-safe (e.g. one that finishes a handshake inside it) never loses a client.
        let mut accepting = next(Duration::ZERO);
        let stop = shutdown.cancelled();
        tokio::pin!(stop);
        // Finished connections are reaped after each accept, and by this timer when no client comes;
        // waiting on `join_next` instead would wake this task once more for every connection that ends.
        let mut reap = tokio::time::interval(REAP_INTERVAL);
        reap.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            let accepted = tokio::select! {
                biased;
                _ = &mut stop => break,
                a = &mut accepting => a,
                _ = reap.tick() => {
                    reap_finished(&name, &mut conns);
                    continue;
                }
            };
            match accepted {
                Ok((conn, client, pass)) => {
                    backoff = BACKOFF_MIN;
                    accepting = next(Duration::ZERO);
                    let pass = match &after_accept {
                        None => pass,
                        Some(gate) => match gate.admit(client) {
                            Some(pass) => pass,
                            None => continue,
                        },
                    };
                    let (conn, throttle) = match limits.throttle(conn, client) {
                        Ok(limited) => limited,
                        Err(reason) => {
                            observer.denied(&name, client, reason);
                            if let Some(suppressed) = limited.allow() {
                                info!(service = %name, %client, reason = reason.as_str(),
                                    suppressed, "client refused");
                            }
                            continue;
                        }
                    };
                    let mut ctx = Conn::new(name.clone(), client, observer.clone());
                    if let Some(throttle) = throttle {
                        ctx = ctx.with_throttle(throttle);
                    }
                    let live = Live::new(ctx);
                    conns.spawn(serve_conn(handler.clone(), Box::new(conn), live, pass));
                    reap_finished(&name, &mut conns);
                }
                Err(e) => {
                    // Out of descriptors: the pending connection stays queued, so retrying at once would
                    // spin; other failures concern one client only.
                    let delay = if e.is_resource_exhaustion() {
                        backoff
                    } else {
                        Duration::ZERO
                    };
                    if let Some(suppressed) = errors.allow() {
                        warn!(service = %name, error = %e, suppressed, retry_in = ?delay, "accept failed");
                    }
                    if !delay.is_zero() {
                        backoff = (backoff * 2).min(BACKOFF_MAX);
                    }
                    accepting = next(delay);
                }
            }
        }
        drop(accepting);
        drop(listener);
        observer.service_stopped(&name);
        drain(&name, conns, opts.drain_timeout).await;
    }
}

/// How often finished connections are reaped while no client connects.
const REAP_INTERVAL: Duration = Duration::from_secs(1);

/// Collects the connections that ended since the last call.
fn reap_finished(name: &str, conns: &mut JoinSet<()>) {
    while let Some(done) = conns.try_join_next() {
        if let Err(e) = done {
            warn!(service = %name, error = %e, "connection task failed");
        }
    }
}

/// One connection's task: the handler, then the relay its report asks for (if any), then the report.
/// What the task holds while its relay runs is what every idle session costs, so the handler's future
/// is gone by then and `held` (the gate's pass: the connection's places in the service's limits) is all
/// that is kept besides. `conn` comes boxed: a captured variable keeps its place in the task for the
/// task's whole life, moved out or not, and a box is 8 bytes where a `Stream` is 96.
// Not an `async fn`: its state machine came out 232 bytes larger than this block's (rustc 1.95), and
// this future is part of every idle session's memory (`connection_task_stays_small`).
#[allow(clippy::manual_async_fn)]
fn serve_conn(
    handler: Arc<dyn Handler>,
    conn: Box<Stream>,
    live: Live,
    held: Pass,
) -> impl Future<Output = ()> + Send + 'static {
    async move {
        let mut report = handler.handle(unbox(conn), &live.conn).await;
        if let Some(relay) = report.relay.take() {
            relay.run(&mut report, &live.conn).await;
        }
        // Places free before the report, so whoever sees `closed` finds them free.
        drop(held);
        live.finish(&report);
    }
}

/// The value out of its box, the box freed now (a move out of `*b` in an `async` block would free it
/// only when the block ends).
#[allow(clippy::boxed_local)] // taking the box is the point: it is freed when this returns
fn unbox<T>(b: Box<T>) -> T {
    *b
}

/// Waits for live connections up to `deadline`, then aborts what is left.
async fn drain(name: &str, mut conns: JoinSet<()>, deadline: Duration) {
    // Connections that ended since the last reap are not live: the count below names only those left.
    reap_finished(name, &mut conns);
    if conns.is_empty() {
        return;
    }
    info!(service = %name, live = conns.len(), ?deadline, "stopped accepting; draining");
    let all_done = async { while conns.join_next().await.is_some() {} };
    if tokio::time::timeout(deadline, all_done).await.is_err() {
        warn!(service = %name, cut = conns.len(), "drain deadline passed; closing remaining connections");
        conns.shutdown().await;
    }
}

/// A connection being served: reports `accepted` when created and exactly one `closed`, from
/// [`Live::finish`] or, when the task is cut (drain deadline, panic), from `Drop`.
struct Live {
    conn: Conn,
    started: Instant,
    closed: bool,
}

impl Live {
    fn new(conn: Conn) -> Live {
        conn.observer().accepted(&conn);
        Live {
            conn,
            started: Instant::now(),
            closed: false,
        }
    }

    fn finish(mut self, report: &Report) {
        self.closed = true;
        let mut summary = Closed::from_report(report, self.started.elapsed());
        if summary.target.is_none() {
            summary.target = self.conn.request();
        }
        closed(&self.conn, &summary);
    }
}

/// Writes a connection's `connection` line and tells its observer that it ended.
fn closed(conn: &Conn, summary: &Closed<'_>) {
    observe::log_closed(conn, summary);
    conn.observer().closed(conn, summary);
}

impl Drop for Live {
    fn drop(&mut self) {
        if !self.closed {
            // The handler's report is lost with its task; the request, if read, and the bytes its
            // relay moved are still known.
            self.closed = true;
            let summary = Closed {
                target: self.conn.request(),
                transferred: self.conn.relayed(),
                duration: self.started.elapsed(),
                outcome: Outcome::Cut,
            };
            closed(&self.conn, &summary);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a connection task holds is part of every idle session's memory (with the relay's own state,
    /// `relay::tests::relay_future_stays_small`); the handler's future is boxed and gone by then.
    #[tokio::test]
    async fn connection_task_stays_small() {
        struct Nothing;
        impl Handler for Nothing {
            fn handle<'a>(&'a self, _: Stream, _: &'a Conn) -> BoxFuture<'a, Report> {
                Box::pin(async { Report::default() })
            }
        }
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let live = Live::new(Conn::new("t".into(), addr, Arc::new(NoObserver)));
        let task = serve_conn(
            Arc::new(Nothing),
            Box::new(Stream::from_tcp(s)),
            live,
            Pass::none(),
        );
        let size = size_of_val(&task);
        // tokio allocates a task as its future plus about 104 bytes, rounded up to 128 on x86-64: up to
        // 536 bytes of future the task is 640 bytes (512 in release builds, 528 in debug ones, rustc 1.95).
        assert!(size <= 536, "connection task future is {size} bytes");
        task.await;
    }
}
