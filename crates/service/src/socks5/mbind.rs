//! MBIND (GOST 0xF2): a BIND whose control connection becomes an smux session, one stream per peer.
//!
//! As upstream (`handler/socks/v5/mbind.go`): listen on DST, reply with the announced address, then act as
//! the smux *client* on the same connection (inside TLS when negotiated). Each accepted peer gets a new
//! stream whose first write, and therefore its own PSH frame, is a complete SOCKS5 reply naming the peer
//! (`05 00 00 ATYP addr port`), unless `comp` (GOST v2 clients) is set; then the stream and the peer are
//! relayed. Streams the remote side opens are closed at once. The listener lives as long as the session.

use std::net::SocketAddr;
use std::time::Duration;

use gost_smux::Session;
use gost_transport::Stream;
use socks_wire::{Address, ReplyCode};
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tracing::debug;

use super::bind::{announce_listener, listen_addr};
use super::{Socks5Handler, reply};
use crate::observe::log_session;
use crate::relay::{Transferred, relay};
use crate::rendezvous::listen_on;
use crate::{Error, Report};

/// First and longest pause after a failed accept on the bound port.
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(5);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

pub(super) async fn serve(
    h: &Socks5Handler,
    mut conn: Stream,
    addr: &Address,
    early: Vec<u8>,
    report: &mut Report,
) -> Result<(), Error> {
    let listener = match listen_addr(addr).await {
        Ok(sa) => listen_on(sa, &h.opts.bind_ports),
        Err(e) => Err(e.into()),
    };
    let (listener, bound) = announce_listener(h, &mut conn, listener).await?;
    report.target = Some(format!("mbind {bound}"));
    // Bytes that came with the request are the start of the client's smux frames.
    let session = Session::client(conn.prepend(early), h.opts.mux.clone())
        .map_err(|e| Error::Mux(e.to_string()))?;
    let mut peers: JoinSet<Transferred> = JoinSet::new();
    let mut total = Transferred::default();
    // After a failed accept (e.g. out of descriptors, which leaves the peer queued), pause before the next
    // one instead of spinning.
    let mut backoff = ACCEPT_BACKOFF_MIN;
    let resume = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(resume);
    let mut paused = false;
    let reason = loop {
        tokio::select! {
            reason = session.closed() => break reason,
            // The rtcp client never opens streams; close any it does.
            Some(stream) = session.accept_stream() => drop(stream),
            Some(done) = peers.join_next(), if !peers.is_empty() => {
                if let Ok(t) = done {
                    total.a_to_b += t.a_to_b;
                    total.b_to_a += t.b_to_a;
                }
            }
            () = &mut resume, if paused => paused = false,
            accepted = listener.accept(), if !paused => {
                let (peer, from) = match accepted {
                    Ok(p) => {
                        backoff = ACCEPT_BACKOFF_MIN;
                        p
                    }
                    Err(e) => {
                        debug!(error = %e, retry_in = ?backoff, "mbind accept failed");
                        resume.as_mut().reset(tokio::time::Instant::now() + backoff);
                        paused = true;
                        backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
                        continue;
                    }
                };
                let session = session.clone();
                let comp = h.opts.comp;
                peers.spawn(async move { serve_peer(&session, peer, from, comp).await });
            }
        }
    };
    drop(listener);
    debug!(%reason, "mbind session ended");
    while let Some(done) = peers.join_next().await {
        if let Ok(t) = done {
            total.a_to_b += t.a_to_b;
            total.b_to_a += t.b_to_a;
        }
    }
    // Report client ← peer bytes as "to client" and client → peer as "from client", like CONNECT.
    report.transferred = Transferred {
        a_to_b: total.b_to_a,
        b_to_a: total.a_to_b,
    };
    Ok(())
}

/// Announces one peer on a new stream and relays between them; writes the peer's `session` line.
async fn serve_peer(
    session: &Session,
    mut peer: TcpStream,
    from: SocketAddr,
    comp: bool,
) -> Transferred {
    let started = std::time::Instant::now();
    let from = SocketAddr::new(from.ip().to_canonical(), from.port());
    let (t, result) = match announce_peer(session, from, comp).await {
        Ok(mut stream) => {
            let (t, r) = relay(&mut peer, &mut stream).await;
            (t, r.map_err(Error::from))
        }
        Err(e) => (Transferred::default(), Err(e)),
    };
    // The peer started this session: bytes_in are the peer's.
    let ended = result.as_ref().map(|()| "closed");
    log_session("mbind peer", &from, &bound_of(&peer), t, started, ended);
    t
}

/// Opens the peer's stream and, unless `comp`, writes its SOCKS5 reply naming the peer.
async fn announce_peer(
    session: &Session,
    from: SocketAddr,
    comp: bool,
) -> Result<gost_smux::Stream, Error> {
    let mut stream = session
        .open_stream()
        .await
        .map_err(|e| Error::Mux(e.to_string()))?;
    if !comp {
        reply(&mut stream, ReplyCode::Succeeded, &Address::from(from)).await?;
    }
    Ok(stream)
}

/// The local address the peer connected to (the MBIND port), for the log.
fn bound_of(peer: &TcpStream) -> String {
    peer.local_addr()
        .map_or_else(|_| String::from("-"), |a| a.to_string())
}
