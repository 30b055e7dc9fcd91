//! [`AnyListener`]: one listener type over every transport of this crate, so a server that picks its
//! transport at run time (from a config file) holds a concrete listener rather than a boxed one.

use std::net::SocketAddr;

use crate::kcp::KcpListener;
use crate::tcp::TcpListener;
use crate::tls::TlsListener;
use crate::ws::WsListener;
use crate::{BoxFuture, Error, Listener, Pass, Stream};

/// A bound listener of any supported type.
#[derive(Debug)]
pub enum AnyListener {
    /// `tcp`.
    Tcp(TcpListener),
    /// `tls`.
    Tls(TlsListener),
    /// `ws` and `wss`.
    Ws(WsListener),
    /// `kcp`.
    Kcp(KcpListener),
}

impl Listener for AnyListener {
    fn accept(&self) -> BoxFuture<'_, Result<(Stream, SocketAddr), Error>> {
        match self {
            AnyListener::Tcp(l) => l.accept(),
            AnyListener::Tls(l) => l.accept(),
            AnyListener::Ws(l) => l.accept(),
            AnyListener::Kcp(l) => l.accept(),
        }
    }

    fn accept_with_pass(&self) -> BoxFuture<'_, Result<(Stream, SocketAddr, Pass), Error>> {
        match self {
            AnyListener::Tcp(l) => l.accept_with_pass(),
            AnyListener::Tls(l) => l.accept_with_pass(),
            AnyListener::Ws(l) => l.accept_with_pass(),
            AnyListener::Kcp(l) => l.accept_with_pass(),
        }
    }

    fn local_addr(&self) -> SocketAddr {
        match self {
            AnyListener::Tcp(l) => l.local_addr(),
            AnyListener::Tls(l) => l.local_addr(),
            AnyListener::Ws(l) => l.local_addr(),
            AnyListener::Kcp(l) => l.local_addr(),
        }
    }

    fn set_gate(&self, gate: std::sync::Arc<dyn crate::Gate>) -> bool {
        match self {
            AnyListener::Tcp(l) => l.set_gate(gate),
            AnyListener::Tls(l) => l.set_gate(gate),
            AnyListener::Ws(l) => l.set_gate(gate),
            AnyListener::Kcp(l) => l.set_gate(gate),
        }
    }
}
