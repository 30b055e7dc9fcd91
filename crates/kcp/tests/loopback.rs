//! End-to-end sessions over loopback UDP: our dialer against our listener, through a lossy relay,
//! with the full packet layer (AES, FEC 10/3) and snappy framing; corrupted and random datagrams
//! inside a live session; session expiry.

mod support;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use gost_kcp::{
    KcpConfig, KcpListener, KcpStream, ListenerLimits, SessionLimits, SnappyStream, ValidConfig,
};
use gost_test_support::Checksum;
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use support::{lossy_relay, tampering_relay, wait_until};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UdpSocket;

const MIB: usize = 1024 * 1024;

fn payload(len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    StdRng::seed_from_u64(42).fill_bytes(&mut v);
    v
}

/// Our listener on 127.0.0.1:0.
async fn listen(valid: &ValidConfig, limits: ListenerLimits) -> KcpListener {
    KcpListener::bind("127.0.0.1:0".parse().unwrap(), valid.clone(), limits)
        .await
        .unwrap()
}

/// Sends `data` from a dialer to our listener (optionally through a lossy relay); the server
/// replies with the length and checksum of what it received. Returns the elapsed time.
/// What sits between the dialer and the listener.
#[derive(Clone, Copy)]
enum Path {
    Direct,
    /// A relay dropping this fraction of datagrams in each direction.
    Lossy(f64),
    /// A relay adding a corrupted copy and a random datagram after each client datagram.
    Tampering,
}

async fn transfer(cfg: KcpConfig, data: Vec<u8>, path: Path) -> Duration {
    let valid = cfg.validate().unwrap();
    let data_len = data.len() as u64;
    let listener = listen(&valid, ListenerLimits::default()).await;
    let (target, relay) = match path {
        Path::Direct => (listener.local_addr(), None),
        Path::Lossy(loss) => {
            let (addr, stats, task) = lossy_relay(listener.local_addr(), loss, 7).await;
            (addr, Some((stats, task)))
        }
        Path::Tampering => {
            let (addr, stats, task) = tampering_relay(listener.local_addr()).await;
            (addr, Some((stats, task)))
        }
    };
    let server = tokio::spawn(async move {
        let stream = listener.accept().await.unwrap();
        let mut s = SnappyStream::new(stream);
        let mut len = 0u64;
        let mut hash = Checksum::default();
        let mut buf = vec![0u8; 64 * 1024];
        while len < data_len {
            let n = s.read(&mut buf).await.unwrap();
            assert!(n > 0, "eof after {len} bytes");
            hash.update(&buf[..n]);
            len += n as u64;
        }
        let sessions = listener.session_count();
        s.write_all(&len.to_le_bytes()).await.unwrap();
        s.write_all(&hash.value().to_le_bytes()).await.unwrap();
        s.flush().await.unwrap();
        // Keep the session until the client has read the answer.
        let mut rest = [0u8; 1];
        let _ = s.read(&mut rest).await;
        (listener, sessions)
    });
    let started = Instant::now();
    let stream = KcpStream::connect(target, &valid, SessionLimits::default())
        .await
        .unwrap();
    let mut c = SnappyStream::new(stream);
    let want = Checksum::of(&data).value();
    for chunk in data.chunks(32 * 1024) {
        c.write_all(chunk).await.unwrap();
    }
    // SnappyStream buffers like BufWriter: a flush hands the last chunk to KCP.
    c.flush().await.unwrap();
    let mut answer = [0u8; 16];
    c.read_exact(&mut answer).await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(
        u64::from_le_bytes(answer[..8].try_into().unwrap()),
        data.len() as u64
    );
    assert_eq!(
        u64::from_le_bytes(answer[8..].try_into().unwrap()),
        want,
        "checksum"
    );
    c.write_all(b"x").await.unwrap();
    c.flush().await.unwrap();
    let (listener, sessions) = server.await.unwrap();
    if let Some((stats, task)) = relay {
        task.abort();
        match path {
            Path::Lossy(loss) => {
                stats.assert_loss_near(loss);
            }
            Path::Tampering => {
                assert!(stats.injected.load(Ordering::Relaxed) > 1000);
                // The junk from the session's own address neither ended it nor started another.
                assert_eq!(sessions, 1);
            }
            Path::Direct => {}
        }
    }
    drop(listener);
    elapsed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupted_and_random_datagrams_inside_a_live_session_are_dropped() {
    let t = transfer(bulk_config("fast"), payload(2 * MIB), Path::Tampering).await;
    eprintln!("2 MiB with a corrupted copy and a junk datagram after each packet: {t:?}");
}

/// Upstream's effective defaults, with the larger windows a bulk test needs (32 segments per
/// 10 ms tick caps throughput at about 4 MB/s).
fn bulk_config(mode: &str) -> KcpConfig {
    KcpConfig {
        mode: mode.to_owned(),
        sndwnd: 512,
        rcvwnd: 512,
        ..KcpConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_mib_cross_intact_with_upstream_default_settings() {
    let t = transfer(KcpConfig::default(), payload(8 * MIB), Path::Direct).await;
    eprintln!("8 MiB, default settings, no loss: {t:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_mib_cross_intact_with_five_percent_loss() {
    let t = transfer(bulk_config("fast"), payload(8 * MIB), Path::Lossy(0.05)).await;
    eprintln!("8 MiB, 5% loss: {t:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_mib_cross_intact_with_twenty_percent_loss() {
    let t = transfer(bulk_config("fast3"), payload(8 * MIB), Path::Lossy(0.20)).await;
    eprintln!("8 MiB, 20% loss: {t:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_expire_when_the_peer_disappears() {
    let valid = KcpConfig::default().validate().unwrap();
    let limits = ListenerLimits {
        // Long enough that all five sessions are still alive after the last connect on a loaded
        // machine (an idle KCP session sends nothing, so the first ones age while the rest connect).
        session: SessionLimits {
            idle_timeout: Duration::from_secs(3),
        },
        ..ListenerLimits::default()
    };
    let listener = listen(&valid, limits).await;
    let mut clients = Vec::new();
    let mut accepted = Vec::new();
    for i in 0..5u8 {
        let mut c = KcpStream::connect(listener.local_addr(), &valid, SessionLimits::default())
            .await
            .unwrap();
        c.write_all(&[i; 100]).await.unwrap();
        let mut s = listener.accept().await.unwrap();
        let mut buf = [0u8; 100];
        s.read_exact(&mut buf).await.unwrap();
        assert_eq!(buf, [i; 100]);
        clients.push(c);
        accepted.push(s);
    }
    assert_eq!(listener.session_count(), 5);
    // The clients vanish without a word (KCP has no FIN): their sockets close with them.
    drop(clients);
    let mut s = accepted.pop().unwrap();
    let err = s.read(&mut [0u8; 8]).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    assert!(wait_until(Duration::from_secs(10), || listener.session_count() == 0).await);
    assert!(accepted.iter().all(KcpStream::is_closed));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dialer_gives_up_when_the_server_vanishes() {
    let valid = KcpConfig::default().validate().unwrap();
    let listener = listen(&valid, ListenerLimits::default()).await;
    let limits = SessionLimits {
        idle_timeout: Duration::from_millis(300),
    };
    let mut c = KcpStream::connect(listener.local_addr(), &valid, limits)
        .await
        .unwrap();
    c.write_all(b"hello").await.unwrap();
    let mut s = listener.accept().await.unwrap();
    let mut buf = [0u8; 5];
    s.read_exact(&mut buf).await.unwrap();
    drop(s);
    drop(listener);
    let err = c.read(&mut [0u8; 8]).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    assert!(c.write_all(b"more").await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_wrong_keys_create_no_sessions() {
    let valid = KcpConfig::default().validate().unwrap();
    let listener = listen(&valid, ListenerLimits::default()).await;
    let junk = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut rng = StdRng::seed_from_u64(1);
    for len in [0usize, 1, 20, 27, 28, 52, 200, 1400] {
        let mut d = vec![0u8; len];
        rng.fill_bytes(&mut d);
        junk.send_to(&d, listener.local_addr()).await.unwrap();
    }
    let other = KcpConfig {
        key: "another key".into(),
        ..KcpConfig::default()
    };
    let mut wrong = KcpStream::connect(
        listener.local_addr(),
        &other.validate().unwrap(),
        SessionLimits::default(),
    )
    .await
    .unwrap();
    wrong.write_all(b"let me in").await.unwrap();
    // A correctly keyed client is still served, and is the only session.
    let mut good = KcpStream::connect(listener.local_addr(), &valid, SessionLimits::default())
        .await
        .unwrap();
    good.write_all(b"hi").await.unwrap();
    let mut s = listener.accept().await.unwrap();
    assert_eq!(
        s.peer_addr(),
        good.local_addr()
            .to_string()
            .replace("0.0.0.0", "127.0.0.1")
            .parse()
            .unwrap()
    );
    let mut buf = [0u8; 2];
    s.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"hi");
    assert_eq!(listener.session_count(), 1);
}

/// The datagrams a fresh client with conversation `conv` sends first: `data` as PUSH sn 0.
fn first_datagrams(valid: &ValidConfig, conv: u32, data: &[u8]) -> Vec<Vec<u8>> {
    let mut enc = gost_kcp::packet::PacketEncoder::new(valid.crypt.clone(), valid.fec).unwrap();
    let mut arq = gost_kcp::arq::Arq::new(conv, valid.mtu - enc.overhead());
    arq.send(data);
    let mut out = Vec::new();
    // Like ikcp, a fresh engine opens its congestion window (to 1) on the first flush and sends
    // on the next.
    for _ in 0..2 {
        arq.flush_now(0, &mut |kcp| {
            enc.encode(kcp, 0, 100, &mut |d| out.push(d.to_vec()))
        });
    }
    assert!(!out.is_empty());
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_restarting_from_the_same_address_replaces_its_session() {
    let valid = KcpConfig::default().validate().unwrap();
    let listener = listen(&valid, ListenerLimits::default()).await;
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let to = listener.local_addr();
    for d in first_datagrams(&valid, 0x1111, b"first run") {
        client.send_to(&d, to).await.unwrap();
    }
    let mut old = listener.accept().await.unwrap();
    let mut buf = [0u8; 9];
    old.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"first run");
    assert_eq!(old.conv(), 0x1111);

    // Same address, new conversation: the old session ends ...
    let restart = first_datagrams(&valid, 0x2222, b"second run");
    for d in &restart {
        client.send_to(d, to).await.unwrap();
    }
    let err = old.read(&mut buf).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset);
    assert!(wait_until(Duration::from_secs(5), || listener.session_count() == 0).await);
    // ... and the client's retransmission starts the new one.
    for d in &restart {
        client.send_to(d, to).await.unwrap();
    }
    let mut new = listener.accept().await.unwrap();
    let mut buf = [0u8; 10];
    new.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"second run");
    assert_eq!(new.conv(), 0x2222);
    assert_eq!(listener.session_count(), 1);
}
