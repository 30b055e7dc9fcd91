//! UDP framing: the RFC 1928 UDP request header that prefixes every relayed datagram, and upstream
//! GOST's UDP-TUN frame that carries datagrams over the TCP stream after CMD 0xF3.

use bytes::BufMut;

use crate::reader::{Stop, run};
use crate::{Address, Decode, DecodeError, Decoded, Encode, EncodeError, ensure_room};

/// The RFC 1928 UDP request header `RSV(2)=0 FRAG ATYP DST.ADDR DST.PORT`; the payload is the
/// rest of the datagram.
///
/// ```
/// use socks_wire::{Address, Encode, UdpHeader};
/// let header = UdpHeader::new("127.0.0.1:32002".parse::<Address>().unwrap());
/// let mut datagram = Vec::new();
/// header.encode(&mut datagram).unwrap();
/// datagram.extend_from_slice(b"ping!");
/// let (decoded, payload) = UdpHeader::split_datagram(&datagram).unwrap();
/// assert_eq!((decoded, payload), (header, &b"ping!"[..]));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UdpHeader {
    /// FRAG: 0 for a whole datagram. Upstream GOST ignores it (it never reassembles fragments).
    pub frag: u8,
    /// DST.ADDR/DST.PORT: the target (client to relay) or the source (relay to client).
    pub addr: Address,
}

impl UdpHeader {
    /// The header of an unfragmented datagram for `addr`.
    pub fn new(addr: Address) -> UdpHeader {
        UdpHeader { frag: 0, addr }
    }

    /// Splits a whole datagram into its header and payload. A datagram too short for its header
    /// is [`DecodeError::Truncated`].
    pub fn split_datagram(datagram: &[u8]) -> Result<(UdpHeader, &[u8]), DecodeError> {
        match UdpHeader::decode(datagram)? {
            Decoded::Complete(h, len) => Ok((h, &datagram[len..])),
            Decoded::NeedMore(_) => Err(DecodeError::Truncated),
        }
    }
}

impl Decode<'_> for UdpHeader {
    fn decode(buf: &[u8]) -> Result<Decoded<Self>, DecodeError> {
        run(buf, |r| {
            // RSV FRAG plus the shortest address (ATYP, 1-byte domain, port).
            let head = r.take_then(3, 5)?;
            let rsv = u16::from_be_bytes([head[0], head[1]]);
            if rsv != 0 {
                return Err(Stop::Bad(DecodeError::UdpReserved(rsv)));
            }
            Ok(UdpHeader {
                frag: head[2],
                addr: Address::read_then(r, 0)?,
            })
        })
    }
}

impl Encode for UdpHeader {
    fn encoded_len(&self) -> usize {
        3 + self.addr.encoded_len()
    }

    fn encode<B: BufMut>(&self, buf: &mut B) -> Result<usize, EncodeError> {
        let len = ensure_room(buf, self.encoded_len())?;
        buf.put_slice(&[0, 0, self.frag]);
        self.addr.write(buf);
        Ok(len)
    }
}

/// Upstream GOST's UDP-TUN frame `LEN(2, BE) FRAG=0xFF ATYP ADDR PORT DATA(LEN)`: one datagram on
/// the TCP stream after a CMD 0xF3 request, in both directions. The address is the destination
/// (client to server) or the source/peer (server to client).
///
/// Decoding ignores FRAG (upstream readers do) and rejects LEN = 0; encoding writes FRAG = 0xFF
/// and refuses empty or over-long payloads.
///
/// ```
/// use socks_wire::{Address, Decode, Decoded, Encode, UdpTunFrame};
/// let wire = b"\x00\x05\xff\x01\x7f\x00\x00\x01\x7d\x02ping!";
/// let Ok(Decoded::Complete(frame, 15)) = UdpTunFrame::decode(wire) else { panic!() };
/// assert_eq!(frame.payload, b"ping!");
/// assert_eq!(frame.addr.to_string(), "127.0.0.1:32002");
/// assert_eq!(frame.to_vec().unwrap(), wire);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UdpTunFrame<'a> {
    /// The datagram's destination or source.
    pub addr: Address,
    /// The datagram (1..=65535 bytes).
    pub payload: &'a [u8],
}

impl<'a> UdpTunFrame<'a> {
    /// A frame carrying `payload` for `addr`.
    pub fn new(addr: Address, payload: &'a [u8]) -> UdpTunFrame<'a> {
        UdpTunFrame { addr, payload }
    }

    /// Length of the header alone (everything before the payload).
    pub fn header_len(&self) -> usize {
        3 + self.addr.encoded_len()
    }

    /// Writes only the header (for a vectored write of header and payload); fails like
    /// [`Encode::encode`] for an empty or too long payload.
    pub fn encode_header<B: BufMut>(&self, buf: &mut B) -> Result<usize, EncodeError> {
        let len = self.checked_len()?;
        let header_len = ensure_room(buf, self.header_len())?;
        buf.put_u16(len);
        buf.put_u8(0xFF);
        self.addr.write(buf);
        Ok(header_len)
    }

    fn checked_len(&self) -> Result<u16, EncodeError> {
        match self.payload.len() {
            0 => Err(EncodeError::EmptyUdpTunPayload),
            n => u16::try_from(n).map_err(|_| EncodeError::UdpTunPayloadTooLong(n)),
        }
    }
}

impl<'a> Decode<'a> for UdpTunFrame<'a> {
    fn decode(buf: &'a [u8]) -> Result<Decoded<Self>, DecodeError> {
        run(buf, |r| {
            // LEN, then FRAG, the shortest address (ATYP, 1-byte domain, port) and 1 payload byte.
            let b = r.take_then(2, 1 + 5 + 1)?;
            let len = usize::from(u16::from_be_bytes([b[0], b[1]]));
            if len == 0 {
                return Err(Stop::Bad(DecodeError::EmptyUdpTunFrame));
            }
            r.take_then(1, 5 + len)?;
            let addr = Address::read_then(r, len)?;
            let payload = r.take(len)?;
            Ok(UdpTunFrame { addr, payload })
        })
    }
}

impl Encode for UdpTunFrame<'_> {
    fn encoded_len(&self) -> usize {
        self.header_len() + self.payload.len()
    }

    fn encode<B: BufMut>(&self, buf: &mut B) -> Result<usize, EncodeError> {
        self.checked_len()?;
        let len = ensure_room(buf, self.encoded_len())?;
        self.encode_header(buf)?;
        buf.put_slice(self.payload);
        Ok(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udp_header_requires_zero_rsv() {
        assert_eq!(
            UdpHeader::decode(&[0, 5, 0xff, 1, 0, 0, 0, 0, 0, 0]),
            Err(DecodeError::UdpReserved(5))
        );
    }

    #[test]
    fn udp_header_keeps_frag_and_reports_truncation() {
        let wire = [0, 0, 3, 1, 10, 0, 0, 1, 0, 53, b'x'];
        let (h, payload) = UdpHeader::split_datagram(&wire).unwrap();
        assert_eq!(h.frag, 3);
        assert_eq!(payload, b"x");
        assert_eq!(h.to_vec().unwrap(), wire[..10]);
        assert_eq!(
            UdpHeader::split_datagram(&wire[..9]),
            Err(DecodeError::Truncated)
        );
        assert_eq!(UdpHeader::decode(&wire[..9]), Ok(Decoded::NeedMore(1)));
    }

    #[test]
    fn tun_frame_needs_the_whole_payload() {
        let wire = b"\x00\x05\xff\x01\x7f\x00\x00\x01\x7d\x02ping!";
        assert_eq!(
            UdpTunFrame::decode(&wire[..2]),
            Ok(Decoded::NeedMore(1 + 5 + 5))
        );
        assert_eq!(
            UdpTunFrame::decode(&wire[..4]),
            Ok(Decoded::NeedMore(6 + 5))
        );
        assert_eq!(UdpTunFrame::decode(&wire[..12]), Ok(Decoded::NeedMore(3)));
    }

    #[test]
    fn tun_frame_ignores_frag_and_rejects_empty() {
        let wire = b"\x00\x01\x00\x01\x7f\x00\x00\x01\x7d\x02!";
        assert!(matches!(
            UdpTunFrame::decode(wire),
            Ok(Decoded::Complete(_, 11))
        ));
        assert_eq!(
            UdpTunFrame::decode(b"\x00\x00\xff\x01"),
            Err(DecodeError::EmptyUdpTunFrame)
        );
    }

    #[test]
    fn tun_frame_encode_checks_payload_length() {
        let addr = Address::UNSPECIFIED;
        assert_eq!(
            UdpTunFrame::new(addr.clone(), b"").to_vec(),
            Err(EncodeError::EmptyUdpTunPayload)
        );
        let big = vec![0u8; 65536];
        assert_eq!(
            UdpTunFrame::new(addr.clone(), &big).to_vec(),
            Err(EncodeError::UdpTunPayloadTooLong(65536))
        );
        let max = UdpTunFrame::new(addr, &big[..65535]).to_vec().unwrap();
        assert_eq!(&max[..3], [0xff, 0xff, 0xff]);
        assert_eq!(max.len(), 10 + 65535);
    }

    #[test]
    fn header_only_encoding_matches_the_frame_prefix() {
        let f = UdpTunFrame::new("[::1]:53".parse().unwrap(), b"abc");
        let mut header = Vec::new();
        assert_eq!(f.encode_header(&mut header), Ok(f.header_len()));
        let whole = f.to_vec().unwrap();
        assert_eq!(header, whole[..f.header_len()]);
    }
}
