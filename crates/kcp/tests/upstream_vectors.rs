//! The KCP datagrams captured between two real upstream GOST 3.2.6 nodes (default settings) decode
//! with our packet layer: key derivation, CFB, CRC, FEC header and parity, KCP segments, snappy
//! framing, smux v1 and finally the SOCKS5 bytes; where the encoding is deterministic (cipher and
//! checksum given the nonce, FEC data headers and parity, snappy chunks) ours reproduces them.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;

use gost_kcp::arq::{CMD_PUSH, SegmentHeader};
use gost_kcp::fec::{FecDecoder, FecEncoder, TYPE_DATA, TYPE_PARITY, packet_type};
use gost_kcp::packet::{CRYPT_HEADER, PacketDecoder, PacketKind, open};
use gost_kcp::snappy::encode_chunks;
use gost_kcp::{BlockCrypt, CryptMethod, KcpConfig};
use gost_test_support::Vector;

/// (direction, datagram) records of one capture file.
fn load(name: &str) -> Vec<(String, Vec<u8>)> {
    Vector::load(name)
        .records
        .into_iter()
        .map(|r| {
            assert_eq!(r.proto, "udp");
            (r.dir, r.bytes)
        })
        .collect()
}

fn default_crypt() -> BlockCrypt {
    // The effective upstream default: key "" and AES-256.
    KcpConfig::default().validate().unwrap().crypt
}

/// Decrypted plaintexts (after the crypt header) per direction.
fn plaintexts(name: &str) -> HashMap<String, Vec<Vec<u8>>> {
    let crypt = default_crypt();
    let mut out: HashMap<String, Vec<Vec<u8>>> = HashMap::new();
    for (dir, mut dgram) in load(name) {
        assert!(dgram.len() <= 1400, "datagram larger than the default MTU");
        let plain = open(&crypt, &mut dgram)
            .expect("CRC must match with key \"\"")
            .to_vec();
        out.entry(dir).or_default().push(plain);
    }
    out
}

/// The KCP byte stream of one direction: PUSH payloads ordered by sn, duplicates removed.
fn kcp_stream(plains: &[Vec<u8>]) -> Vec<u8> {
    let mut pushes = BTreeMap::new();
    let mut conv = None;
    for p in plains {
        if packet_type(p) != Some(TYPE_DATA) {
            continue;
        }
        let size = u16::from_le_bytes([p[6], p[7]]) as usize;
        assert_eq!(size, p.len() - 6, "size field = 2 + KCP bytes");
        let mut rest = &p[8..];
        while !rest.is_empty() {
            let (h, data, tail) = SegmentHeader::parse(rest).expect("well-formed KCP segment");
            assert_eq!(*conv.get_or_insert(h.conv), h.conv, "one conversation");
            assert_eq!(h.frg, 0, "stream mode");
            if h.cmd == CMD_PUSH {
                pushes.insert(h.sn, data.to_vec());
            }
            rest = tail;
        }
    }
    let sns: Vec<u32> = pushes.keys().copied().collect();
    assert_eq!(
        sns,
        (0..sns.len() as u32).collect::<Vec<_>>(),
        "contiguous PUSH sns"
    );
    pushes.into_values().flatten().collect()
}

/// Per smux stream id, the concatenated PSH data.
type StreamData = BTreeMap<u32, Vec<u8>>;

/// smux v1 frames of a decompressed stream: per stream id, the concatenated PSH data, plus the
/// (command, stream id) sequence.
fn smux_streams(mut s: &[u8]) -> (StreamData, Vec<(u8, u32)>) {
    let mut data: BTreeMap<u32, Vec<u8>> = BTreeMap::new();
    let mut cmds = Vec::new();
    while !s.is_empty() {
        assert!(s.len() >= 8);
        assert_eq!(s[0], 1, "smux version 1");
        let len = u16::from_le_bytes([s[2], s[3]]) as usize;
        let sid = u32::from_le_bytes([s[4], s[5], s[6], s[7]]);
        cmds.push((s[1], sid));
        if s[1] == 2 {
            data.entry(sid)
                .or_default()
                .extend_from_slice(&s[8..8 + len]);
        }
        s = &s[8 + len..];
    }
    (data, cmds)
}

fn unsnappy(stream: &[u8]) -> Vec<u8> {
    assert!(stream.starts_with(&[0xff, 0x06, 0x00, 0x00, b's', b'N', b'a', b'P', b'p', b'Y']));
    let mut out = Vec::new();
    snap::read::FrameDecoder::new(stream)
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[test]
fn every_datagram_decrypts_with_the_empty_key_and_passes_crc() {
    for name in ["socks5_over_kcp", "socks5_over_kcp_notls"] {
        let crypt = default_crypt();
        let mut dec = PacketDecoder::new(crypt.clone(), Some((10, 3))).unwrap();
        let (mut data, mut parity) = (0, 0);
        for (_, mut d) in load(name) {
            // The documented default key must NOT open them (upstream overwrites it with "").
            let mut copy = d.clone();
            let wrong = BlockCrypt::new(CryptMethod::Aes256, "it's a secrect");
            assert!(open(&wrong, &mut copy).is_err());
            match dec.decode(&mut d, &mut |_| {}).unwrap() {
                PacketKind::Data => data += 1,
                PacketKind::Parity => parity += 1,
                PacketKind::Raw => panic!("upstream always sends the FEC header"),
            }
        }
        assert!(
            data > 20 && parity >= 3,
            "{name}: {data} data, {parity} parity"
        );
    }
}

#[test]
fn notls_capture_carries_socks5_connect_and_payload_through_snappy_and_smux() {
    let p = plaintexts("socks5_over_kcp_notls");
    let (c2s, c2s_cmds) = smux_streams(&unsnappy(&kcp_stream(&p["c2s"])));
    let (s2c, _) = smux_streams(&unsnappy(&kcp_stream(&p["s2c"])));
    // The dialer is the smux client: streams 3 and 5, each opened with SYN.
    assert_eq!(c2s_cmds[0], (0, 3));
    assert!(c2s_cmds.contains(&(0, 5)));
    let connect = [0x05, 0x01, 0x00, 0x01, 127, 0, 0, 1, 0x7d, 0x01];
    let mut want = vec![0x05, 0x01, 0x00];
    want.extend_from_slice(&connect);
    want.extend_from_slice(b"vector-kcp");
    assert_eq!(c2s[&3], want);
    assert!(s2c[&3].starts_with(&[0x05, 0x00, 0x05, 0x00, 0x00, 0x01]));
    assert!(s2c[&3].ends_with(b"vector-kcp"));
    assert!(c2s[&5].ends_with(&[0x41; 100]));
    assert!(s2c[&5].ends_with(&[0x41; 100]));
}

#[test]
fn default_capture_carries_the_tls_method_negotiation() {
    let p = plaintexts("socks5_over_kcp");
    let (c2s, _) = smux_streams(&unsnappy(&kcp_stream(&p["c2s"])));
    let (s2c, _) = smux_streams(&unsnappy(&kcp_stream(&p["s2c"])));
    assert!(
        c2s[&3].starts_with(&[0x05, 0x02, 0x00, 0x80, 0x16, 0x03]),
        "greeting then TLS ClientHello"
    );
    assert!(
        s2c[&3].starts_with(&[0x05, 0x80, 0x16, 0x03]),
        "TLS chosen then ServerHello"
    );
}

/// Complete FEC groups (all 10 data + 3 parity packets) of one direction, by group number.
fn complete_groups(plains: &[Vec<u8>]) -> Vec<Vec<Vec<u8>>> {
    let mut groups: BTreeMap<u32, BTreeMap<u32, Vec<u8>>> = BTreeMap::new();
    for p in plains {
        let seq = u32::from_le_bytes([p[0], p[1], p[2], p[3]]);
        groups
            .entry(seq / 13)
            .or_default()
            .insert(seq % 13, p.clone());
    }
    groups
        .into_values()
        .filter(|g| g.len() == 13)
        .map(|g| g.into_values().collect())
        .collect()
}

#[test]
fn captured_parity_equals_our_reed_solomon_encoding() {
    let mut checked = 0;
    for name in ["socks5_over_kcp", "socks5_over_kcp_notls"] {
        for plains in plaintexts(name).values() {
            for group in complete_groups(plains) {
                let mut enc = FecEncoder::new(10, 3).unwrap();
                let mut ours = Vec::new();
                for d in &group[..10] {
                    assert_eq!(packet_type(d), Some(TYPE_DATA));
                    let mut pkt = d.clone();
                    enc.encode(&mut pkt, 0, 100, &mut ours);
                    assert_eq!(pkt[6..], d[6..]);
                }
                assert_eq!(ours.len(), 3);
                for (mine, theirs) in ours.iter().zip(&group[10..]) {
                    assert_eq!(packet_type(theirs), Some(TYPE_PARITY));
                    assert_eq!(mine[6..], theirs[6..], "parity bytes differ");
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 2, "only {checked} complete groups");
}

#[test]
fn a_dropped_data_packet_is_rebuilt_from_captured_parity() {
    let p = plaintexts("socks5_over_kcp_notls");
    let group = complete_groups(&p["c2s"]).remove(0);
    for lost in [0usize, 5, 9] {
        let mut dec = FecDecoder::new(10, 3).unwrap();
        let mut got = Vec::new();
        for (i, pkt) in group.iter().enumerate() {
            if i != lost {
                dec.input(pkt, &mut |k| got.push(k.to_vec()));
            }
        }
        assert_eq!(got, vec![group[lost][8..].to_vec()], "lost index {lost}");
    }
    assert_eq!(CRYPT_HEADER, 20);
}

#[test]
fn our_cipher_and_checksum_reproduce_every_captured_datagram() {
    // The nonce is random per packet; given upstream's nonce, sealing is deterministic and must
    // give back upstream's exact bytes.
    let crypt = default_crypt();
    let mut checked = 0;
    for name in ["socks5_over_kcp", "socks5_over_kcp_notls"] {
        for (_, captured) in load(name) {
            let mut plain = captured.clone();
            crypt.decrypt(&mut plain);
            let crc = u32::from_le_bytes(plain[16..20].try_into().unwrap());
            assert_eq!(crc, crc32fast::hash(&plain[CRYPT_HEADER..]), "{name}");
            let mut again = plain;
            crypt.encrypt(&mut again);
            assert_eq!(again, captured, "{name}: re-encryption differs");
            checked += 1;
        }
    }
    assert!(checked > 50, "{checked} datagrams");
}

#[test]
fn our_snappy_framing_reproduces_upstream_chunks() {
    let mut checked = 0;
    for name in ["socks5_over_kcp", "socks5_over_kcp_notls"] {
        for plains in plaintexts(name).values() {
            let stream = kcp_stream(plains);
            let mut rest = &stream[10..];
            let mut encoder = snap::raw::Encoder::new();
            while rest.len() >= 4 {
                let len = u32::from_le_bytes([rest[1], rest[2], rest[3], 0]) as usize;
                let Some(chunk) = rest.get(..4 + len) else {
                    break;
                };
                let body = &chunk[8..];
                let payload = match chunk[0] {
                    0x00 => snap::raw::Decoder::new().decompress_vec(body).unwrap(),
                    0x01 => body.to_vec(),
                    other => panic!("{name}: unexpected chunk type {other:#x}"),
                };
                let mut ours = Vec::new();
                encode_chunks(&mut encoder, &payload, &mut ours);
                assert_eq!(ours, chunk, "{name}: chunk {checked} differs");
                rest = &rest[4 + len..];
                checked += 1;
            }
        }
    }
    assert!(checked > 10, "{checked} chunks");
}
