//! The snappy framing format (golang/snappy `Writer`/`Reader`, as GOST puts on the KCP stream unless
//! `nocomp`): a stream identifier chunk, then one compressed (0x00) or uncompressed (0x01) chunk per
//! write, each with a masked CRC-32C of the uncompressed bytes.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The stream identifier chunk that starts every framed stream.
pub const STREAM_IDENTIFIER: [u8; 10] =
    [0xff, 0x06, 0x00, 0x00, b's', b'N', b'a', b'P', b'p', b'Y'];
/// Largest uncompressed payload of one chunk.
const MAX_BLOCK: usize = 65536;
/// Largest chunk body accepted from the peer (CRC + worst-case compressed 64 KiB block).
const MAX_CHUNK_BODY: usize = 4 + 76_490;

const CRC32C_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut k = 0;
        while k < 8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82f6_3b78
            } else {
                crc >> 1
            };
            k += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

/// CRC-32C (Castagnoli) masked the way the framing format stores it.
pub fn masked_crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc = CRC32C_TABLE[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    let crc = !crc;
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// Appends the chunks framing `data` (at most 64 KiB per chunk) to `out`. Compresses unless that
/// saves less than 1/8, like golang/snappy.
pub fn encode_chunks(encoder: &mut snap::raw::Encoder, data: &[u8], out: &mut Vec<u8>) {
    for block in data.chunks(MAX_BLOCK) {
        let crc = masked_crc32c(block);
        let compressed = encoder
            .compress_vec(block)
            .ok()
            .filter(|c| c.len() < block.len() - block.len() / 8);
        let (ty, body) = match &compressed {
            Some(c) => (0x00, c.as_slice()),
            None => (0x01, block),
        };
        let len = (body.len() + 4) as u32;
        out.push(ty);
        out.extend_from_slice(&len.to_le_bytes()[..3]);
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(body);
    }
}

fn invalid(msg: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// Incremental chunk parser: feed raw bytes, take decoded bytes.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    raw: Vec<u8>,
    seen_identifier: bool,
    decoder: snap::raw::Decoder,
}

impl FrameDecoder {
    /// A decoder expecting the stream identifier first.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes buffered but not yet forming a whole chunk.
    pub fn pending(&self) -> usize {
        self.raw.len()
    }

    /// Appends raw stream bytes.
    pub fn feed(&mut self, data: &[u8]) {
        self.raw.extend_from_slice(data);
    }

    /// Decodes every complete chunk buffered so far, appending the payload to `out`.
    pub fn decode(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        let mut pos = 0;
        let result = loop {
            let buf = &self.raw[pos..];
            if buf.len() < 4 {
                break Ok(());
            }
            let ty = buf[0];
            let len = u32::from_le_bytes([buf[1], buf[2], buf[3], 0]) as usize;
            if len > MAX_CHUNK_BODY {
                break Err(invalid("snappy chunk too large"));
            }
            if buf.len() < 4 + len {
                break Ok(());
            }
            let body = &buf[4..4 + len];
            pos += 4 + len;
            if !self.seen_identifier {
                if ty != 0xff || body != &STREAM_IDENTIFIER[4..] {
                    break Err(invalid("snappy stream identifier missing"));
                }
                self.seen_identifier = true;
                continue;
            }
            match ty {
                0x00 | 0x01 => {
                    if len < 4 {
                        break Err(invalid("snappy chunk shorter than its checksum"));
                    }
                    let crc = u32::from_le_bytes([body[0], body[1], body[2], body[3]]);
                    let start = out.len();
                    if ty == 0x00 {
                        let n = match snap::raw::decompress_len(&body[4..]) {
                            Ok(n) if n <= MAX_BLOCK => n,
                            _ => break Err(invalid("bad snappy block")),
                        };
                        out.resize(start + n, 0);
                        if self
                            .decoder
                            .decompress(&body[4..], &mut out[start..])
                            .is_err()
                        {
                            out.truncate(start);
                            break Err(invalid("bad snappy block"));
                        }
                    } else {
                        if len - 4 > MAX_BLOCK {
                            break Err(invalid("snappy chunk too large"));
                        }
                        out.extend_from_slice(&body[4..]);
                    }
                    if masked_crc32c(&out[start..]) != crc {
                        out.truncate(start);
                        break Err(invalid("snappy checksum mismatch"));
                    }
                }
                0xff if body != &STREAM_IDENTIFIER[4..] => {
                    break Err(invalid("bad snappy stream identifier"));
                }
                0x02..=0x7f => break Err(invalid("reserved unskippable snappy chunk")),
                _ => {}
            }
        };
        self.raw.drain(..pos);
        result
    }
}

/// Snappy framing over any byte stream: writes are compressed chunks, reads are decoded.
#[derive(Debug)]
pub struct SnappyStream<S> {
    inner: S,
    encoder: snap::raw::Encoder,
    wrote_identifier: bool,
    /// Encoded bytes not yet written to `inner`.
    out: Vec<u8>,
    out_pos: usize,
    decoder: FrameDecoder,
    /// Decoded bytes not yet read by the caller.
    plain: Vec<u8>,
    plain_pos: usize,
    read_buf: Box<[u8]>,
}

impl<S> SnappyStream<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        SnappyStream {
            inner,
            encoder: snap::raw::Encoder::new(),
            wrote_identifier: false,
            out: Vec::new(),
            out_pos: 0,
            decoder: FrameDecoder::new(),
            plain: Vec::new(),
            plain_pos: 0,
            read_buf: vec![0u8; 64 * 1024].into_boxed_slice(),
        }
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S: AsyncWrite + Unpin> SnappyStream<S> {
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.out_pos < self.out.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.out[self.out_pos..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.out_pos += n;
        }
        self.out.clear();
        self.out_pos = 0;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for SnappyStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if this.plain_pos < this.plain.len() {
                let n = (this.plain.len() - this.plain_pos).min(buf.remaining());
                buf.put_slice(&this.plain[this.plain_pos..this.plain_pos + n]);
                this.plain_pos += n;
                if this.plain_pos == this.plain.len() {
                    this.plain.clear();
                    this.plain_pos = 0;
                }
                return Poll::Ready(Ok(()));
            }
            let mut rb = ReadBuf::new(&mut this.read_buf);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut rb))?;
            if rb.filled().is_empty() {
                return if this.decoder.pending() == 0 {
                    Poll::Ready(Ok(()))
                } else {
                    Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into()))
                };
            }
            this.decoder.feed(rb.filled());
            this.decoder.decode(&mut this.plain)?;
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for SnappyStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        ready!(this.poll_drain(cx))?;
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        if !this.wrote_identifier {
            this.out.extend_from_slice(&STREAM_IDENTIFIER);
            this.wrote_identifier = true;
        }
        let n = buf.len().min(MAX_BLOCK);
        encode_chunks(&mut this.encoder, &buf[..n], &mut this.out);
        // The bytes are ours now; a pending inner write finishes on the next write or flush.
        if let Poll::Ready(Err(e)) = this.poll_drain(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn our_chunks_decode_with_the_snap_reference_reader() {
        let mut enc = snap::raw::Encoder::new();
        let mut stream = STREAM_IDENTIFIER.to_vec();
        let a = vec![0x41u8; 100];
        let b = b"vector-kcp".to_vec();
        encode_chunks(&mut enc, &a, &mut stream);
        encode_chunks(&mut enc, &b, &mut stream);
        assert_eq!(stream[10], 0x00, "repetitive data is compressed");
        assert_eq!(stream[stream.len() - 10 - 8], 0x01, "short data is stored");
        let mut out = Vec::new();
        snap::read::FrameDecoder::new(&stream[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, [a.clone(), b.clone()].concat());

        let mut dec = FrameDecoder::new();
        let mut got = Vec::new();
        for byte in &stream {
            dec.feed(&[*byte]);
            dec.decode(&mut got).unwrap();
        }
        assert_eq!(got, [a, b].concat());
    }

    #[test]
    fn corrupted_chunks_are_rejected() {
        let mut enc = snap::raw::Encoder::new();
        let mut stream = STREAM_IDENTIFIER.to_vec();
        encode_chunks(&mut enc, b"hello world", &mut stream);
        let last = stream.len() - 1;
        stream[last] ^= 1;
        let mut dec = FrameDecoder::new();
        dec.feed(&stream);
        assert!(dec.decode(&mut Vec::new()).is_err());
        let mut dec = FrameDecoder::new();
        dec.feed(b"\x01\x05\x00\x00abcde");
        assert!(
            dec.decode(&mut Vec::new()).is_err(),
            "identifier required first"
        );
    }
}
