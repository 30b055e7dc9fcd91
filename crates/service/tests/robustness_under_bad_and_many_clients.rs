//! Bad and numerous clients do not disturb others: garbage and half-sent handshakes, hundreds of idle
//! connections, 200 concurrent clients each echoing 256 KiB, and 64 MiB with a half-close through SOCKS5.
//! After each, the process's descriptor count (`/proc/self/fd`) returns to where it was: nothing leaks.
//! The tests take turns (one lock) so that one test's sockets do not blur another's count.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{expect_closed, read_reply, request, serve, socks5_noauth};
use gost_service::{Socks4Handler, Socks4Options, Socks5Handler, Socks5Options};
use gost_test_support::{echo_server, raise_nofile};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Serialises the tests of this file: descriptor counts are process-wide.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `test` alone, on its own runtime (`workers` threads; 0 = current thread), which is built after and
/// dropped before the turn ends, so no other test's runtime or sockets are counted.
fn alone<F: Future<Output = ()>>(workers: usize, test: impl FnOnce() -> F) {
    let _turn = SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let runtime = if workers == 0 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(workers);
        b
    }
    .enable_all()
    .build()
    .unwrap();
    runtime.block_on(test());
}

/// Open descriptors of this process that are not pipes, and the pipes.
///
/// Pipes are counted apart: the splice relay keeps a bounded per-thread pool of empty pipes for reuse,
/// which is not a leak; sockets, timers and every other kind of descriptor must all be released.
fn open_fds() -> (usize, usize) {
    let (mut other, mut pipes) = (0, 0);
    for entry in std::fs::read_dir("/proc/self/fd").expect("/proc/self/fd is readable on Linux") {
        let Ok(entry) = entry else { continue };
        match std::fs::read_link(entry.path()) {
            Ok(t) if t.to_string_lossy().starts_with("pipe:") => pipes += 1,
            // Closed between the listing and the look-up.
            Err(_) => {}
            Ok(_) => other += 1,
        }
    }
    (other, pipes)
}

/// Most pipe descriptors the relay's pools may keep: 64 pipes (2 fds each) per runtime thread.
const POOLED_PIPE_FDS: usize = 2 * 64 * 3;

/// Waits (up to 5 s) until every non-pipe descriptor opened since `baseline` is closed again and pooled
/// pipes stay within the pools' bound; fails naming what is still open.
async fn assert_no_fd_leak(baseline: (usize, usize)) {
    let mut now = open_fds();
    for _ in 0..250 {
        if now.0 <= baseline.0 && now.1 <= baseline.1 + POOLED_PIPE_FDS {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        now = open_fds();
    }
    panic!(
        "descriptors leaked: {} non-pipe open ({} before), {} pipe ends ({} before)",
        now.0, baseline.0, now.1, baseline.1
    );
}

/// A full SOCKS5 CONNECT to `target` and one echo round trip, all within 5 s.
async fn good_client(proxy: SocketAddr, target: SocketAddr) {
    tokio::time::timeout(Duration::from_secs(5), async {
        let mut c = socks5_noauth(proxy).await;
        c.write_all(&request(1, target)).await.unwrap();
        assert_eq!(read_reply(&mut c).await.0, 0);
        c.write_all(b"still served").await.unwrap();
        let mut buf = [0u8; 12];
        c.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"still served");
    })
    .await
    .expect("a good client was not served in time");
}

#[test]
fn garbage_and_half_sent_handshakes_do_not_disturb_others() {
    alone(0, garbage_and_half_sent_handshakes);
}

async fn garbage_and_half_sent_handshakes() {
    let echo = echo_server().await;
    let opts = Socks5Options {
        handshake_timeout: Duration::from_millis(300),
        ..Default::default()
    };
    let proxy = serve(Socks5Handler::new(opts)).await;
    let s4 = serve(Socks4Handler::new(Socks4Options {
        handshake_timeout: Duration::from_millis(300),
        ..Default::default()
    }))
    .await;
    let baseline = open_fds();
    let inputs: [&[u8]; 8] = [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        &[0xFF; 600],
        &[5],                              // half a greeting
        &[5, 3, 0],                        // greeting promising 3 methods, sending 1
        &[5, 1, 0, 5, 1, 0, 3, 200, b'a'], // request with a truncated domain
        &[5, 1, 0, 5, 1, 0, 1, 127],       // truncated IPv4 request
        &[5, 0],                           // NMETHODS = 0
        &[],                               // connects and says nothing
    ];
    let mut bad = Vec::new();
    for input in inputs {
        let mut c = TcpStream::connect(proxy.addr).await.unwrap();
        c.write_all(input).await.unwrap();
        bad.push(c);
    }
    for input in [
        &[4u8, 1][..],
        &[4, 1, 0, 80, 0, 0, 0, 1, b'u', b's', b'e', b'r'],
    ] {
        let mut c = TcpStream::connect(s4.addr).await.unwrap();
        c.write_all(input).await.unwrap();
        bad.push(c);
    }
    good_client(proxy.addr, echo).await;
    // Every bad client is cut: by a refusal or by the handshake timeout.
    for c in &mut bad {
        let mut sink = Vec::new();
        let r = tokio::time::timeout(Duration::from_secs(5), c.read_to_end(&mut sink)).await;
        assert!(r.is_ok(), "a bad client was left open");
    }
    good_client(proxy.addr, echo).await;
    drop(bad);
    assert_no_fd_leak(baseline).await;
}

#[test]
fn three_hundred_idle_connections_do_not_block_a_new_client() {
    alone(2, three_hundred_idle_connections);
}

async fn three_hundred_idle_connections() {
    raise_nofile();
    let echo = echo_server().await;
    let proxy = serve(Socks5Handler::new(Socks5Options::default())).await;
    let baseline = open_fds();
    let mut idle = Vec::new();
    for i in 0..300 {
        let mut c = TcpStream::connect(proxy.addr).await.unwrap();
        if i % 3 == 1 {
            c.write_all(&[5, 1]).await.unwrap(); // half a greeting
        }
        idle.push(c);
    }
    good_client(proxy.addr, echo).await;
    // The idle ones are still waiting (not yet timed out), not refused.
    let mut probe = idle.pop().unwrap();
    probe.write_all(&[5, 1, 0]).await.unwrap();
    let mut m = [0u8; 2];
    probe.read_exact(&mut m).await.unwrap();
    assert_eq!(m, [5, 0]);
    // Closing the idle clients ends their sessions on the server too.
    drop((idle, probe));
    assert_no_fd_leak(baseline).await;
}

#[test]
fn two_hundred_concurrent_clients_each_echo_256_kib() {
    alone(2, two_hundred_concurrent_clients);
}

async fn two_hundred_concurrent_clients() {
    raise_nofile();
    const SIZE: usize = 256 * 1024;
    let echo = echo_server().await;
    let proxy = serve(Socks5Handler::new(Socks5Options::default())).await;
    let baseline = open_fds();
    let mut tasks = Vec::new();
    for id in 0..200u32 {
        let proxy = proxy.addr;
        tasks.push(tokio::spawn(async move {
            let mut c = socks5_noauth(proxy).await;
            c.write_all(&request(1, echo)).await.unwrap();
            assert_eq!(read_reply(&mut c).await.0, 0);
            let data: Vec<u8> = (0..SIZE)
                .map(|i| (i as u32).wrapping_mul(31).wrapping_add(id) as u8)
                .collect();
            let (mut r, mut w) = c.into_split();
            let expected = data.clone();
            let writer = tokio::spawn(async move {
                w.write_all(&data).await.unwrap();
                w.shutdown().await.unwrap();
            });
            let mut got = Vec::with_capacity(SIZE);
            r.read_to_end(&mut got).await.unwrap();
            writer.await.unwrap();
            assert!(
                got == expected,
                "client {id}: echo differs ({} bytes back)",
                got.len()
            );
        }));
    }
    for t in tasks {
        tokio::time::timeout(Duration::from_secs(60), t)
            .await
            .expect("client stuck")
            .unwrap();
    }
    assert_no_fd_leak(baseline).await;
}

#[test]
fn sixty_four_mib_with_half_close_through_socks5() {
    alone(2, sixty_four_mib_with_half_close);
}

async fn sixty_four_mib_with_half_close() {
    const TOTAL: usize = 64 * 1024 * 1024;
    let proxy = serve(Socks5Handler::new(Socks5Options::default())).await;
    // The target reads everything, then answers with the byte count after the client's FIN.
    let target = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let taddr = target.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut s, _) = target.accept().await.unwrap();
        let mut buf = vec![0u8; 256 * 1024];
        let (mut n, mut sum) = (0usize, 0u64);
        loop {
            let k = s.read(&mut buf).await.unwrap();
            if k == 0 {
                break;
            }
            for (i, b) in buf[..k].iter().enumerate() {
                assert_eq!(*b, ((n + i) % 251) as u8, "byte {} wrong", n + i);
            }
            sum += buf[..k].iter().map(|b| *b as u64).sum::<u64>();
            n += k;
        }
        s.write_all(format!("{n} {sum}").as_bytes()).await.unwrap();
    });
    let baseline = open_fds();
    let mut c = socks5_noauth(proxy.addr).await;
    c.write_all(&request(1, taddr)).await.unwrap();
    assert_eq!(read_reply(&mut c).await.0, 0);
    let mut chunk = vec![0u8; 1024 * 1024];
    let mut off = 0;
    let mut expected_sum = 0u64;
    while off < TOTAL {
        for (i, b) in chunk.iter_mut().enumerate() {
            *b = ((off + i) % 251) as u8;
        }
        expected_sum += chunk.iter().map(|b| *b as u64).sum::<u64>();
        c.write_all(&chunk).await.unwrap();
        off += chunk.len();
    }
    c.shutdown().await.unwrap();
    let mut answer = String::new();
    c.read_to_string(&mut answer).await.unwrap();
    assert_eq!(answer, format!("{TOTAL} {expected_sum}"));
    server.await.unwrap();
    expect_closed(&mut c).await;
    drop(c);
    assert_no_fd_leak(baseline).await;
}
