//! BIND as standard clients use it (issue 17 item 7): tokio-socks' `Socks5Listener` and
//! `Socks4Listener` name the peer they expect, not an address to listen on; only that peer is accepted;
//! `bindPorts` limits the ports BIND, MBIND and UDP-TUN bind mode may open, refused with the protocol's
//! code.

mod common;

use std::net::SocketAddr;

use common::{expect_closed, read_reply, request, serve, socks5_noauth};
use gost_service::{BindPorts, Socks4Handler, Socks4Options, Socks5Handler, Socks5Options};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_socks::TargetAddr;
use tokio_socks::tcp::{Socks4Listener, Socks5Listener};

fn socks5_bind(ports: BindPorts) -> Socks5Handler {
    Socks5Handler::new(Socks5Options {
        bind: true,
        bind_ports: ports,
        ..Default::default()
    })
}

fn socks4_bind(ports: BindPorts) -> Socks4Handler {
    Socks4Handler::new(Socks4Options {
        bind: true,
        bind_ports: ports,
        ..Default::default()
    })
}

fn ip_of(t: TargetAddr<'_>) -> SocketAddr {
    match t {
        TargetAddr::Ip(sa) => sa,
        other => panic!("expected an IP address, got {other:?}"),
    }
}

/// A connection to `to` from the loopback address `from` (any port).
async fn connect_from(from: [u8; 4], to: SocketAddr) -> TcpStream {
    let s = TcpSocket::new_v4().unwrap();
    s.bind(SocketAddr::from((from, 0))).unwrap();
    s.connect(to).await.unwrap()
}

/// Bytes both ways between the accepted BIND stream and the peer.
async fn exchange(client: &mut (impl AsyncReadExt + AsyncWriteExt + Unpin), peer: &mut TcpStream) {
    peer.write_all(b"from-peer").await.unwrap();
    let mut buf = [0u8; 9];
    client.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"from-peer");
    client.write_all(b"from-client").await.unwrap();
    let mut buf = [0u8; 11];
    peer.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"from-client");
}

#[tokio::test]
async fn tokio_socks_socks5_listener_names_its_peer_even_on_a_port_in_use() {
    let proxy = serve(socks5_bind(BindPorts::any())).await;
    // The expected peer's address is in use here: it must not be taken as the address to listen on.
    let in_use = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let expected = format!("localhost:{}", in_use.local_addr().unwrap().port());
    let listener = Socks5Listener::bind(proxy.addr, expected.as_str())
        .await
        .expect("BIND naming the expected peer");
    let bound = ip_of(listener.bind_addr());
    assert_eq!(bound.ip(), std::net::IpAddr::from([127, 0, 0, 1]));
    assert_ne!(bound.port(), in_use.local_addr().unwrap().port());
    let mut peer = TcpStream::connect(bound).await.unwrap();
    let mut accepted = listener.accept().await.expect("second reply");
    assert_eq!(ip_of(accepted.target_addr()), peer.local_addr().unwrap());
    exchange(&mut accepted, &mut peer).await;
}

#[tokio::test]
async fn tokio_socks_socks4_listener_gets_two_replies_and_a_relay() {
    let proxy = serve(socks4_bind(BindPorts::any())).await;
    let listener = Socks4Listener::bind(proxy.addr, "127.0.0.1:21")
        .await
        .expect("SOCKS4 BIND");
    let bound = ip_of(listener.bind_addr());
    assert_eq!(bound.ip(), std::net::IpAddr::from([127, 0, 0, 1]));
    let mut peer = TcpStream::connect(bound).await.unwrap();
    let mut accepted = listener.accept().await.expect("second reply");
    assert_eq!(ip_of(accepted.target_addr()), peer.local_addr().unwrap());
    exchange(&mut accepted, &mut peer).await;
}

#[tokio::test]
async fn socks4_bind_is_refused_when_not_enabled() {
    let proxy = serve(Socks4Handler::new(Socks4Options::default())).await;
    let e = Socks4Listener::bind(proxy.addr, "127.0.0.1:21")
        .await
        .err()
        .expect("BIND must be refused without bind=true");
    assert!(
        matches!(e, tokio_socks::Error::GeneralSocksServerFailure),
        "0x5B expected, got {e:?}"
    );
}

#[tokio::test]
async fn an_unexpected_peer_is_closed_and_the_expected_one_still_gets_through() {
    let proxy = serve(socks5_bind(BindPorts::any())).await;
    let listener = Socks5Listener::bind(proxy.addr, "127.0.0.2:0")
        .await
        .unwrap();
    let bound = ip_of(listener.bind_addr());
    let mut stranger = connect_from([127, 0, 0, 1], bound).await;
    expect_closed(&mut stranger).await;
    let mut peer = connect_from([127, 0, 0, 2], bound).await;
    let mut accepted = listener.accept().await.unwrap();
    assert_eq!(ip_of(accepted.target_addr()), peer.local_addr().unwrap());
    exchange(&mut accepted, &mut peer).await;
}

#[tokio::test]
async fn socks4_refuses_an_unexpected_peer_too() {
    let proxy = serve(socks4_bind(BindPorts::any())).await;
    let listener = Socks4Listener::bind(proxy.addr, "127.0.0.3:0")
        .await
        .unwrap();
    let bound = ip_of(listener.bind_addr());
    let mut stranger = connect_from([127, 0, 0, 1], bound).await;
    expect_closed(&mut stranger).await;
    let mut peer = connect_from([127, 0, 0, 3], bound).await;
    let mut accepted = listener.accept().await.unwrap();
    exchange(&mut accepted, &mut peer).await;
}

#[tokio::test]
async fn bind_ports_are_honoured_by_bind_mbind_and_socks4() {
    let allowed = gost_test_support::free_port();
    let other = gost_test_support::free_port();
    assert_ne!(allowed, other);
    let ports = BindPorts::only([allowed..=allowed]);
    let proxy = serve(socks5_bind(ports.clone())).await;
    // GOST's listen-here form for a port outside the set: 0x02 (not allowed), for BIND and MBIND.
    for cmd in [0x02, 0xF2] {
        let mut c = socks5_noauth(proxy.addr).await;
        c.write_all(&request(cmd, SocketAddr::from(([0, 0, 0, 0], other))))
            .await
            .unwrap();
        assert_eq!(read_reply(&mut c).await.0, 0x02, "command {cmd:#04x}");
        expect_closed(&mut c).await;
    }
    // UDP-TUN bind mode (rudp) too.
    let mut c = socks5_noauth(proxy.addr).await;
    c.write_all(&request(0xF3, SocketAddr::from(([0, 0, 0, 0], other))))
        .await
        .unwrap();
    assert_eq!(read_reply(&mut c).await.0, 0x02, "UDP-TUN bind mode");
    // A standard client's BIND gets a port from the set.
    let listener = Socks5Listener::bind(proxy.addr, "127.0.0.1:0")
        .await
        .unwrap();
    assert_eq!(ip_of(listener.bind_addr()).port(), allowed);
    // The only allowed port is now taken: the next BIND fails with 0x01.
    let mut c = socks5_noauth(proxy.addr).await;
    c.write_all(&request(0x02, "127.0.0.1:0".parse().unwrap()))
        .await
        .unwrap();
    assert_eq!(read_reply(&mut c).await.0, 0x01);
    drop(listener);

    // SOCKS4 has one refusal code: 0x5B.
    let proxy4 = serve(socks4_bind(ports)).await;
    let e = Socks4Listener::bind(proxy4.addr, SocketAddr::from(([0, 0, 0, 0], other)))
        .await
        .err()
        .expect("a port outside bindPorts");
    assert!(
        matches!(e, tokio_socks::Error::GeneralSocksServerFailure),
        "{e:?}"
    );
}
