//! Remote TCP port forwarding (`rtcp://:R/target`): port R is opened on the chain's last node with MBIND;
//! each peer that connects there arrives as a multiplexed stream and is relayed to `target`, dialled from
//! this host. When the control connection drops, the port is re-opened after 1 s, 2 s, 4 s, then every 5 s.
//!
//! Against a server without GOST's MBIND (it answers "command not supported"), plain BIND is used instead:
//! one BIND per peer, re-issued after each peer arrives.

use std::sync::Arc;

use gost_chain::{Error as ChainError, Router};
use gost_transport::Stream;
use socks_wire::ReplyCode;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::{Targets, backoff};
use crate::relay::relay_streams;

/// A remote TCP forwarding service.
#[derive(Debug, Clone)]
pub struct RtcpForwarder {
    laddr: String,
    router: Router,
    local: Router,
    targets: Arc<Targets>,
}

impl RtcpForwarder {
    /// Opens `laddr` (`:2222`) on `router`'s last node and forwards to `targets` from this host.
    pub fn new(laddr: impl Into<String>, router: Router, targets: Targets) -> RtcpForwarder {
        RtcpForwarder {
            laddr: laddr.into(),
            router,
            local: Router::default(),
            targets: Arc::new(targets),
        }
    }

    /// Serves until `shutdown`, re-opening the remote port whenever it is lost.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut failures = 0u32;
        let mut plain_bind = false;
        loop {
            let served = tokio::select! {
                _ = shutdown.cancelled() => return,
                r = self.serve_once(&mut plain_bind) => r,
            };
            let delay = match served {
                Ok(()) => {
                    failures = 0;
                    if plain_bind {
                        // A BIND serves one peer; the next one is issued at once.
                        continue;
                    }
                    backoff(0)
                }
                Err(e) => {
                    let d = backoff(failures);
                    failures = failures.saturating_add(1);
                    warn!(laddr = %self.laddr, error = %e, retry_in = ?d, "rtcp: remote listener failed");
                    d
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(delay) => {}
            }
        }
    }

    /// One remote listener's life: Ok when it was established and later lost, Err when it could not be opened.
    async fn serve_once(&self, plain_bind: &mut bool) -> Result<(), ChainError> {
        if *plain_bind {
            return self.serve_plain_bind().await;
        }
        let mut listener = match self.router.mux_bind(&self.laddr).await {
            Ok(l) => l,
            Err(e) if e.reply_code() == Some(ReplyCode::CommandNotSupported) => {
                info!(laddr = %self.laddr, "rtcp: the server has no MBIND; using plain BIND");
                *plain_bind = true;
                return self.serve_plain_bind().await;
            }
            Err(e) => return Err(e),
        };
        info!(laddr = %self.laddr, bound = %listener.bound(), "rtcp: listening on the remote side");
        loop {
            match listener.accept().await {
                Ok((stream, peer)) => {
                    debug!(%peer, "rtcp: peer connected");
                    self.forward(stream);
                }
                Err(e) => {
                    info!(laddr = %self.laddr, error = %e, "rtcp: remote listener closed");
                    return Ok(());
                }
            }
        }
    }

    async fn serve_plain_bind(&self) -> Result<(), ChainError> {
        let listener = self.router.bind(&self.laddr).await?;
        info!(laddr = %self.laddr, bound = %listener.bound(), "rtcp: BIND waiting for a peer");
        let (stream, peer) = listener.accept().await?;
        debug!(%peer, "rtcp: peer connected");
        self.forward(stream);
        Ok(())
    }

    fn forward(&self, stream: Stream) {
        let this = self.clone();
        tokio::spawn(async move {
            let target = this.targets.pick();
            match this.local.dial(target.addr()).await {
                Ok(upstream) => {
                    target.succeeded();
                    let (t, r) = relay_streams(stream, upstream).await;
                    debug!(target = target.addr(), up = t.a_to_b, down = t.b_to_a, result = ?r, "rtcp: done");
                }
                Err(e) => {
                    target.failed();
                    warn!(target = target.addr(), error = %e, "rtcp: target unreachable");
                }
            }
        });
    }
}
