//! Fixture of the adversarial and fault tests: an outbound that only ever reaches the test's own
//! loopback servers (so hostile requests can never send traffic off the host or resolve a name), and
//! the SOCKS5 + SOCKS4 server pair behind it. The resource counters they compare come from
//! `gost_test_support::resources`. Every test binary using it also has `mod common`.
#![allow(dead_code)] // each test binary uses a different subset

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gost_service::PacketConn;
use gost_service::socks_wire::Address;
use gost_service::{BoxFuture, DialError, Direct, Outbound, Users};
use gost_service::{Socks4Handler, Socks4Options, Socks5Handler, Socks5Options};
use gost_transport::Stream;
use tokio::net::UdpSocket;

/// Dials only the allowed socket addresses (through [`Direct`]); refuses every other target,
/// including every domain name, without touching the network. Counts what it was asked.
#[derive(Default)]
pub(crate) struct Fenced {
    allowed: Mutex<Vec<SocketAddr>>,
    direct: Direct,
    /// Connect requests for allowed targets.
    pub dials: AtomicUsize,
    /// Requests refused because the target was not allowed.
    pub refused: AtomicUsize,
}

impl Fenced {
    /// An outbound that reaches exactly `allowed`.
    pub(crate) fn new(allowed: impl IntoIterator<Item = SocketAddr>) -> Arc<Fenced> {
        Arc::new(Fenced {
            allowed: Mutex::new(allowed.into_iter().collect()),
            direct: Direct::new(Duration::from_millis(500)),
            ..Default::default()
        })
    }

    /// Adds a target the outbound may reach.
    pub(crate) fn allow(&self, addr: SocketAddr) {
        self.allowed.lock().unwrap().push(addr);
    }

    fn check(&self, target: &Address) -> Result<SocketAddr, DialError> {
        match target.to_socket_addr() {
            Some(sa) if self.allowed.lock().unwrap().contains(&sa) => Ok(sa),
            _ => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                Err(DialError::NotAllowed(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    format!("{target} is outside the test's fence"),
                )))
            }
        }
    }
}

impl Outbound for Fenced {
    fn connect<'a>(&'a self, target: &'a Address) -> BoxFuture<'a, Result<Stream, DialError>> {
        Box::pin(async move {
            self.check(target)?;
            self.dials.fetch_add(1, Ordering::Relaxed);
            self.direct.connect(target).await
        })
    }

    fn resolve<'a>(&'a self, target: &'a Address) -> BoxFuture<'a, Result<SocketAddr, DialError>> {
        Box::pin(async move { self.check(target) })
    }

    fn udp(&self) -> BoxFuture<'_, Result<PacketConn, DialError>> {
        Box::pin(async move {
            UdpSocket::bind("127.0.0.1:0")
                .await
                .map(PacketConn::direct)
                .map_err(DialError::Other)
        })
    }
}

/// A SOCKS5 server with `s5` and a SOCKS4 server with the userids `s4_users`, both cutting handshakes
/// at `handshake_timeout` and reaching only `fence`.
pub(crate) async fn fenced_servers(
    fence: &Arc<Fenced>,
    handshake_timeout: Duration,
    s5: Socks5Options,
    s4_users: Users,
) -> (crate::common::Running, crate::common::Running) {
    let s5 = Socks5Options {
        handshake_timeout,
        ..s5
    };
    let s4 = Socks4Options {
        users: s4_users,
        handshake_timeout,
        ..Default::default()
    };
    (
        crate::common::serve(Socks5Handler::with_outbound(s5, fence.clone())).await,
        crate::common::serve(Socks4Handler::with_outbound(s4, fence.clone())).await,
    )
}
