//! MBIND (GOST 0xF2) byte for byte against the recorded upstream session: the bound reply, then an smux v1
//! session in which the server opens stream 3, 5, … per peer, announces each peer with a complete SOCKS5
//! reply in its own PSH frame, and relays.

mod common;

use std::time::Duration;

use common::{serve, socks5_noauth};
use gost_service::{Socks5Handler, Socks5Options};
use gost_test_support::Vector;
use gost_test_support::exchange::until;
use gost_test_support::socks5::ask;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads the next smux frame that is not a keepalive NOP: (cmd, stream id, payload), plus its raw bytes.
async fn next_frame(c: &mut TcpStream) -> (u8, u32, Vec<u8>, Vec<u8>) {
    loop {
        let mut h = [0u8; 8];
        tokio::time::timeout(Duration::from_secs(5), c.read_exact(&mut h))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(h[0], 1, "smux version 1");
        let len = u16::from_le_bytes([h[2], h[3]]) as usize;
        let sid = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
        let mut data = vec![0u8; len];
        c.read_exact(&mut data).await.unwrap();
        if h[1] == 3 {
            continue;
        }
        let raw = [h.to_vec(), data.clone()].concat();
        return (h[1], sid, data, raw);
    }
}

/// A SOCKS5 server with BIND (and so MBIND) enabled.
async fn mbind_proxy() -> common::Running {
    serve(Socks5Handler::new(Socks5Options {
        bind: true,
        ..Default::default()
    }))
    .await
}

fn frame(cmd: u8, sid: u32, data: &[u8]) -> Vec<u8> {
    let mut f = vec![1, cmd];
    f.extend_from_slice(&(data.len() as u16).to_le_bytes());
    f.extend_from_slice(&sid.to_le_bytes());
    f.extend_from_slice(data);
    f
}

#[tokio::test]
async fn mbind_matches_upstream_stream_announcements() {
    let rec = Vector::load("socks5_mbind_rtcp");
    let header = &rec.header;
    let c2s = rec.stream(1, "c2s");
    let s2c = rec.stream(1, "s2c");
    let port = gost_test_support::free_port();
    let proxy = mbind_proxy().await;
    let mut c = socks5_noauth(proxy.addr).await;
    let mut request = c2s[3..13].to_vec();
    assert_eq!(&request[..8], &[5, 0xF2, 0, 1, 127, 0, 0, 1]);
    request[8..10].copy_from_slice(&port.to_be_bytes());
    c.write_all(&request).await.unwrap();
    let mut reply = [0u8; 10];
    c.read_exact(&mut reply).await.unwrap();
    let mut want = s2c[2..12].to_vec();
    want[8..10].copy_from_slice(&port.to_be_bytes());
    assert_eq!(reply.to_vec(), want, "bound reply as upstream");

    // Upstream's server frames after the reply: SYN 3, PSH 3 (reply naming the peer), PSH 3 (data), ...
    let upstream = &s2c[12..];
    let peers = header["peer_connections"].as_array().unwrap();
    for (i, p) in peers.iter().enumerate() {
        let payload = gost_test_support::unhex(p["payload_hex"].as_str().unwrap());
        let sid = 3 + 2 * i as u32;
        let mut peer = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let peer_port = peer.local_addr().unwrap().port();
        let (cmd, id, _, syn) = next_frame(&mut c).await;
        assert_eq!((cmd, id), (0, sid), "SYN opens stream {sid}");
        if i == 0 {
            assert_eq!(syn, upstream[..8], "SYN frame bytes as upstream");
        }
        let (cmd, id, data, raw) = next_frame(&mut c).await;
        assert_eq!((cmd, id), (2, sid));
        // The announcement is a whole reply in its own frame: 05 00 00 01 127.0.0.1:<peer port>.
        let mut announce = vec![5, 0, 0, 1, 127, 0, 0, 1];
        announce.extend_from_slice(&peer_port.to_be_bytes());
        assert_eq!(data, announce);
        if i == 0 {
            let mut up = upstream[8..26].to_vec();
            up[24 - 8..26 - 8].copy_from_slice(&peer_port.to_be_bytes());
            assert_eq!(
                raw, up,
                "announcement frame bytes as upstream (peer port substituted)"
            );
        }
        peer.write_all(&payload).await.unwrap();
        let (cmd, id, data, _) = next_frame(&mut c).await;
        assert_eq!((cmd, id, data.as_slice()), (2, sid, payload.as_slice()));
        // The rtcp client echoes on the same stream; the peer receives it.
        c.write_all(&frame(2, sid, &payload)).await.unwrap();
        let mut back = vec![0u8; payload.len()];
        peer.read_exact(&mut back).await.unwrap();
        assert_eq!(back, payload);
        drop(peer);
        let (cmd, id, _, _) = next_frame(&mut c).await;
        assert_eq!((cmd, id), (1, sid), "peer close becomes FIN");
        c.write_all(&frame(1, sid, &[])).await.unwrap();
    }
}

#[tokio::test]
async fn mbind_listener_closes_with_the_session() {
    let proxy = mbind_proxy().await;
    let mut c = socks5_noauth(proxy.addr).await;
    let (rep, bound) = ask(&mut c, 0xF2, "127.0.0.1:0".parse().unwrap()).await;
    assert_eq!(rep, 0);
    assert!(TcpStream::connect(bound).await.is_ok());
    drop(c);
    until(
        "MBIND listener closed with its session",
        Duration::from_secs(2),
        || std::net::TcpStream::connect(bound).is_err(),
    )
    .await;
}
