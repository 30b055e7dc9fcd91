//! BIND (0x02): listen, announce the listening address, accept exactly one peer, announce the peer,
//! then leave the relay of the control connection to the peer to the runner.
//!
//! What DST.ADDR means is [`crate::rendezvous`]'s: the unspecified address keeps GOST's "listen on this
//! port" (upstream treats every address so), any other names the expected peer (RFC 1928), so standard
//! clients that name their peer work. The first reply names the control connection's local IP (a
//! reachable address, not 0.0.0.0) or `publicAddr`. A port outside `bindPorts` gets 0x02, a taken one
//! 0x01, an unresolvable peer name 0x04. Unlike upstream, the wait for the peer is bounded
//! (`bind_accept_timeout`, then reply 0x06) and ends early when the client closes.

use std::net::SocketAddr;

use gost_transport::Stream;
use socks_wire::{Address, ReplyCode};

use super::{Socks5Handler, reply};
use crate::rendezvous::{Plan, Waited, relay_peer, wait_peer};
use crate::{Error, Report};

/// Resolves the address to listen on (MBIND, UDP-TUN bind mode): an IP as given, a name through the
/// system resolver.
pub(super) async fn listen_addr(addr: &Address) -> std::io::Result<SocketAddr> {
    match addr.to_socket_addr() {
        Some(sa) => Ok(sa),
        None => tokio::net::lookup_host(addr.to_string())
            .await?
            .next()
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no address")),
    }
}

/// The SOCKS5 reply for a listener that could not be opened.
pub(super) fn refusal(e: &Error) -> ReplyCode {
    match e {
        Error::PortNotAllowed(_) => ReplyCode::NotAllowed,
        _ => ReplyCode::GeneralFailure,
    }
}

pub(super) async fn serve(
    h: &Socks5Handler,
    mut conn: Stream,
    addr: &Address,
    mut early: Vec<u8>,
    report: &mut Report,
) -> Result<(), Error> {
    let plan = match Plan::of(addr).await {
        Ok(p) => p,
        Err(e) => {
            reply(&mut conn, ReplyCode::HostUnreachable, &Address::UNSPECIFIED).await?;
            return Err(e.into());
        }
    };
    let listener = match plan.listen(conn.local_addr(), &h.opts.bind_ports) {
        Ok(l) => l,
        Err(e) => {
            reply(&mut conn, refusal(&e), &Address::UNSPECIFIED).await?;
            return Err(e);
        }
    };
    let bound = listener.local_addr()?;
    let announced = h.announce(&conn, bound, false);
    reply(&mut conn, ReplyCode::Succeeded, &announced).await?;

    let timeout = h.opts.bind_accept_timeout;
    let waited = wait_peer(&listener, &plan, &mut conn, &mut early, timeout).await?;
    drop(listener);
    let (peer, peer_addr) = match waited {
        Waited::Peer(peer, from) => (peer, from),
        Waited::TimedOut => {
            reply(&mut conn, ReplyCode::TtlExpired, &Address::UNSPECIFIED).await?;
            return Err(Error::AcceptTimeout(timeout));
        }
        Waited::AcceptFailed(e) => {
            reply(&mut conn, ReplyCode::GeneralFailure, &Address::UNSPECIFIED).await?;
            return Err(e.into());
        }
    };
    report.target = Some(format!("bind {bound} peer {peer_addr}"));
    reply(&mut conn, ReplyCode::Succeeded, &Address::from(peer_addr)).await?;
    relay_peer(conn, peer, early, report).await
}
