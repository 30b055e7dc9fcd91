//! The datagram layer: crypt header (random nonce + CRC32) and FEC around the KCP bytes, sealed and
//! opened without any I/O.
//!
//! ```text
//! [0..16) nonce | [16..20) crc32 IEEE LE of [20..) | FEC header (if on) | KCP segments
//! └──────────────── whole datagram encrypted (CFB, fixed IV) ─────────────────────┘
//! ```

use rand::RngCore;

use crate::crypt::BlockCrypt;
use crate::error::{ConfigError, PacketError};
use crate::fec::{self, FEC_HEADER_PLUS2, FecDecoder, FecEncoder, TYPE_DATA, TYPE_PARITY};

/// Random nonce length.
pub const NONCE: usize = 16;
/// Nonce plus CRC32.
pub const CRYPT_HEADER: usize = NONCE + 4;
/// KCP segment header length.
pub const KCP_OVERHEAD: usize = 24;

/// Encrypts `buf` in place after filling its nonce and checksum (`buf[..20]` is overwritten).
pub fn seal(crypt: &BlockCrypt, buf: &mut [u8]) {
    rand::rng().fill_bytes(&mut buf[..NONCE]);
    let crc = crc32fast::hash(&buf[CRYPT_HEADER..]);
    buf[NONCE..CRYPT_HEADER].copy_from_slice(&crc.to_le_bytes());
    crypt.encrypt(buf);
}

/// Decrypts `buf` in place and checks its CRC; returns the plaintext after the crypt header.
pub fn open<'a>(crypt: &BlockCrypt, buf: &'a mut [u8]) -> Result<&'a [u8], PacketError> {
    if buf.len() < CRYPT_HEADER {
        return Err(PacketError::TooShort(buf.len()));
    }
    crypt.decrypt(buf);
    let want = u32::from_le_bytes([buf[16], buf[17], buf[18], buf[19]]);
    if crc32fast::hash(&buf[CRYPT_HEADER..]) != want {
        return Err(PacketError::Checksum);
    }
    Ok(&buf[CRYPT_HEADER..])
}

/// Turns KCP output buffers into datagrams: header, FEC (data + parity), encryption.
#[derive(Debug)]
pub struct PacketEncoder {
    crypt: BlockCrypt,
    fec: Option<FecEncoder>,
    parity: Vec<Vec<u8>>,
}

impl PacketEncoder {
    /// An encoder with the given cipher and optional `(datashard, parityshard)`.
    pub fn new(crypt: BlockCrypt, fec: Option<(usize, usize)>) -> Result<Self, ConfigError> {
        Ok(PacketEncoder {
            crypt,
            fec: fec.map(|(d, p)| FecEncoder::new(d, p)).transpose()?,
            parity: Vec::new(),
        })
    }

    /// Bytes added in front of the KCP bytes: 20 (crypt) + 8 (FEC, when on).
    pub fn overhead(&self) -> usize {
        CRYPT_HEADER
            + if self.fec.is_some() {
                FEC_HEADER_PLUS2
            } else {
                0
            }
    }

    /// Wraps one KCP output buffer and passes the resulting datagram(s) to `emit`: the data packet,
    /// then the group's parity packets when it completed a FEC group.
    pub fn encode(&mut self, kcp: &[u8], now_ms: u32, rto: u32, emit: &mut dyn FnMut(&[u8])) {
        let head = self.overhead();
        let mut buf = vec![0u8; head + kcp.len()];
        buf[head..].copy_from_slice(kcp);
        if let Some(fec) = &mut self.fec {
            fec.encode(&mut buf[CRYPT_HEADER..], now_ms, rto, &mut self.parity);
        }
        seal(&self.crypt, &mut buf);
        emit(&buf);
        for p in self.parity.drain(..) {
            let mut pkt = vec![0u8; CRYPT_HEADER + p.len()];
            pkt[CRYPT_HEADER..].copy_from_slice(&p);
            seal(&self.crypt, &mut pkt);
            emit(&pkt);
        }
    }
}

/// What an opened datagram carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketKind {
    /// A FEC data packet.
    Data,
    /// A FEC parity packet.
    Parity,
    /// KCP bytes without FEC header.
    Raw,
}

/// Opens datagrams and hands their KCP bytes (and any FEC-recovered KCP bytes) to the caller.
#[derive(Debug)]
pub struct PacketDecoder {
    crypt: BlockCrypt,
    fec: Option<FecDecoder>,
}

impl PacketDecoder {
    /// A decoder with the given cipher; parity packets are used for recovery when `fec` is given.
    pub fn new(crypt: BlockCrypt, fec: Option<(usize, usize)>) -> Result<Self, ConfigError> {
        Ok(PacketDecoder {
            crypt,
            fec: fec.map(|(d, p)| FecDecoder::new(d, p)).transpose()?,
        })
    }

    /// Decrypts and checks `datagram` in place, then passes its KCP bytes to `deliver` (data and raw
    /// packets immediately; lost data packets once FEC rebuilds them). Both FEC and raw packets are
    /// accepted whatever the local FEC setting, like kcp-go.
    pub fn decode(
        &mut self,
        datagram: &mut [u8],
        deliver: &mut dyn FnMut(&[u8]),
    ) -> Result<PacketKind, PacketError> {
        let plain = open(&self.crypt, datagram)?;
        let kind = match fec::packet_type(plain) {
            Some(TYPE_DATA) if plain.len() >= FEC_HEADER_PLUS2 + KCP_OVERHEAD => {
                deliver(&plain[FEC_HEADER_PLUS2..]);
                PacketKind::Data
            }
            Some(TYPE_PARITY) => PacketKind::Parity,
            Some(_) => return Err(PacketError::TooShort(datagram.len())),
            None if plain.len() >= KCP_OVERHEAD => {
                deliver(plain);
                return Ok(PacketKind::Raw);
            }
            None => return Err(PacketError::TooShort(datagram.len())),
        };
        if let Some(fec) = &mut self.fec {
            fec.input(plain, deliver);
        }
        Ok(kind)
    }

    /// FEC groups currently waiting for packets.
    pub fn open_groups(&self) -> usize {
        self.fec.as_ref().map_or(0, FecDecoder::open_groups)
    }
}

/// Opens one datagram without any FEC state and returns the conversation id of its KCP bytes, for
/// a listener deciding whether an unknown address starts a session (data and raw packets only).
pub fn peek_conv(crypt: &BlockCrypt, datagram: &mut [u8]) -> Result<u32, PacketError> {
    let plain = open(crypt, datagram)?;
    let kcp = match fec::packet_type(plain) {
        Some(TYPE_DATA) => &plain[FEC_HEADER_PLUS2.min(plain.len())..],
        Some(_) => return Err(PacketError::Segment),
        None => plain,
    };
    if kcp.len() < KCP_OVERHEAD {
        return Err(PacketError::TooShort(kcp.len()));
    }
    Ok(u32::from_le_bytes([kcp[0], kcp[1], kcp[2], kcp[3]]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypt::CryptMethod;

    fn crypt() -> BlockCrypt {
        BlockCrypt::with_key(CryptMethod::Aes256, &[7u8; 32])
    }

    #[test]
    fn sealed_packets_open_and_corruption_is_detected() {
        let mut enc = PacketEncoder::new(crypt(), Some((10, 3))).unwrap();
        let mut dec = PacketDecoder::new(crypt(), Some((10, 3))).unwrap();
        let kcp = [0x11u8; 40];
        let mut out = Vec::new();
        enc.encode(&kcp, 0, 100, &mut |d| out.push(d.to_vec()));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].len(), 28 + 40);
        let mut good = out[0].clone();
        let mut got = Vec::new();
        assert_eq!(
            dec.decode(&mut good, &mut |k| got.push(k.to_vec())),
            Ok(PacketKind::Data)
        );
        assert_eq!(got, vec![kcp.to_vec()]);
        let mut bad = out[0].clone();
        bad[30] ^= 1;
        assert_eq!(
            dec.decode(&mut bad, &mut |_| {}),
            Err(PacketError::Checksum)
        );
        let mut again = out[0].clone();
        assert_eq!(peek_conv(&crypt(), &mut again), Ok(0x11111111));
    }
}
