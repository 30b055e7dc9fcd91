//! A 64 MiB transfer through the relay arrives whole and in order, and a half-close from the client does
//! not cut the answer the target sends after it: once with splice(2) between TCP sockets, once buffered.

use std::net::SocketAddr;

use gost_service::relay::{Transferred, relay, relay_tcp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const TOTAL: usize = 64 * 1024 * 1024;
const TRAILER: &[u8] = b"target saw EOF";

/// Deterministic, position-dependent bytes: any drop or reordering changes what a reader sees.
fn pattern(offset: usize, buf: &mut [u8]) {
    for (i, b) in buf.iter_mut().enumerate() {
        let x = (offset + i) as u64;
        *b = (x.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8 ^ (x as u8);
    }
}

/// Echoes everything it reads; after EOF it sends a trailer and closes (the answer after a half-close).
async fn echo_target() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = s.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            s.write_all(&buf[..n]).await.unwrap();
        }
        s.write_all(TRAILER).await.unwrap();
    });
    addr
}

/// A proxy that relays one client connection to `target` with the given relay function.
async fn proxy<F, Fut>(
    target: SocketAddr,
    run: F,
) -> (SocketAddr, tokio::task::JoinHandle<Transferred>)
where
    F: FnOnce(TcpStream, TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = (Transferred, std::io::Result<()>)> + Send,
{
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (client, _) = l.accept().await.unwrap();
        let upstream = TcpStream::connect(target).await.unwrap();
        let (t, r) = run(client, upstream).await;
        r.unwrap();
        t
    });
    (addr, task)
}

async fn transfer_through(addr: SocketAddr) {
    let s = TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = s.into_split();
    let writer = tokio::spawn(async move {
        let mut buf = vec![0u8; 256 * 1024];
        let mut off = 0;
        while off < TOTAL {
            let n = buf.len().min(TOTAL - off);
            pattern(off, &mut buf[..n]);
            wr.write_all(&buf[..n]).await.unwrap();
            off += n;
        }
        wr.shutdown().await.unwrap();
        wr
    });
    let mut got = vec![0u8; 256 * 1024];
    let mut want = vec![0u8; 256 * 1024];
    let mut off = 0;
    while off < TOTAL {
        let n = rd
            .read(&mut got[..(TOTAL - off).min(256 * 1024)])
            .await
            .unwrap();
        assert!(n > 0, "stream ended after {off} of {TOTAL} bytes");
        pattern(off, &mut want[..n]);
        assert!(
            got[..n] == want[..n],
            "bytes differ in chunk at offset {off}"
        );
        off += n;
    }
    let mut rest = Vec::new();
    rd.read_to_end(&mut rest).await.unwrap();
    assert_eq!(rest, TRAILER, "answer sent after the half-close was lost");
    drop(writer.await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_relay_zero_copy_path() {
    let target = echo_target().await;
    let (addr, task) = proxy(target, relay_tcp).await;
    transfer_through(addr).await;
    let t = task.await.unwrap();
    assert_eq!(t.a_to_b, TOTAL as u64);
    assert_eq!(t.b_to_a, (TOTAL + TRAILER.len()) as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buffered_relay_path() {
    let target = echo_target().await;
    let (addr, task) = proxy(
        target,
        |mut a, mut b| async move { relay(&mut a, &mut b).await },
    )
    .await;
    transfer_through(addr).await;
    let t = task.await.unwrap();
    assert_eq!(t.a_to_b, TOTAL as u64);
    assert_eq!(t.b_to_a, (TOTAL + TRAILER.len()) as u64);
}
