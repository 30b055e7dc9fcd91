//! An accept queue for listeners whose connections need a handshake (TLS, WebSocket) before use.
//!
//! A background task accepts TCP connections and runs each handshake in its own task, so one slow or
//! hostile client never holds up the others (Go's `tls.Listener` gets the same effect by handshaking lazily).
//! Finished connections wait in a bounded queue (`backlog`, 128 like upstream's ws listener); at most
//! [`MAX_HANDSHAKES`] handshakes run at once, each bounded by its own timeout. Dropping the listener stops the
//! task and every handshake in flight.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, mpsc};
use tokio::task::{JoinHandle, JoinSet};

use crate::tcp::TcpListener;
use crate::{BoxFuture, Error, Gate, GateSlot, Listener, Stream};

/// Handshakes running at once per listener; further connections wait in the kernel's accept queue.
pub(crate) const MAX_HANDSHAKES: usize = 1024;

/// Accepted connections waiting for `accept()`.
pub(crate) const DEFAULT_BACKLOG: usize = 128;

type Accepted = Result<(Stream, SocketAddr), Error>;

/// A listener that yields connections after `handshake` succeeded on them.
#[derive(Debug)]
pub(crate) struct Layered {
    local: SocketAddr,
    gate: GateSlot,
    queue: Mutex<mpsc::Receiver<Accepted>>,
    task: JoinHandle<()>,
}

impl Layered {
    /// Starts accepting on `tcp`; `what` names the handshake in logs ("tls", "ws", "wss").
    pub(crate) fn spawn<H, F>(tcp: TcpListener, what: &'static str, handshake: H) -> Layered
    where
        H: Fn(Stream) -> F + Send + Sync + 'static,
        F: Future<Output = Result<Stream, Error>> + Send + 'static,
    {
        let local = tcp.local_addr();
        let gate = tcp.gate_slot();
        let (tx, rx) = mpsc::channel(DEFAULT_BACKLOG);
        let task = tokio::spawn(accept_loop(tcp, what, Arc::new(handshake), tx));
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

    fn accept(&self) -> BoxFuture<'_, Accepted> {
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

async fn accept_loop<H, F>(
    tcp: TcpListener,
    what: &'static str,
    handshake: Arc<H>,
    tx: mpsc::Sender<Accepted>,
) where
    H: Fn(Stream) -> F + Send + Sync + 'static,
    F: Future<Output = Result<Stream, Error>> + Send + 'static,
{
    let mut running = JoinSet::new();
    loop {
        tokio::select! {
            r = tcp.accept_tcp(), if running.len() < MAX_HANDSHAKES => match r {
                Ok((s, peer)) => {
                    let (handshake, tx) = (handshake.clone(), tx.clone());
                    running.spawn(async move {
                        match handshake(Stream::from_tcp(s)).await {
                            Ok(s) => {
                                // The listener may be gone by now; then the connection is just dropped.
                                let _ = tx.send(Ok((s, peer))).await;
                            }
                            Err(e) => tracing::debug!(%peer, "{what} handshake failed: {e}"),
                        }
                    });
                }
                Err(e) => {
                    let exhausted = is_resource_exhaustion(&e);
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

fn is_resource_exhaustion(e: &Error) -> bool {
    let Error::Io(e) = e else { return false };
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}
