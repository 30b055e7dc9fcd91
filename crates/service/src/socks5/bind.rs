//! BIND (0x02): listen on the requested address, announce it, accept exactly one peer, announce the peer,
//! then relay the control connection to it.
//!
//! As upstream, DST.ADDR:DST.PORT is the address to listen on (port 0 = ephemeral) and the first reply
//! names the control connection's local IP (a reachable address, not 0.0.0.0). Unlike upstream, the wait
//! for the peer is bounded (`bind_accept_timeout`, then reply 0x06) and ends early when the client closes.

use std::net::SocketAddr;

use gost_transport::Stream;
use socks_wire::{Address, ReplyCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::{Socks5Handler, reply};
use crate::relay::{Transferred, relay_streams};
use crate::{Error, Report};

/// Most bytes held back from a client that writes before its peer arrives; beyond it we stop reading.
const MAX_EARLY: usize = 64 * 1024;

/// Resolves the address to listen on: an IP as given, a name through the system resolver.
pub(super) async fn listen_addr(addr: &Address) -> std::io::Result<SocketAddr> {
    match addr.to_socket_addr() {
        Some(sa) => Ok(sa),
        None => tokio::net::lookup_host(addr.to_string())
            .await?
            .next()
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no address")),
    }
}

pub(super) async fn serve(
    h: &Socks5Handler,
    mut conn: Stream,
    addr: &Address,
    mut early: Vec<u8>,
    report: &mut Report,
) -> Result<(), Error> {
    let listener = match listen_addr(addr).await.and_then(bind_strict) {
        Ok(l) => l,
        Err(e) => {
            reply(&mut conn, ReplyCode::GeneralFailure, &Address::UNSPECIFIED).await?;
            return Err(e.into());
        }
    };
    let bound = listener.local_addr()?;
    let announced = h.announce(&conn, bound, false);
    reply(&mut conn, ReplyCode::Succeeded, &announced).await?;

    let timeout = h.opts.bind_accept_timeout;
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    let mut chunk = [0u8; 2048];
    let peer = loop {
        tokio::select! {
            accepted = listener.accept() => break accepted,
            _ = &mut deadline => {
                reply(&mut conn, ReplyCode::TtlExpired, &Address::UNSPECIFIED).await?;
                return Err(Error::AcceptTimeout(timeout));
            }
            n = conn.read(&mut chunk), if early.len() < MAX_EARLY => match n? {
                0 => return Err(Error::Io(std::io::ErrorKind::UnexpectedEof.into())),
                n => early.extend_from_slice(&chunk[..n]),
            },
        }
    };
    drop(listener);
    let (mut peer, peer_addr) = match peer {
        Ok(p) => p,
        Err(e) => {
            reply(&mut conn, ReplyCode::GeneralFailure, &Address::UNSPECIFIED).await?;
            return Err(e.into());
        }
    };
    let peer_addr = SocketAddr::new(peer_addr.ip().to_canonical(), peer_addr.port());
    report.target = Some(format!("bind {bound} peer {peer_addr}"));
    reply(&mut conn, ReplyCode::Succeeded, &Address::from(peer_addr)).await?;
    if !early.is_empty() {
        peer.write_all(&early).await?;
    }
    let (t, result) = relay_streams(conn, Stream::from_tcp(peer)).await;
    report.transferred = Transferred {
        a_to_b: t.a_to_b + early.len() as u64,
        b_to_a: t.b_to_a,
    };
    Ok(result?)
}

/// Binds exactly `addr`: a port another socket listens on fails, as upstream's "strict" bind does.
///
/// SO_REUSEADDR is set as Go sets it on every listener: on Linux it still refuses a port with a live
/// listener, but lets a remote-forwarding port be bound again while connections of its previous listener
/// sit in TIME_WAIT (otherwise `rtcp` cannot come back after its control connection drops). The backlog
/// is large enough for a burst of peers; a full accept queue makes some stacks reset new connections.
pub(super) fn bind_strict(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}
