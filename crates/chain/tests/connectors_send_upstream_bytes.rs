//! Our connectors put on the wire exactly what upstream GOST's client sends (the recorded sessions of
//! `vectors/`), and cope with exactly what upstream's server answers: a scripted server replays
//! the server side of each recording and checks every client byte.

use std::time::Duration;

use gost_chain::{Connector, Error, Socks4Connector, Socks5Connector};
use gost_chain::{Socks4ConnectorOptions, Socks5ConnectorOptions};
use gost_test_support::{Vector, hex, unhex};
use gost_transport::Stream;
use gost_transport::tls::ClientTls;
use socks_wire::Address;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

/// One direction's bytes: `true` = client to server.
type Step = (bool, Vec<u8>);

/// The TCP records of `conn` in `name`, consecutive chunks of one direction merged.
fn script(name: &str, conn: u64) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let records = Vector::load(name).records;
    for r in records
        .into_iter()
        .filter(|r| r.proto == "tcp" && r.conn == conn)
    {
        let c2s = r.dir == "c2s";
        match steps.last_mut() {
            Some((dir, acc)) if *dir == c2s => acc.extend_from_slice(&r.bytes),
            _ => steps.push((c2s, r.bytes)),
        }
    }
    steps
}

/// Plays the server side of `steps` on the first accepted connection, asserting each client message and
/// that the client sends nothing more while it waits for the next server message: upstream's server drops
/// bytes that arrive in the same read as a request, so a client must never pipeline past a reply.
async fn play(listener: TcpListener, steps: Vec<Step>) -> TcpStream {
    let (mut s, _) = listener.accept().await.unwrap();
    let replies_follow: Vec<bool> = (0..steps.len())
        .map(|i| steps.get(i + 1).is_some_and(|(c2s, _)| !c2s))
        .collect();
    for (i, (c2s, bytes)) in steps.into_iter().enumerate() {
        if c2s {
            let mut got = vec![0u8; bytes.len()];
            s.read_exact(&mut got).await.unwrap_or_else(|e| {
                panic!("step {i}: expected {} from the client: {e}", hex(&bytes))
            });
            assert_eq!(hex(&got), hex(&bytes), "client bytes of step {i}");
            if replies_follow[i] {
                assert_quiet(&s, i).await;
            }
        } else {
            s.write_all(&bytes).await.unwrap();
        }
    }
    s
}

/// Fails when the client sent more bytes after step `i` (given loopback a moment to deliver them).
async fn assert_quiet(s: &TcpStream, i: usize) {
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut probe = [0u8; 64];
    match s.try_read(&mut probe) {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        Ok(n) => panic!(
            "step {i}: the client sent {} before the server's reply (pipelining)",
            hex(&probe[..n])
        ),
        Err(e) => panic!("step {i}: {e}"),
    }
}

/// A parsed address (the connectors take `socks_wire::Address`).
fn a(s: &str) -> Address {
    s.parse().unwrap()
}

async fn scripted(steps: Vec<Step>) -> (Stream, Address, tokio::task::JoinHandle<TcpStream>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = Address::from(l.local_addr().unwrap());
    let server = tokio::spawn(play(l, steps));
    let s = Stream::from_tcp(TcpStream::connect(addr.to_string()).await.unwrap());
    (s, addr, server)
}

fn socks5(notls: bool, creds: Option<(&str, &str)>) -> Socks5Connector {
    let opts = Socks5ConnectorOptions {
        notls,
        timeout: Some(Duration::from_secs(5)),
        ..Default::default()
    };
    Socks5Connector::new(
        opts,
        creds.map(|(u, p)| (u.to_owned(), p.to_owned())),
        ClientTls::insecure(),
    )
}

async fn connect_and_echo(name: &str, connector: Connector) {
    let (s, addr, server) = scripted(script(name, 1)).await;
    let mut s = connector
        .connect(s, &addr, &a("127.0.0.1:32001"))
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    s.write_all(b"vector-1").await.unwrap();
    let mut echo = [0u8; 8];
    s.read_exact(&mut echo).await.unwrap();
    assert_eq!(&echo, b"vector-1", "{name}");
    server.await.unwrap();
}

#[tokio::test]
async fn socks5_connect_plain_and_with_credentials() {
    connect_and_echo(
        "socks5_connect_plain",
        Connector::Socks5(socks5(true, None)),
    )
    .await;
    let alice = socks5(true, Some(("alice", "s3cret")));
    connect_and_echo("socks5_connect_auth_plain", Connector::Socks5(alice)).await;
}

#[tokio::test]
async fn socks4_connect_in_4a_form_and_plain() {
    let opts = Socks4ConnectorOptions::default();
    let socks4a = Socks4Connector::new(opts.clone(), "");
    connect_and_echo("socks4_connect", Connector::Socks4(socks4a)).await;
    let opts = Socks4ConnectorOptions {
        disable4a: true,
        ..opts
    };
    let socks4 = Socks4Connector::new(opts, "");
    connect_and_echo("socks4_connect_disable4a", Connector::Socks4(socks4)).await;
}

#[tokio::test]
async fn socks4_sends_the_urls_username_as_user_id() {
    // The recorded 4A request with USERID "alice" in place of the empty one.
    let steps = vec![
        (
            true,
            unhex("04017d0100000001616c696365003132372e302e302e3100"),
        ),
        (false, unhex("005a000000000000")),
    ];
    let (s, addr, server) = scripted(steps).await;
    Socks4Connector::new(Socks4ConnectorOptions::default(), "alice")
        .connect(s, &addr, &a("127.0.0.1:32001"))
        .await
        .unwrap();
    server.await.unwrap();
}

#[tokio::test]
async fn tls_methods_are_offered_and_tls_starts_right_after_the_choice() {
    for (name, creds) in [
        ("socks5_greeting_tls", None),
        ("socks5_greeting_tls_auth", Some(("alice", "s3cret"))),
    ] {
        let mut steps = script(name, 1);
        steps.truncate(2); // greeting and choice; the ClientHello bytes are random
        let (s, addr, server) = scripted(steps).await;
        let client = tokio::spawn(async move {
            socks5(false, creds)
                .connect(s, &addr, &a("127.0.0.1:32001"))
                .await
        });
        let mut server = server.await.unwrap();
        let mut record = [0u8; 3];
        server.read_exact(&mut record).await.unwrap();
        assert_eq!(
            record,
            [0x16, 0x03, 0x01],
            "{name}: a TLS ClientHello record"
        );
        drop(server);
        assert!(client.await.unwrap().is_err());
    }
}

#[tokio::test]
async fn udp_tun_frames_match() {
    let (s, addr, server) = scripted(script("socks5_udp_tun", 1)).await;
    let conn = socks5(true, None).udp(s, &addr).await.unwrap();
    let target: Address = "127.0.0.1:32002".parse().unwrap();
    conn.send_to(b"ping!", &target).await.unwrap();
    let mut buf = [0u8; 64];
    let (n, from) = conn.recv_from(&mut buf).await.unwrap();
    assert_eq!((&buf[..n], from), (&b"ping!"[..], target));
    server.await.unwrap();
}

#[tokio::test]
async fn udp_tun_bind_mode_serves_the_remote_peer_as_upstreams_rudp() {
    let (s, addr, server) = scripted(script("socks5_udp_bind_rudp", 1)).await;
    let conn = socks5(true, None)
        .udp_bind(s, &addr, &a("127.0.0.1:32323"))
        .await
        .unwrap();
    assert_eq!(conn.bound().unwrap().to_string(), "127.0.0.1:32323");
    let peer: Address = "127.0.0.1:49344".parse().unwrap();
    let mut buf = [0u8; 2048];
    for len in [5, 100, 1400] {
        let (n, from) = conn.recv_from(&mut buf).await.unwrap();
        assert_eq!(
            (n, &from),
            (len, &peer),
            "the peer's datagram, framed with its address"
        );
        conn.send_to(&buf[..n], &peer).await.unwrap();
    }
    server.await.unwrap();
}

#[tokio::test]
async fn udp_relay_header_and_control_exchange_match() {
    // The recorded reply names the server's relay port; ours replaces it with a real local socket.
    let relay = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = relay.local_addr().unwrap().port();
    let mut steps = script("socks5_udp_relay", 1);
    let reply = &mut steps[3].1;
    let len = reply.len();
    reply[len - 2..].copy_from_slice(&port.to_be_bytes());
    let (s, addr, server) = scripted(steps).await;
    let mut opts = Socks5ConnectorOptions {
        notls: true,
        relay: true,
        ..Default::default()
    };
    opts.udp_buffer_size = 4096;
    let conn = Socks5Connector::new(opts, None, ClientTls::insecure())
        .udp(s, &addr)
        .await
        .unwrap();
    let _control = server.await.unwrap();
    let target: Address = "127.0.0.1:32002".parse().unwrap();
    conn.send_to(b"ping!", &target).await.unwrap();
    let mut buf = [0u8; 2048];
    let (n, client) = relay.recv_from(&mut buf).await.unwrap();
    assert_eq!(hex(&buf[..n]), "000000017f0000017d0270696e6721");
    relay.send_to(&buf[..n], client).await.unwrap();
    let (n, from) = conn.recv_from(&mut buf).await.unwrap();
    assert_eq!((&buf[..n], from), (&b"ping!"[..], target));
}

#[tokio::test]
async fn mbind_becomes_smux_server_and_reads_the_per_stream_reply() {
    let mut steps = script("socks5_mbind_rtcp", 1);
    // Through the FIN exchange of stream 3.
    let fin = steps
        .iter()
        .position(|(c2s, b)| *c2s && b.as_slice() == unhex("0101000003000000"))
        .unwrap();
    steps.truncate(fin + 1);
    let (s, addr, server) = scripted(steps).await;
    let mut l = socks5(true, None)
        .mux_bind(s, &addr, &a("127.0.0.1:32123"))
        .await
        .unwrap();
    assert_eq!(l.bound().to_string(), "127.0.0.1:32123");
    let (mut peer, from) = l.accept().await.unwrap();
    assert_eq!(from.to_string(), "127.0.0.1:56182");
    let mut data = [0u8; 12];
    peer.read_exact(&mut data).await.unwrap();
    assert_eq!(&data, b"mbind-conn-1");
    peer.write_all(&data).await.unwrap();
    assert_eq!(peer.read(&mut data).await.unwrap(), 0, "peer FIN");
    drop(peer);
    server.await.unwrap();
}

#[tokio::test]
async fn refusals_name_the_server_option_to_enable() {
    let refusal = |cmd: &str| -> Vec<Step> {
        vec![
            (true, unhex("050100")),
            (false, unhex("0500")),
            (true, unhex(cmd)),
            (false, unhex("05020001000000000000")),
        ]
    };
    let (s, addr, _server) = scripted(refusal("05f30001000000000000")).await;
    let e = socks5(true, None).udp(s, &addr).await.unwrap_err();
    assert!(e.to_string().contains("start it with udp=true"), "{e}");

    let (s, addr, _server) = scripted(refusal("05f200010000000008ae")).await;
    let e = socks5(true, None)
        .mux_bind(s, &addr, &a(":2222"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("start it with bind=true"), "{e}");
    assert!(matches!(e, Error::Refused { .. }));
}

#[tokio::test]
async fn a_silent_server_times_out() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = Address::from(l.local_addr().unwrap());
    let s = Stream::from_tcp(TcpStream::connect(addr.to_string()).await.unwrap());
    let _held = l.accept().await.unwrap();
    let opts = Socks5ConnectorOptions {
        timeout: Some(Duration::from_millis(200)),
        ..Default::default()
    };
    let e = Socks5Connector::new(opts, None, ClientTls::insecure())
        .connect(s, &addr, &a("127.0.0.1:1"))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e}");
}
