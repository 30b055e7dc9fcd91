//! UDP ASSOCIATE on a SOCKS5 server started with `-F`: the client's datagrams go through a UDP
//! association on the chain's last hop (UDP-TUN by default, UDP ASSOCIATE with `relay=udp`), over tcp,
//! tls and ws dialers, two hops and a dante hop, and come back intact with the target's address in their header. The
//! server's rules hold through the chain (unsolicited, domain-sourced and oversize answers are dropped,
//! fragments never leave), PySocks works through it, UDP-TUN clients of the server are relayed through its chain as well, and a dying chain ends the association without
//! leaving a descriptor or a task behind.

mod fwd;

use std::net::SocketAddr;
use std::time::Duration;

use fwd::{Cutter, Transport, socks5, socks5_through, udp_echoes};
use gost_service::Socks5Options;
use gost_service::socks_wire::{Address, Decode, Decoded, Encode, UdpTunFrame};
use gost_test_support::resources::{fd_count, serial};
use gost_test_support::socks5::{ask, connect_noauth, udp_datagram as wrap};
use gost_test_support::{have, udp_echo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::time::timeout;

fn udp_opts() -> Socks5Options {
    Socks5Options {
        udp: true,
        udp_buffer_size: 65535,
        ..Default::default()
    }
}

/// The `-F` node reaching `hop`: UDP-TUN unless `relay_udp`.
fn node(transport: Transport, hop: SocketAddr, relay_udp: bool) -> String {
    let relay = if relay_udp {
        "&relay=udp&udpBufferSize=65535"
    } else {
        ""
    };
    format!("{}://{hop}?notls=true{relay}", transport.scheme())
}

/// Opens a UDP association on `proxy` (no authentication): the control connection and the relay address.
async fn associate(proxy: SocketAddr) -> (TcpStream, SocketAddr) {
    let mut c = connect_noauth(proxy).await;
    let (rep, relay) = ask(&mut c, 3, "0.0.0.0:0".parse().unwrap()).await;
    assert_eq!(rep, 0, "UDP ASSOCIATE succeeds");
    assert!(relay.is_ipv4(), "relay address {relay}");
    (c, relay)
}

fn payload(i: usize, len: usize) -> Vec<u8> {
    let mut d: Vec<u8> = (0..len).map(|j| (i * 13 + j) as u8).collect();
    d[..4].copy_from_slice(&(i as u32).to_be_bytes());
    d
}

/// Sends `count` datagrams of mixed sizes (4 B .. 16 KiB) through the association in lock-step and
/// checks each answer: the echo's address in the header, then the payload byte for byte. Failures
/// name the `case`.
async fn exchange(
    case: &str,
    client: &UdpSocket,
    relay: SocketAddr,
    echo: SocketAddr,
    count: usize,
) {
    let mut buf = vec![0u8; 70000];
    let sizes = [4, 5, 64, 100, 512, 1200, 1400, 1472, 4096, 8192, 16384];
    for i in 0..count {
        let len = sizes[i % sizes.len()] + i % 7;
        let p = payload(i, len);
        client.send_to(&wrap(0, echo, &p), relay).await.unwrap();
        let (n, from) = timeout(Duration::from_secs(5), client.recv_from(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("{case}: datagram {i} ({len} bytes) was not answered"))
            .unwrap();
        assert_eq!(from, relay, "{case}: answers come from the relay");
        let header = wrap(0, echo, &[]);
        assert_eq!(buf[..10], header[..], "{case}: header of answer {i}");
        assert_eq!(n - 10, len, "{case}: length of answer {i}");
        assert!(buf[10..n] == p[..], "{case}: content of answer {i}");
    }
}

/// client → our SOCKS5 server (`-F` the hop) → our SOCKS5 hop → UDP echo, and back: UDP-TUN and
/// `relay=udp`, each over tcp, tls and ws.
#[tokio::test]
async fn udp_tun_and_relay_udp_over_tcp_tls_and_ws() {
    let echo = udp_echo().await;
    for relay_udp in [false, true] {
        for transport in [Transport::Tcp, Transport::Tls, Transport::Ws] {
            let case = format!("{transport:?} hop, relay_udp={relay_udp}");
            let hop = socks5(transport, udp_opts()).await;
            let front = socks5_through(udp_opts(), &[node(transport, hop.addr, relay_udp)]).await;
            let (_ctl, relay) = associate(front.addr).await;
            let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            exchange(&case, &client, relay, echo, 300).await;
        }
    }
}

#[tokio::test]
async fn two_hops_relay_through_the_last_one() {
    let echo = udp_echo().await;
    let first = socks5(Transport::Tcp, Socks5Options::default()).await;
    let last = socks5(Transport::Wss, udp_opts()).await;
    let front = socks5_through(
        udp_opts(),
        &[
            node(Transport::Tcp, first.addr, false),
            node(Transport::Wss, last.addr, false),
        ],
    )
    .await;
    let (_ctl, relay) = associate(front.addr).await;
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    exchange("two hops", &client, relay, echo, 100).await;
}

#[tokio::test]
async fn relay_udp_through_a_dante_hop() {
    let Some(d) = fwd::external::dante().await else {
        return;
    };
    let echo = udp_echo().await;
    let front = socks5_through(udp_opts(), &[node(Transport::Tcp, d.addr, true)]).await;
    let (_ctl, relay) = associate(front.addr).await;
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    exchange("dante hop", &client, relay, echo, 100).await;
}

#[tokio::test]
async fn udp_tun_clients_of_a_chained_server_go_through_its_chain_too() {
    let echo = udp_echo().await;
    let hop = socks5(Transport::Tcp, udp_opts()).await;
    let front = socks5_through(udp_opts(), &[node(Transport::Tcp, hop.addr, true)]).await;
    let fwd = fwd::forward(
        &format!("udp://127.0.0.1:0/{echo}?keepalive=true&readBufferSize=65535"),
        &[format!("socks5://{}?notls=true", front.addr)],
    )
    .await;
    let c = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    c.connect(fwd.addr).await.unwrap();
    udp_echoes(
        &c,
        (0..100).map(|i| payload(i, [4, 100, 1400, 9000][i % 4])),
    )
    .await;
}

#[tokio::test]
async fn a_hop_refusing_udp_gets_the_client_a_failure_reply() {
    let hop = socks5(Transport::Tcp, Socks5Options::default()).await;
    let front = socks5_through(udp_opts(), &[node(Transport::Tcp, hop.addr, false)]).await;
    let mut c = TcpStream::connect(front.addr).await.unwrap();
    c.write_all(&[5, 1, 0, 5, 3, 0, 1, 0, 0, 0, 0, 0, 0])
        .await
        .unwrap();
    let mut rep = [0u8; 12];
    timeout(Duration::from_secs(10), c.read_exact(&mut rep))
        .await
        .expect("a reply")
        .unwrap();
    assert_eq!(rep[..2], [5, 0]);
    assert_eq!(rep[2], 5);
    assert_ne!(rep[3], 0, "the association is refused, not faked");
}

/// A scripted UDP-TUN hop: answers the handshake, reads the first frame, then sends back an answer from
/// a stranger, one from a domain name, one too big for the front, and finally the echo. Returns the
/// first payload it received.
async fn scripted_hop() -> (SocketAddr, tokio::task::JoinHandle<Vec<u8>>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        let mut greeting = [0u8; 2];
        s.read_exact(&mut greeting).await.unwrap();
        let mut methods = vec![0u8; greeting[1] as usize];
        s.read_exact(&mut methods).await.unwrap();
        s.write_all(&[5, 0]).await.unwrap();
        let mut request = [0u8; 10];
        s.read_exact(&mut request).await.unwrap();
        assert_eq!(request[1], 0xF3, "UDP-TUN request");
        s.write_all(&[5, 0, 0, 1, 0, 0, 0, 0, 0, 0]).await.unwrap();
        let mut pending = Vec::new();
        let mut chunk = [0u8; 4096];
        let (first, target) = loop {
            if let Decoded::Complete(f, _) = UdpTunFrame::decode(&pending).unwrap() {
                break (f.payload.to_vec(), f.addr);
            }
            let n = s.read(&mut chunk).await.unwrap();
            assert_ne!(n, 0, "the front sent a frame");
            pending.extend_from_slice(&chunk[..n]);
        };
        let stranger: Address = "127.0.0.1:9".parse().unwrap();
        let by_name = Address::from_host_port("localhost", target.port()).unwrap();
        let big = vec![0x55; 3000];
        let frames = [
            UdpTunFrame::new(stranger, b"from a stranger"),
            UdpTunFrame::new(by_name, b"from a name"),
            UdpTunFrame::new(target.clone(), &big),
            UdpTunFrame::new(target.clone(), &first),
        ];
        let mut wire = Vec::new();
        for f in frames {
            f.encode(&mut wire).unwrap();
        }
        s.write_all(&wire).await.unwrap();
        // Hold the tunnel open until the front closes it.
        let _ = s.read(&mut chunk).await;
        first
    });
    (addr, task)
}

#[tokio::test]
async fn only_fitting_answers_from_contacted_targets_come_back_through_the_chain() {
    let (hop, script) = scripted_hop().await;
    let opts = Socks5Options {
        udp_buffer_size: 2048,
        ..udp_opts()
    };
    let front = socks5_through(opts, &[format!("socks5://{hop}?notls=true")]).await;
    let (ctl, relay) = associate(front.addr).await;
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let target: SocketAddr = "127.0.0.1:7".parse().unwrap();
    // A fragment never reaches the hop: the first frame it reads is the whole datagram.
    client
        .send_to(&wrap(1, target, b"fragment"), relay)
        .await
        .unwrap();
    client
        .send_to(&wrap(0, target, b"hello"), relay)
        .await
        .unwrap();
    let mut buf = [0u8; 4096];
    let (n, _) = timeout(Duration::from_secs(5), client.recv_from(&mut buf))
        .await
        .expect("the echo comes back")
        .unwrap();
    assert_eq!(&buf[..n], &wrap(0, target, b"hello")[..]);
    assert!(
        timeout(Duration::from_millis(200), client.recv_from(&mut buf))
            .await
            .is_err(),
        "nothing else comes back"
    );
    drop(ctl);
    let first = timeout(Duration::from_secs(5), script)
        .await
        .expect("the front closes the tunnel with the control connection")
        .unwrap();
    assert_eq!(first, b"hello");
}

const PYSOCKS_UDP: &str = r#"
import socket, sys, socks
port, echo_port = int(sys.argv[1]), int(sys.argv[2])
s = socks.socksocket(socket.AF_INET, socket.SOCK_DGRAM)
s.set_proxy(socks.SOCKS5, "127.0.0.1", port)
s.settimeout(5)
for i, size in enumerate([1, 5, 100, 1400, 3000, 9000] * 10):
    msg = bytes((i + j) % 256 for j in range(size))
    s.sendto(msg, ("127.0.0.1", echo_port))
    data, addr = s.recvfrom(65535)
    assert data == msg, (i, len(data), size)
    assert addr == ("127.0.0.1", echo_port), addr
print("ok")
"#;

#[tokio::test]
async fn pysocks_relays_udp_through_a_chain() {
    if !have("python3", &["-c", "import socks"], "pip install PySocks") {
        return;
    }
    let echo = udp_echo().await;
    let hop = socks5(Transport::Tls, udp_opts()).await;
    let front = socks5_through(udp_opts(), &[node(Transport::Tls, hop.addr, false)]).await;
    let args = [front.addr.port().to_string(), echo.port().to_string()];
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .arg("-c")
            .arg(PYSOCKS_UDP)
            .args(&args)
            .output()
            .expect("python3 runs")
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "PySocks failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
}

/// Polls `f` until it holds (at most 5 s).
async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !f() {
        assert!(tokio::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn chain_dies(relay_udp: bool) {
    let echo = udp_echo().await;
    let hop = socks5(Transport::Tcp, udp_opts()).await;
    let cutter = Cutter::start(hop.addr).await;
    let front = socks5_through(udp_opts(), &[node(Transport::Tcp, cutter.addr, relay_udp)]).await;
    let metrics = tokio::runtime::Handle::current().metrics();
    let (fds, tasks) = (fd_count(), metrics.num_alive_tasks());

    let (mut ctl, relay) = associate(front.addr).await;
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    exchange("before the chain dies", &client, relay, echo, 20).await;
    assert_eq!(
        cutter.cut(),
        1,
        "one connection to the hop carries the association"
    );
    let mut rest = [0u8; 16];
    let end = timeout(Duration::from_secs(5), ctl.read(&mut rest))
        .await
        .expect("the association ends when its chain dies");
    assert!(matches!(end, Ok(0) | Err(_)), "{end:?}");
    drop((ctl, client));
    eventually("every descriptor of the association is closed", || {
        fd_count() <= fds
    })
    .await;
    eventually("every task of the association ended", || {
        metrics.num_alive_tasks() <= tasks
    })
    .await;
    drop((front, hop, cutter));
}

#[test]
fn a_dying_udp_tun_chain_ends_the_association_cleanly() {
    serial(2, chain_dies(false));
}

#[test]
fn a_dying_relay_udp_chain_ends_the_association_cleanly() {
    serial(2, chain_dies(true));
}
