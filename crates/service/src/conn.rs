//! Byte plumbing shared by the handlers: reading a handshake into a buffer, writing one message per write,
//! and putting back bytes that were read too early.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use gost_transport::Stream;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

/// Largest handshake a client may send before we give up on it (SOCKS5 with two 255-byte fields plus a
/// 255-byte domain fits easily; anything bigger is garbage).
const MAX_HANDSHAKE: usize = 4096;

/// Appends what the client sends next to `input`; EOF before the handshake ends is an error.
pub(crate) async fn read_more(conn: &mut Stream, input: &mut Vec<u8>) -> io::Result<()> {
    if input.len() >= MAX_HANDSHAKE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "handshake too long",
        ));
    }
    let mut chunk = [0u8; 512];
    let n = conn.read(&mut chunk).await?;
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "client closed the connection during the handshake",
        ));
    }
    input.extend_from_slice(&chunk[..n]);
    Ok(())
}

/// Writes one protocol message in a single write and flushes it, so it never shares a segment, TLS record or
/// smux frame with later data (upstream clients drop bytes that arrive together with a reply).
pub(crate) async fn send<W: AsyncWrite + Unpin + ?Sized>(w: &mut W, msg: &[u8]) -> io::Result<()> {
    w.write_all(msg).await?;
    w.flush().await
}

/// A stream whose first bytes were already read: replays them, then reads from the stream.
pub(crate) struct Rewind<S> {
    prefix: Vec<u8>,
    pos: usize,
    inner: S,
}

impl<S> Rewind<S> {
    pub(crate) fn new(prefix: Vec<u8>, inner: S) -> Self {
        Rewind {
            prefix,
            pos: 0,
            inner,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Rewind<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.pos < this.prefix.len() {
            let n = (this.prefix.len() - this.pos).min(buf.remaining());
            buf.put_slice(&this.prefix[this.pos..this.pos + n]);
            this.pos += n;
            if this.pos == this.prefix.len() {
                this.prefix = Vec::new();
                this.pos = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Rewind<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// `conn` with `early` bytes put back in front, boxed only when there are any: for a handler that
/// had to read (not peek) the start of a connection before passing it on, e.g. to tell protocols
/// apart by their first byte. Reads return `early` first, then what `conn` receives; writes and
/// the addresses are `conn`'s.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// use gost_service::unread;
/// use gost_transport::Stream;
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
///
/// let (ours, mut theirs) = tokio::io::duplex(64);
/// theirs.write_all(b"\x05\x01\x00").await?;
/// let mut conn = Stream::new(ours, None, None);
/// let mut version = [0u8; 1];
/// conn.read_exact(&mut version).await?;
/// let mut conn = unread(version.to_vec(), conn);
/// let mut greeting = [0u8; 3];
/// conn.read_exact(&mut greeting).await?;
/// assert_eq!(greeting, [5, 1, 0]);
/// # Ok(())
/// # }
/// ```
pub fn unread(early: Vec<u8>, conn: Stream) -> Stream {
    if early.is_empty() {
        return conn;
    }
    let (peer, local) = (conn.peer_addr(), conn.local_addr());
    Stream::new(Rewind::new(early, conn), peer, local)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::duplex;

    #[tokio::test]
    async fn rewind_replays_prefix_then_stream() {
        let (a, mut b) = duplex(64);
        b.write_all(b" world").await.unwrap();
        drop(b);
        let mut r = Rewind::new(b"hello".to_vec(), a);
        let mut s = String::new();
        r.read_to_string(&mut s).await.unwrap();
        assert_eq!(s, "hello world");
    }
}
