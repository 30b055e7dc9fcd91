//! Per-connection events: the [`Observer`] trait, the [`Conn`] context a handler reports through, and the
//! structured log events every connection and every failure produce.
//!
//! The service runner calls [`Observer::accepted`] and [`Observer::closed`]; the SOCKS handlers call
//! [`Observer::authenticated`] and [`Observer::target`] through [`Conn`]. Callbacks are synchronous and run
//! on the connection's task: keep them short (count, enqueue), never block.
//!
//! Byte counts: the relay counts as it copies and keeps [`Conn::relayed`] current, so a connection cut at
//! the end of a drain still reports what it moved; observers get [`Observer::progress`] while a long
//! relay runs (at most every [`PROGRESS_STEP`] bytes) and the whole count with `closed`.

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use gost_access::limit::ConnThrottle;
use socks_wire::Address;
use tracing::{Level, info, warn};

use crate::access::Denied;
use crate::relay::Transferred;
use crate::{Error, Report};

/// Receives the life events of connections. Every method has an empty default: implement what you need.
///
/// One connection produces `accepted`, then `authenticated` (when the service authenticates), then
/// `target` (once the request is read), then exactly one `closed`, also when the connection is cut at
/// shutdown.
pub trait Observer: Send + Sync + 'static {
    /// A service started listening on `addr`.
    fn service_started(&self, service: &str, addr: SocketAddr) {
        let _ = (service, addr);
    }

    /// A service stopped accepting (its live connections may still be draining).
    fn service_stopped(&self, service: &str) {
        let _ = service;
    }

    /// A client connected.
    fn accepted(&self, conn: &Conn) {
        let _ = conn;
    }

    /// A client connected while the service held its cap of live connections
    /// ([`crate::ServiceOptions::max_connections`]) or the service or its IP held its connection limit
    /// ([`crate::ServiceOptions::conn_limits`]); the connection was closed at once and produces no
    /// other event.
    fn refused(&self, service: &str, client: SocketAddr) {
        let _ = (service, client);
    }

    /// The client presented credentials for `user`; `ok` tells whether they were accepted.
    fn authenticated(&self, conn: &Conn, user: &str, ok: bool) {
        let _ = (conn, user, ok);
    }

    /// An access policy refused `client`: its credentials ([`Denied::Auth`], also reported by
    /// `authenticated`), its address ([`Denied::Admission`]: closed at accept, no other event) or its
    /// target ([`Denied::Bypass`]).
    fn denied(&self, service: &str, client: SocketAddr, reason: Denied) {
        let _ = (service, client, reason);
    }

    /// The client asked for `command` (`connect`, `bind`, `udp-associate`, …) to `target`.
    fn target(&self, conn: &Conn, command: &str, target: &Address) {
        let _ = (conn, command, target);
    }

    /// The connection's relay moved `delta` more bytes since its last report (called from the
    /// connection's task while the relay runs, once [`PROGRESS_STEP`] bytes piled up, and when it ends).
    /// `closed` still carries the connection's whole count; the part of it already reported here is
    /// [`Conn::reported`].
    fn progress(&self, conn: &Conn, delta: Transferred) {
        let _ = (conn, delta);
    }

    /// The connection ended.
    fn closed(&self, conn: &Conn, summary: &Closed<'_>) {
        let _ = (conn, summary);
    }
}

/// Bytes a relay moves between two [`Observer::progress`] calls: often enough for a scrape to see a
/// long transfer move, rarely enough that a fast one costs nothing measurable.
pub const PROGRESS_STEP: u64 = 256 * 1024;

impl<T: Observer + ?Sized> Observer for Arc<T> {
    fn service_started(&self, service: &str, addr: SocketAddr) {
        (**self).service_started(service, addr);
    }
    fn service_stopped(&self, service: &str) {
        (**self).service_stopped(service);
    }
    fn accepted(&self, conn: &Conn) {
        (**self).accepted(conn);
    }
    fn refused(&self, service: &str, client: SocketAddr) {
        (**self).refused(service, client);
    }
    fn authenticated(&self, conn: &Conn, user: &str, ok: bool) {
        (**self).authenticated(conn, user, ok);
    }
    fn denied(&self, service: &str, client: SocketAddr, reason: Denied) {
        (**self).denied(service, client, reason);
    }
    fn target(&self, conn: &Conn, command: &str, target: &Address) {
        (**self).target(conn, command, target);
    }
    fn progress(&self, conn: &Conn, delta: Transferred) {
        (**self).progress(conn, delta);
    }
    fn closed(&self, conn: &Conn, summary: &Closed<'_>) {
        (**self).closed(conn, summary);
    }
}

/// An observer that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoObserver;

impl Observer for NoObserver {}

/// Several observers called in order (what [`crate::ServiceBuilder::observer`] builds when called twice).
#[derive(Clone, Default)]
pub struct Observers(Vec<Arc<dyn Observer>>);

impl Observers {
    /// Adds an observer at the end.
    pub fn push(&mut self, o: Arc<dyn Observer>) {
        self.0.push(o);
    }

    /// Whether no observer was added.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Observers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Observers")
            .field("len", &self.0.len())
            .finish()
    }
}

impl Observer for Observers {
    fn service_started(&self, service: &str, addr: SocketAddr) {
        self.0.iter().for_each(|o| o.service_started(service, addr));
    }
    fn service_stopped(&self, service: &str) {
        self.0.iter().for_each(|o| o.service_stopped(service));
    }
    fn accepted(&self, conn: &Conn) {
        self.0.iter().for_each(|o| o.accepted(conn));
    }
    fn refused(&self, service: &str, client: SocketAddr) {
        self.0.iter().for_each(|o| o.refused(service, client));
    }
    fn authenticated(&self, conn: &Conn, user: &str, ok: bool) {
        self.0.iter().for_each(|o| o.authenticated(conn, user, ok));
    }
    fn denied(&self, service: &str, client: SocketAddr, reason: Denied) {
        self.0
            .iter()
            .for_each(|o| o.denied(service, client, reason));
    }
    fn target(&self, conn: &Conn, command: &str, target: &Address) {
        self.0.iter().for_each(|o| o.target(conn, command, target));
    }
    fn progress(&self, conn: &Conn, delta: Transferred) {
        self.0.iter().for_each(|o| o.progress(conn, delta));
    }
    fn closed(&self, conn: &Conn, summary: &Closed<'_>) {
        self.0.iter().for_each(|o| o.closed(conn, summary));
    }
}

/// One connection as observers and handlers see it: its identity, and the channel for its events.
pub struct Conn {
    id: u64,
    service: Arc<str>,
    client: SocketAddr,
    observer: Arc<dyn Observer>,
    user: OnceLock<Box<str>>,
    request: OnceLock<Box<str>>,
    /// Bytes the relay moved so far, and the part of them passed to [`Observer::progress`]. Only the
    /// connection's task writes them (atomics because `&Conn` is shared with observers).
    relayed: Counts,
    reported: Counts,
    /// The client's bandwidth buckets when a `limiter` limits it (boxed: most connections have none,
    /// and every idle session holds a `Conn`).
    throttle: Option<Box<ConnThrottle>>,
}

/// A [`Transferred`] that can be updated through a shared reference.
#[derive(Default)]
struct Counts([AtomicU64; 2]);

impl Counts {
    fn get(&self) -> Transferred {
        Transferred {
            a_to_b: self.0[0].load(Ordering::Relaxed),
            b_to_a: self.0[1].load(Ordering::Relaxed),
        }
    }

    fn set(&self, t: Transferred) {
        self.0[0].store(t.a_to_b, Ordering::Relaxed);
        self.0[1].store(t.b_to_a, Ordering::Relaxed);
    }
}

/// Connection ids are unique within the process, across services.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl Conn {
    /// A connection of `service` from `client`, reporting to `observer`.
    pub fn new(service: Arc<str>, client: SocketAddr, observer: Arc<dyn Observer>) -> Conn {
        Conn {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            service,
            client,
            observer,
            user: OnceLock::new(),
            request: OnceLock::new(),
            relayed: Counts::default(),
            reported: Counts::default(),
            throttle: None,
        }
    }

    /// The same connection, its client limited by `throttle` (kept only when it limits something).
    pub fn with_throttle(mut self, throttle: ConnThrottle) -> Conn {
        self.throttle = (!throttle.is_unlimited()).then(|| Box::new(throttle));
        self
    }

    /// The bandwidth buckets of the client, for what it exchanges outside its stream (UDP ASSOCIATE
    /// datagrams); `None` when nothing limits it.
    pub fn throttle(&self) -> Option<&ConnThrottle> {
        self.throttle.as_deref()
    }

    /// A connection served outside a [`crate::Service`] (a handler called directly; run the report's
    /// [`crate::relay::Relay`] yourself): events go nowhere.
    pub fn detached(client: SocketAddr) -> Conn {
        Conn::new("-".into(), client, Arc::new(NoObserver))
    }

    /// Process-wide unique id (the `conn_id` log field).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Name of the service that accepted the connection.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The client's address as seen by the listener.
    pub fn client(&self) -> SocketAddr {
        self.client
    }

    /// The user the client authenticated as, once it has.
    pub fn user(&self) -> Option<&str> {
        self.user.get().map(|u| &**u)
    }

    pub(crate) fn observer(&self) -> &dyn Observer {
        &*self.observer
    }

    /// Reports an authentication attempt (handlers call this); a success also records the user.
    pub fn authenticated(&self, user: &str, ok: bool) {
        if ok {
            let _ = self.user.set(user.into());
        }
        self.observer.authenticated(self, user, ok);
        if !ok {
            self.denied(Denied::Auth);
        }
    }

    /// Reports that a policy refused this connection's client or request.
    pub fn denied(&self, reason: Denied) {
        self.observer.denied(&self.service, self.client, reason);
    }

    /// The command and target once the request was read (`"connect example.com:443"`).
    pub fn request(&self) -> Option<&str> {
        self.request.get().map(|r| &**r)
    }

    /// Bytes the connection's relay has moved so far (client → target in `a_to_b`); zero before it
    /// starts. Current while the relay runs, so also known when the connection is cut.
    pub fn relayed(&self) -> Transferred {
        self.relayed.get()
    }

    /// The part of [`Conn::relayed`] already passed to [`Observer::progress`].
    pub fn reported(&self) -> Transferred {
        self.reported.get()
    }

    /// Records the relay's running totals; tells the observer once [`PROGRESS_STEP`] bytes piled up
    /// since its last report, or at once when `ended`.
    pub(crate) fn relay_progress(&self, now: Transferred, ended: bool) {
        self.relayed.set(now);
        let before = self.reported.get();
        let delta = Transferred {
            a_to_b: now.a_to_b.saturating_sub(before.a_to_b),
            b_to_a: now.b_to_a.saturating_sub(before.b_to_a),
        };
        let pending = delta.a_to_b + delta.b_to_a;
        if pending >= PROGRESS_STEP || (ended && pending > 0) {
            self.reported.set(now);
            self.observer.progress(self, delta);
        }
    }

    /// Reports the request's command and target (handlers call this).
    pub fn target(&self, command: &str, target: &Address) {
        // Sized up front: `format!` would grow the string three or four times per connection.
        let mut request = String::with_capacity(command.len() + 48);
        let _ = write!(request, "{command} {target}");
        let _ = self.request.set(request.into_boxed_str());
        self.observer.target(self, command, target);
    }
}

impl fmt::Debug for Conn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conn")
            .field("id", &self.id)
            .field("service", &self.service)
            .field("client", &self.client)
            .field("user", &self.user())
            .finish_non_exhaustive()
    }
}

/// How a connection ended.
#[derive(Debug, Clone, Copy)]
pub enum Outcome<'a> {
    /// The handler finished without error.
    Ok,
    /// The handler failed with this error.
    Failed(&'a Error),
    /// The connection was cut before its handler finished (shutdown drain deadline, or a panic).
    Cut,
}

/// What [`Observer::closed`] learns about a finished connection.
#[derive(Debug, Clone, Copy)]
pub struct Closed<'a> {
    /// The command and target (`"connect example.com:443"`), once the request was read.
    pub target: Option<&'a str>,
    /// Bytes read from the client (`a_to_b`, upstream's input) and written to it (`b_to_a`, output).
    pub transferred: Transferred,
    /// Time from accept to close.
    pub duration: Duration,
    /// Why it ended.
    pub outcome: Outcome<'a>,
}

impl<'a> Closed<'a> {
    /// The summary of a finished handler's report.
    pub fn from_report(report: &'a Report, duration: Duration) -> Closed<'a> {
        Closed {
            target: report.target.as_deref(),
            transferred: report.transferred,
            duration,
            outcome: match &report.result {
                Ok(()) => Outcome::Ok,
                Err(e) => Outcome::Failed(e),
            },
        }
    }
}

/// A stable, coarse class of an error: the `error_kind` log field.
pub fn error_kind(e: &Error) -> &'static str {
    match e {
        Error::Io(e) if gost_transport::is_resource_exhaustion(e) => "resources",
        Error::OutOfDescriptors(_) => "resources",
        Error::Io(_) => "io",
        Error::HandshakeTimeout(_) => "handshake_timeout",
        Error::Decode(_) | Error::Handshake(_) => "protocol",
        Error::AuthFailed(_) => "auth",
        Error::Bypassed(_) => "bypass",
        Error::Disabled(_) | Error::UnsupportedCommand(_) => "command",
        Error::Dial(crate::outbound::DialError::Policy(_)) | Error::PortNotAllowed(_) => "refused",
        Error::Dial(_) => "dial",
        Error::AcceptTimeout(_) => "accept_timeout",
        Error::Transport(t) => transport_error_kind(t),
        _ => "internal",
    }
}

/// The class of a transport error met while serving a client (the in-band TLS handshake): what the
/// client's bytes or hang-up cause is the client's doing, not this host's failure.
fn transport_error_kind(e: &gost_transport::Error) -> &'static str {
    use gost_transport::Error as T;
    match e {
        T::Io(e) if gost_transport::is_resource_exhaustion(e) => "resources",
        T::Io(_) => "io",
        T::HandshakeTimeout { .. } => "handshake_timeout",
        T::Tls(_) | T::Ws(_) | T::WsRejected { .. } => "protocol",
        _ => "internal",
    }
}

/// The log level of an error event: failures of this host or its upstreams are warnings, rejected
/// credentials are info, and what a misbehaving client causes (bad bytes, timeouts, resets) is debug so a
/// scanner cannot flood the log.
fn error_level(kind: &str) -> Level {
    match kind {
        "dial" | "internal" | "resources" => Level::WARN,
        "auth" | "refused" | "bypass" => Level::INFO,
        _ => Level::DEBUG,
    }
}

/// Writes the one `connection` line of a connection: `outcome` says how it ended and, unless it is
/// `ok`, `error_kind` and `reason` (the error's message) say why. It is `info`, or `warn` when this host
/// or its upstreams failed (`dial`, `internal`). Field names are stable; docs/embedding.md lists them.
pub(crate) fn log_closed(conn: &Conn, c: &Closed<'_>) {
    let service = conn.service();
    let conn_id = conn.id();
    let client = conn.client();
    let user = conn.user().unwrap_or("-");
    let target = c.target.unwrap_or("-");
    let (bytes_in, bytes_out) = (c.transferred.a_to_b, c.transferred.b_to_a);
    let duration_ms = c.duration.as_millis() as u64;
    // Borrowed unless there is an error to describe: no allocation for a connection that ended well.
    let (outcome, error_kind, reason) = match c.outcome {
        Outcome::Ok => ("ok", "-", Cow::Borrowed("-")),
        Outcome::Failed(e) => ("error", error_kind(e), Cow::Owned(e.to_string())),
        Outcome::Cut => ("cut", "-", Cow::Borrowed("cut before its handler finished")),
    };
    let reason = &*reason;
    macro_rules! line {
        ($m:ident) => {
            $m!(service, conn_id, %client, user, target, bytes_in, bytes_out, duration_ms, outcome, error_kind, reason, "connection")
        };
    }
    if error_level(error_kind) == Level::WARN {
        line!(warn);
    } else {
        line!(info);
    }
}

/// Writes the one `session` line of a session no service runner reports (a `udp://` forwarding
/// session, an `rtcp://` peer, an MBIND peer): what it is, between whom, bytes each way (`bytes_in`
/// from the side that started it), how long, and how it ended: `outcome` `ok` (info) or `error` (warn:
/// a target or the chain failed), and `reason`.
pub(crate) fn log_session<E: fmt::Display>(
    session: &'static str,
    client: &dyn fmt::Display,
    target: &dyn fmt::Display,
    transferred: Transferred,
    started: std::time::Instant,
    ended: Result<&str, E>,
) {
    let (bytes_in, bytes_out) = (transferred.a_to_b, transferred.b_to_a);
    let duration_ms = started.elapsed().as_millis() as u64;
    match ended {
        Ok(reason) => {
            info!(session, %client, %target, bytes_in, bytes_out, duration_ms, outcome = "ok", reason, "session");
        }
        Err(e) => {
            let reason = e.to_string();
            warn!(session, %client, %target, bytes_in, bytes_out, duration_ms, outcome = "error", reason, "session");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<String>>);

    impl Observer for Recorder {
        fn authenticated(&self, conn: &Conn, user: &str, ok: bool) {
            self.0
                .lock()
                .unwrap()
                .push(format!("{} auth {user} {ok}", conn.id()));
        }
    }

    #[test]
    fn fan_out_reaches_every_observer_and_records_the_user() {
        let (a, b) = (Arc::new(Recorder::default()), Arc::new(Recorder::default()));
        let mut all = Observers::default();
        all.push(a.clone());
        all.push(b.clone());
        let conn = Conn::new(
            "svc".into(),
            SocketAddr::from(([127, 0, 0, 1], 1)),
            Arc::new(all),
        );
        conn.authenticated("mallory", false);
        assert_eq!(conn.user(), None);
        conn.authenticated("alice", true);
        assert_eq!(conn.user(), Some("alice"));
        let id = conn.id();
        for r in [&a, &b] {
            let seen = r.0.lock().unwrap().clone();
            assert_eq!(
                seen,
                [
                    format!("{id} auth mallory false"),
                    format!("{id} auth alice true")
                ]
            );
        }
    }

    #[test]
    fn ids_are_unique() {
        let c = SocketAddr::from(([127, 0, 0, 1], 1));
        assert_ne!(Conn::detached(c).id(), Conn::detached(c).id());
    }

    #[test]
    fn error_kinds_are_stable() {
        use crate::outbound::DialError;
        let refused = Error::Dial(DialError::Policy(socks_wire::ReplyCode::NotAllowed));
        assert_eq!(error_kind(&refused), "refused");
        assert_eq!(error_kind(&Error::AuthFailed("x".into())), "auth");
        assert_eq!(
            error_kind(&Error::HandshakeTimeout(Duration::ZERO)),
            "handshake_timeout"
        );
        // A client hanging up during the in-band TLS handshake is its doing: debug, not a warning.
        let hung_up = gost_transport::Error::Tls("the peer closed the connection".into());
        assert_eq!(error_kind(&Error::Transport(hung_up)), "protocol");
        let config = gost_transport::Error::TlsConfig("no certificate".into());
        assert_eq!(error_kind(&Error::Transport(config)), "internal");
        assert_eq!(error_level("dial"), Level::WARN);
        assert_eq!(error_level("protocol"), Level::DEBUG);
    }
}
