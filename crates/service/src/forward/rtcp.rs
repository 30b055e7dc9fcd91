//! Remote TCP port forwarding (`rtcp://:R/target`): port R is opened on the chain's last node with MBIND;
//! each peer that connects there arrives as a multiplexed stream and is relayed to `target`, dialled from
//! this host. When the control connection drops, the port is re-opened after 1 s, 2 s, 4 s, then every 5 s.
//!
//! A limited peer's stream is wrapped in its bandwidth buckets (what the service reads from the peer is
//! `in`, what it writes to it `out`) and relayed through the buffered copy.
//!
//! Against a server without GOST's MBIND (it answers "command not supported", or hangs up as dante does),
//! plain BIND is used instead: one BIND per peer, re-issued as soon as each peer arrives.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use gost_chain::addr::bind_address;
use gost_chain::{Error as ChainError, Router};
use gost_transport::Stream;
use socks_wire::Address;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info};

use super::PeerAdmission;
use super::Targets;
use super::reopen::{Next, keep_open};
use crate::limit::wrap;
use crate::observe::log_session;
use crate::relay::{Transferred, relay_streams};

/// How often a plain BIND is retried while the requested port is still taken by the previous peer.
const PORT_BUSY_RETRY: Duration = Duration::from_millis(200);

/// A remote TCP forwarding service.
#[derive(Debug, Clone)]
pub struct RtcpForwarder {
    /// The remote address as configured (`:2222`), for logs.
    laddr: Arc<str>,
    bind: Address,
    router: Router,
    local: Router,
    targets: Arc<Targets>,
    admission: PeerAdmission,
}

impl RtcpForwarder {
    /// Opens `laddr` (`:2222`, parsed here once) on `router`'s last node and forwards to `targets` from
    /// this host (through `router`'s egress: the service's `interface` and `so_mark`).
    pub fn new(laddr: &str, router: Router, targets: Targets) -> Result<RtcpForwarder, ChainError> {
        Ok(RtcpForwarder {
            bind: bind_address(laddr)?,
            laddr: laddr.into(),
            local: Router::default().with_egress(router.egress().clone()),
            router,
            targets: Arc::new(targets),
            admission: PeerAdmission::default(),
        })
    }

    /// Which remote peers are closed unread, their target never dialled ([`PeerAdmission`]).
    pub fn admission(&mut self) -> &mut PeerAdmission {
        &mut self.admission
    }

    /// Serves until `shutdown`, re-opening the remote port whenever it is lost.
    pub async fn run(self, shutdown: CancellationToken) {
        let plain_bind = AtomicBool::new(false);
        keep_open(&shutdown, "rtcp", &self.laddr, || {
            self.serve_once(&plain_bind)
        })
        .await;
    }

    /// One remote listener's life; Err when it could not be opened.
    async fn serve_once(&self, plain_bind: &AtomicBool) -> Result<Next, ChainError> {
        if plain_bind.load(Ordering::Relaxed) {
            return self.serve_plain_bind().await;
        }
        let mut listener = match self.router.mux_bind(&self.bind).await {
            Ok(l) => l,
            Err(e) if e.command_unknown() => {
                info!(laddr = %self.laddr, error = %e, "rtcp: the server has no MBIND; using plain BIND");
                plain_bind.store(true, Ordering::Relaxed);
                return self.serve_plain_bind().await;
            }
            Err(e) => return Err(e),
        };
        info!(laddr = %self.laddr, bound = %listener.bound(), "rtcp: listening on the remote side");
        loop {
            match listener.accept().await {
                Ok((stream, peer)) => self.admit(stream, Some(peer), &peer),
                Err(e) => {
                    info!(laddr = %self.laddr, error = %e, "rtcp: remote listener closed");
                    return Ok(Next::Reopen);
                }
            }
        }
    }

    async fn serve_plain_bind(&self) -> Result<Next, ChainError> {
        // RFC 1928 servers read BIND's address as the peer they should expect, and dante only keeps the
        // requested port when that address is unspecified: ask for `0.0.0.0:R`.
        let want = self.bind.port();
        let listener = self
            .router
            .bind(&Address::from((Ipv4Addr::UNSPECIFIED.into(), want)))
            .await?;
        let bound = listener.bound().port();
        if want != 0 && want != bound {
            // The port is still held by the previous peer's connection and the server picked another one,
            // which nobody would find: give it up and ask again shortly.
            debug!(laddr = %self.laddr, bound, "rtcp: BIND got another port; retrying");
            return Ok(Next::After(PORT_BUSY_RETRY));
        }
        info!(laddr = %self.laddr, bound = %listener.bound(), "rtcp: BIND waiting for a peer");
        let (stream, peer) = listener.accept().await?;
        self.admit(stream, peer.to_socket_addr(), &peer);
        // A BIND serves one peer; the next one is issued at once.
        Ok(Next::Now)
    }

    /// Forwards a remote peer's stream if admission and the request rate let it in, limited by its
    /// bandwidth buckets; otherwise drops it unread.
    fn admit(&self, stream: Stream, peer: Option<SocketAddr>, shown: &dyn std::fmt::Display) {
        if !self.admission.admit(peer, shown) {
            return;
        }
        let Ok(throttle) = self.admission.session(peer, shown) else {
            return;
        };
        let stream = match throttle {
            Some(t) => wrap(stream, t),
            None => stream,
        };
        self.forward(stream, shown.to_string());
    }

    /// Relays one remote peer to a target dialled from here; writes the peer's `session` line.
    fn forward(&self, stream: Stream, peer: String) {
        let this = self.clone();
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            let target = this.targets.pick();
            match this.local.dial(target.addr()).await {
                Ok(upstream) => {
                    target.succeeded();
                    let (t, r) = relay_streams(stream, upstream).await;
                    let ended = r.as_ref().map(|()| "closed");
                    log_session("rtcp", &peer, &target.addr(), t, started, ended);
                }
                Err(e) => {
                    target.failed();
                    let reason = format!("target unreachable: {e}");
                    let t = Transferred::default();
                    log_session("rtcp", &peer, &target.addr(), t, started, Err(&reason));
                }
            }
        });
    }
}
