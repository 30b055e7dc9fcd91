//! The read half of a TLS stream: rustls' buffered connection fed by hand rather than through
//! tokio-rustls's `poll_read`, for two costs measured on the tls hop (docs/performance.md, "TLS hop:
//! aligned large blocks and read-ahead"):
//!
//! - rustls reads at most one record per `read_tls` (its deframer holds one, ~16 KiB), so tokio-rustls
//!   made one recv(2) per record. Over TCP this reads up to [`READ_AHEAD`] bytes of ciphertext per
//!   recv(2) and hands rustls one record's worth at a time from memory; over a layered stream (TLS in
//!   TLS, TLS in a WebSocket) rustls reads the layer below directly, as before, since that read is a
//!   copy out of the layer's plaintext and not a system call.
//! - copies into rustls' deframer and out to the caller are made in pieces small enough for glibc's
//!   vector loop ([`copy_pieces`]).
//!
//! Writing, flushing and closing stay with tokio-rustls.

use std::io::{self, BufRead, Read};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, BytesMut};
use rustls::{ConnectionCommon, SideData};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_util::io::poll_read_buf;

use crate::Stream;

/// Ciphertext read from TCP per recv(2): four full records.
pub(super) const READ_AHEAD: usize = 64 * 1024;

/// Largest piece [`copy_pieces`] copies at once: glibc 2.36 copies 2112 bytes or more with `rep movsb`.
const COPY_PIECE: usize = 2048;

/// Copies `src` into `dst` (same length) in pieces of at most [`COPY_PIECE`] bytes. glibc copies larger
/// blocks with `rep movsb`, which on AMD Zen 4 runs ~25× slower when the destination lies 1–12 bytes
/// past the source modulo 4096; below its threshold it uses vector loops that do not care. Where the
/// deframer and the caller's buffer stand relative to the source is up to the stream's history, so
/// without this a session could spend a third of its time in one slow copy.
fn copy_pieces(dst: &mut [u8], src: &[u8]) {
    for (d, s) in dst.chunks_mut(COPY_PIECE).zip(src.chunks(COPY_PIECE)) {
        d.copy_from_slice(s);
    }
}

/// Reads the remaining bytes of a slice, copying with [`copy_pieces`].
struct Pieces<'a>(&'a [u8]);

impl Read for Pieces<'_> {
    fn read(&mut self, dst: &mut [u8]) -> io::Result<usize> {
        let n = dst.len().min(self.0.len());
        copy_pieces(&mut dst[..n], &self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

/// A blocking-style reader over an async stream (what rustls' `read_tls` needs): `WouldBlock` when the
/// stream has nothing ready, after registering `cx` to be woken.
struct Below<'a, 'b> {
    io: &'a mut Stream,
    cx: &'a mut Context<'b>,
}

impl Read for Below<'_, '_> {
    fn read(&mut self, dst: &mut [u8]) -> io::Result<usize> {
        let mut rb = ReadBuf::new(dst);
        match Pin::new(&mut *self.io).poll_read(self.cx, &mut rb) {
            Poll::Ready(Ok(())) => Ok(rb.filled().len()),
            Poll::Ready(Err(e)) => Err(e),
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
}

impl io::Write for Below<'_, '_> {
    fn write(&mut self, src: &[u8]) -> io::Result<usize> {
        match Pin::new(&mut *self.io).poll_write(self.cx, src) {
            Poll::Ready(r) => r,
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// What the read half keeps between calls.
#[derive(Default)]
pub(super) struct ReadHalf {
    /// Ciphertext read from TCP and not yet given to rustls. Its block is allocated (not zeroed) for
    /// each read and freed when the socket has nothing ready with the buffer drained, so a quiet
    /// session holds none.
    ahead: BytesMut,
    /// An error met after some plaintext was handed out, returned by the next call.
    err: Option<io::Error>,
}

impl ReadHalf {
    /// Fills `buf` with plaintext while some is decrypted or can be without waiting; `Ready` with no
    /// bytes added is the peer's close_notify.
    pub(super) fn poll_read<D: SideData>(
        &mut self,
        cx: &mut Context<'_>,
        io: &mut Stream,
        conn: &mut ConnectionCommon<D>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if let Some(e) = self.err.take() {
            return Poll::Ready(Err(e));
        }
        let start = buf.filled().len();
        while buf.remaining() > 0 {
            let got = buf.filled().len() > start;
            match conn.reader().into_first_chunk() {
                Ok([]) => break,
                Ok(chunk) => {
                    let n = chunk.len().min(buf.remaining());
                    copy_pieces(&mut buf.initialize_unfilled_to(n)[..n], &chunk[..n]);
                    buf.advance(n);
                    conn.reader().consume(n);
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return self.fail(e, got),
            }
            match self.poll_feed(cx, io, conn) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return self.fail(e, got),
                Poll::Pending if got => break,
                Poll::Pending => return Poll::Pending,
            }
            if let Err(e) = conn.process_new_packets() {
                // Send the alert that names the error if the layer below takes it now, as tokio-rustls
                // does; the error is what the caller gets either way.
                let _ = conn.write_tls(&mut Below { io, cx });
                return self.fail(io::Error::new(io::ErrorKind::InvalidData, e), got);
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Bytes allocated for read-ahead.
    #[cfg(test)]
    pub(super) fn ahead_capacity(&self) -> usize {
        self.ahead.capacity()
    }

    /// Returns `e` now, or after the plaintext already in the caller's buffer.
    fn fail(&mut self, e: io::Error, got: bool) -> Poll<io::Result<()>> {
        if got {
            self.err = Some(e);
            Poll::Ready(Ok(()))
        } else {
            Poll::Ready(Err(e))
        }
    }

    /// Gives rustls more ciphertext (or the EOF of the layer below); `Pending` when none is ready.
    fn poll_feed<D: SideData>(
        &mut self,
        cx: &mut Context<'_>,
        io: &mut Stream,
        conn: &mut ConnectionCommon<D>,
    ) -> Poll<io::Result<()>> {
        if !io.is_tcp() {
            return match conn.read_tls(&mut Below { io, cx }) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Poll::Pending,
                r => Poll::Ready(r.map(drop)),
            };
        }
        if self.ahead.is_empty() {
            self.ahead.reserve(READ_AHEAD);
            match poll_read_buf(Pin::new(&mut *io), cx, &mut self.ahead) {
                Poll::Pending => {
                    self.ahead = BytesMut::new();
                    return Poll::Pending;
                }
                Poll::Ready(r) => {
                    r?;
                }
            }
        }
        // An empty buffer here is the socket's EOF, which reads as EOF to rustls too.
        let n = conn.read_tls(&mut Pieces(&self.ahead))?;
        self.ahead.advance(n);
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_copy_every_byte_at_any_offset() {
        let src: Vec<u8> = (0..20_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
        for (d, s, n) in [
            (0, 0, 20_000),
            (5, 0, 16_384),
            (0, 5, 16_000),
            (13, 61, 4097),
            (1, 2, 1),
        ] {
            let mut dst = vec![0u8; 20_100];
            copy_pieces(&mut dst[d..d + n], &src[s..s + n]);
            assert_eq!(&dst[d..d + n], &src[s..s + n]);
            assert!(dst[..d].iter().all(|&b| b == 0) && dst[d + n..].iter().all(|&b| b == 0));
        }
    }

    #[test]
    fn pieces_reader_hands_out_the_slice_then_eof() {
        let data = vec![9u8; 5000];
        let mut r = Pieces(&data);
        let mut out = vec![0u8; 3000];
        assert_eq!(r.read(&mut out).unwrap(), 3000);
        assert_eq!(r.read(&mut out).unwrap(), 2000);
        assert_eq!(r.read(&mut out).unwrap(), 0);
    }
}
