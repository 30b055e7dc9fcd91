//! What every protocol that parses a handshake off a [`Stream`] needs before it relays the stream:
//! reading one more chunk into the parse buffer, and putting back the bytes read past the handshake.

use std::fmt::Display;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

use crate::Stream;

/// Largest handshake message a peer may send before we call it garbage (a SOCKS5 request with two
/// 255-byte credentials and a 255-byte domain fits easily).
pub const MAX_HANDSHAKE: usize = 4096;

impl Stream {
    /// Appends what `peer` (a name for errors: "client", a node address) sends next to `input`, the
    /// handshake being parsed. Fails with `InvalidData` once `input` holds [`MAX_HANDSHAKE`] bytes and
    /// with `UnexpectedEof` when the peer closes before the handshake ends.
    pub async fn read_more(
        &mut self,
        input: &mut Vec<u8>,
        peer: &(dyn Display + Sync),
    ) -> io::Result<()> {
        if input.len() >= MAX_HANDSHAKE {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{peer} sent an over-long handshake message"),
            ));
        }
        let mut chunk = [0u8; 512];
        let n = self.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{peer} closed the connection during the handshake"),
            ));
        }
        input.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    /// This stream with `early` bytes put back in front of its input: for bytes read past a handshake,
    /// or to tell protocols apart by their first byte. Reads return `early` first, then what the stream
    /// receives; writes and the addresses are the stream's. Without early bytes the stream is returned
    /// unchanged (a plain TCP stream stays spliceable); otherwise it is boxed once.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// use gost_transport::Stream;
    /// use tokio::io::{AsyncReadExt, AsyncWriteExt};
    ///
    /// let (ours, mut theirs) = tokio::io::duplex(64);
    /// theirs.write_all(b"\x05\x01\x00").await?;
    /// let mut conn = Stream::new(ours, None, None);
    /// let mut version = [0u8; 1];
    /// conn.read_exact(&mut version).await?;
    /// let mut conn = conn.prepend(version.to_vec());
    /// let mut greeting = [0u8; 3];
    /// conn.read_exact(&mut greeting).await?;
    /// assert_eq!(greeting, [5, 1, 0]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn prepend(self, early: Vec<u8>) -> Stream {
        if early.is_empty() {
            return self;
        }
        let (peer, local) = (self.peer_addr(), self.local_addr());
        Stream::new(
            Prefixed {
                prefix: early,
                pos: 0,
                inner: self,
            },
            peer,
            local,
        )
    }
}

/// Replays `prefix` before reading from `inner`; writes go straight to `inner`.
struct Prefixed {
    prefix: Vec<u8>,
    pos: usize,
    inner: Stream,
}

impl AsyncRead for Prefixed {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.pos < this.prefix.len() {
            let n = (this.prefix.len() - this.pos).min(buf.remaining());
            buf.put_slice(&this.prefix[this.pos..this.pos + n]);
            this.pos += n;
            if this.pos == this.prefix.len() {
                // Free the prefix: the stream may live for hours after its handshake.
                this.prefix = Vec::new();
                this.pos = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Prefixed {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn prepend_replays_prefix_then_reads_on_in_small_reads() {
        let (a, mut b) = tokio::io::duplex(64);
        let mut s = Stream::new(a, None, None).prepend(b"abc".to_vec());
        b.write_all(b"def").await.unwrap();
        drop(b);
        let mut two = [0u8; 2];
        s.read_exact(&mut two).await.unwrap();
        assert_eq!(&two, b"ab");
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).await.unwrap();
        assert_eq!(rest, b"cdef");
    }

    #[tokio::test]
    async fn read_more_stops_at_the_limit_and_at_eof() {
        let (a, mut b) = tokio::io::duplex(64);
        let mut s = Stream::new(a, None, None);
        let mut input = vec![0; MAX_HANDSHAKE];
        let e = s.read_more(&mut input, &"client").await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert_eq!(e.to_string(), "client sent an over-long handshake message");
        let mut input = Vec::new();
        b.write_all(b"hi").await.unwrap();
        s.read_more(&mut input, &"client").await.unwrap();
        assert_eq!(input, b"hi");
        drop(b);
        let e = s.read_more(&mut input, &"client").await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(
            e.to_string(),
            "client closed the connection during the handshake"
        );
    }
}
