//! The relay: moves bytes both ways between a client and its target until both sides are done.
//!
//! Guarantees: bytes are never dropped or reordered; an EOF in one direction is propagated as a
//! shutdown of the other side's write half while the opposite direction keeps flowing (TCP half-close);
//! an error in either direction ends both. Between two plain TCP sockets on Linux the bytes move with
//! splice(2) and never enter user space; everything else (TLS, WebSocket, smux) uses a buffered copy with
//! one lazily allocated, reused buffer per direction.

mod copy;
#[cfg(target_os = "linux")]
mod splice;

use std::io;

use gost_transport::Stream;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// Bytes moved by a relay in each direction (counted as written to the destination).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Transferred {
    /// Bytes copied from the first stream to the second.
    pub a_to_b: u64,
    /// Bytes copied from the second stream to the first.
    pub b_to_a: u64,
}

/// Relays between any two byte streams with a buffered copy.
///
/// Returns the bytes moved each way and how the relay ended; the counts are valid even on error.
pub async fn relay<A, B>(a: &mut A, b: &mut B) -> (Transferred, io::Result<()>)
where
    A: AsyncRead + AsyncWrite + Unpin + ?Sized,
    B: AsyncRead + AsyncWrite + Unpin + ?Sized,
{
    copy::copy_bidirectional(a, b).await
}

/// Relays between two TCP sockets: splice(2) zero-copy on Linux, a buffered copy elsewhere.
pub async fn relay_tcp(a: TcpStream, b: TcpStream) -> (Transferred, io::Result<()>) {
    #[cfg(target_os = "linux")]
    {
        splice::relay_tcp(&a, &b).await
    }
    #[cfg(not(target_os = "linux"))]
    {
        let (mut a, mut b) = (a, b);
        copy::copy_bidirectional(&mut a, &mut b).await
    }
}

/// Relays between two transport streams: [`relay_tcp`] when both are plain TCP, [`relay`] otherwise.
pub async fn relay_streams(a: Stream, b: Stream) -> (Transferred, io::Result<()>) {
    match (a.into_tcp(), b.into_tcp()) {
        (Ok(a), Ok(b)) => relay_tcp(a, b).await,
        (a, b) => {
            let mut a = a.map_or_else(|s| s, Stream::from_tcp);
            let mut b = b.map_or_else(|s| s, Stream::from_tcp);
            relay(&mut a, &mut b).await
        }
    }
}
