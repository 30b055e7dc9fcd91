//! Closing: FIN is a half-close (the peer drains, sees EOF and can still write until its own FIN),
//! drop sends FIN, and a closed session fails every stream and every new open.

mod common;

use std::io::ErrorKind;

use common::{config, duplex_pair, tcp_pair};
use gost_smux::{CloseReason, Error};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn fin_is_a_half_close_the_peer_drains_sees_eof_and_still_answers() {
    for version in [1, 2] {
        let (client, server) = duplex_pair(&config(version));
        let mut a = client.open_stream().await.unwrap();
        a.write_all(&[7u8; 100_000]).await.unwrap();
        a.shutdown().await.unwrap();
        let mut b = server.accept_stream().await.unwrap();
        let mut got = Vec::new();
        b.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, vec![7u8; 100_000]);
        assert_eq!(b.read(&mut [0u8; 4]).await.unwrap(), 0, "EOF repeats");
        // The FIN meant "no more data from me": the reply, larger than any window, still flows.
        let reply: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
        let answer = tokio::spawn(async move {
            b.write_all(&reply).await?;
            b.shutdown().await
        });
        let mut back = Vec::new();
        a.read_to_end(&mut back).await.unwrap();
        answer.await.unwrap().unwrap();
        assert_eq!(back.len(), 1 << 20, "version {version}");
        assert!(back.iter().enumerate().all(|(i, &x)| x == (i % 251) as u8));
        // Our own writes after shutdown fail.
        assert_eq!(
            a.write_all(b"x").await.unwrap_err().kind(),
            ErrorKind::BrokenPipe
        );
    }
}

#[tokio::test]
async fn reading_continues_after_local_shutdown_until_peer_fin() {
    let (client, server) = duplex_pair(&config(1));
    let mut a = client.open_stream().await.unwrap();
    a.write_all(b"?").await.unwrap();
    let mut b = server.accept_stream().await.unwrap();
    b.write_all(b"answer").await.unwrap();
    b.flush().await.unwrap();
    a.shutdown().await.unwrap();
    let mut buf = [0u8; 7];
    b.read_exact(&mut buf[..1]).await.unwrap();
    drop(b); // sends FIN
    a.read_exact(&mut buf[..6]).await.unwrap();
    assert_eq!(&buf[..6], b"answer");
    assert_eq!(a.read(&mut buf).await.unwrap(), 0);
}

#[tokio::test]
async fn dropping_a_stream_sends_fin() {
    let (client, server) = duplex_pair(&config(2));
    let mut a = client.open_stream().await.unwrap();
    a.write_all(b"bye").await.unwrap();
    drop(a);
    let mut b = server.accept_stream().await.unwrap();
    let mut got = Vec::new();
    b.read_to_end(&mut got).await.unwrap();
    assert_eq!(got, b"bye");
    // The dropped stream is forgotten by the session that dropped it.
    assert_eq!(client.num_streams(), 0);
}

#[tokio::test]
async fn closing_a_session_fails_streams_on_both_sides() {
    let (client, server) = tcp_pair(&config(1)).await;
    let mut a = client.open_stream().await.unwrap();
    a.write_all(b"x").await.unwrap();
    let mut b = server.accept_stream().await.unwrap();
    b.read_exact(&mut [0u8; 1]).await.unwrap();
    let pending_read = tokio::spawn(async move { b.read(&mut [0u8; 1]).await });

    client.close();
    assert!(client.is_closed());
    assert_eq!(client.close_reason(), Some(CloseReason::Local));
    let err = a.read(&mut [0u8; 1]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionAborted);
    assert!(a.write_all(b"y").await.is_err());

    // The peer notices the connection going away.
    let err = pending_read.await.unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionAborted);
    assert_eq!(server.closed().await, CloseReason::PeerClosed);
    assert!(server.accept_stream().await.is_none());
}

#[tokio::test]
async fn opening_after_close_is_an_error() {
    let (client, _server) = duplex_pair(&config(1));
    client.close();
    let err = client.open_stream().await.unwrap_err();
    assert_eq!(err, Error::Closed(CloseReason::Local));
    assert_eq!(
        std::io::Error::from(err).kind(),
        ErrorKind::ConnectionAborted
    );
}

#[tokio::test]
async fn dropping_every_handle_closes_the_session_after_delivering_queued_data() {
    let (client, server) = duplex_pair(&config(1));
    let mut a = client.open_stream().await.unwrap();
    a.write_all(&[5u8; 100_000]).await.unwrap();
    drop(client);
    drop(a);
    let mut b = server.accept_stream().await.unwrap();
    let mut got = Vec::new();
    b.read_to_end(&mut got).await.unwrap();
    assert_eq!(got.len(), 100_000);
    assert_eq!(server.closed().await, CloseReason::PeerClosed);
}
