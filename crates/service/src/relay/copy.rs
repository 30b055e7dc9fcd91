//! Buffered bidirectional copy between any two byte streams, with half-close propagation.
//!
//! Each direction owns one buffer of [`BUF_SIZE`] bytes, allocated only when the first bytes arrive (an idle
//! connection costs no buffer) and reused for every later chunk. A read that leaves room is followed by
//! more reads until the reader has nothing ready, so a reader that yields one TLS record per call still
//! hands the writer one large batch (one syscall; full records from a TLS writer). When a direction reads
//! EOF it flushes and shuts down the write side of the other stream, and the opposite direction keeps
//! running until it too ends.

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::Transferred;

/// Size of each direction's copy buffer: four full TLS records. A TLS writer handed this much encrypts
/// four records and sends them with one writev, and a TLS layer inside another one (SOCKS5 method 0x80
/// over a `tls` transport) passes the outer layer four records at once, which it packs into full
/// records instead of one full and one tiny record per inner record.
pub(crate) const BUF_SIZE: usize = 64 * 1024;

/// Room below which a direction stops reading on and writes what it holds (one TLS record's plaintext).
const FILL_ROOM: usize = 16 * 1024;

/// Bytes read while probing an idle stream before its buffer exists; small enough for the stack.
const PROBE_SIZE: usize = 2 * 1024;

/// One direction of the copy: reads from one stream and writes everything to the other.
#[derive(Default)]
struct Direction {
    buf: Option<Box<[u8]>>,
    /// Bytes of `buf` already written. `u32` (the buffer is small) keeps a `Direction` at 48 bytes with
    /// `read_err`: every idle session's relay holds two.
    pos: u32,
    /// Bytes of `buf` filled by the last read.
    cap: u32,
    read_eof: bool,
    /// An error met while reading on after some bytes: reported once those bytes are written.
    read_err: Option<io::Error>,
    need_flush: bool,
    shut_down: bool,
    total: u64,
}

impl Direction {
    /// Reads into the buffer, allocating it on the first bytes; returns the number of bytes read (0 = EOF).
    fn poll_fill<R: AsyncRead + ?Sized>(
        &mut self,
        cx: &mut Context<'_>,
        mut reader: Pin<&mut R>,
    ) -> Poll<io::Result<usize>> {
        if let Some(e) = self.read_err.take() {
            return Poll::Ready(Err(e));
        }
        if let Some(buf) = self.buf.as_deref_mut() {
            let mut rb = ReadBuf::new(buf);
            ready!(reader.as_mut().poll_read(cx, &mut rb))?;
            while !rb.filled().is_empty() && rb.remaining() >= FILL_ROOM {
                let before = rb.filled().len();
                match reader.as_mut().poll_read(cx, &mut rb) {
                    Poll::Ready(Ok(())) if rb.filled().len() == before => {
                        self.read_eof = true;
                        break;
                    }
                    Poll::Ready(Ok(())) => {}
                    Poll::Ready(Err(e)) => {
                        self.read_err = Some(e);
                        break;
                    }
                    Poll::Pending => break,
                }
            }
            return Poll::Ready(Ok(rb.filled().len()));
        }
        let mut probe = [0u8; PROBE_SIZE];
        let mut rb = ReadBuf::new(&mut probe);
        ready!(reader.poll_read(cx, &mut rb))?;
        let n = rb.filled().len();
        if n > 0 {
            let mut buf = vec![0u8; BUF_SIZE].into_boxed_slice();
            buf[..n].copy_from_slice(&probe[..n]);
            self.buf = Some(buf);
        }
        Poll::Ready(Ok(n))
    }

    /// Drives this direction until the reader hit EOF and the writer has been shut down.
    fn poll_copy<R, W>(
        &mut self,
        cx: &mut Context<'_>,
        mut reader: Pin<&mut R>,
        mut writer: Pin<&mut W>,
    ) -> Poll<io::Result<()>>
    where
        R: AsyncRead + ?Sized,
        W: AsyncWrite + ?Sized,
    {
        loop {
            if self.pos == self.cap && !self.read_eof {
                match self.poll_fill(cx, reader.as_mut()) {
                    Poll::Ready(Ok(0)) => self.read_eof = true,
                    Poll::Ready(Ok(n)) => {
                        self.pos = 0;
                        self.cap = n as u32;
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => {
                        // Nothing more to read right now: push out what a buffering writer (TLS, ws) holds.
                        if self.need_flush {
                            ready!(writer.as_mut().poll_flush(cx))?;
                            self.need_flush = false;
                        }
                        return Poll::Pending;
                    }
                }
            }
            while self.pos < self.cap {
                let buf = self
                    .buf
                    .as_deref()
                    .expect("bytes were read into the buffer");
                let (pos, cap) = (self.pos as usize, self.cap as usize);
                let n = ready!(writer.as_mut().poll_write(cx, &buf[pos..cap]))?;
                if n == 0 {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                self.pos += n as u32;
                self.total += n as u64;
                self.need_flush = true;
            }
            if self.read_eof {
                if !self.shut_down {
                    // poll_shutdown flushes first, then sends FIN (or the transport's close).
                    ready!(writer.as_mut().poll_shutdown(cx))?;
                    self.shut_down = true;
                }
                return Poll::Ready(Ok(()));
            }
        }
    }
}

/// A buffered relay between two streams: copies `a → b` and `b → a` until both directions reached EOF,
/// propagating each EOF as a shutdown of the other side's write half. An error in either direction ends
/// both. A plain struct polled by hand (not an `async fn`), so an idle relay costs only its fields.
pub(crate) struct Copy<A, B> {
    a: A,
    b: B,
    ab: Direction,
    ba: Direction,
}

impl<A, B> Copy<A, B>
where
    A: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    pub(crate) fn new(a: A, b: B) -> Self {
        Copy {
            a,
            b,
            ab: Direction::default(),
            ba: Direction::default(),
        }
    }

    /// Bytes written to each side so far.
    pub(crate) fn transferred(&self) -> Transferred {
        Transferred {
            a_to_b: self.ab.total,
            b_to_a: self.ba.total,
        }
    }

    /// Drives both directions; `Ready` once both are done or one failed, with the bytes moved so far.
    pub(crate) fn poll_relay(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<(Transferred, io::Result<()>)> {
        let ab = self
            .ab
            .poll_copy(cx, Pin::new(&mut self.a), Pin::new(&mut self.b));
        let ba = match ab {
            Poll::Ready(Err(_)) => Poll::Pending,
            _ => self
                .ba
                .poll_copy(cx, Pin::new(&mut self.b), Pin::new(&mut self.a)),
        };
        let result = match (ab, ba) {
            (Poll::Ready(Err(e)), _) | (_, Poll::Ready(Err(e))) => Err(e),
            (Poll::Ready(Ok(())), Poll::Ready(Ok(()))) => Ok(()),
            _ => return Poll::Pending,
        };
        Poll::Ready((self.transferred(), result))
    }
}

/// [`Copy`] between two borrowed streams, as a future.
pub(crate) async fn copy_bidirectional<A, B>(a: &mut A, b: &mut B) -> (Transferred, io::Result<()>)
where
    A: AsyncRead + AsyncWrite + Unpin + ?Sized,
    B: AsyncRead + AsyncWrite + Unpin + ?Sized,
{
    let mut relay = Copy::new(a, b);
    poll_fn(|cx| relay.poll_relay(cx)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, duplex};

    #[tokio::test]
    async fn idle_direction_allocates_no_buffer() {
        let (mut a, mut a_peer) = duplex(64);
        let mut dir = Direction::default();
        let (_b, mut b_peer) = duplex(64);
        let polled = poll_fn(|cx| {
            Poll::Ready(
                dir.poll_copy(cx, Pin::new(&mut a), Pin::new(&mut b_peer))
                    .is_pending(),
            )
        })
        .await;
        assert!(polled);
        assert!(dir.buf.is_none());
        a_peer.write_all(b"x").await.unwrap();
        let _ =
            poll_fn(|cx| Poll::Ready(dir.poll_copy(cx, Pin::new(&mut a), Pin::new(&mut b_peer))))
                .await;
        assert_eq!(dir.buf.as_ref().map(|b| b.len()), Some(BUF_SIZE));
        assert_eq!(dir.total, 1);
    }

    /// `n` record-sized chunks, each a reader of its own: a chain of them yields one chunk per read.
    fn record_chunks(n: usize) -> Vec<Vec<u8>> {
        (0..n).map(|i| vec![i as u8; FILL_ROOM]).collect()
    }

    /// Runs one direction, its buffer already allocated, over `chunks` and then `end` until it is done
    /// or has nothing ready; the bytes written must be exactly the chunks'.
    async fn copy_chunks(
        chunks: &[Vec<u8>],
        end: impl AsyncRead + Unpin,
    ) -> (Poll<io::Result<()>>, Direction) {
        let mut reader: Box<dyn AsyncRead + Unpin + '_> = Box::new(tokio::io::empty());
        for c in chunks {
            reader = Box::new(reader.chain(&c[..]));
        }
        let mut reader = reader.chain(end);
        let mut dir = Direction {
            buf: Some(vec![0; BUF_SIZE].into_boxed_slice()),
            ..Direction::default()
        };
        let mut written = Vec::new();
        let polled = poll_fn(|cx| {
            Poll::Ready(dir.poll_copy(cx, Pin::new(&mut reader), Pin::new(&mut written)))
        })
        .await;
        assert_eq!(written, chunks.concat());
        (polled, dir)
    }

    #[tokio::test]
    async fn record_sized_reads_are_written_in_large_batches() {
        let (_writer, nothing_ready) = duplex(1);
        let (polled, dir) = copy_chunks(&record_chunks(4), nothing_ready).await;
        assert!(polled.is_pending());
        // Four one-record reads became one buffer-sized write.
        assert_eq!(dir.cap as usize, BUF_SIZE);
    }

    #[tokio::test]
    async fn an_error_after_bytes_is_reported_after_writing_them() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let reset = tokio::net::TcpStream::connect(l.local_addr().unwrap())
            .await
            .unwrap();
        let (peer, _) = l.accept().await.unwrap();
        socket2::SockRef::from(&peer)
            .set_linger(Some(std::time::Duration::ZERO))
            .unwrap();
        drop(peer);
        reset.readable().await.unwrap();
        let (polled, dir) = copy_chunks(&record_chunks(2), reset).await;
        let Poll::Ready(Err(e)) = polled else {
            panic!("expected the read error, got {polled:?}")
        };
        assert_eq!(e.kind(), io::ErrorKind::ConnectionReset);
        assert!(!dir.shut_down, "an error is not an EOF");
    }

    #[tokio::test]
    async fn eof_after_bytes_shuts_down_after_writing_them() {
        let (polled, dir) = copy_chunks(&record_chunks(3), tokio::io::empty()).await;
        assert!(matches!(polled, Poll::Ready(Ok(()))), "{polled:?}");
        assert!(dir.read_eof && dir.shut_down);
    }

    #[tokio::test]
    async fn half_close_keeps_the_other_direction_open() {
        let (mut a, mut a_peer) = duplex(1024);
        let (mut b, mut b_peer) = duplex(1024);
        let relay = tokio::spawn(async move { copy_bidirectional(&mut a, &mut b).await });
        a_peer.write_all(b"request").await.unwrap();
        a_peer.shutdown().await.unwrap();
        let mut got = Vec::new();
        b_peer.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"request");
        b_peer.write_all(b"late answer").await.unwrap();
        drop(b_peer);
        let mut back = Vec::new();
        a_peer.read_to_end(&mut back).await.unwrap();
        assert_eq!(back, b"late answer");
        let (t, r) = relay.await.unwrap();
        r.unwrap();
        assert_eq!((t.a_to_b, t.b_to_a), (7, 11));
    }
}
