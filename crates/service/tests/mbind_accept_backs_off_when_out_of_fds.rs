//! MBIND's listener keeps a peer queued while the process is out of file descriptors: its accept loop
//! must pause between failures (not spin and flood the log), and the peer is announced and relayed once
//! descriptors free up. Its own test binary because it lowers the process-wide descriptor limit.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{read_reply, request, serve, socks5_noauth};
use gost_service::{Socks5Handler, Socks5Options};
use gost_test_support::{Logs, OutOfFds};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test(flavor = "current_thread")]
async fn mbind_accept_pauses_while_out_of_fds_then_serves_the_peer() {
    let (logs, _guard) = Logs::capture();
    let proxy = serve(Socks5Handler::new(Socks5Options {
        bind: true,
        ..Default::default()
    }))
    .await;
    let mut c = socks5_noauth(proxy.addr).await;
    let mut req = request(1, "127.0.0.1:0".parse().unwrap());
    req[1] = 0xF2;
    c.write_all(&req).await.unwrap();
    let (rep, listen) = read_reply(&mut c).await;
    assert_eq!(rep, 0);
    // The server is the smux client; we are its server and receive one stream per peer.
    let session = gost_smux::Session::server(c, gost_smux::Config::default()).unwrap();

    // The peer socket exists before the limit is hit; connecting it needs no new descriptor.
    let peer = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let out_of_fds = OutOfFds::now();
    let started = tokio::time::Instant::now();
    peer.connect(&listen.into()).unwrap();
    // Wait for four failed accepts. Pausing 5, 10, then 20 ms between them puts the fourth at least
    // 35 ms after the first; a spinning loop gets there within microseconds.
    loop {
        let failures = logs.matching(&["mbind accept failed"]).len();
        if failures >= 4 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the accept failed only {failures} times: the test did not exhaust descriptors"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed();
    drop(out_of_fds);
    assert!(
        elapsed >= Duration::from_millis(35),
        "mbind accept spins while out of descriptors (4 failures in {elapsed:?})"
    );

    peer.set_nonblocking(true).unwrap();
    let mut peer = tokio::net::TcpStream::from_std(peer.into()).unwrap();
    let mut stream = tokio::time::timeout(Duration::from_secs(5), session.accept_stream())
        .await
        .expect("peer not announced after descriptors freed up")
        .unwrap();
    let mut announce = [0u8; 10];
    stream.read_exact(&mut announce).await.unwrap();
    let SocketAddr::V4(from) = peer.local_addr().unwrap() else {
        unreachable!("the peer is on 127.0.0.1")
    };
    let mut expected = vec![5, 0, 0, 1];
    expected.extend_from_slice(&from.ip().octets());
    expected.extend_from_slice(&from.port().to_be_bytes());
    assert_eq!(announce[..], expected[..]);
    peer.write_all(b"from the peer").await.unwrap();
    let mut got = [0u8; 13];
    stream.read_exact(&mut got).await.unwrap();
    assert_eq!(&got, b"from the peer");
}
