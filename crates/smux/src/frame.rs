//! Sans-io codec for smux frames: the 8-byte little-endian header and its payload.
//!
//! ```text
//! +---------+---------+----------------+------------------+
//! | VER (1) | CMD (1) | LENGTH (2, LE) | STREAM ID (4, LE)|  then LENGTH bytes of data
//! +---------+---------+----------------+------------------+
//! ```
//!
//! Decoding is stricter than xtaci/smux in one place: a SYN, FIN or NOP header that announces a
//! payload is rejected. Upstream never sends one and would itself misparse the payload as the next
//! header, so refusing it early turns a silent desynchronisation into a clear error.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// Length of the frame header in bytes.
pub const HEADER_LEN: usize = 8;
/// Largest payload the 16-bit length field can describe.
pub const MAX_DATA_LEN: usize = u16::MAX as usize;
/// Payload length of an UPD (window update) frame: `consumed` and `window`, both u32 LE.
pub const UPD_DATA_LEN: usize = 8;

/// Frame command (the CMD byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Cmd {
    /// Open a stream.
    Syn = 0,
    /// Close a stream (xtaci calls it the "EOF mark").
    Fin = 1,
    /// Stream data.
    Psh = 2,
    /// Keepalive, always on stream 0 without payload.
    Nop = 3,
    /// Window update (protocol version 2 flow control): 8-byte payload.
    Upd = 4,
}

impl Cmd {
    /// Whether frames with this command must have an empty payload.
    fn is_empty_control(self) -> bool {
        matches!(self, Cmd::Syn | Cmd::Fin | Cmd::Nop)
    }
}

impl TryFrom<u8> for Cmd {
    type Error = FrameError;

    fn try_from(b: u8) -> Result<Self, FrameError> {
        Ok(match b {
            0 => Cmd::Syn,
            1 => Cmd::Fin,
            2 => Cmd::Psh,
            3 => Cmd::Nop,
            4 => Cmd::Upd,
            other => return Err(FrameError::BadCmd(other)),
        })
    }
}

/// Why a frame could not be decoded or encoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The VER byte is neither 1 nor 2.
    #[error("smux frame: unsupported protocol version {0} (expected 1 or 2)")]
    BadVersion(u8),
    /// The CMD byte is not one of SYN/FIN/PSH/NOP/UPD.
    #[error("smux frame: unknown command {0}")]
    BadCmd(u8),
    /// An UPD frame whose payload is not exactly 8 bytes.
    #[error("smux frame: UPD payload must be 8 bytes, got {0}")]
    BadUpdLength(usize),
    /// A SYN, FIN or NOP frame carrying a payload.
    #[error("smux frame: {cmd:?} must not carry data, got {len} bytes")]
    UnexpectedData {
        /// The command of the offending frame.
        cmd: Cmd,
        /// Its payload length.
        len: usize,
    },
    /// A payload longer than the 16-bit length field allows (encoding only).
    #[error("smux frame: payload of {0} bytes exceeds 65535")]
    DataTooLong(usize),
}

/// A decoded frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Protocol version (1 or 2).
    pub version: u8,
    /// Command.
    pub cmd: Cmd,
    /// Payload length that follows the header.
    pub length: u16,
    /// Stream the frame belongs to (0 for NOP).
    pub stream_id: u32,
}

impl Header {
    /// Decodes and validates a header from the start of `buf`; `Ok(None)` if fewer than 8 bytes.
    pub fn decode(buf: &[u8]) -> Result<Option<Header>, FrameError> {
        let Some(raw) = buf.first_chunk::<HEADER_LEN>() else {
            return Ok(None);
        };
        let version = raw[0];
        if version != 1 && version != 2 {
            return Err(FrameError::BadVersion(version));
        }
        let cmd = Cmd::try_from(raw[1])?;
        let length = u16::from_le_bytes([raw[2], raw[3]]);
        let stream_id = u32::from_le_bytes([raw[4], raw[5], raw[6], raw[7]]);
        check_payload(cmd, usize::from(length))?;
        Ok(Some(Header {
            version,
            cmd,
            length,
            stream_id,
        }))
    }

    /// The 8 header bytes.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let len = self.length.to_le_bytes();
        let id = self.stream_id.to_le_bytes();
        [
            self.version,
            self.cmd as u8,
            len[0],
            len[1],
            id[0],
            id[1],
            id[2],
            id[3],
        ]
    }

    /// Writes the 8 header bytes into `dst`.
    pub fn encode(&self, dst: &mut impl BufMut) {
        dst.put_slice(&self.to_bytes());
    }

    /// Total length of the frame this header starts: header plus payload.
    pub fn frame_len(&self) -> usize {
        HEADER_LEN + usize::from(self.length)
    }
}

fn check_payload(cmd: Cmd, len: usize) -> Result<(), FrameError> {
    match cmd {
        Cmd::Upd if len != UPD_DATA_LEN => Err(FrameError::BadUpdLength(len)),
        c if c.is_empty_control() && len != 0 => Err(FrameError::UnexpectedData { cmd, len }),
        _ if len > MAX_DATA_LEN => Err(FrameError::DataTooLong(len)),
        _ => Ok(()),
    }
}

/// One smux frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Protocol version (1 or 2).
    pub version: u8,
    /// Command.
    pub cmd: Cmd,
    /// Stream the frame belongs to (0 for NOP).
    pub stream_id: u32,
    /// Payload: PSH data, the 8 UPD bytes, empty otherwise.
    pub data: Bytes,
}

/// Result of [`Frame::decode`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decoded {
    /// A complete frame, which used the first `consumed` bytes of the input.
    Frame {
        /// The frame.
        frame: Frame,
        /// Bytes of input it occupied (header plus payload).
        consumed: usize,
    },
    /// The input holds only part of a frame; at least this many more bytes are needed.
    NeedMore(usize),
}

impl Frame {
    /// A frame without payload (SYN, FIN, NOP).
    pub fn control(version: u8, cmd: Cmd, stream_id: u32) -> Frame {
        Frame {
            version,
            cmd,
            stream_id,
            data: Bytes::new(),
        }
    }

    /// A PSH frame carrying `data`.
    pub fn psh(version: u8, stream_id: u32, data: Bytes) -> Frame {
        Frame {
            version,
            cmd: Cmd::Psh,
            stream_id,
            data,
        }
    }

    /// An UPD frame: the receiver has consumed `consumed` bytes in total and its window is `window`.
    pub fn upd(version: u8, stream_id: u32, consumed: u32, window: u32) -> Frame {
        let mut data = [0u8; UPD_DATA_LEN];
        data[..4].copy_from_slice(&consumed.to_le_bytes());
        data[4..].copy_from_slice(&window.to_le_bytes());
        Frame {
            version,
            cmd: Cmd::Upd,
            stream_id,
            data: Bytes::copy_from_slice(&data),
        }
    }

    /// `(consumed, window)` of an UPD frame; `None` for other commands.
    pub fn upd_fields(&self) -> Option<(u32, u32)> {
        if self.cmd != Cmd::Upd {
            return None;
        }
        let d = self.data.first_chunk::<UPD_DATA_LEN>()?;
        Some(upd_fields(d))
    }

    /// Decodes one frame from the start of `buf`, copying its payload.
    pub fn decode(buf: &[u8]) -> Result<Decoded, FrameError> {
        let Some(h) = Header::decode(buf)? else {
            return Ok(Decoded::NeedMore(HEADER_LEN - buf.len()));
        };
        let total = h.frame_len();
        if buf.len() < total {
            return Ok(Decoded::NeedMore(total - buf.len()));
        }
        Ok(Decoded::Frame {
            frame: Frame {
                version: h.version,
                cmd: h.cmd,
                stream_id: h.stream_id,
                data: Bytes::copy_from_slice(&buf[HEADER_LEN..total]),
            },
            consumed: total,
        })
    }

    /// Decodes one frame from the front of `buf`, splitting its payload off without copying.
    ///
    /// Returns `Ok(None)` (leaving `buf` untouched) until a whole frame is buffered.
    pub fn decode_buf(buf: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        let Some(h) = Header::decode(buf)? else {
            return Ok(None);
        };
        if buf.len() < h.frame_len() {
            return Ok(None);
        }
        buf.advance(HEADER_LEN);
        let data = buf.split_to(usize::from(h.length)).freeze();
        Ok(Some(Frame {
            version: h.version,
            cmd: h.cmd,
            stream_id: h.stream_id,
            data,
        }))
    }

    /// Bytes [`Frame::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN + self.data.len()
    }

    /// Validates the frame and writes it into `dst`.
    pub fn encode(&self, dst: &mut impl BufMut) -> Result<(), FrameError> {
        if self.version != 1 && self.version != 2 {
            return Err(FrameError::BadVersion(self.version));
        }
        check_payload(self.cmd, self.data.len())?;
        Header {
            version: self.version,
            cmd: self.cmd,
            // check_payload bounded the length to u16.
            length: self.data.len() as u16,
            stream_id: self.stream_id,
        }
        .encode(dst);
        dst.put_slice(&self.data);
        Ok(())
    }
}

/// Splits an UPD payload into `(consumed, window)`.
pub(crate) fn upd_fields(d: &[u8; UPD_DATA_LEN]) -> (u32, u32) {
    (
        u32::from_le_bytes([d[0], d[1], d[2], d[3]]),
        u32::from_le_bytes([d[4], d[5], d[6], d[7]]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arb_frame() -> impl Strategy<Value = Frame> {
        let version = prop_oneof![Just(1u8), Just(2u8)];
        let sid = any::<u32>();
        prop_oneof![
            (
                version.clone(),
                sid,
                prop_oneof![Just(Cmd::Syn), Just(Cmd::Fin)]
            )
                .prop_map(|(v, s, c)| Frame::control(v, c, s)),
            version.clone().prop_map(|v| Frame::control(v, Cmd::Nop, 0)),
            (
                version.clone(),
                sid,
                proptest::collection::vec(any::<u8>(), 0..2048)
            )
                .prop_map(|(v, s, d)| Frame::psh(v, s, Bytes::from(d))),
            (version, sid, any::<u32>(), any::<u32>())
                .prop_map(|(v, s, c, w)| Frame::upd(v, s, c, w)),
        ]
    }

    proptest! {
        #[test]
        fn round_trip(frame in arb_frame()) {
            let mut buf = BytesMut::new();
            frame.encode(&mut buf).unwrap();
            prop_assert_eq!(buf.len(), frame.encoded_len());
            match Frame::decode(&buf).unwrap() {
                Decoded::Frame { frame: back, consumed } => {
                    prop_assert_eq!(consumed, buf.len());
                    prop_assert_eq!(&back, &frame);
                }
                Decoded::NeedMore(n) => prop_assert!(false, "needs {} more", n),
            }
            // Every strict prefix asks for more, and asks for exactly what is missing once the
            // header is complete.
            for cut in 0..buf.len() {
                match Frame::decode(&buf[..cut]).unwrap() {
                    Decoded::NeedMore(n) if cut >= HEADER_LEN => prop_assert_eq!(n, buf.len() - cut),
                    Decoded::NeedMore(n) => prop_assert_eq!(n, HEADER_LEN - cut),
                    other => prop_assert!(false, "prefix {} decoded to {:?}", cut, other),
                }
            }
            let back = Frame::decode_buf(&mut buf).unwrap().unwrap();
            prop_assert_eq!(back, frame);
            prop_assert!(buf.is_empty());
        }

        #[test]
        fn arbitrary_input_never_panics(input in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(Decoded::Frame { frame, consumed }) = Frame::decode(&input) {
                let mut again = Vec::new();
                frame.encode(&mut again).unwrap();
                prop_assert_eq!(&again[..], &input[..consumed]);
            }
            let mut buf = BytesMut::from(&input[..]);
            while let Ok(Some(_)) = Frame::decode_buf(&mut buf) {}
        }
    }

    #[test]
    fn header_errors_are_typed() {
        assert_eq!(
            Frame::decode(&[3, 0, 0, 0, 0, 0, 0, 0]),
            Err(FrameError::BadVersion(3))
        );
        assert_eq!(
            Frame::decode(&[1, 5, 0, 0, 0, 0, 0, 0]),
            Err(FrameError::BadCmd(5))
        );
        assert_eq!(
            Frame::decode(&[2, 4, 4, 0, 1, 0, 0, 0]),
            Err(FrameError::BadUpdLength(4))
        );
        assert_eq!(
            Frame::decode(&[1, 0, 1, 0, 3, 0, 0, 0, 0]),
            Err(FrameError::UnexpectedData {
                cmd: Cmd::Syn,
                len: 1
            })
        );
    }

    #[test]
    fn encode_rejects_invalid_frames() {
        let mut out = Vec::new();
        let big = Frame::psh(1, 3, Bytes::from(vec![0; MAX_DATA_LEN + 1]));
        assert_eq!(
            big.encode(&mut out),
            Err(FrameError::DataTooLong(MAX_DATA_LEN + 1))
        );
        let bad_upd = Frame {
            data: Bytes::from_static(b"abc"),
            ..Frame::upd(2, 3, 0, 0)
        };
        assert_eq!(bad_upd.encode(&mut out), Err(FrameError::BadUpdLength(3)));
        assert_eq!(
            Frame::control(0, Cmd::Nop, 0).encode(&mut out),
            Err(FrameError::BadVersion(0))
        );
        assert!(out.is_empty());
    }

    #[test]
    fn upd_layout_matches_upstream() {
        let mut out = Vec::new();
        Frame::upd(2, 3, 0x0102_0304, 65536)
            .encode(&mut out)
            .unwrap();
        assert_eq!(
            hex::encode(&out),
            "020408000300000004030201".to_owned() + "00000100"
        );
        let f = Frame::upd(2, 3, 7, 9);
        assert_eq!(f.upd_fields(), Some((7, 9)));
        assert_eq!(Frame::control(1, Cmd::Nop, 0).upd_fields(), None);
    }
}
