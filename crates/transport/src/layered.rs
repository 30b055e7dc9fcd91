//! An accept queue for listeners whose connections need a handshake (TLS, WebSocket) before use.
//!
//! A background task accepts TCP connections and runs each handshake in its own task, so one slow or
//! hostile client never holds up the others (Go's `tls.Listener` gets the same effect by handshaking lazily).
//! Finished connections wait in a bounded queue (`backlog`, 128 like upstream's ws listener); at most
//! [`MAX_HANDSHAKES`] handshakes run at once, each bounded by its own timeout. Everything that can refuse a
//! client by its address acts before its handshake: the listener's [`crate::Gate`] (admission, connection
//! limits) at accept, then a per-client-IP cap on handshake slots
//! ([`crate::tcp::TcpOptions::handshakes_per_ip`]), then a short deadline for the client's first byte
//! ([`crate::tcp::TcpOptions::first_byte_timeout`]), so idle sockets from one address can neither take
//! every slot nor hold one for the whole handshake timeout. Dropping the listener stops the task and every
//! handshake in flight.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::{Mutex, mpsc};
use tokio::task::{JoinHandle, JoinSet};

use crate::tcp::{TcpListener, TcpOptions};
use crate::{BoxFuture, Error, Gate, GateSlot, Listener, Pass, RateLimited, Stream};

/// Handshakes running at once per listener; further connections wait in the kernel's accept queue.
pub(crate) const MAX_HANDSHAKES: usize = 1024;

/// Accepted connections waiting for `accept()`, unless the listener says otherwise.
pub const DEFAULT_BACKLOG: usize = 128;

type Accepted = Result<(Stream, SocketAddr, Pass), Error>;

/// A listener that yields connections after `handshake` succeeded on them.
#[derive(Debug)]
pub(crate) struct Layered {
    local: SocketAddr,
    gate: GateSlot,
    queue: Mutex<mpsc::Receiver<Accepted>>,
    task: JoinHandle<()>,
}

impl Layered {
    /// Starts accepting on `tcp` with the handshake limits of `opts`; `what` names the handshake in logs
    /// ("tls", "ws", "wss"); at most `backlog` finished connections wait for `accept()`.
    pub(crate) fn spawn<H, F>(
        tcp: TcpListener,
        opts: &TcpOptions,
        what: &'static str,
        backlog: usize,
        handshake: H,
    ) -> Layered
    where
        H: Fn(Stream) -> F + Send + Sync + 'static,
        F: Future<Output = Result<Stream, Error>> + Send + 'static,
    {
        let local = tcp.local_addr();
        let gate = tcp.gate_slot();
        let (tx, rx) = mpsc::channel(backlog.max(1));
        let limits = Limits {
            first_byte: opts.first_byte_timeout,
            per_ip: opts.handshakes_per_ip.max(1),
        };
        let task = tokio::spawn(accept_loop(tcp, what, limits, Arc::new(handshake), tx));
        Layered {
            local,
            gate,
            queue: Mutex::new(rx),
            task,
        }
    }
}

impl Drop for Layered {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Listener for Layered {
    /// The gate runs in the TCP accept, before the handshake.
    fn set_gate(&self, gate: Arc<dyn Gate>) -> bool {
        self.gate.install(gate)
    }

    fn accept(&self) -> BoxFuture<'_, Result<(Stream, SocketAddr), Error>> {
        crate::accept_without_pass(self)
    }

    fn accept_with_pass(&self) -> BoxFuture<'_, Accepted> {
        Box::pin(async move {
            match self.queue.lock().await.recv().await {
                Some(r) => r,
                None => Err(Error::Io(io::Error::new(
                    io::ErrorKind::NotConnected,
                    "listener stopped",
                ))),
            }
        })
    }

    fn local_addr(&self) -> SocketAddr {
        self.local
    }
}

/// `impl Listener` for a public listener type whose `inner` field is a [`Layered`] listener (`tls`, `ws`,
/// `wss`): every method is the layered listener's. A macro because those types differ only in how they
/// are built, and a public type cannot expose the crate-private `Layered`.
macro_rules! layered_listener {
    ($listener:ty) => {
        impl $crate::Listener for $listener {
            fn accept(
                &self,
            ) -> $crate::BoxFuture<'_, Result<($crate::Stream, std::net::SocketAddr), $crate::Error>>
            {
                self.inner.accept()
            }

            fn accept_with_pass(
                &self,
            ) -> $crate::BoxFuture<
                '_,
                Result<($crate::Stream, std::net::SocketAddr, $crate::Pass), $crate::Error>,
            > {
                self.inner.accept_with_pass()
            }

            fn local_addr(&self) -> std::net::SocketAddr {
                self.inner.local_addr()
            }

            fn set_gate(&self, gate: std::sync::Arc<dyn $crate::Gate>) -> bool {
                self.inner.set_gate(gate)
            }
        }
    };
}
pub(crate) use layered_listener;

/// The per-connection limits of the accept loop (see the module docs).
#[derive(Debug, Clone, Copy)]
struct Limits {
    first_byte: Duration,
    per_ip: usize,
}

async fn accept_loop<H, F>(
    tcp: TcpListener,
    what: &'static str,
    limits: Limits,
    handshake: Arc<H>,
    tx: mpsc::Sender<Accepted>,
) where
    H: Fn(Stream) -> F + Send + Sync + 'static,
    F: Future<Output = Result<Stream, Error>> + Send + 'static,
{
    let mut running = JoinSet::new();
    let in_flight = InFlight::default();
    let mut refusals = RateLimited::new(Duration::from_secs(5));
    loop {
        tokio::select! {
            r = tcp.accept_tcp_with_pass(), if running.len() < MAX_HANDSHAKES => match r {
                Ok((s, peer, pass)) => {
                    let Some(place) = in_flight.take(peer.ip(), limits.per_ip) else {
                        if let Some(suppressed) = refusals.allow() {
                            tracing::warn!(%peer, limit = limits.per_ip, suppressed,
                                "{what} handshakes of this client IP at their limit; connection closed");
                        }
                        continue;
                    };
                    let (handshake, tx) = (handshake.clone(), tx.clone());
                    running.spawn(async move {
                        let shaken = match first_byte(&s, limits.first_byte).await {
                            Ok(()) => handshake(Stream::from_tcp(s)).await,
                            Err(e) => Err(e),
                        };
                        drop(place);
                        match shaken {
                            Ok(s) => {
                                // The listener may be gone by now; then the connection is just dropped.
                                let _ = tx.send(Ok((s, peer, pass))).await;
                            }
                            Err(e) => tracing::debug!(%peer, "{what} handshake failed: {e}"),
                        }
                    });
                }
                Err(e) => {
                    let exhausted = e.is_resource_exhaustion();
                    if tx.send(Err(e)).await.is_err() {
                        return;
                    }
                    if exhausted {
                        // Out of descriptors or memory: give in-flight connections time to finish.
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            },
            Some(_) = running.join_next(), if !running.is_empty() => {}
            () = tx.closed() => return,
        }
    }
}

/// Waits until the client sends its first byte (TLS and WebSocket clients speak first), at most
/// `deadline`; an idle or closed connection is an error.
async fn first_byte(s: &TcpStream, deadline: Duration) -> Result<(), Error> {
    let mut byte = [0u8; 1];
    match tokio::time::timeout(deadline, s.peek(&mut byte)).await {
        Ok(Ok(0)) => Err(Error::Io(io::ErrorKind::UnexpectedEof.into())),
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(Error::Io(e)),
        Err(_) => Err(Error::HandshakeTimeout {
            what: "first byte",
            timeout: deadline,
        }),
    }
}

/// Connections of each client IP between accept and the end of their handshake.
#[derive(Debug, Default, Clone)]
struct InFlight(Arc<std::sync::Mutex<HashMap<IpAddr, usize>>>);

impl InFlight {
    /// A place for one more connection of `ip`, unless it already has `limit`.
    fn take(&self, ip: IpAddr, limit: usize) -> Option<Place> {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let n = map.entry(ip).or_insert(0);
        if *n >= limit {
            return None;
        }
        *n += 1;
        Some(Place {
            in_flight: self.clone(),
            ip,
        })
    }
}

/// One connection's place in [`InFlight`]; dropping it frees the place (and the IP's entry at zero, so
/// the table never holds more entries than there are connections in flight).
struct Place {
    in_flight: InFlight,
    ip: IpAddr,
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut map = self
            .in_flight
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_per_ip_are_capped_and_freed() {
        let f = InFlight::default();
        let (a, b): (IpAddr, IpAddr) = ("127.0.0.2".parse().unwrap(), "127.0.0.1".parse().unwrap());
        let p1 = f.take(a, 2).unwrap();
        let _p2 = f.take(a, 2).unwrap();
        assert!(f.take(a, 2).is_none());
        let q = f.take(b, 2).unwrap();
        drop(p1);
        assert!(f.take(a, 2).is_some());
        drop(q);
        assert!(!f.0.lock().unwrap().contains_key(&b));
    }
}
