//! [`Stream`]: the single byte-stream type every listener and dialer yields.
//!
//! A plain TCP socket stays a `TcpStream` (so a relay can take it back with [`Stream::into_tcp`] and use
//! splice(2)); anything layered (TLS, WebSocket, smux, KCP) is boxed once at setup. Reads and writes dispatch
//! through one `match`, with no allocation on the data path.

use std::fmt;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Anything that is a byte stream and can be moved between tasks.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

enum Inner {
    Tcp(TcpStream),
    Boxed(Box<dyn Io>),
}

/// A connected byte stream: plain TCP or any layered transport, with its addresses when known.
///
/// Data written to a `Stream` of this crate reaches the wire without an explicit flush (as with a
/// `TcpStream`); callers should still flush where the protocol needs the bytes out.
pub struct Stream {
    inner: Inner,
    peer: Option<SocketAddr>,
    local: Option<SocketAddr>,
}

impl Stream {
    /// Wraps a TCP socket; the addresses are taken from the socket.
    pub fn from_tcp(s: TcpStream) -> Stream {
        let peer = s.peer_addr().ok().map(canonical);
        let local = s.local_addr().ok().map(canonical);
        Stream {
            inner: Inner::Tcp(s),
            peer,
            local,
        }
    }

    /// Wraps a TCP socket whose addresses the caller already knows (an accepting listener does), sparing
    /// the `getpeername`/`getsockname` calls of [`Stream::from_tcp`].
    pub fn from_tcp_with_addrs(
        s: TcpStream,
        peer: Option<SocketAddr>,
        local: Option<SocketAddr>,
    ) -> Stream {
        Stream {
            inner: Inner::Tcp(s),
            peer,
            local,
        }
    }

    /// Wraps any byte stream with the addresses it runs between, when known (boxed once, here).
    pub fn new(io: impl Io, peer: Option<SocketAddr>, local: Option<SocketAddr>) -> Stream {
        let boxed: Box<dyn Io> = Box::new(io);
        Stream {
            inner: Inner::Boxed(boxed),
            peer,
            local,
        }
    }

    /// The remote address, when known.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// The local address, when known.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local
    }

    /// `Ok(tcp)` when this is a plain TCP socket (zero-copy relay possible), `Err(self)` otherwise.
    pub fn into_tcp(self) -> Result<TcpStream, Stream> {
        match self.inner {
            Inner::Tcp(s) => Ok(s),
            inner => Err(Stream { inner, ..self }),
        }
    }

    /// Whether this is a plain TCP socket.
    pub fn is_tcp(&self) -> bool {
        matches!(self.inner, Inner::Tcp(_))
    }
}

/// Stores `cx`'s waker in `slot` unless an equivalent one is already there.
pub(crate) fn register(slot: &mut Option<std::task::Waker>, cx: &Context<'_>) {
    match slot {
        Some(w) if w.will_wake(cx.waker()) => {}
        _ => *slot = Some(cx.waker().clone()),
    }
}

/// IPv4-mapped IPv6 addresses (seen on a dual-stack listener) are reported as plain IPv4.
pub(crate) fn canonical(a: SocketAddr) -> SocketAddr {
    SocketAddr::new(a.ip().to_canonical(), a.port())
}

impl fmt::Debug for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stream")
            .field("tcp", &self.is_tcp())
            .field("peer", &self.peer)
            .field("local", &self.local)
            .finish()
    }
}

impl From<TcpStream> for Stream {
    fn from(s: TcpStream) -> Stream {
        Stream::from_tcp(s)
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match &mut self.get_mut().inner {
            Inner::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Inner::Boxed(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().inner {
            Inner::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Inner::Boxed(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().inner {
            Inner::Tcp(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Inner::Boxed(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match &self.inner {
            Inner::Tcp(s) => s.is_write_vectored(),
            Inner::Boxed(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().inner {
            Inner::Tcp(s) => Pin::new(s).poll_flush(cx),
            Inner::Boxed(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().inner {
            Inner::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Inner::Boxed(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn tcp_round_trips_through_into_tcp() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let (c, s) = tokio::join!(TcpStream::connect(addr), l.accept());
        let s = Stream::from_tcp(s.unwrap().0);
        assert!(s.is_tcp());
        assert_eq!(s.local_addr(), Some(addr));
        let tcp = s.into_tcp().expect("plain tcp");
        drop((c, tcp));
    }

    #[tokio::test]
    async fn boxed_stream_is_not_tcp_and_carries_bytes() {
        let (a, mut b) = tokio::io::duplex(64);
        let peer: SocketAddr = "192.0.2.1:9".parse().unwrap();
        let mut s = Stream::new(a, Some(peer), None);
        assert_eq!(s.peer_addr(), Some(peer));
        s.write_all(b"hello").await.unwrap();
        let mut buf = [0u8; 5];
        b.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hello");
        let s = s.into_tcp().expect_err("boxed");
        assert_eq!(s.peer_addr(), Some(peer));
    }

    #[test]
    fn mapped_v4_is_canonical() {
        let a: SocketAddr = "[::ffff:127.0.0.1]:80".parse().unwrap();
        assert_eq!(canonical(a), "127.0.0.1:80".parse().unwrap());
    }
}
