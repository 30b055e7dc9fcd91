//! Raw-socket checks of every SOCKS5 reply code the server sends, byte for byte.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::{expect_closed, read_reply, request, serve, socks5_noauth};
use gost_service::Direct;
use gost_service::{Socks5Handler, Socks5Options, Users};
use gost_test_support::exchange::pass;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn plain() -> common::Running {
    serve(Socks5Handler::new(Socks5Options::default())).await
}

/// CONNECT to `target` and return the reply code.
async fn connect_code(proxy: SocketAddr, target_req: Vec<u8>) -> u8 {
    let mut c = socks5_noauth(proxy).await;
    c.write_all(&target_req).await.unwrap();
    let (rep, _) = read_reply(&mut c).await;
    if rep != 0 {
        expect_closed(&mut c).await;
    }
    rep
}

/// Sends `req` after the no-auth greeting; returns the 10-byte failure reply, after which the server
/// must close the connection.
async fn failure_reply(proxy: SocketAddr, req: &[u8]) -> [u8; 10] {
    let mut c = socks5_noauth(proxy).await;
    c.write_all(req).await.unwrap();
    let mut r = [0u8; 10];
    c.read_exact(&mut r).await.unwrap();
    expect_closed(&mut c).await;
    r
}

#[tokio::test]
async fn success_reports_the_real_bound_address() {
    let proxy = plain().await;
    let target = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut c = socks5_noauth(proxy.addr).await;
    c.write_all(&request(1, target.local_addr().unwrap()))
        .await
        .unwrap();
    let (rep, bnd) = read_reply(&mut c).await;
    let (mut t, seen_peer) = target.accept().await.unwrap();
    assert_eq!(rep, 0);
    assert_eq!(
        bnd, seen_peer,
        "BND must be the outbound socket's local address"
    );
    pass(&mut c, &mut t, b"ping").await;
}

#[tokio::test]
async fn refused_is_0x05() {
    let proxy = plain().await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    assert_eq!(connect_code(proxy.addr, request(1, closed)).await, 0x05);
}

#[tokio::test]
async fn unresolvable_name_is_0x04() {
    let proxy = plain().await;
    // A 64-byte label is invalid in DNS: the resolver fails locally without sending a query.
    let name = format!("{}.example", "x".repeat(64));
    let mut req = vec![5, 1, 0, 3, name.len() as u8];
    req.extend_from_slice(name.as_bytes());
    req.extend_from_slice(&80u16.to_be_bytes());
    assert_eq!(connect_code(proxy.addr, req).await, 0x04);
}

#[tokio::test]
async fn broadcast_target_is_network_unreachable_0x03() {
    let proxy = plain().await;
    // Linux refuses TCP to a broadcast address with ENETUNREACH before sending anything.
    let target: SocketAddr = "255.255.255.255:80".parse().unwrap();
    assert_eq!(connect_code(proxy.addr, request(1, target)).await, 0x03);
}

#[tokio::test]
async fn connect_timeout_is_0x06() {
    // A listener whose accept queue is full drops SYNs, so connecting to it times out, on loopback.
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    sock.listen(0).unwrap();
    let full: SocketAddr = sock.local_addr().unwrap().as_socket().unwrap();
    let mut fillers = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_millis(300), TcpStream::connect(full)).await {
            Ok(Ok(s)) => fillers.push(s),
            Ok(Err(e)) => panic!("filling the backlog failed: {e}"),
            Err(_) => break,
        }
        assert!(fillers.len() < 64, "accept queue never filled");
    }
    let outbound = Arc::new(Direct::new(Duration::from_millis(300)));
    let proxy = serve(Socks5Handler::with_outbound(
        Socks5Options::default(),
        outbound,
    ))
    .await;
    assert_eq!(connect_code(proxy.addr, request(1, full)).await, 0x06);
    drop(sock);
}

#[tokio::test]
async fn disabled_commands_are_0x02() {
    let proxy = plain().await;
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let some: SocketAddr = "127.0.0.1:9".parse().unwrap();
    for (cmd, addr) in [
        (0x02, any),
        (0x03, any),
        (0xF2, any),
        (0xF3, any),
        (0xF3, some),
    ] {
        let r = failure_reply(proxy.addr, &request(cmd, addr)).await;
        assert_eq!(r, [5, 2, 0, 1, 0, 0, 0, 0, 0, 0], "cmd {cmd:#x}");
    }
    // Each switch enables only its own commands: UDP-TUN bind mode needs `bind`, relay mode needs `udp`.
    let udp_only = serve(Socks5Handler::new(Socks5Options {
        udp: true,
        ..Default::default()
    }))
    .await;
    let bind_only = serve(Socks5Handler::new(Socks5Options {
        bind: true,
        ..Default::default()
    }))
    .await;
    for (proxy, cmd, addr) in [
        (udp_only.addr, 0xF3, some),
        (udp_only.addr, 0x02, any),
        (udp_only.addr, 0xF2, any),
        (bind_only.addr, 0xF3, any),
        (bind_only.addr, 0x03, any),
    ] {
        let r = failure_reply(proxy, &request(cmd, addr)).await;
        assert_eq!(r, [5, 2, 0, 1, 0, 0, 0, 0, 0, 0], "cmd {cmd:#x} to {addr}");
    }
}

#[tokio::test]
async fn unknown_command_is_0x07_and_tor_commands_too() {
    let proxy = plain().await;
    for cmd in [0x09, 0x00, 0xF0, 0xF1] {
        let r = failure_reply(proxy.addr, &request(cmd, "127.0.0.1:80".parse().unwrap())).await;
        assert_eq!(r, [5, 7, 0, 1, 0, 0, 0, 0, 0, 0], "cmd {cmd:#x}");
    }
}

#[tokio::test]
async fn bad_address_type_is_0x08() {
    let proxy = plain().await;
    let r = failure_reply(proxy.addr, &[5, 1, 0, 5, 1, 2, 3, 4, 0, 80]).await;
    assert_eq!(r, [5, 8, 0, 1, 0, 0, 0, 0, 0, 0]);
}

#[tokio::test]
async fn no_acceptable_method_is_0xff() {
    // RFC 1928: a server never picks a method the client did not offer (upstream 3.2.6 does).
    let plain = plain().await;
    let opts = Socks5Options {
        users: Users::new([("alice", "s3cret")]),
        ..Default::default()
    };
    let authed = serve(Socks5Handler::new(opts)).await;
    for (proxy, offer) in [
        (plain.addr, &[5u8, 1, 2][..]),
        (plain.addr, &[5, 1, 0x80]),
        (authed.addr, &[5, 1, 0]),
    ] {
        let mut c = TcpStream::connect(proxy).await.unwrap();
        c.write_all(offer).await.unwrap();
        let mut m = [0u8; 2];
        c.read_exact(&mut m).await.unwrap();
        assert_eq!(m, [5, 0xFF], "offer {offer:?}");
        expect_closed(&mut c).await;
    }
}

#[tokio::test]
async fn wrong_password_is_status_1_and_close() {
    let opts = Socks5Options {
        users: Users::new([("alice", "s3cret")]),
        ..Default::default()
    };
    let proxy = serve(Socks5Handler::new(opts)).await;
    let mut c = TcpStream::connect(proxy.addr).await.unwrap();
    c.write_all(&[5, 2, 0, 2]).await.unwrap();
    let mut m = [0u8; 2];
    c.read_exact(&mut m).await.unwrap();
    assert_eq!(m, [5, 2]);
    c.write_all(b"\x01\x05alice\x05wrong").await.unwrap();
    c.read_exact(&mut m).await.unwrap();
    assert_eq!(m, [1, 1]);
    expect_closed(&mut c).await;
}

/// Refuses every target on one port, the way a bypass rule does.
struct RefusePort(u16);

impl gost_service::Routing for RefusePort {
    fn route<'a>(
        &'a self,
        req: &'a gost_service::RouteRequest<'a>,
    ) -> gost_service::BoxFuture<'a, gost_service::Route> {
        let route = if req.target.port() == self.0 {
            gost_service::Route::Refuse(socks_wire::ReplyCode::NotAllowed)
        } else {
            gost_service::Route::Default
        };
        Box::pin(std::future::ready(route))
    }
}

#[tokio::test]
async fn a_target_forbidden_by_policy_is_0x02_and_never_dialled() {
    let target = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let taddr = target.local_addr().unwrap();
    let handler = Socks5Handler::new(Socks5Options::default())
        .with_routing(Arc::new(RefusePort(taddr.port())));
    let proxy = serve(handler).await;
    let r = failure_reply(proxy.addr, &request(1, taddr)).await;
    assert_eq!(r, [5, 2, 0, 1, 0, 0, 0, 0, 0, 0]);
    let dialled = tokio::time::timeout(Duration::from_millis(100), target.accept()).await;
    assert!(dialled.is_err(), "the forbidden target was dialled");
}
