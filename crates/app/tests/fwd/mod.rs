//! Fixtures of the forwarding tests: our SOCKS5 server on any transport, forwarding services built from
//! command-line URLs exactly as the `gost` binary builds them, a streaming checksum and a cuttable relay.
#![allow(dead_code)] // each test binary uses a different subset

pub(crate) mod external;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use gost_app::forward::ForwardService;
use gost_service::ChainOutbound;
use gost_service::{Service, ServiceOptions, Socks5Handler, Socks5Options};
use gost_transport::tcp::{TcpListener, TcpOptions};
use gost_transport::tls::{ServerTls, TlsListener};
use gost_transport::ws::{WsListener, WsOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub(crate) use gost_test_support::{Checksum, Running};

/// The transport a test SOCKS5 server listens with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    Tcp,
    Tls,
    Ws,
    Wss,
}

impl Transport {
    /// The `-F` scheme reaching a server of this transport.
    pub(crate) fn scheme(self) -> &'static str {
        match self {
            Transport::Tcp => "socks5",
            Transport::Tls => "socks5+tls",
            Transport::Ws => "socks5+ws",
            Transport::Wss => "socks5+wss",
        }
    }
}

/// Our SOCKS5 server on 127.0.0.1:0 with `opts`, listening with `transport`.
pub(crate) async fn socks5(transport: Transport, opts: Socks5Options) -> Running {
    let addr = "127.0.0.1:0";
    let tcp = TcpOptions::default();
    let handler = Socks5Handler::new(opts);
    let svc_opts = ServiceOptions {
        drain_timeout: Duration::from_millis(100),
        ..Default::default()
    };
    let svc = match transport {
        Transport::Tcp => Service::new(
            TcpListener::bind(addr, tcp).await.unwrap(),
            handler,
            svc_opts,
        ),
        Transport::Tls => {
            let tls = ServerTls::self_signed().unwrap();
            Service::new(
                TlsListener::bind(addr, tcp, tls).await.unwrap(),
                handler,
                svc_opts,
            )
        }
        Transport::Ws | Transport::Wss => {
            let tls = (transport == Transport::Wss).then(|| ServerTls::self_signed().unwrap());
            let l = WsListener::bind(addr, tcp, WsOptions::default(), tls)
                .await
                .unwrap();
            Service::new(l, handler, svc_opts)
        }
    };
    Running::spawn(svc.local_addr(), |token| svc.run(token))
}

/// Our SOCKS5 server on 127.0.0.1:0 over TCP with `opts` whose requests go through the chain of `-F`
/// `nodes`, built as the binary builds it for `-L socks5://... -F ...`.
pub(crate) async fn socks5_through(opts: Socks5Options, nodes: &[String]) -> Running {
    let (config, _) = gost_config::from_cli(&["socks5://127.0.0.1:0"], nodes).unwrap();
    let router = gost_app::chain::router(&config, config.services[0].chain()).unwrap();
    let outbound = Arc::new(ChainOutbound::new(router));
    let l = TcpListener::bind("127.0.0.1:0", TcpOptions::default())
        .await
        .unwrap();
    let svc = Service::new(
        l,
        Socks5Handler::with_outbound(opts, outbound),
        ServiceOptions {
            drain_timeout: Duration::from_millis(100),
            ..Default::default()
        },
    );
    Running::spawn(svc.local_addr(), |token| svc.run(token))
}

/// Our SOCKS4 server on 127.0.0.1:0 over TCP with `opts`.
pub(crate) async fn socks4(opts: gost_service::Socks4Options) -> Running {
    let l = TcpListener::bind("127.0.0.1:0", TcpOptions::default())
        .await
        .unwrap();
    let svc = Service::new(
        l,
        gost_service::Socks4Handler::new(opts),
        ServiceOptions::default(),
    );
    Running::spawn(svc.local_addr(), |token| svc.run(token))
}

/// Starts the forwarding service described by `-L service` and `-F` `nodes`, as the binary would.
pub(crate) async fn forward(service: &str, nodes: &[String]) -> Running {
    try_forward(service, nodes).await.unwrap()
}

/// [`forward`], returning why the service could not be built or bound.
pub(crate) async fn try_forward(
    service: &str,
    nodes: &[String],
) -> Result<Running, gost_app::Error> {
    let (config, _) = gost_config::from_cli(&[service], nodes).unwrap();
    let svc = ForwardService::bind(&config, &config.services[0], None).await?;
    let addr = svc
        .local_addr()
        .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
    Ok(Running::spawn(addr, |token| svc.run(token)))
}

/// Deterministic test data: byte `i` of the stream is a function of `i` and `seed`.
pub(crate) fn pattern(offset: usize, len: usize, seed: u8) -> Vec<u8> {
    (offset..offset + len)
        .map(|i| {
            (i as u8)
                .wrapping_mul(31)
                .wrapping_add((i >> 8) as u8 ^ seed)
        })
        .collect()
}

/// Sends `total` bytes through `addr` (an echo behind it) and checks what comes back, byte for byte,
/// by checksum. The sender half-closes when done and the echo must then end the stream.
pub(crate) async fn echo_through(addr: SocketAddr, total: usize, seed: u8) {
    echo(addr, total, seed, true).await;
}

/// Like [`echo_through`] without half-close: the sender keeps its side open until all `total` bytes are
/// back, as a client of upstream GOST's smux streams must (there a FIN ends both directions).
pub(crate) async fn echo_exchange(addr: SocketAddr, total: usize, seed: u8) {
    echo(addr, total, seed, false).await;
}

async fn echo(addr: SocketAddr, total: usize, seed: u8, half_close: bool) {
    echo_on(
        TcpStream::connect(addr).await.unwrap(),
        total,
        seed,
        half_close,
    )
    .await;
}

/// The exchange of [`echo_through`] (`half_close`) or [`echo_exchange`] on a connected stream.
pub(crate) async fn echo_on(s: TcpStream, total: usize, seed: u8, half_close: bool) {
    let (mut r, mut w) = s.into_split();
    let writer = tokio::spawn(async move {
        let mut sum = Checksum::default();
        let mut off = 0;
        while off < total {
            let chunk = pattern(off, (total - off).min(64 * 1024), seed);
            sum.update(&chunk);
            w.write_all(&chunk).await.unwrap();
            off += chunk.len();
        }
        if half_close {
            w.shutdown().await.unwrap();
        }
        (sum, w)
    });
    let mut sum = Checksum::default();
    let mut got = 0;
    let mut buf = vec![0u8; 64 * 1024];
    while half_close || got < total {
        let n = tokio::time::timeout(Duration::from_secs(20), r.read(&mut buf))
            .await
            .expect("echo stalled")
            .unwrap();
        if n == 0 {
            break;
        }
        sum.update(&buf[..n]);
        got += n;
    }
    assert_eq!(got, total, "bytes echoed");
    assert_eq!(
        sum,
        writer.await.unwrap().0,
        "checksum of the echoed stream"
    );
}

/// A TCP relay to `upstream` whose live connections can be cut at will (to kill a control connection).
pub(crate) struct Cutter {
    pub addr: SocketAddr,
    conns: Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Cutter {
    pub(crate) async fn start(upstream: SocketAddr) -> Cutter {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let conns: Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let list = conns.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut a, _)) = l.accept().await {
                let task = tokio::spawn(async move {
                    if let Ok(mut b) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut a, &mut b).await;
                    }
                });
                list.lock().unwrap().push(task.abort_handle());
            }
        });
        Cutter {
            addr,
            conns,
            accept,
        }
    }

    /// How many connections were relayed since the last [`Cutter::cut`].
    pub(crate) fn relayed(&self) -> usize {
        self.conns.lock().unwrap().len()
    }

    /// Drops every connection relayed so far (both sockets close at once).
    pub(crate) fn cut(&self) -> usize {
        let conns = std::mem::take(&mut *self.conns.lock().unwrap());
        conns.iter().for_each(|c| c.abort());
        conns.len()
    }
}

impl Drop for Cutter {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

/// Polls until a short echo through `addr` works (at most `within`).
pub(crate) async fn wait_for_echo(addr: SocketAddr, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let attempt = async {
            let mut s = TcpStream::connect(addr).await?;
            s.write_all(b"probe").await?;
            let mut buf = [0u8; 5];
            s.read_exact(&mut buf).await?;
            Ok::<_, std::io::Error>(buf == *b"probe")
        };
        if let Ok(Ok(true)) = tokio::time::timeout(Duration::from_millis(500), attempt).await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no echo through {addr} within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A SOCKS5 server's options for the last hop of UDP and BIND chains: UDP relay, BIND and MBIND, and
/// datagrams up to 64 KiB.
pub(crate) fn udp_and_bind() -> Socks5Options {
    Socks5Options {
        udp: true,
        bind: true,
        udp_buffer_size: 65535,
        ..Default::default()
    }
}

/// One `tcp://` forward to `echo` per node in `nodes` (each a chain of that node alone), each checked
/// with `total` bytes echoed back (seed = the node's index).
pub(crate) async fn tcp_forward_through_each(echo: SocketAddr, nodes: &[String], total: usize) {
    for (i, node) in nodes.iter().enumerate() {
        let service = format!("tcp://127.0.0.1:0/{echo}");
        let fwd = forward(&service, std::slice::from_ref(node)).await;
        echo_through(fwd.addr, total, i as u8).await;
    }
}

/// An `rtcp://` forward to `echo` through `nodes`, whose remote port (returned) already echoes.
pub(crate) async fn rtcp_forward(echo: SocketAddr, nodes: &[String]) -> (Running, SocketAddr) {
    let port = gost_test_support::free_port();
    let rtcp = forward(&format!("rtcp://127.0.0.1:{port}/{echo}"), nodes).await;
    let remote = SocketAddr::from(([127, 0, 0, 1], port));
    wait_for_echo(remote, Duration::from_secs(5)).await;
    (rtcp, remote)
}

/// `peers` concurrent peers of `remote`, each exchanging `total` bytes with the echo behind it.
pub(crate) async fn concurrent_peers(remote: SocketAddr, peers: u8, total: usize) {
    let peers: Vec<_> = (0..peers)
        .map(|i| tokio::spawn(echo_exchange(remote, total, i)))
        .collect();
    for p in peers {
        p.await.unwrap();
    }
}

/// Sends each datagram on the connected `c` and expects it back within 5 s; a failure names its index.
pub(crate) async fn udp_echoes(
    c: &tokio::net::UdpSocket,
    datagrams: impl IntoIterator<Item = Vec<u8>>,
) {
    let mut buf = vec![0u8; 65536];
    for (i, d) in datagrams.into_iter().enumerate() {
        c.send(&d).await.unwrap();
        let n = tokio::time::timeout(Duration::from_secs(5), c.recv(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("datagram {i} ({} bytes) was not echoed", d.len()))
            .unwrap();
        assert!(buf[..n] == d[..], "echo {i}");
    }
}

/// Starts the `udp://` forward `service` through `nodes`, and a client socket connected to it.
pub(crate) async fn udp_forward(
    service: &str,
    nodes: &[String],
) -> (Running, tokio::net::UdpSocket) {
    let fwd = forward(service, nodes).await;
    let c = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    c.connect(fwd.addr).await.unwrap();
    (fwd, c)
}
