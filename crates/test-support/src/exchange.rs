//! Byte exchanges that tests repeat over every kind of stream (TCP, TLS, a proxied stream, a BIND
//! peer): one side writes and the other must read exactly those bytes, a stream must be closed within
//! a bound, and a condition polled until it holds.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// `from` writes `bytes` (and flushes: TLS and WebSocket streams buffer); `to` must read exactly them.
pub async fn pass<W, R>(from: &mut W, to: &mut R, bytes: &[u8])
where
    W: AsyncWrite + Unpin + ?Sized,
    R: AsyncRead + Unpin + ?Sized,
{
    from.write_all(bytes).await.unwrap();
    from.flush().await.unwrap();
    let mut got = vec![0u8; bytes.len()];
    to.read_exact(&mut got).await.unwrap();
    assert_eq!(
        got,
        bytes,
        "sent {:?}, received {:?}",
        String::from_utf8_lossy(bytes),
        String::from_utf8_lossy(&got)
    );
}

/// `s` writes `bytes` and reads the same bytes back (through an echo server at the far end).
pub async fn echoes<S>(s: &mut S, bytes: &[u8])
where
    S: AsyncRead + AsyncWrite + Unpin + ?Sized,
{
    let (mut r, mut w) = tokio::io::split(s);
    pass(&mut w, &mut r, bytes).await;
}

/// Reads from `r`, discarding the bytes, until EOF or an error; false when `within` passes first.
pub async fn closes_within<R>(r: &mut R, within: Duration) -> bool
where
    R: AsyncRead + Unpin + ?Sized,
{
    let mut sink = vec![0u8; 1024];
    let drained = async { while matches!(r.read(&mut sink).await, Ok(n) if n > 0) {} };
    tokio::time::timeout(within, drained).await.is_ok()
}

/// Polls `done` every 10 ms until it holds; fails the test naming `what` when `within` passes first.
pub async fn until(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + within;
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not so after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bytes_pass_both_ways_and_a_closed_stream_is_seen() {
        let (mut a, mut b) = tokio::io::duplex(64);
        pass(&mut a, &mut b, b"to b").await;
        pass(&mut b, &mut a, b"to a").await;
        assert!(!closes_within(&mut a, Duration::from_millis(20)).await);
        drop(b);
        assert!(closes_within(&mut a, Duration::from_secs(5)).await);
        let mut n = 0;
        until("three polls", Duration::from_secs(5), || {
            n += 1;
            n == 3
        })
        .await;
    }

    #[tokio::test]
    async fn an_echo_returns_the_bytes() {
        let mut s = tokio::net::TcpStream::connect(crate::echo_server().await)
            .await
            .unwrap();
        echoes(&mut s, b"ping").await;
    }

    #[tokio::test]
    #[should_panic(expected = "never: not so after")]
    async fn until_names_what_never_happened() {
        until("never", Duration::from_millis(30), || false).await;
    }
}
