//! The smux frames recorded from a real GOST MBIND session decode to the documented sequence and
//! re-encode byte for byte (`vectors/socks5_mbind_rtcp.jsonl`).

use gost_smux::{Cmd, Decoded, Frame};
use gost_test_support::Vector;

/// Concatenates the chunks of connection 1 in direction `dir`, dropping the SOCKS5 handshake.
fn smux_bytes(dir: &str, handshake_len: usize) -> Vec<u8> {
    let mut all = Vector::load("socks5_mbind_rtcp").stream(1, dir);
    all.split_off(handshake_len)
}

fn decode_all(mut buf: &[u8]) -> Vec<Frame> {
    let mut frames = Vec::new();
    while !buf.is_empty() {
        match Frame::decode(buf).expect("valid frame") {
            Decoded::Frame { frame, consumed } => {
                let mut again = Vec::new();
                frame.encode(&mut again).unwrap();
                assert_eq!(again, buf[..consumed], "re-encoding {frame:?}");
                frames.push(frame);
                buf = &buf[consumed..];
            }
            Decoded::NeedMore(n) => panic!("trailing partial frame, {n} bytes missing"),
        }
    }
    frames
}

fn summary(frames: &[Frame]) -> Vec<(u8, Cmd, u32, Vec<u8>)> {
    frames
        .iter()
        .map(|f| (f.version, f.cmd, f.stream_id, f.data.to_vec()))
        .collect()
}

#[test]
fn server_to_client_frames_match_the_readme() {
    // 050 0 method reply, then the 10-byte MBIND reply.
    let frames = decode_all(&smux_bytes("s2c", 2 + 10));
    let reply3 = hex::decode("050000017f000001db76").unwrap();
    let reply5 = hex::decode("050000017f000001db7c").unwrap();
    assert_eq!(
        summary(&frames),
        vec![
            (1, Cmd::Syn, 3, vec![]),
            (1, Cmd::Psh, 3, reply3),
            (1, Cmd::Psh, 3, b"mbind-conn-1".to_vec()),
            (1, Cmd::Fin, 3, vec![]),
            (1, Cmd::Syn, 5, vec![]),
            (1, Cmd::Psh, 5, reply5),
            (1, Cmd::Psh, 5, b"mbind-conn-2/second".to_vec()),
            (1, Cmd::Fin, 5, vec![]),
            (1, Cmd::Nop, 0, vec![]),
        ]
    );
}

#[test]
fn client_to_server_frames_match_the_readme() {
    // 050100 greeting, then the 10-byte MBIND request.
    let frames = decode_all(&smux_bytes("c2s", 3 + 10));
    assert_eq!(
        summary(&frames),
        vec![
            (1, Cmd::Psh, 3, b"mbind-conn-1".to_vec()),
            (1, Cmd::Fin, 3, vec![]),
            (1, Cmd::Psh, 5, b"mbind-conn-2/second".to_vec()),
            (1, Cmd::Fin, 5, vec![]),
            (1, Cmd::Nop, 0, vec![]),
        ]
    );
}
