//! kcp-go's forward error correction: the 6/8-byte FEC header and Reed-Solomon groups of
//! `datashard` data packets followed by `parityshard` parity packets.
//!
//! Packets here start at the FEC header (the crypt header is already stripped):
//! `seqid u32 LE | type u16 LE (0xF1 data, 0xF2 parity) | data: size u16 LE (= 2 + KCP bytes), KCP
//! bytes | parity: RS parity`. The Reed-Solomon code (GF(2^8), polynomial 0x11d, systematic
//! Vandermonde matrix) is byte-compatible with klauspost/reedsolomon; it runs over each packet's
//! bytes from the size field on, zero-padded to the longest data packet of the group.

use reed_solomon_erasure::galois_8::ReedSolomon;

use crate::error::ConfigError;

/// FEC header length: seqid + type.
pub const FEC_HEADER: usize = 6;
/// FEC header plus the data packets' size field.
pub const FEC_HEADER_PLUS2: usize = 8;
/// Type of a data packet.
pub const TYPE_DATA: u16 = 0xf1;
/// Type of a parity packet.
pub const TYPE_PARITY: u16 = 0xf2;
/// Incomplete groups kept for recovery; older ones are dropped (bounds memory per session).
const MAX_OPEN_GROUPS: usize = 16;

/// The FEC type of a plaintext packet (after the crypt header), or `None` for a raw KCP packet.
/// Unambiguous: a raw KCP packet has its command byte (81..=84) where the type's low byte is.
pub fn packet_type(pkt: &[u8]) -> Option<u16> {
    let ty = u16::from_le_bytes(pkt.get(4..6)?.try_into().ok()?);
    (ty == TYPE_DATA || ty == TYPE_PARITY).then_some(ty)
}

fn rs(data_shards: usize, parity_shards: usize) -> Result<ReedSolomon, ConfigError> {
    ReedSolomon::new(data_shards, parity_shards).map_err(|e| ConfigError::BadValue {
        name: "datashard/parityshard".into(),
        value: format!("{data_shards}/{parity_shards}: {e:?}"),
    })
}

/// Stamps outgoing data packets and produces the parity packets of each complete group.
#[derive(Debug)]
pub struct FecEncoder {
    data_shards: usize,
    parity_shards: usize,
    /// seqids wrap at the largest multiple of the group size that fits in u32.
    paws: u32,
    next: u32,
    shards: Vec<Vec<u8>>,
    count: usize,
    max_len: usize,
    last_packet_ms: Option<u32>,
    codec: ReedSolomon,
}

impl FecEncoder {
    /// An encoder for groups of `data_shards` + `parity_shards` (both > 0, sum ≤ 256).
    pub fn new(data_shards: usize, parity_shards: usize) -> Result<Self, ConfigError> {
        let codec = rs(data_shards, parity_shards)?;
        let group = (data_shards + parity_shards) as u32;
        Ok(FecEncoder {
            data_shards,
            parity_shards,
            paws: u32::MAX / group * group,
            next: 0,
            shards: vec![Vec::new(); data_shards],
            count: 0,
            max_len: 0,
            last_packet_ms: None,
            codec,
        })
    }

    fn take_seqid(&mut self) -> u32 {
        let id = self.next;
        self.next = (self.next + 1) % self.paws;
        id
    }

    /// Fills in the 8-byte header of `pkt` (`[0..8]` reserved, KCP bytes after it) and records it.
    /// When this completes a group, the parity packets (FEC header + parity) are appended to
    /// `parity_out`. Like kcp-go, parity is only generated when the group's last packet followed the
    /// previous one within `rto` ms (late parity is useless); its seqids are consumed either way.
    pub fn encode(&mut self, pkt: &mut [u8], now_ms: u32, rto: u32, parity_out: &mut Vec<Vec<u8>>) {
        debug_assert!(pkt.len() >= FEC_HEADER_PLUS2);
        let id = self.take_seqid();
        pkt[0..4].copy_from_slice(&id.to_le_bytes());
        pkt[4..6].copy_from_slice(&TYPE_DATA.to_le_bytes());
        let size = (pkt.len() - FEC_HEADER) as u16;
        pkt[6..8].copy_from_slice(&size.to_le_bytes());

        let shard = &mut self.shards[self.count];
        shard.clear();
        shard.extend_from_slice(&pkt[FEC_HEADER..]);
        self.max_len = self.max_len.max(shard.len());
        self.count += 1;

        if self.count == self.data_shards {
            let continuous = self
                .last_packet_ms
                .is_some_and(|t| now_ms.wrapping_sub(t) < rto);
            if continuous {
                self.emit_parity(parity_out);
            } else {
                self.next =
                    ((self.next as u64 + self.parity_shards as u64) % self.paws as u64) as u32;
            }
            self.count = 0;
            self.max_len = 0;
        }
        self.last_packet_ms = Some(now_ms);
    }

    fn emit_parity(&mut self, parity_out: &mut Vec<Vec<u8>>) {
        let len = self.max_len;
        for s in &mut self.shards {
            s.resize(len, 0);
        }
        let mut parity = vec![vec![0u8; len]; self.parity_shards];
        // Shard counts and lengths are consistent by construction, so this cannot fail.
        if self.codec.encode_sep(&self.shards, &mut parity).is_err() {
            self.next = ((self.next as u64 + self.parity_shards as u64) % self.paws as u64) as u32;
            return;
        }
        for p in parity {
            let id = self.take_seqid();
            let mut pkt = Vec::with_capacity(FEC_HEADER + len);
            pkt.extend_from_slice(&id.to_le_bytes());
            pkt.extend_from_slice(&TYPE_PARITY.to_le_bytes());
            pkt.extend_from_slice(&p);
            parity_out.push(pkt);
        }
    }
}

#[derive(Debug)]
struct Group {
    id: u32,
    shards: Vec<Option<Vec<u8>>>,
    have: usize,
    have_data: usize,
}

/// Collects received packets per group and rebuilds lost data packets from parity.
#[derive(Debug)]
pub struct FecDecoder {
    data_shards: usize,
    group_size: usize,
    codec: ReedSolomon,
    groups: Vec<Group>,
    /// Newest group already completed; it and older groups are ignored.
    done: Option<u32>,
}

/// Signed distance between wrapping counters, like ikcp's `_itimediff`.
fn diff(later: u32, earlier: u32) -> i32 {
    later.wrapping_sub(earlier) as i32
}

impl FecDecoder {
    /// A decoder for groups of `data_shards` + `parity_shards`.
    pub fn new(data_shards: usize, parity_shards: usize) -> Result<Self, ConfigError> {
        Ok(FecDecoder {
            data_shards,
            group_size: data_shards + parity_shards,
            codec: rs(data_shards, parity_shards)?,
            groups: Vec::new(),
            done: None,
        })
    }

    /// Number of groups waiting for more packets.
    pub fn open_groups(&self) -> usize {
        self.groups.len()
    }

    /// Takes one FEC packet (data or parity, starting at the seqid). Every data packet it manages
    /// to rebuild is passed to `recovered` as its KCP bytes. The caller delivers received data
    /// packets to KCP itself; this only fills gaps.
    pub fn input(&mut self, pkt: &[u8], recovered: &mut dyn FnMut(&[u8])) {
        let Some(ty) = packet_type(pkt) else { return };
        let seqid = u32::from_le_bytes([pkt[0], pkt[1], pkt[2], pkt[3]]);
        let index = (seqid as usize) % self.group_size;
        // A packet whose type does not fit our group layout means the peer uses other shard
        // counts; its data is still delivered by the caller, it just cannot help recovery.
        if (index < self.data_shards) != (ty == TYPE_DATA) {
            return;
        }
        let gid = seqid / self.group_size as u32;
        if let Some(done) = self.done {
            let d = diff(gid, done);
            // Far-away ids mean the sequence wrapped or restarted: start over.
            if d <= 0 && d > -(1 << 20) {
                return;
            }
        }
        let pos = match self.groups.iter().position(|g| g.id == gid) {
            Some(p) => p,
            None => {
                if self.groups.len() >= MAX_OPEN_GROUPS {
                    let oldest = (0..self.groups.len())
                        .min_by_key(|&i| diff(self.groups[i].id, gid))
                        .unwrap_or(0);
                    self.groups.swap_remove(oldest);
                }
                self.groups.push(Group {
                    id: gid,
                    shards: vec![None; self.group_size],
                    have: 0,
                    have_data: 0,
                });
                self.groups.len() - 1
            }
        };
        let group = &mut self.groups[pos];
        if group.shards[index].is_some() {
            return;
        }
        group.shards[index] = Some(pkt[FEC_HEADER..].to_vec());
        group.have += 1;
        if ty == TYPE_DATA {
            group.have_data += 1;
        }
        if group.have < self.data_shards {
            return;
        }
        let mut group = self.groups.swap_remove(pos);
        if group.have_data < self.data_shards {
            self.recover(&mut group, recovered);
        }
        self.done = Some(gid);
        self.groups.retain(|g| diff(g.id, gid) > 0);
    }

    fn recover(&self, group: &mut Group, recovered: &mut dyn FnMut(&[u8])) {
        let missing: Vec<usize> = (0..self.data_shards)
            .filter(|&i| group.shards[i].is_none())
            .collect();
        let len = group
            .shards
            .iter()
            .flatten()
            .map(Vec::len)
            .max()
            .unwrap_or(0);
        if len < 2 {
            return;
        }
        for s in group.shards.iter_mut().flatten() {
            s.resize(len, 0);
        }
        if self.codec.reconstruct_data(&mut group.shards).is_err() {
            return;
        }
        for i in missing {
            let Some(shard) = group.shards[i].as_deref() else {
                continue;
            };
            let size = u16::from_le_bytes([shard[0], shard[1]]) as usize;
            if (2..=shard.len()).contains(&size) {
                recovered(&shard[2..size]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data_packet(kcp: &[u8]) -> Vec<u8> {
        let mut p = vec![0u8; FEC_HEADER_PLUS2];
        p.extend_from_slice(kcp);
        p
    }

    /// Runs one group through the encoder; returns (data packets, parity packets).
    fn group(payloads: &[Vec<u8>], ds: usize, ps: usize) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
        let mut enc = FecEncoder::new(ds, ps).unwrap();
        let mut parity = Vec::new();
        let mut data = Vec::new();
        for p in payloads {
            let mut pkt = data_packet(p);
            enc.encode(&mut pkt, 5, 100, &mut parity);
            data.push(pkt);
        }
        (data, parity)
    }

    #[test]
    fn encoder_numbers_data_then_parity() {
        let payloads: Vec<Vec<u8>> = (0..10).map(|i| vec![i as u8; 10 + i]).collect();
        let (data, parity) = group(&payloads, 10, 3);
        for (i, d) in data.iter().enumerate() {
            assert_eq!(u32::from_le_bytes(d[0..4].try_into().unwrap()), i as u32);
            assert_eq!(packet_type(d), Some(TYPE_DATA));
            assert_eq!(
                u16::from_le_bytes([d[6], d[7]]) as usize,
                2 + payloads[i].len()
            );
        }
        assert_eq!(parity.len(), 3);
        for (i, p) in parity.iter().enumerate() {
            assert_eq!(
                u32::from_le_bytes(p[0..4].try_into().unwrap()),
                10 + i as u32
            );
            assert_eq!(packet_type(p), Some(TYPE_PARITY));
            assert_eq!(p.len(), FEC_HEADER + 2 + 19);
        }
    }

    #[test]
    fn late_group_skips_parity_but_keeps_numbering() {
        let mut enc = FecEncoder::new(2, 1).unwrap();
        let mut parity = Vec::new();
        let mut a = data_packet(b"a");
        enc.encode(&mut a, 0, 100, &mut parity);
        let mut b = data_packet(b"b");
        enc.encode(&mut b, 500, 100, &mut parity);
        assert!(parity.is_empty());
        let mut c = data_packet(b"c");
        enc.encode(&mut c, 501, 100, &mut parity);
        assert_eq!(u32::from_le_bytes(c[0..4].try_into().unwrap()), 3);
    }

    #[test]
    fn decoder_rebuilds_up_to_parity_count_lost_packets() {
        let payloads: Vec<Vec<u8>> = (0..10).map(|i| vec![0x40 + i as u8; 30 + 7 * i]).collect();
        let (data, parity) = group(&payloads, 10, 3);
        let mut dec = FecDecoder::new(10, 3).unwrap();
        let lost = [1usize, 4, 9];
        let mut got = Vec::new();
        for (i, d) in data.iter().enumerate() {
            if !lost.contains(&i) {
                dec.input(d, &mut |r| got.push(r.to_vec()));
            }
        }
        assert!(got.is_empty());
        for p in &parity {
            dec.input(p, &mut |r| got.push(r.to_vec()));
        }
        let want: Vec<Vec<u8>> = lost.iter().map(|&i| payloads[i].clone()).collect();
        assert_eq!(got, want);
        assert_eq!(dec.open_groups(), 0);
        // Late duplicates of a finished group are ignored.
        dec.input(&parity[0], &mut |_| {
            panic!("finished group recovered twice")
        });
    }

    #[test]
    fn decoder_memory_is_bounded() {
        let mut dec = FecDecoder::new(10, 3).unwrap();
        for g in 0..1000u32 {
            let mut pkt = data_packet(b"x");
            pkt[0..4].copy_from_slice(&(g * 13).to_le_bytes());
            pkt[4..6].copy_from_slice(&TYPE_DATA.to_le_bytes());
            dec.input(&pkt, &mut |_| {});
        }
        assert!(dec.open_groups() <= MAX_OPEN_GROUPS);
    }
}
