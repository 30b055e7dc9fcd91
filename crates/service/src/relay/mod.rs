//! The relay: moves bytes both ways between a client and its target until both sides are done.
//!
//! A handler whose session ends in a relay returns the two streams as a [`Relay`] in its report; the
//! service runner runs it ([`Relay::run`]) after the handler's future is gone, so an idle session keeps
//! only the relay's small state machine.
//!
//! Guarantees: bytes are never dropped or reordered; an EOF in one direction is propagated as a
//! shutdown of the other side's write half while the opposite direction keeps flowing (TCP half-close);
//! an error in either direction ends both. Between two plain TCP sockets on Linux the bytes move with
//! splice(2) and never enter user space; everything else (TLS, WebSocket, smux) uses a buffered copy with
//! one lazily allocated, reused buffer per direction.

mod copy;
#[cfg(target_os = "linux")]
mod splice;

use std::future::{Future, poll_fn};
use std::io;
use std::task::Poll;

use gost_transport::Stream;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::{Conn, Error, Report};

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
pub fn relay_tcp(
    a: TcpStream,
    b: TcpStream,
) -> impl Future<Output = (Transferred, io::Result<()>)> + Send + 'static {
    #[cfg(target_os = "linux")]
    let mut relay = splice::Splice::new(a, b);
    #[cfg(not(target_os = "linux"))]
    let mut relay = copy::Copy::new(a, b);
    poll_fn(move |cx| relay.poll_relay(cx))
}

/// Relays between two transport streams: [`relay_tcp`] when both are plain TCP, [`relay`] otherwise.
///
/// The future is a small hand-written state machine (no `async fn` frames): it is what every idle
/// session keeps in memory.
pub fn relay_streams(
    a: Stream,
    b: Stream,
) -> impl Future<Output = (Transferred, io::Result<()>)> + Send + 'static {
    let mut relay = Engine::new(a, b);
    poll_fn(move |cx| relay.poll_relay(cx))
}

/// The relay a handler's session ends in: the client stream and its target's, relayed until both are
/// done. Boxed, so that a [`Report`] carrying one stays small.
#[derive(Debug)]
pub struct Relay(Box<(Stream, Stream)>);

impl Relay {
    /// Relays `client` ↔ `target` (bytes from the client count as `a_to_b`).
    pub fn new(client: Stream, target: Stream) -> Relay {
        Relay(Box::new((client, target)))
    }

    /// Relays until both directions are done and adds the bytes moved to `report`; the relay's error
    /// becomes the report's result unless the report already failed. While it runs, `conn` holds the
    /// running totals ([`Conn::relayed`]) and its observer hears of them ([`crate::Observer::progress`]).
    /// The one place where a connection's relay runs ([`crate::Service`] calls it).
    ///
    /// Not an `async fn`: its future is the engine and two references (an `async fn` would also keep
    /// its arguments and locals beside the engine), and the box holding the two streams is freed before
    /// the first poll. The future is part of every idle session's memory.
    pub fn run<'a>(self, report: &'a mut Report, conn: &'a Conn) -> impl Future<Output = ()> + 'a {
        let mut relay = self.into_engine();
        poll_fn(move |cx| {
            let Poll::Ready((t, result)) = relay.poll_relay(cx) else {
                conn.relay_progress(relay.transferred(), false);
                return Poll::Pending;
            };
            conn.relay_progress(t, true);
            report.transferred.a_to_b += t.a_to_b;
            report.transferred.b_to_a += t.b_to_a;
            if report.result.is_ok() {
                report.result = result.map_err(Error::from);
            }
            Poll::Ready(())
        })
    }

    fn into_engine(self) -> Engine {
        let (client, target) = *self.0;
        Engine::new(client, target)
    }
}

/// How a SOCKS CONNECT or BIND session ends once its last reply is sent: the bytes the client sent after
/// its request (`early`) go to `target` and count as relayed, then the rest is left to the relay in
/// `report`.
pub(crate) async fn hand_off(
    client: Stream,
    mut target: Stream,
    early: &[u8],
    report: &mut Report,
) -> Result<(), Error> {
    if !early.is_empty() {
        target.write_all(early).await?;
    }
    report.transferred = Transferred {
        a_to_b: early.len() as u64,
        b_to_a: 0,
    };
    report.relay = Some(Relay::new(client, target));
    Ok(())
}

/// The relay picked for a pair of streams: splice between two plain TCP sockets on Linux, a buffered
/// copy otherwise. The copy is boxed (288 bytes against the splice's 160): the engine is part of every
/// idle session's connection task, and plain TCP sessions are the common case.
enum Engine {
    #[cfg(target_os = "linux")]
    Splice(splice::Splice),
    Copy(Box<copy::Copy<Stream, Stream>>),
}

impl Engine {
    fn new(a: Stream, b: Stream) -> Engine {
        match (a.into_tcp(), b.into_tcp()) {
            #[cfg(target_os = "linux")]
            (Ok(a), Ok(b)) => Engine::Splice(splice::Splice::new(a, b)),
            (a, b) => Engine::Copy(Box::new(copy::Copy::new(
                a.map_or_else(|s| s, Stream::from_tcp),
                b.map_or_else(|s| s, Stream::from_tcp),
            ))),
        }
    }

    fn poll_relay(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<(Transferred, io::Result<()>)> {
        match self {
            #[cfg(target_os = "linux")]
            Engine::Splice(r) => r.poll_relay(cx),
            Engine::Copy(r) => r.poll_relay(cx),
        }
    }

    fn transferred(&self) -> Transferred {
        match self {
            #[cfg(target_os = "linux")]
            Engine::Splice(r) => r.transferred(),
            Engine::Copy(r) => r.transferred(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every idle CONNECT session keeps its relay future in memory; this keeps it from growing back into
    /// an `async fn` tower (it was 1144 bytes before the hand-written state machines).
    #[tokio::test]
    async fn relay_future_stays_small() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let a = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let b = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let relay = relay_streams(Stream::from_tcp(a), Stream::from_tcp(b));
        let size = size_of_val(&relay);
        assert!(size <= 384, "relay_streams future is {size} bytes");
    }

    /// The relay a connection task runs: the splice engine and two references, the copy engine boxed.
    #[tokio::test]
    async fn the_runner_relay_is_the_engine_and_two_references() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let a = TcpStream::connect(addr).await.unwrap();
        let b = TcpStream::connect(addr).await.unwrap();
        let (mut report, conn) = (Report::default(), Conn::detached(addr));
        let relay = Relay::new(Stream::from_tcp(a), Stream::from_tcp(b));
        let run = relay.run(&mut report, &conn);
        let size = size_of_val(&run);
        let engine = size_of::<Engine>();
        assert!(
            size <= engine + 16,
            "Relay::run future is {size} bytes, its engine {engine}"
        );
        assert!(engine <= 176, "relay engine is {engine} bytes");
    }
}
