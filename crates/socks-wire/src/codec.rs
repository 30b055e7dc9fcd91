//! `tokio_util::codec` adapters (feature `codec`): a framed decoder for any message type and one
//! for UDP-TUN streams.

use std::io;
use std::marker::PhantomData;

use bytes::{Buf, Bytes, BytesMut};
use thiserror::Error;
use tokio_util::codec::{Decoder, Encoder};

use crate::{Address, Decode, DecodeError, Decoded, Encode, EncodeError, UdpTunFrame};

/// Error of the codecs: the I/O error of the underlying stream, or a protocol error.
#[derive(Debug, Error)]
pub enum CodecError {
    /// The stream failed.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// The peer sent a malformed message.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// A message could not be encoded.
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

/// Decodes messages of type `T` and encodes any [`Encode`] message, e.g.
/// `Framed<TcpStream, MessageCodec<Request>>` reads requests and sends replies.
#[derive(Debug)]
pub struct MessageCodec<T> {
    _msg: PhantomData<fn() -> T>,
}

impl<T> MessageCodec<T> {
    /// A codec for `T`.
    pub fn new() -> Self {
        MessageCodec { _msg: PhantomData }
    }
}

impl<T> Default for MessageCodec<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Clone for MessageCodec<T> {
    fn clone(&self) -> Self {
        Self::new()
    }
}

impl<T: for<'a> Decode<'a>> Decoder for MessageCodec<T> {
    type Item = T;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<T>, CodecError> {
        match T::decode(src)? {
            Decoded::Complete(msg, len) => {
                src.advance(len);
                Ok(Some(msg))
            }
            Decoded::NeedMore(n) => {
                src.reserve(n);
                Ok(None)
            }
        }
    }
}

impl<T, M: Encode> Encoder<M> for MessageCodec<T> {
    type Error = CodecError;

    fn encode(&mut self, msg: M, dst: &mut BytesMut) -> Result<(), CodecError> {
        dst.reserve(msg.encoded_len());
        msg.encode(dst)?;
        Ok(())
    }
}

/// An owned UDP-TUN datagram, as yielded by [`UdpTunCodec`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UdpTunDatagram {
    /// Destination (client to server) or source (server to client).
    pub addr: Address,
    /// The datagram, sharing the read buffer's memory.
    pub payload: Bytes,
}

impl UdpTunDatagram {
    /// The borrowed frame view of this datagram.
    pub fn as_frame(&self) -> UdpTunFrame<'_> {
        UdpTunFrame::new(self.addr.clone(), &self.payload)
    }
}

impl Encode for UdpTunDatagram {
    fn encoded_len(&self) -> usize {
        self.as_frame().encoded_len()
    }

    fn encode<B: bytes::BufMut>(&self, buf: &mut B) -> Result<usize, EncodeError> {
        self.as_frame().encode(buf)
    }
}

/// Reads and writes UDP-TUN frames on the stream after a CMD 0xF3 exchange. Payloads are split
/// off the read buffer without copying.
#[derive(Debug, Clone, Default)]
pub struct UdpTunCodec;

impl Decoder for UdpTunCodec {
    type Item = UdpTunDatagram;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<UdpTunDatagram>, CodecError> {
        let (addr, header_len, payload_len) = match UdpTunFrame::decode(src)? {
            Decoded::Complete(frame, len) => {
                (frame.addr, len - frame.payload.len(), frame.payload.len())
            }
            Decoded::NeedMore(n) => {
                src.reserve(n);
                return Ok(None);
            }
        };
        src.advance(header_len);
        let payload = src.split_to(payload_len).freeze();
        Ok(Some(UdpTunDatagram { addr, payload }))
    }
}

impl<M: Encode> Encoder<M> for UdpTunCodec {
    type Error = CodecError;

    fn encode(&mut self, msg: M, dst: &mut BytesMut) -> Result<(), CodecError> {
        dst.reserve(msg.encoded_len());
        msg.encode(dst)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Reply, ReplyCode, Request};

    #[test]
    fn message_codec_decodes_across_chunks_and_encodes_other_types() {
        let mut codec = MessageCodec::<Request>::new();
        let mut buf = BytesMut::from(&[5u8, 1, 0, 1, 127][..]);
        assert!(codec.decode(&mut buf).unwrap().is_none());
        buf.extend_from_slice(&[0, 0, 1, 0, 80, 0xAA]);
        let req = codec.decode(&mut buf).unwrap().unwrap();
        assert_eq!(req.addr.to_string(), "127.0.0.1:80");
        assert_eq!(&buf[..], [0xAA]);
        let mut out = BytesMut::new();
        codec
            .encode(Reply::failure(ReplyCode::Succeeded), &mut out)
            .unwrap();
        assert_eq!(out.len(), 10);
        let mut bad = BytesMut::from(&[4u8, 1][..]);
        assert!(matches!(codec.decode(&mut bad), Err(CodecError::Decode(_))));
    }

    #[test]
    fn udp_tun_codec_splits_frames() {
        let mut codec = UdpTunCodec;
        let mut wire = BytesMut::new();
        let first = UdpTunDatagram {
            addr: "127.0.0.1:53".parse().unwrap(),
            payload: Bytes::from_static(b"one"),
        };
        codec.encode(first.clone(), &mut wire).unwrap();
        codec
            .encode(UdpTunFrame::new(Address::UNSPECIFIED, b"two"), &mut wire)
            .unwrap();
        assert_eq!(codec.decode(&mut wire).unwrap(), Some(first));
        let second = codec.decode(&mut wire).unwrap().unwrap();
        assert_eq!(&second.payload[..], b"two");
        assert!(codec.decode(&mut wire).unwrap().is_none());
    }
}
