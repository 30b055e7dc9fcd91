//! What a session puts on the wire: stream ids as upstream allocates them, SYN before data, one
//! PSH frame (or more, split at max_frame_size) per write, FIN after data, and the exact bytes a
//! GOST MBIND server sends for a peer connection.

mod common;

use bytes::Bytes;
use common::{FrameReader, config, duplex_pair};
use gost_smux::{Cmd, Config, Frame, Session};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn client_opens_odd_ids_from_three_and_server_even_from_two() {
    let (client, server) = duplex_pair(&config(1));
    let mut ids = Vec::new();
    let mut keep = Vec::new();
    for _ in 0..3 {
        let s = client.open_stream().await.unwrap();
        ids.push(s.id());
        keep.push(s);
    }
    for _ in 0..3 {
        let s = server.open_stream().await.unwrap();
        ids.push(s.id());
        keep.push(s);
    }
    assert_eq!(ids, [3, 5, 7, 2, 4, 6]);
    // The peers see the same ids.
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(server.accept_stream().await.unwrap().id());
        seen.push(client.accept_stream().await.unwrap().id());
    }
    seen.sort_unstable();
    assert_eq!(seen, [2, 3, 4, 5, 6, 7]);
}

#[tokio::test]
async fn mbind_stream_bytes_match_recorded_gost_session() {
    // The s2c frames of stream 3 in vectors/socks5_mbind_rtcp.jsonl: SYN, PSH(SOCKS5 reply),
    // PSH(peer data), FIN.
    let expected = hex::decode(concat!(
        "0100000003000000",
        "01020a0003000000050000017f000001db76",
        "01020c00030000006d62696e642d636f6e6e2d31",
        "0101000003000000",
    ))
    .unwrap();
    let (a, mut raw) = tokio::io::duplex(64 * 1024);
    let session = Session::client(a, Config::default()).unwrap();
    let mut s = session.open_stream().await.unwrap();
    s.write_all(&hex::decode("050000017f000001db76").unwrap())
        .await
        .unwrap();
    s.write_all(b"mbind-conn-1").await.unwrap();
    s.shutdown().await.unwrap();
    let mut got = vec![0u8; expected.len()];
    raw.read_exact(&mut got).await.unwrap();
    assert_eq!(hex::encode(got), hex::encode(expected));
}

#[tokio::test]
async fn each_write_is_its_own_frame_split_at_max_frame_size() {
    let (a, raw) = tokio::io::duplex(1024 * 1024);
    let cfg = Config {
        max_frame_size: 1000,
        ..Config::default()
    };
    let session = Session::client(a, cfg).unwrap();
    let mut frames = FrameReader::new(raw);
    let mut s = session.open_stream().await.unwrap();
    // Back-to-back writes without waiting: still never merged.
    s.write_all(b"reply").await.unwrap();
    s.write_all(b"data").await.unwrap();
    s.write_all(&[7u8; 2500]).await.unwrap();
    s.flush().await.unwrap();
    let mut seen = Vec::new();
    for _ in 0..6 {
        let f = frames.next().await.unwrap();
        seen.push((f.cmd, f.stream_id, f.data.len()));
    }
    assert_eq!(
        seen,
        [
            (Cmd::Syn, 3, 0),
            (Cmd::Psh, 3, 5),
            (Cmd::Psh, 3, 4),
            (Cmd::Psh, 3, 1000),
            (Cmd::Psh, 3, 1000),
            (Cmd::Psh, 3, 500),
        ]
    );
}

#[tokio::test]
async fn unknown_streams_and_v1_window_updates_are_tolerated() {
    let (a, raw) = tokio::io::duplex(64 * 1024);
    let session = Session::server(a, Config::default()).unwrap();
    let mut frames = FrameReader::new(raw);
    let mut wire = Vec::new();
    for f in [
        Frame::psh(1, 99, Bytes::from_static(b"nobody listens")),
        Frame::control(1, Cmd::Fin, 99),
        Frame::upd(1, 99, 0, 65536),
        Frame::control(1, Cmd::Syn, 3),
        Frame::upd(1, 3, 0, 65536),
        Frame::psh(1, 3, Bytes::from_static(b"hi")),
        Frame::control(1, Cmd::Nop, 0),
    ] {
        f.encode(&mut wire).unwrap();
    }
    frames.get_mut().write_all(&wire).await.unwrap();
    let mut s = session.accept_stream().await.unwrap();
    let mut buf = [0u8; 2];
    s.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"hi");
    assert!(!session.is_closed());
    // Our reply comes back on stream 3.
    s.write_all(b"ok").await.unwrap();
    let f = frames.next().await.unwrap();
    assert_eq!((f.cmd, f.stream_id, &f.data[..]), (Cmd::Psh, 3, &b"ok"[..]));
}
