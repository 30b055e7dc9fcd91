//! A stream whose first bytes were already read while parsing a reply: replays them, then reads on.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use gost_transport::Stream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Replays `prefix` before reading from `inner`; writes go straight to `inner`.
struct Prefixed {
    prefix: Vec<u8>,
    pos: usize,
    inner: Stream,
}

/// `stream` with `prefix` put back in front of its input. Without a prefix the stream is returned
/// unchanged (a plain TCP stream stays spliceable).
pub(crate) fn with_prefix(stream: Stream, prefix: Vec<u8>) -> Stream {
    if prefix.is_empty() {
        return stream;
    }
    let (peer, local) = (stream.peer_addr(), stream.local_addr());
    Stream::new(
        Prefixed {
            prefix,
            pos: 0,
            inner: stream,
        },
        peer,
        local,
    )
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
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn replays_prefix_then_reads_inner() {
        let (a, mut b) = tokio::io::duplex(64);
        let mut s = with_prefix(Stream::new(a, None, None), b"abc".to_vec());
        b.write_all(b"def").await.unwrap();
        drop(b);
        let mut all = Vec::new();
        s.read_to_end(&mut all).await.unwrap();
        assert_eq!(all, b"abcdef");
    }
}
