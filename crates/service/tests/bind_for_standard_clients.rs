//! BIND as standard clients use it (issue 17 item 7): tokio-socks' `Socks5Listener` and
//! `Socks4Listener` name the peer they expect, not an address to listen on; only that peer is accepted;
//! `bindPorts` limits the ports BIND, MBIND and UDP-TUN bind mode may open, refused with the protocol's
//! code.

mod common;

use std::net::SocketAddr;

use common::{expect_closed, serve, socks5_noauth};
use gost_service::{BindPorts, Socks4Handler, Socks4Options, Socks5Handler, Socks5Options};
use gost_test_support::exchange::pass;
use gost_test_support::socks5::ask;
use tokio::io::{AsyncRead, AsyncWrite};
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

/// What the tests need of tokio-socks' two BIND clients, `Socks5Listener` and `Socks4Listener`.
trait BindClient: Sized {
    type Accepted: AsyncRead + AsyncWrite + Unpin;
    async fn open(proxy: SocketAddr, expected: &str) -> tokio_socks::Result<Self>;
    fn bound(&self) -> SocketAddr;
    /// Waits for the second reply: the relayed stream and the peer it names.
    async fn accept(self) -> tokio_socks::Result<(Self::Accepted, SocketAddr)>;
}

/// The two listeners have the same methods but no trait in common: one impl for both.
macro_rules! bind_client {
    ($listener:ident, $stream:ident) => {
        impl BindClient for $listener<TcpStream> {
            type Accepted = tokio_socks::tcp::$stream<TcpStream>;
            async fn open(proxy: SocketAddr, expected: &str) -> tokio_socks::Result<Self> {
                $listener::bind(proxy, expected).await
            }
            fn bound(&self) -> SocketAddr {
                ip_of(self.bind_addr())
            }
            async fn accept(self) -> tokio_socks::Result<(Self::Accepted, SocketAddr)> {
                let s = $listener::accept(self).await?;
                let peer = ip_of(s.target_addr());
                Ok((s, peer))
            }
        }
    };
}

bind_client!(Socks5Listener, Socks5Stream);
bind_client!(Socks4Listener, Socks4Stream);

/// A BIND through `proxy` with client `C`, naming `expected`. When `stranger` is set, a connection to
/// the bound port from 127.0.0.1 comes first and must be closed. Then the peer connects from
/// `peer_ip`: the second reply must name it, and bytes must pass both ways. Returns the bound address.
async fn bind_and_relay<C: BindClient>(
    proxy: SocketAddr,
    expected: &str,
    peer_ip: [u8; 4],
    stranger: bool,
) -> SocketAddr {
    let client = C::open(proxy, expected)
        .await
        .unwrap_or_else(|e| panic!("BIND naming {expected}: {e}"));
    let bound = client.bound();
    if stranger {
        let mut stranger = connect_from([127, 0, 0, 1], bound).await;
        expect_closed(&mut stranger).await;
    }
    let mut peer = connect_from(peer_ip, bound).await;
    let (mut accepted, announced) = client.accept().await.expect("second reply");
    assert_eq!(announced, peer.local_addr().unwrap(), "the peer announced");
    pass(&mut peer, &mut accepted, b"from-peer").await;
    pass(&mut accepted, &mut peer, b"from-client").await;
    bound
}

/// A SOCKS4 BIND naming `expected` must be refused with SOCKS4's one refusal code, 0x5B.
async fn socks4_bind_refused(proxy: SocketAddr, expected: SocketAddr) {
    let e = Socks4Listener::bind(proxy, expected)
        .await
        .err()
        .unwrap_or_else(|| panic!("BIND naming {expected} was granted"));
    assert!(
        matches!(e, tokio_socks::Error::GeneralSocksServerFailure),
        "0x5B expected, got {e:?}"
    );
}

type Socks5Bind = Socks5Listener<TcpStream>;
type Socks4Bind = Socks4Listener<TcpStream>;

#[tokio::test]
async fn tokio_socks_socks5_listener_names_its_peer_even_on_a_port_in_use() {
    let proxy = serve(socks5_bind(BindPorts::any())).await;
    // The expected peer's address is in use here: it must not be taken as the address to listen on.
    let in_use = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let expected = format!("localhost:{}", in_use.local_addr().unwrap().port());
    let bound = bind_and_relay::<Socks5Bind>(proxy.addr, &expected, [127, 0, 0, 1], false).await;
    assert_eq!(bound.ip(), std::net::IpAddr::from([127, 0, 0, 1]));
    assert_ne!(bound.port(), in_use.local_addr().unwrap().port());
}

#[tokio::test]
async fn tokio_socks_socks4_listener_gets_two_replies_and_a_relay() {
    let proxy = serve(socks4_bind(BindPorts::any())).await;
    let bound =
        bind_and_relay::<Socks4Bind>(proxy.addr, "127.0.0.1:21", [127, 0, 0, 1], false).await;
    assert_eq!(bound.ip(), std::net::IpAddr::from([127, 0, 0, 1]));
}

#[tokio::test]
async fn socks4_bind_is_refused_when_not_enabled() {
    let proxy = serve(Socks4Handler::new(Socks4Options::default())).await;
    socks4_bind_refused(proxy.addr, "127.0.0.1:21".parse().unwrap()).await;
}

#[tokio::test]
async fn an_unexpected_peer_is_closed_and_the_expected_one_still_gets_through() {
    let proxy = serve(socks5_bind(BindPorts::any())).await;
    bind_and_relay::<Socks5Bind>(proxy.addr, "127.0.0.2:0", [127, 0, 0, 2], true).await;
}

#[tokio::test]
async fn socks4_refuses_an_unexpected_peer_too() {
    let proxy = serve(socks4_bind(BindPorts::any())).await;
    bind_and_relay::<Socks4Bind>(proxy.addr, "127.0.0.3:0", [127, 0, 0, 3], true).await;
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
        let outside = SocketAddr::from(([0, 0, 0, 0], other));
        assert_eq!(
            ask(&mut c, cmd, outside).await.0,
            0x02,
            "command {cmd:#04x}"
        );
        expect_closed(&mut c).await;
    }
    // UDP-TUN bind mode (rudp) too.
    let mut c = socks5_noauth(proxy.addr).await;
    let outside = SocketAddr::from(([0, 0, 0, 0], other));
    assert_eq!(
        ask(&mut c, 0xF3, outside).await.0,
        0x02,
        "UDP-TUN bind mode"
    );
    // A standard client's BIND gets a port from the set.
    let listener = Socks5Listener::bind(proxy.addr, "127.0.0.1:0")
        .await
        .unwrap();
    assert_eq!(ip_of(listener.bind_addr()).port(), allowed);
    // The only allowed port is now taken: the next BIND fails with 0x01.
    let mut c = socks5_noauth(proxy.addr).await;
    assert_eq!(
        ask(&mut c, 0x02, "127.0.0.1:0".parse().unwrap()).await.0,
        0x01
    );
    drop(listener);

    // SOCKS4 has one refusal code: 0x5B.
    let proxy4 = serve(socks4_bind(ports)).await;
    socks4_bind_refused(proxy4.addr, SocketAddr::from(([0, 0, 0, 0], other))).await;
}
