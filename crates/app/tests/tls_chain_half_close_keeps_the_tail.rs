//! CONNECT through a `socks5+tls` chain whose hop negotiates method 0x80 (TLS inside the tls transport, as
//! two GOST peers do by default): after the client's half-close the target writes a large reply, and every
//! byte of it reaches the client, with the hop ending its connection by FIN rather than a reset.
//!
//! The front's half-close sends the inner close_notify and then the outer one. The hop used to read the
//! inner one as EOF, never read the outer one, and close its socket with it unread, which makes Linux send a
//! RST that drops the tail of the reply (`scripts/soak.sh` saw it in ~1 % of sessions, when the two records
//! were read separately). A record-aware TCP relay between the front and the hop makes that ordering
//! certain: it holds the front's outer close_notify back until the target has seen EOF, that is until the
//! hop has read the inner one. `crates/transport/tests/tls_in_tls_close.rs` pins the same ordering down
//! at the transport level.

mod fwd;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use fwd::{Checksum, Transport, pattern, socks5, socks5_through};
use gost_service::Socks5Options;
use gost_transport::tls::ServerTls;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc};

/// What the target writes after reading the client's request to EOF.
const REPLY: usize = 4 << 20;

/// Sessions, one after the other (the relay pairs each held record with the target's next EOF).
const SESSIONS: u8 = 3;

/// Length of a TLS 1.3 record carrying a close_notify alert: 2 alert bytes, the content type and the
/// 16-byte AEAD tag. The front's other records to the hop are longer (the smallest, the SOCKS5 greeting,
/// has 4 bytes of payload).
const ALERT_RECORD: usize = 2 + 1 + 16;

/// A target that reads each connection to EOF, notifies `eof`, then writes [`REPLY`] bytes (seeded by the
/// request's first byte) and closes.
async fn replies_after_eof(eof: Arc<Notify>) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let eof = eof.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                s.read_to_end(&mut request).await?;
                eof.notify_one();
                let seed = request.first().copied().unwrap_or(0);
                for off in (0..REPLY).step_by(64 * 1024) {
                    s.write_all(&pattern(off, 64 * 1024, seed)).await?;
                }
                s.shutdown().await
            });
        }
    });
    addr
}

/// How the hop ended one connection, as the relay between it and the front saw it.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Fin,
    Reset(std::io::ErrorKind),
}

/// A TCP relay to `hop` that forwards the front's TLS records one by one, holding each encrypted alert
/// until `release` is notified; it reports for each connection whether the hop ended it cleanly (EOF) or
/// reset it, and passes a reset on to the front.
async fn holding_relay(
    hop: SocketAddr,
    release: Arc<Notify>,
) -> (SocketAddr, mpsc::UnboundedReceiver<Outcome>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((front, _)) = l.accept().await {
            let (release, tx) = (release.clone(), tx.clone());
            tokio::spawn(async move {
                let hop = TcpStream::connect(hop).await.unwrap();
                let (mut front_r, mut front_w) = front.into_split();
                let (mut hop_r, mut hop_w) = hop.into_split();
                let up = tokio::spawn(async move {
                    let mut header = [0u8; 5];
                    while front_r.read_exact(&mut header).await.is_ok() {
                        let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
                        let mut record = header.to_vec();
                        record.resize(5 + len, 0);
                        front_r.read_exact(&mut record[5..]).await?;
                        if header[0] == 23 && len == ALERT_RECORD {
                            release.notified().await;
                        }
                        hop_w.write_all(&record).await?;
                    }
                    hop_w.shutdown().await
                });
                let down = tokio::io::copy(&mut hop_r, &mut front_w).await;
                up.abort();
                let outcome = match down {
                    Ok(_) => {
                        let _ = front_w.shutdown().await;
                        Outcome::Fin
                    }
                    Err(e) => {
                        let _ = socket2::SockRef::from(front_w.as_ref())
                            .set_linger(Some(Duration::ZERO));
                        Outcome::Reset(e.kind())
                    }
                };
                let _ = tx.send(outcome);
            });
        }
    });
    (addr, rx)
}

/// SOCKS5 CONNECT to `target` through `proxy`, a one-byte request and a half-close; returns the checksum
/// and length of everything read back.
async fn request_then_half_close(
    proxy: SocketAddr,
    target: SocketAddr,
    seed: u8,
) -> (Checksum, usize) {
    let mut c = TcpStream::connect(proxy).await.unwrap();
    c.write_all(&[5, 1, 0]).await.unwrap();
    let mut method = [0u8; 2];
    c.read_exact(&mut method).await.unwrap();
    assert_eq!(method, [5, 0]);
    let SocketAddr::V4(v4) = target else {
        unreachable!("the target listens on 127.0.0.1")
    };
    let mut req = vec![5, 1, 0, 1];
    req.extend_from_slice(&v4.ip().octets());
    req.extend_from_slice(&v4.port().to_be_bytes());
    c.write_all(&req).await.unwrap();
    let mut rep = [0u8; 10];
    c.read_exact(&mut rep).await.unwrap();
    assert_eq!(rep[1], 0, "CONNECT through the chain succeeds");
    c.write_all(&[seed]).await.unwrap();
    c.shutdown().await.unwrap();
    let (mut sum, mut got) = (Checksum::default(), 0);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match c.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                sum.update(&buf[..n]);
                got += n;
            }
        }
    }
    (sum, got)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reply_after_half_close_arrives_whole_through_tls_in_tls() {
    let eof = Arc::new(Notify::new());
    let target = replies_after_eof(eof.clone()).await;
    let hop = socks5(
        Transport::Tls,
        Socks5Options {
            tls: Some(ServerTls::self_signed().unwrap()),
            ..Default::default()
        },
    )
    .await;
    let (relay, mut outcomes) = holding_relay(hop.addr, eof).await;
    // The connector offers 0x80 (no `notls`) and the hop, having a TLS configuration, selects it.
    let front = socks5_through(Socks5Options::default(), &[format!("socks5+tls://{relay}")]).await;

    for seed in 0..SESSIONS {
        let (sum, got) = tokio::time::timeout(
            Duration::from_secs(60),
            request_then_half_close(front.addr, target, seed),
        )
        .await
        .expect("session stalled");
        assert_eq!(got, REPLY, "session {seed}: reply truncated");
        let outcome = tokio::time::timeout(Duration::from_secs(10), outcomes.recv())
            .await
            .expect("the hop's connection did not end")
            .unwrap();
        assert_eq!(outcome, Outcome::Fin, "session {seed}: how the hop closed");
        let mut want = Checksum::default();
        for off in (0..REPLY).step_by(64 * 1024) {
            want.update(&pattern(off, 64 * 1024, seed));
        }
        assert_eq!(sum, want, "session {seed}: reply corrupted");
    }
}
