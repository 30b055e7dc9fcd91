//! [`Throttled`]: a byte stream whose reads draw from one [`Throttle`] and whose writes draw from
//! another, sleeping on a timer when the buckets are empty. Wrapping a client's stream limits what the
//! service receives from it (`in`) and sends to it (`out`), as upstream wraps the client connection.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

use super::bucket::Throttle;

/// One direction: its buckets and the timer it waits on.
struct Side {
    throttle: Throttle,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl Side {
    fn new(throttle: Throttle) -> Option<Side> {
        (!throttle.is_unlimited()).then_some(Side {
            throttle,
            sleep: None,
        })
    }

    /// How many of `want` bytes may move now; sleeps (registering the waker) until some may.
    fn poll_grant(&mut self, cx: &mut Context<'_>, want: usize) -> Poll<usize> {
        loop {
            if let Some(sleep) = &mut self.sleep {
                ready!(sleep.as_mut().poll(cx));
                self.sleep = None;
            }
            match self.throttle.grant(want) {
                Ok(n) => return Poll::Ready(n),
                Err(wait) => self.sleep = Some(Box::pin(tokio::time::sleep(wait))),
            }
        }
    }
}

/// A stream limited by a [`Throttle`] per direction.
pub struct Throttled<S> {
    inner: S,
    read: Option<Side>,
    write: Option<Side>,
}

impl<S> Throttled<S> {
    /// Limits reads from `inner` by `read` and writes to it by `write`.
    pub fn new(inner: S, read: Throttle, write: Throttle) -> Throttled<S> {
        Throttled {
            inner,
            read: Side::new(read),
            write: Side::new(write),
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Throttled<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let Some(side) = &mut this.read else {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        };
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        let n = ready!(side.poll_grant(cx, buf.remaining()));
        let mut part = ReadBuf::new(buf.initialize_unfilled_to(n));
        ready!(Pin::new(&mut this.inner).poll_read(cx, &mut part))?;
        let got = part.filled().len();
        side.throttle.consume(got);
        buf.advance(got);
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Throttled<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let Some(side) = &mut this.write else {
            return Pin::new(&mut this.inner).poll_write(cx, data);
        };
        if data.is_empty() {
            return Pin::new(&mut this.inner).poll_write(cx, data);
        }
        let n = ready!(side.poll_grant(cx, data.len()));
        let sent = ready!(Pin::new(&mut this.inner).poll_write(cx, &data[..n]))?;
        side.throttle.consume(sent);
        Poll::Ready(Ok(sent))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limit::bucket::Bucket;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test(start_paused = true)]
    async fn reads_and_writes_keep_to_their_rates() {
        let (a, mut peer) = tokio::io::duplex(1 << 20);
        let rd = Throttle::new(vec![Bucket::bytes(64 * 1024)]);
        let wr = Throttle::new(vec![Bucket::bytes(32 * 1024)]);
        let mut t = Throttled::new(a, rd, wr);
        let start = tokio::time::Instant::now();
        peer.write_all(&vec![7u8; 256 * 1024]).await.unwrap();
        let mut got = vec![0u8; 256 * 1024];
        t.read_exact(&mut got).await.unwrap();
        // 16 KiB in store, 240 KiB at 64 KiB/s.
        let took = start.elapsed().as_secs_f64();
        assert!((3.6..=4.1).contains(&took), "read took {took}");
        // The write bucket filled up to its store (16 KiB) meanwhile; 48 KiB more at 32 KiB/s.
        let start = tokio::time::Instant::now();
        t.write_all(&vec![1u8; 64 * 1024]).await.unwrap();
        let took = start.elapsed().as_secs_f64();
        assert!((1.45..=1.6).contains(&took), "write took {took}");
    }
}
