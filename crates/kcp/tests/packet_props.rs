//! Property tests of the sans-io layers: whatever our encoder emits our decoder restores (with or
//! without FEC, with lost packets rebuilt), and arbitrary bytes never panic anything.

use gost_kcp::arq::Arq;
use gost_kcp::fec::FecDecoder;
use gost_kcp::packet::{PacketDecoder, PacketEncoder, peek_conv};
use gost_kcp::{BlockCrypt, CryptMethod};
use proptest::prelude::*;

fn crypt(m: CryptMethod) -> BlockCrypt {
    BlockCrypt::with_key(m, &[0x5a; 32])
}

fn method() -> impl Strategy<Value = CryptMethod> {
    prop_oneof![
        Just(CryptMethod::Aes128),
        Just(CryptMethod::Aes192),
        Just(CryptMethod::Aes256),
        Just(CryptMethod::Xor),
        Just(CryptMethod::None),
    ]
}

/// KCP-looking payloads: at least a segment header's worth of bytes, with a KCP command (81..=84)
/// at offset 4. The command byte is what tells a raw KCP packet from an FEC one (whose type 0xF1 or
/// 0xF2 sits there), in kcp-go as here, so random bytes in that place would be a different packet.
fn payloads() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let segment =
        (prop::collection::vec(any::<u8>(), 24..400), 81u8..=84).prop_map(|(mut v, cmd)| {
            v[4] = cmd;
            v
        });
    prop::collection::vec(segment, 1..40)
}

proptest! {
    #[test]
    fn encoded_packets_decode_to_the_same_kcp_bytes(m in method(), fec in any::<bool>(), p in payloads()) {
        let shards = fec.then_some((4, 2));
        let mut enc = PacketEncoder::new(crypt(m), shards).unwrap();
        let mut dec = PacketDecoder::new(crypt(m), shards).unwrap();
        let mut got = Vec::new();
        for k in &p {
            let mut dgrams = Vec::new();
            enc.encode(k, 1, 100, &mut |d| dgrams.push(d.to_vec()));
            for mut d in dgrams {
                dec.decode(&mut d, &mut |kcp| got.push(kcp.to_vec())).unwrap();
            }
        }
        prop_assert_eq!(got, p);
    }

    #[test]
    fn lost_data_packets_are_rebuilt_when_parity_suffices(p in payloads(), lose in prop::collection::vec(0usize..6, 0..3)) {
        let mut enc = PacketEncoder::new(crypt(CryptMethod::Aes256), Some((4, 2))).unwrap();
        let mut dec = PacketDecoder::new(crypt(CryptMethod::Aes256), Some((4, 2))).unwrap();
        let mut dgrams = Vec::new();
        for k in &p {
            enc.encode(k, 1, 100, &mut |d| dgrams.push(d.to_vec()));
        }
        let mut got = std::collections::BTreeSet::new();
        for (i, mut d) in dgrams.into_iter().enumerate() {
            // Drop up to 2 of each 6-packet group; parity (2 per group) covers that.
            if lose.contains(&(i % 6)) {
                continue;
            }
            dec.decode(&mut d, &mut |kcp| { got.insert(kcp.to_vec()); }).unwrap();
        }
        let complete = p.len() / 4 * 4;
        for k in &p[..complete] {
            prop_assert!(got.contains(k));
        }
    }

    #[test]
    fn arbitrary_datagrams_never_panic(m in method(), d in prop::collection::vec(any::<u8>(), 0..1600)) {
        let mut dec = PacketDecoder::new(crypt(m), Some((10, 3))).unwrap();
        let mut arq = Arq::new(1, 1372);
        let mut a = d.clone();
        let _ = dec.decode(&mut a, &mut |kcp| { let _ = arq.input(kcp, 0); });
        let mut b = d.clone();
        let _ = peek_conv(&crypt(m), &mut b);
    }

    #[test]
    fn arbitrary_plaintext_never_panics_fec_or_arq(
        pkts in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 1..30),
        now in any::<u32>(),
    ) {
        // Valid-CRC plaintext is what an attacker who knows the (default, empty) key can send.
        let mut fec = FecDecoder::new(10, 3).unwrap();
        let mut arq = Arq::new(0, 1372);
        for p in &pkts {
            fec.input(p, &mut |k| { let _ = arq.input(k, now); });
            let _ = arq.input(p, now);
            let mut buf = [0u8; 512];
            let _ = arq.recv(&mut buf);
            arq.update(now, &mut |_| {});
            let _ = arq.check(now);
        }
    }

    #[test]
    fn hostile_segments_for_our_conv_never_panic(
        segs in prop::collection::vec((81u8..=84, any::<u16>(), any::<u32>(), any::<u32>(), any::<u32>(), 0usize..64), 1..60),
        now in any::<u32>(),
    ) {
        let mut arq = Arq::new(9, 1372);
        arq.set_nodelay(1, 10, 2, true);
        arq.send(&[1u8; 5000]);
        arq.update(now, &mut |_| {});
        for (cmd, wnd, ts, sn, una, len) in segs {
            let mut p = Vec::new();
            p.extend_from_slice(&9u32.to_le_bytes());
            p.push(cmd);
            p.push(0);
            p.extend_from_slice(&wnd.to_le_bytes());
            p.extend_from_slice(&ts.to_le_bytes());
            p.extend_from_slice(&sn.to_le_bytes());
            p.extend_from_slice(&una.to_le_bytes());
            p.extend_from_slice(&(len as u32).to_le_bytes());
            p.extend(std::iter::repeat_n(0xAB, len));
            prop_assert!(arq.input(&p, now).is_ok());
            arq.update(now.wrapping_add(ts % 100_000), &mut |o| assert!(o.len() <= 1372));
            let mut buf = [0u8; 256];
            let _ = arq.recv(&mut buf);
        }
    }
}
