//! Fuzzes gost-kcp's datagram layer (decrypt, CRC, FEC decode) and the ARQ engine behind it.
//!
//! Byte 0 picks the cipher (bits 0-2), the FEC shard counts (bits 3-4) and the mode (bits 6-7); the
//! rest is cut into datagrams, each prefixed by a one-byte length.
//! * mode 0: the datagrams are fed as received ciphertext (garbage is dropped, never a panic);
//! * mode 1: the datagrams are plaintext (FEC header and KCP segments) sealed with a valid nonce and
//!   CRC first, so FEC groups and the ARQ state machine see arbitrary well-sealed input;
//! * mode 2/3: the datagrams are KCP output buffers (command byte forced to a KCP command) sent
//!   through `PacketEncoder`; some packets of each complete FEC group are lost (at most the parity
//!   count) and the decoder must deliver every buffer exactly once with its exact bytes.
#![no_main]

use std::sync::OnceLock;

use gost_kcp::arq::Arq;
use gost_kcp::packet::{self, CRYPT_HEADER, KCP_OVERHEAD, PacketDecoder, PacketEncoder};
use gost_kcp::{BlockCrypt, CryptMethod};
use libfuzzer_sys::fuzz_target;

/// The key upstream GOST uses when no `kcp.key` is set, so recorded datagrams decrypt.
const DEFAULT_KEY: &str = "it's a secrect";

fn cipher(pick: u8) -> BlockCrypt {
    // PBKDF2 with 4096 rounds per run would dominate the fuzzing time: derive once.
    static KEY: OnceLock<[u8; 32]> = OnceLock::new();
    let key = KEY.get_or_init(|| gost_kcp::crypt::derive_key(DEFAULT_KEY));
    let method = match pick % 5 {
        0 => CryptMethod::Aes256,
        1 => CryptMethod::Aes128,
        2 => CryptMethod::Aes192,
        3 => CryptMethod::Xor,
        _ => CryptMethod::None,
    };
    BlockCrypt::with_key(method, key)
}

fn fec(pick: u8) -> Option<(usize, usize)> {
    match pick % 4 {
        0 => Some((10, 3)),
        1 => Some((2, 1)),
        2 => Some((1, 2)),
        _ => None,
    }
}

/// Splits `data` into length-prefixed chunks (a short last chunk takes what is left).
fn chunks(mut data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while let Some((&n, rest)) = data.split_first() {
        let n = usize::from(n).min(rest.len());
        out.push(&rest[..n]);
        data = &rest[n..];
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let crypt = cipher(flags & 7);
    let fec = fec((flags >> 3) & 3);
    match flags >> 6 {
        0 => received(&crypt, fec, chunks(rest), false),
        1 => received(&crypt, fec, chunks(rest), true),
        _ => round_trip(&crypt, fec, rest),
    }
});

/// Feeds datagrams to a decoder and the delivered KCP bytes to an ARQ engine.
fn received(crypt: &BlockCrypt, fec: Option<(usize, usize)>, datagrams: Vec<&[u8]>, seal: bool) {
    let mut decoder = PacketDecoder::new(crypt.clone(), fec).unwrap();
    let mut arq: Option<Arq> = None;
    let mut now = 0u32;
    for d in datagrams {
        let mut buf = if seal {
            let mut buf = vec![0; CRYPT_HEADER + d.len()];
            buf[CRYPT_HEADER..].copy_from_slice(d);
            packet::seal(crypt, &mut buf);
            buf
        } else {
            d.to_vec()
        };
        let mut peek = buf.clone();
        let conv = packet::peek_conv(crypt, &mut peek);
        let mut delivered = Vec::new();
        let result = decoder.decode(&mut buf, &mut |kcp| delivered.push(kcp.to_vec()));
        if seal {
            assert!(
                !matches!(result, Err(gost_kcp::PacketError::Checksum)),
                "a sealed datagram must pass the CRC"
            );
        }
        if result.is_err() {
            assert!(delivered.is_empty(), "a rejected datagram delivered bytes");
        }
        assert!(decoder.open_groups() <= 16, "FEC groups are bounded");
        for kcp in delivered {
            assert!(kcp.len() >= KCP_OVERHEAD);
            let conv = conv.unwrap_or(u32::from_le_bytes([kcp[0], kcp[1], kcp[2], kcp[3]]));
            let arq = arq.get_or_insert_with(|| {
                let mut a = Arq::new(conv, 1400);
                a.set_window(32, 32);
                a
            });
            now = now.wrapping_add(37);
            let _ = arq.input(&kcp, now);
            let mut sent = 0usize;
            arq.update(now, &mut |out| {
                assert!(out.len() <= 1400, "ARQ output exceeds the MTU");
                sent += 1;
            });
            let mut sink = [0u8; 2048];
            while arq.readable() {
                if arq.recv(&mut sink) == 0 {
                    break;
                }
            }
            // Echo something back so acks and retransmissions run too.
            if sent < 64 {
                arq.send(&kcp[..kcp.len().min(100)]);
            }
            let _ = arq.check(now);
        }
    }
}

/// Encodes KCP buffers, loses some packets per FEC group, decodes the rest and checks every buffer
/// arrives once, intact.
fn round_trip(crypt: &BlockCrypt, fec: Option<(usize, usize)>, data: &[u8]) {
    let Some((&loss_seed, rest)) = data.split_first() else {
        return;
    };
    // KCP output buffers start with a segment header whose command byte (offset 4, 81..=84) is
    // what tells a raw packet from a FEC one (0xF1/0xF2 there), as in kcp-go; the decoder only
    // delivers buffers holding at least one header.
    let inputs: Vec<Vec<u8>> = chunks(rest)
        .into_iter()
        .map(|c| {
            let mut v = c.to_vec();
            v.resize(v.len().max(KCP_OVERHEAD), 0x51);
            v[4] = 81 + v[4] % 4;
            v
        })
        .collect();
    let mut encoder = PacketEncoder::new(crypt.clone(), fec).unwrap();
    let mut datagrams: Vec<Vec<u8>> = Vec::new();
    for (i, kcp) in inputs.iter().enumerate() {
        encoder.encode(kcp, i as u32, 1000, &mut |d| datagrams.push(d.to_vec()));
    }
    let lost = losses(crypt, fec, &datagrams, loss_seed);
    let mut decoder = PacketDecoder::new(crypt.clone(), fec).unwrap();
    let mut delivered = Vec::new();
    for (i, mut d) in datagrams.into_iter().enumerate() {
        if lost.contains(&i) {
            continue;
        }
        decoder
            .decode(&mut d, &mut |kcp| delivered.push(kcp.to_vec()))
            .expect("an encoded datagram must decode");
    }
    let mut want = inputs;
    want.sort();
    delivered.sort();
    assert_eq!(delivered, want, "every buffer exactly once, intact");
}

/// Picks datagrams to drop: in each complete FEC group (data and parity all sent) up to the parity
/// count, chosen by `seed`; nothing without FEC or in a group without parity.
fn losses(
    crypt: &BlockCrypt,
    fec: Option<(usize, usize)>,
    datagrams: &[Vec<u8>],
    seed: u8,
) -> Vec<usize> {
    let Some((d, p)) = fec else {
        return Vec::new();
    };
    let group = (d + p) as u32;
    let seqids: Vec<u32> = datagrams
        .iter()
        .map(|dg| {
            let mut dg = dg.clone();
            let plain = packet::open(crypt, &mut dg).unwrap();
            u32::from_le_bytes([plain[0], plain[1], plain[2], plain[3]])
        })
        .collect();
    let mut lost = Vec::new();
    let mut rng = u32::from(seed) | 1;
    let mut start = 0;
    while start < seqids.len() {
        let gid = seqids[start] / group;
        let end = start
            + seqids[start..]
                .iter()
                .take_while(|&&s| s / group == gid)
                .count();
        if end - start == group as usize {
            let drop = (rng as usize) % (p + 1);
            for _ in 0..drop {
                rng ^= rng << 13;
                rng ^= rng >> 17;
                rng ^= rng << 5;
                let victim = start + (rng as usize) % (end - start);
                if !lost.contains(&victim) {
                    lost.push(victim);
                }
            }
        }
        start = end;
    }
    lost
}
