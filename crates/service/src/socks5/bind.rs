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
use tokio::net::TcpListener;

use super::{Socks5Handler, reply};
use crate::relay::hand_off;
use crate::rendezvous::{Plan, wait_peer};
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

/// The first reply of a BIND or MBIND: the refusal of a listener that could not be opened, or the
/// address announced for the one that was. Returns the listener and the address it is bound to.
pub(super) async fn announce_listener(
    h: &Socks5Handler,
    conn: &mut Stream,
    listener: Result<TcpListener, Error>,
) -> Result<(TcpListener, SocketAddr), Error> {
    let listener = match listener {
        Ok(l) => l,
        Err(e) => {
            reply(conn, refusal(&e), &Address::UNSPECIFIED).await?;
            return Err(e);
        }
    };
    let bound = listener.local_addr()?;
    let announced = h.announce(conn, bound, false);
    reply(conn, ReplyCode::Succeeded, &announced).await?;
    Ok((listener, bound))
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
    let listener = plan.listen(conn.local_addr(), &h.opts.bind_ports);
    let (listener, bound) = announce_listener(h, &mut conn, listener).await?;

    let timeout = h.opts.bind_accept_timeout;
    let (peer, peer_addr) = match wait_peer(listener, &plan, &mut conn, &mut early, timeout).await?
    {
        Ok(found) => found,
        Err(e) => {
            let code = match e {
                Error::AcceptTimeout(_) => ReplyCode::TtlExpired,
                _ => ReplyCode::GeneralFailure,
            };
            reply(&mut conn, code, &Address::UNSPECIFIED).await?;
            return Err(e);
        }
    };
    report.target = Some(format!("bind {bound} peer {peer_addr}"));
    reply(&mut conn, ReplyCode::Succeeded, &Address::from(peer_addr)).await?;
    hand_off(conn, Stream::from_tcp(peer), &early, report).await
}
