//! [`TlsStream`]: a TLS session over a [`Stream`] whose close does not reset the layers below it.
//!
//! When TLS runs inside another layered stream (TLS in TLS: a `tls` transport carrying SOCKS5 method
//! 0x80; TLS in a WebSocket), the peer's shutdown sends our close_notify first and then the lower layer's
//! own closing bytes (the outer close_notify record, ...). Reading our close_notify is EOF, so nothing
//! reads those bytes; if they are still in the socket when it is closed, Linux sends a RST instead of a
//! FIN, and the RST discards everything still queued for the peer on both ends (the tail of a reply
//! written after the peer's half-close). So once both directions are finished — the peer's close_notify
//! read and ours sent — the stream reads the layer below to its end and discards what it gets, bounded by
//! [`CLOSE_DRAIN_TIMEOUT`] and [`CLOSE_DRAIN_LIMIT`], before it reports the last of the two steps done.
//! Neither step is delayed while the other direction is still open, so half-close keeps its meaning.
//! Over plain TCP nothing follows a close_notify but the FIN, which needs no reading.

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

use super::read::ReadHalf;
use crate::Stream;

/// How long a finished stream waits for the layer below to end after both close_notify were exchanged.
/// The peer sends those bytes right after its close_notify, so this only bounds a peer that never does.
pub const CLOSE_DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// Bytes of the layer below a finished stream discards at most; a peer sending more is not closing.
pub const CLOSE_DRAIN_LIMIT: usize = 64 * 1024;

/// Reading the layer below a finished stream.
enum Drain {
    /// Not started (or not needed yet).
    Idle,
    Running {
        deadline: Pin<Box<Sleep>>,
        discarded: usize,
    },
    Done,
}

/// A client or server TLS session; see the module docs for what closing it does.
pub(super) struct TlsStream {
    tls: tokio_rustls::TlsStream<Stream>,
    /// Reading is done here, writing by tokio-rustls (see [`super::read`]).
    read: ReadHalf,
    /// The peer's close_notify was read.
    read_eof: bool,
    /// Our close_notify was sent and the layer below shut down.
    write_closed: bool,
    drain: Drain,
}

impl TlsStream {
    pub(super) fn new(tls: impl Into<tokio_rustls::TlsStream<Stream>>) -> TlsStream {
        let tls = tls.into();
        // Only a layered stream below has closing bytes of its own to read; plain TCP has just its FIN.
        let drain = if tls.get_ref().0.is_tcp() {
            Drain::Done
        } else {
            Drain::Idle
        };
        TlsStream {
            tls,
            read: ReadHalf::default(),
            read_eof: false,
            write_closed: false,
            drain,
        }
    }

    /// Reads and discards the layer below until its EOF, an error, the limit or the deadline.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            match &mut self.drain {
                Drain::Done => return Poll::Ready(()),
                Drain::Idle => {
                    self.drain = Drain::Running {
                        deadline: Box::pin(tokio::time::sleep(CLOSE_DRAIN_TIMEOUT)),
                        discarded: 0,
                    };
                }
                Drain::Running {
                    deadline,
                    discarded,
                } => {
                    let mut scratch = [0u8; 2048];
                    let mut rb = ReadBuf::new(&mut scratch);
                    let below = self.tls.get_mut().0;
                    let finished = match Pin::new(below).poll_read(cx, &mut rb) {
                        Poll::Ready(Ok(())) if rb.filled().is_empty() => true,
                        Poll::Ready(Ok(())) => {
                            *discarded += rb.filled().len();
                            *discarded > CLOSE_DRAIN_LIMIT
                        }
                        Poll::Ready(Err(_)) => true,
                        Poll::Pending => {
                            if deadline.as_mut().poll(cx).is_pending() {
                                return Poll::Pending;
                            }
                            tracing::debug!(
                                "the layer below a closed TLS stream did not end within {CLOSE_DRAIN_TIMEOUT:?}"
                            );
                            true
                        }
                    };
                    if finished {
                        self.drain = Drain::Done;
                    }
                }
            }
        }
    }
}

impl AsyncRead for TlsStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let (asked, before) = (buf.remaining() > 0, buf.filled().len());
        let read = &mut this.read;
        ready!(match &mut this.tls {
            tokio_rustls::TlsStream::Client(s) => {
                let (io, conn) = s.get_mut();
                read.poll_read(cx, io, &mut **conn, buf)
            }
            tokio_rustls::TlsStream::Server(s) => {
                let (io, conn) = s.get_mut();
                read.poll_read(cx, io, &mut **conn, buf)
            }
        })?;
        if asked && buf.filled().len() == before {
            this.read_eof = true;
            if this.write_closed {
                ready!(this.poll_drain(cx));
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for TlsStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tls).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tls).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tls.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tls).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.write_closed {
            // Sends close_notify, flushes, then shuts down the layer below.
            ready!(Pin::new(&mut this.tls).poll_shutdown(cx))?;
            this.write_closed = true;
        }
        if this.read_eof {
            ready!(this.poll_drain(cx));
        }
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;

    use rustls_pki_types::ServerName;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::super::{ClientTls, ServerTls};
    use super::*;

    /// A handshaken client/server pair over loopback TCP.
    async fn pair() -> (TlsStream, TlsStream) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let (c, a) = tokio::join!(tokio::net::TcpStream::connect(addr), l.accept());
        let (c, a) = (Stream::from_tcp(c.unwrap()), Stream::from_tcp(a.unwrap().0));
        let server =
            tokio_rustls::TlsAcceptor::from(ServerTls::self_signed().unwrap().config().clone());
        let client = tokio_rustls::TlsConnector::from(ClientTls::insecure().config());
        let name = ServerName::try_from("gost.run").unwrap();
        let (c, a) = tokio::join!(client.connect(name, c), server.accept(a));
        (TlsStream::new(c.unwrap()), TlsStream::new(a.unwrap()))
    }

    #[tokio::test]
    async fn a_quiet_session_holds_no_read_ahead_block() {
        let (mut c, mut a) = pair().await;
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 241) as u8).collect();
        c.write_all(&data).await.unwrap();
        c.flush().await.unwrap();
        let mut got = vec![0u8; data.len()];
        a.read_exact(&mut got).await.unwrap();
        assert_eq!(got, data);
        // Nothing more is coming: the next read finds the socket empty and frees the block.
        let mut one = [0u8; 1];
        let pending = poll_fn(|cx| {
            let mut rb = ReadBuf::new(&mut one);
            Poll::Ready(Pin::new(&mut a).poll_read(cx, &mut rb).is_pending())
        })
        .await;
        assert!(pending);
        assert_eq!(a.read.ahead_capacity(), 0);
        // And it still reads what comes later.
        c.write_all(b"later").await.unwrap();
        c.flush().await.unwrap();
        let mut five = [0u8; 5];
        a.read_exact(&mut five).await.unwrap();
        assert_eq!(&five, b"later");
    }
}
