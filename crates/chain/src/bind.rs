//! Remote listeners opened on a SOCKS5 node: [`BindListener`] (plain BIND, one peer) and
//! [`MuxBindListener`] (GOST's MBIND: an smux session on the control connection, one stream per peer).

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use gost_smux::{Config as MuxConfig, Session};
use gost_transport::Stream;
use socks_wire::{Address, ReplyCode};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tracing::debug;

use crate::Error;
use crate::connector::{read_reply, second_reply};

/// A plain BIND waiting for its one peer.
#[derive(Debug)]
pub struct BindListener {
    stream: Stream,
    rest: Vec<u8>,
    bound: Address,
    node: Address,
}

impl BindListener {
    pub(crate) fn new(
        stream: Stream,
        rest: Vec<u8>,
        bound: Address,
        node: &Address,
    ) -> BindListener {
        BindListener {
            stream,
            rest,
            bound,
            node: node.clone(),
        }
    }

    /// Where the server listens (its first reply).
    pub fn bound(&self) -> &Address {
        &self.bound
    }

    /// Waits (without a deadline, as upstream's server does) for the peer; returns the control connection,
    /// now carrying the peer's bytes, and the peer's address from the second reply.
    pub async fn accept(mut self) -> Result<(Stream, Address), Error> {
        let reply = second_reply(&mut self.stream, &mut self.rest, &self.node).await?;
        Ok((self.stream.prepend(self.rest), reply.addr))
    }
}

type Accepted = Result<(Stream, SocketAddr), Error>;

/// An MBIND listener: each peer that connects to the node's bound port arrives as an smux stream that
/// starts with a SOCKS5 reply naming the peer. Dropping it closes the session and so the remote listener.
#[derive(Debug)]
pub struct MuxBindListener {
    session: Arc<Session>,
    bound: Address,
    incoming: mpsc::Receiver<Accepted>,
    task: tokio::task::JoinHandle<()>,
}

impl MuxBindListener {
    /// Becomes the smux server on `io` (the control connection after the MBIND reply) and starts
    /// accepting streams; each stream's reply must arrive within `reply_timeout`.
    pub(crate) fn start(
        io: Stream,
        bound: Address,
        mux: &MuxConfig,
        reply_timeout: Duration,
    ) -> Result<MuxBindListener, Error> {
        let node = io
            .peer_addr()
            .map_or_else(|| "MBIND".into(), |a| a.to_string());
        let session = Arc::new(Session::server(io, mux.clone())?);
        let (tx, incoming) = mpsc::channel(64);
        let task = tokio::spawn(accept_loop(session.clone(), tx, reply_timeout, node));
        Ok(MuxBindListener {
            session,
            bound,
            incoming,
            task,
        })
    }

    /// Where the server listens (its MBIND reply).
    pub fn bound(&self) -> &Address {
        &self.bound
    }

    /// The next peer: a stream carrying its bytes and its address. Fails once the session is gone
    /// (control connection closed, keepalive timeout): the caller re-binds.
    pub async fn accept(&mut self) -> Accepted {
        match self.incoming.recv().await {
            Some(accepted) => accepted,
            None => {
                let reason = self
                    .session
                    .close_reason()
                    .map_or_else(|| "closed".to_owned(), |r| r.to_string());
                Err(Error::Io(std::io::Error::new(
                    std::io::ErrorKind::ConnectionAborted,
                    format!("MBIND session ended: {reason}"),
                )))
            }
        }
    }

    /// Resolves when the smux session has ended.
    pub async fn closed(&self) {
        self.session.closed().await;
    }
}

impl Drop for MuxBindListener {
    fn drop(&mut self) {
        self.task.abort();
        self.session.close();
    }
}

/// Accepts smux streams and reads each one's SOCKS5 reply in its own task, so a slow stream delays no other.
async fn accept_loop(
    session: Arc<Session>,
    tx: mpsc::Sender<Accepted>,
    reply_timeout: Duration,
    node: String,
) {
    let mut readers = JoinSet::new();
    loop {
        tokio::select! {
            stream = session.accept_stream() => {
                let Some(stream) = stream else { break };
                let (tx, node) = (tx.clone(), node.clone());
                readers.spawn(async move {
                    let accepted = tokio::time::timeout(reply_timeout, peer_stream(stream, &node))
                        .await
                        .unwrap_or_else(|_| Err(Error::Timeout {
                            what: "MBIND stream reply",
                            node: node.clone(),
                            timeout: reply_timeout,
                        }));
                    if let Err(e) = &accepted {
                        // One bad stream is not the listener's failure: log and drop it.
                        debug!(%node, error = %e, "dropping MBIND stream");
                        return;
                    }
                    let _ = tx.send(accepted).await;
                });
            }
            Some(_) = readers.join_next(), if !readers.is_empty() => {}
        }
    }
    while readers.join_next().await.is_some() {}
}

/// Reads the per-stream reply (`05 00 00 ATYP peer`) and wraps the rest as a [`Stream`].
async fn peer_stream(stream: gost_smux::Stream, node: &str) -> Accepted {
    let mut s = Stream::new(stream, None, None);
    let mut rest = Vec::new();
    let reply = read_reply(&mut s, &mut rest, &node).await?;
    if reply.code != ReplyCode::Succeeded {
        return Err(Error::Refused {
            node: node.to_string(),
            command: "MBIND stream",
            target: reply.addr.to_string(),
            code: reply.code,
            hint: "",
        });
    }
    let peer = reply
        .addr
        .to_socket_addr()
        .unwrap_or_else(|| SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)));
    let s = s.prepend(rest);
    Ok((Stream::new(s, Some(peer), None), peer))
}
