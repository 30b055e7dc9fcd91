//! Closing TLS nested in TLS (a `tls` transport carrying SOCKS5 method 0x80) after a half-close must not
//! reset the connection: the data written after the peer's close_notify has to arrive in full.
//!
//! The peer's shutdown sends two close_notify records, the inner one and then the outer one. A side that
//! reads the inner one sees EOF and stops reading; if the outer record reaches its socket afterwards and is
//! still unread when the socket is closed, Linux answers with a RST instead of a FIN, and a RST throws away
//! whatever the closing side still had queued for sending. The tests make that ordering certain: the client's
//! outer close_notify is held back until the server has consumed everything before it, the client reads
//! nothing until the server has closed, and its small receive window keeps most of the server's reply in the
//! server's send queue, where a RST would discard it. Both orders are covered: the server replying after the
//! client's half-close (its shutdown comes last) and replying before it (its read of EOF comes last).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use gost_transport::Stream;
use gost_transport::tls::{CLOSE_DRAIN_TIMEOUT, ClientTls, ServerTls};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{Notify, oneshot};

/// What the server writes after the client's half-close: far more than the client's receive window.
const TAIL: usize = 192 * 1024;

/// Holds the client's outer close (close_notify and FIN) back until the server has consumed the inner one.
#[derive(Clone, Default)]
struct Gate {
    /// Notified when the client's inner close_notify has been written (its outer shutdown was reached).
    inner_sent: Arc<Notify>,
    /// Set once `inner_sent` fired: from then on the server's outer layer running dry means it has read
    /// everything up to and including the inner close_notify.
    armed: Arc<AtomicBool>,
    /// Lets the client's outer shutdown proceed.
    release: Arc<Notify>,
}

/// Which end an outer layer is, and so what it does with the [`Gate`].
#[derive(Clone, Copy, PartialEq)]
enum End {
    /// The client's outer layer: its shutdown waits for [`Gate::release`].
    HeldShutdown,
    /// The server's outer layer: once armed, running out of bytes to read releases the client's outer close.
    ReleaseWhenDry,
}

/// An outer TLS layer under the inner one, playing its [`End`]'s part with the gate.
struct Gated {
    inner: Stream,
    gate: Gate,
    end: End,
    released: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
}

impl Gated {
    /// `inner` wrapped, as the stream the inner TLS layer runs on.
    fn stream(inner: Stream, gate: &Gate, end: End) -> Stream {
        let gated = Gated {
            inner,
            gate: gate.clone(),
            end,
            released: None,
        };
        Stream::new(gated, None, None)
    }

    fn inner(self: Pin<&mut Self>) -> Pin<&mut Stream> {
        Pin::new(&mut self.get_mut().inner)
    }
}

impl AsyncRead for Gated {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context,
        buf: &mut ReadBuf,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        let dry = r.is_pending() && this.end == End::ReleaseWhenDry;
        if dry && this.gate.armed.load(Ordering::SeqCst) {
            this.gate.release.notify_one();
        }
        r
    }
}

impl AsyncWrite for Gated {
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.inner().poll_flush(cx)
    }

    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.inner().poll_write(cx, buf)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.end == End::HeldShutdown {
            let this = &mut *self;
            let wait = this.released.get_or_insert_with(|| {
                // The inner layer flushed its close_notify before shutting us down.
                this.gate.inner_sent.notify_one();
                let release = this.gate.release.clone();
                Box::pin(async move { release.notified().await })
            });
            ready!(wait.as_mut().poll(cx));
        }
        self.inner().poll_shutdown(cx)
    }
}

/// A connected TCP pair: the client with a small receive buffer, the server with a send buffer that holds
/// the whole tail, so the server's writes complete while the client reads nothing.
async fn tcp_pair() -> (Stream, Stream) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(8 * 1024).unwrap();
    let (c, a) = tokio::join!(socket.connect(addr), l.accept());
    let a = a.unwrap().0;
    socket2::SockRef::from(&a)
        .set_send_buffer_size(4 * TAIL)
        .unwrap();
    (Stream::from_tcp(c.unwrap()), Stream::from_tcp(a))
}

/// TLS over TLS between the two ends of a TCP pair, with the client's outer close held by `gate`.
async fn nested_pair(gate: &Gate) -> (Stream, Stream) {
    let (c, a) = tcp_pair().await;
    let server = ServerTls::self_signed().unwrap();
    let client = ClientTls::insecure();
    let (outer_c, outer_a) = tokio::join!(client.connect(c, "gost.run"), server.accept(a));
    let held = Gated::stream(outer_c.unwrap(), gate, End::HeldShutdown);
    let dry = Gated::stream(outer_a.unwrap(), gate, End::ReleaseWhenDry);
    let (inner_c, inner_a) = tokio::join!(client.connect(held, "gost.run"), server.accept(dry));
    (inner_c.unwrap(), inner_a.unwrap())
}

fn tail() -> Vec<u8> {
    (0..TAIL).map(|i| (i % 251) as u8).collect()
}

type Client = tokio::task::JoinHandle<(io::Result<()>, Vec<u8>)>;

/// The client: sends a request and half-closes (then says so on the first channel returned), reads
/// nothing until told the server closed (the second), then reads to EOF.
fn spawn_client(mut client: Stream) -> (Client, oneshot::Receiver<()>, oneshot::Sender<()>) {
    let (client_closed, closed_rx) = oneshot::channel();
    let (server_closed_tx, server_closed) = oneshot::channel();
    let task = tokio::spawn(async move {
        client.write_all(b"request").await.unwrap();
        client.shutdown().await.unwrap();
        client_closed.send(()).unwrap();
        server_closed.await.unwrap();
        let mut got = Vec::new();
        let read = client.read_to_end(&mut got).await;
        (read.map(|_| ()), got)
    });
    (task, closed_rx, server_closed_tx)
}

/// Reads the client's request up to its inner close_notify, then makes sure its outer close was sent.
async fn read_request(server: &mut Stream, gate: &Gate, client_closed: oneshot::Receiver<()>) {
    let mut request = Vec::new();
    server.read_to_end(&mut request).await.unwrap();
    assert_eq!(request, b"request");
    gate.release.notify_one();
    client_closed.await.unwrap();
}

/// Closes the server, tells the client, and checks that the client read the whole reply.
async fn check_reply(server: Stream, server_closed: oneshot::Sender<()>, client: Client) {
    drop(server);
    server_closed.send(()).unwrap();
    let (read, got) = client.await.unwrap();
    assert!(
        read.is_ok(),
        "the client's read failed after {} of {TAIL} bytes: {read:?}",
        got.len()
    );
    assert_eq!(got.len(), TAIL, "reply truncated");
    assert!(got == tail(), "reply corrupted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reply_written_after_the_peers_half_close_arrives_whole() {
    let gate = Gate::default();
    let (client, mut server) = nested_pair(&gate).await;
    let (client, client_closed, server_closed) = spawn_client(client);
    // Not armed: the outer close is released only after the server has seen the inner one as EOF.
    read_request(&mut server, &gate, client_closed).await;
    server.write_all(&tail()).await.unwrap();
    server.shutdown().await.unwrap();
    check_reply(server, server_closed, client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reply_written_before_the_peers_half_close_arrives_whole() {
    let gate = Gate::default();
    let (client, mut server) = nested_pair(&gate).await;
    server.write_all(&tail()).await.unwrap();
    server.shutdown().await.unwrap();
    let (client, client_closed, server_closed) = spawn_client(client);
    // Armed once the inner close_notify is on its way: the server's close, which comes with reading EOF
    // here, may wait for the outer one (fixed), or has returned before it was sent (the bug).
    gate.inner_sent.notified().await;
    gate.armed.store(true, Ordering::SeqCst);
    read_request(&mut server, &gate, client_closed).await;
    check_reply(server, server_closed, client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_never_closes_the_outer_layer_delays_the_close_by_a_bounded_time() {
    // The client's outer close is never released: the server's close may wait for it, but not forever.
    let gate = Gate::default();
    let (mut client, mut server) = nested_pair(&gate).await;
    let client = tokio::spawn(async move {
        client.write_all(b"request").await.unwrap();
        client.shutdown().await
    });
    gate.inner_sent.notified().await;
    let mut request = Vec::new();
    server.read_to_end(&mut request).await.unwrap();
    assert_eq!(request, b"request");
    server.write_all(b"reply").await.unwrap();
    let bound = CLOSE_DRAIN_TIMEOUT + Duration::from_secs(10);
    tokio::time::timeout(bound, server.shutdown())
        .await
        .expect("closing waited for the peer without a bound")
        .unwrap();
    drop(server);
    client.abort();
}
