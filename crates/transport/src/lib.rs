//! Listeners and dialers that carry gost-rs traffic: plain TCP, TLS, WebSocket and secure WebSocket.
//!
//! Every listener yields, and every dialer returns, the same [`Stream`] type, so SOCKS handlers and
//! connectors never know what carries their bytes. A [`Dialer`] can open a first connection
//! ([`Dialer::dial`]) or layer its transport over a stream it is given ([`Dialer::handshake`]), which is how
//! hop N+1 of a proxy chain runs inside hop N. Dynamic dispatch happens once per connection at setup; the
//! data path is one `match` per read or write and allocates nothing per chunk.
//!
//! Modules:
//! * [`tcp`]: [`tcp::TcpListener`], [`tcp::TcpDialer`] (dual-stack `:port`, keepalive, Happy Eyeballs).
//! * [`Egress`]: upstream's `interface` and `so_mark` on outgoing TCP and UDP sockets.
//! * [`tls`]: [`tls::TlsListener`], [`tls::TlsDialer`], and [`tls::ServerTls`] / [`tls::ClientTls`], which
//!   run a TLS handshake over *any* [`Stream`] (SOCKS5 methods 0x80/0x82 negotiate TLS in-band).
//! * [`ws`]: [`ws::WsListener`], [`ws::WsDialer`] for `ws` and `wss`, wire-compatible with upstream GOST.
//! * [`kcp`]: [`kcp::KcpListener`], [`kcp::KcpDialer`]: smux streams over kcp-go compatible KCP sessions.
//! * [`AnyListener`]: any of the listeners above, for servers that choose the transport at run time.
//!
//! ```no_run
//! use gost_transport::{tcp::{TcpDialer, TcpListener, TcpOptions}, Dialer, Listener};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # async fn demo() -> Result<(), gost_transport::Error> {
//! let listener = TcpListener::bind("127.0.0.1:0", TcpOptions::default()).await?;
//! let addr = listener.local_addr().into(); // a socks_wire::Address
//! let dialer = TcpDialer::new(TcpOptions::default());
//! let (mut client, (mut server, _peer)) = tokio::try_join!(dialer.dial(&addr), listener.accept())?;
//! client.write_all(b"ping").await?;
//! let mut buf = [0; 4];
//! server.read_exact(&mut buf).await?;
//! # Ok(()) }
//! ```

mod addr;
mod any;
mod egress;
mod error;
mod handshake;
pub mod kcp;
mod layered;
mod rate;
mod stream;
pub mod tcp;
pub mod tls;
pub mod ws;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use socks_wire::Address;

pub use any::AnyListener;
pub use egress::{Egress, Interface};
pub use error::{Error, is_resource_exhaustion};
pub use handshake::MAX_HANDSHAKE;
pub use rate::RateLimited;
pub use stream::{Io, Stream};

/// A boxed, `Send` future: what the dyn-compatible traits return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Accepts connections of one transport. Dropping the listener closes it.
pub trait Listener: Send + Sync {
    /// Waits for the next connection whose transport handshake has finished; returns it and the peer address.
    ///
    /// Errors are per attempt (e.g. out of file descriptors); the listener keeps working after one.
    fn accept(&self) -> BoxFuture<'_, Result<(Stream, SocketAddr), Error>>;

    /// The address the listener is bound to.
    fn local_addr(&self) -> SocketAddr;

    /// Installs `gate`, asked about every accepted connection before a byte is read from it (before a
    /// TLS or WebSocket handshake); refused connections are closed and never returned by `accept`.
    /// Returns `false` when this listener cannot (the default), so the caller checks after `accept`.
    fn set_gate(&self, gate: Arc<dyn Gate>) -> bool {
        let _ = gate;
        false
    }

    /// Like [`Listener::accept`], also returning the [`Pass`] the installed [`Gate`] gave the connection,
    /// which the caller keeps as long as it serves the connection. [`Listener::accept`] drops it.
    /// The default (a listener without a gate) returns an empty pass.
    fn accept_with_pass(&self) -> BoxFuture<'_, Result<(Stream, SocketAddr, Pass), Error>> {
        Box::pin(async move {
            let (s, peer) = self.accept().await?;
            Ok((s, peer, Pass::none()))
        })
    }
}

/// [`Listener::accept`] of a listener whose [`Listener::accept_with_pass`] does the work: the pass is
/// dropped with the call (a gate's limits then count the connection as gone).
pub(crate) fn accept_without_pass<L: Listener + ?Sized>(
    listener: &L,
) -> BoxFuture<'_, Result<(Stream, SocketAddr), Error>> {
    Box::pin(async move {
        let (s, peer, _pass) = listener.accept_with_pass().await?;
        Ok((s, peer))
    })
}

/// Decides from the peer address alone whether an accepted connection may be served (e.g. an
/// admission list or a per-client connection limit). Called on the accept path, so it must not block.
pub trait Gate: Send + Sync + 'static {
    /// `Some(pass)` serves the connection, which holds `pass` until it ends (or its handshake fails);
    /// `None` closes it at once.
    fn admit(&self, peer: SocketAddr) -> Option<Pass>;
}

/// What a [`Gate`] hands out with a connection it admits: whatever must live exactly as long as the
/// connection (e.g. its place in a per-client limit); dropping the pass gives it back.
#[derive(Default)]
pub struct Pass(Option<Box<dyn Send + Sync>>);

impl Pass {
    /// A pass that holds nothing.
    pub fn none() -> Pass {
        Pass(None)
    }

    /// A pass holding `held` until it is dropped.
    pub fn new(held: impl Send + Sync + 'static) -> Pass {
        Pass(Some(Box::new(held)))
    }
}

impl std::fmt::Debug for Pass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Pass(held)"
        } else {
            "Pass(none)"
        })
    }
}

/// Where a listener keeps its [`Gate`]: installed once, read on every accept.
#[derive(Default, Clone)]
pub(crate) struct GateSlot(Arc<std::sync::OnceLock<Arc<dyn Gate>>>);

impl GateSlot {
    pub(crate) fn install(&self, gate: Arc<dyn Gate>) -> bool {
        self.0.set(gate).is_ok()
    }

    pub(crate) fn admit(&self, peer: SocketAddr) -> Option<Pass> {
        match self.0.get() {
            Some(g) => g.admit(peer),
            None => Some(Pass::none()),
        }
    }
}

impl std::fmt::Debug for GateSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "GateSlot(set)"
        } else {
            "GateSlot(none)"
        })
    }
}

/// Opens connections of one transport, or layers the transport over an existing stream.
pub trait Dialer: Send + Sync {
    /// Opens a first connection to `addr` (an IP address, or a name this dialer resolves).
    fn dial<'a>(&'a self, addr: &'a Address) -> BoxFuture<'a, Result<Stream, Error>>;

    /// Runs this transport's handshake over `stream` (hop N+1 over hop N); `addr` is the node address, used
    /// for the TLS server name and the WebSocket `Host`. For plain TCP this returns `stream` unchanged.
    fn handshake<'a>(
        &'a self,
        stream: Stream,
        addr: &'a Address,
    ) -> BoxFuture<'a, Result<Stream, Error>>;
}
