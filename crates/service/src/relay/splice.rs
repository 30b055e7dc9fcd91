//! Zero-copy relay between two plain TCP sockets on Linux: splice(2) socket → pipe → socket.
//!
//! A pipe is the kernel-side buffer of one direction. It is created only when the first bytes arrive (a
//! 1-byte `MSG_PEEK` tells data from EOF before that), and closed when the relay ends: a session that
//! never carries data in a direction never opens a pipe for it (2 fds per idle session instead of 6), and
//! a connection closed right after the handshake needs no pipe at all.
//!
//! A pipe costs two descriptors, taken from the process's descriptor budget (`crate::fds`). When the
//! budget has none left for pipes, or `pipe2` fails (out of descriptors), that direction copies through
//! a user-space buffer instead, with a `warn` line (at most one per 5 s): the client already has its
//! success reply, so the relay must carry its bytes whatever happens to the zero-copy path.
//!
//! Both directions run in one task as a hand-written state machine over tokio's readiness
//! (`poll_read_ready`/`poll_write_ready`, each used by exactly one direction), which keeps the relay's
//! future small: it is part of every idle session's memory. The system calls are gost-sys's.

use std::io;
use std::net::Shutdown;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use gost_sys::splice::{peek, splice};
use gost_transport::RateLimited;
use std::task::{Context, Poll, ready};

use tokio::io::Interest;
use tokio::net::TcpStream;

use super::Transferred;
use crate::fds::{Claim, Kind};

/// A new pipe's capacity, the Linux default: what one splice call into it asks for until it grows.
const CHUNK: usize = 64 * 1024;

/// Capacity a pipe grows to once its direction proves to be a bulk transfer (a splice filled it):
/// 16× fewer splice calls per byte: server CPU per GB relayed fell 15–19 % in interleaved runs against
/// the build before, with single-stream throughput within noise (docs/performance.md, "What was
/// changed"). Interactive and idle directions keep the default 64 KiB.
const BULK_PIPE: usize = 1024 * 1024;

/// How many pipes may be grown to [`BULK_PIPE`] at once. Linux counts pipe capacity per user, and past
/// `pipe-user-pages-soft` (64 MiB by default) an unprivileged user's *new* pipes get a single page,
/// which would slow every later connection: 16 grown pipes use a quarter of that.
const MAX_GROWN: usize = 16;

/// Pipes grown to [`BULK_PIPE`] now.
static GROWN: AtomicUsize = AtomicUsize::new(0);

/// Bytes of the user-space buffer of a direction that could not have a pipe.
const SPILL: usize = 16 * 1024;

/// A pipe used as the kernel-side buffer of one direction, with its descriptors' claim on the budget.
struct Pipe {
    read: OwnedFd,
    write: OwnedFd,
    /// Bytes the pipe holds: what one splice into it may move.
    capacity: usize,
    /// Whether it holds one of the [`MAX_GROWN`] places (given back on drop).
    grown: bool,
    _claim: Claim,
}

impl Pipe {
    fn new() -> io::Result<Pipe> {
        let claim = Claim::take(Kind::Pipe)
            .ok_or_else(|| io::Error::other("the descriptor budget for splice pipes is spent"))?;
        let (read, write) = gost_sys::splice::pipe()?;
        Ok(Pipe {
            read,
            write,
            capacity: CHUNK,
            grown: false,
            _claim: claim,
        })
    }

    /// Grows the pipe to [`BULK_PIPE`] once a splice filled it, while fewer than [`MAX_GROWN`] pipes
    /// are grown; keeps its capacity when the kernel refuses (the user's pipe memory is spent).
    fn grow_if_full(&mut self, filled: usize) {
        if self.grown || filled < self.capacity {
            return;
        }
        let taken = GROWN.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
            (n < MAX_GROWN).then_some(n + 1)
        });
        if taken.is_err() {
            return;
        }
        match gost_sys::splice::set_pipe_capacity(self.write.as_fd(), BULK_PIPE) {
            Ok(capacity) => {
                self.capacity = capacity;
                self.grown = true;
            }
            Err(_) => {
                GROWN.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }
}

impl Drop for Pipe {
    fn drop(&mut self) {
        if self.grown {
            GROWN.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// Where a direction keeps its bytes between reading and writing them.
enum Buffer {
    /// None yet: the direction has carried nothing.
    None,
    /// A pipe: splice(2) in and out, the bytes never enter user space.
    Pipe(Pipe),
    /// A user-space buffer (no pipe could be had) and the offset of the bytes not yet written.
    Spill(Box<[u8; SPILL]>, usize),
}

/// Logs, at most once per 5 s, that a relay direction fell back to copying.
fn spill_warning(e: &io::Error) {
    static LOG: Mutex<RateLimited> = Mutex::new(RateLimited::new(Duration::from_secs(5)));
    if let Some(suppressed) = crate::gate::log_allowed(&LOG) {
        tracing::warn!(error = %e, suppressed,
            "no splice pipe for a relay; copying its bytes through user space");
    }
}

/// One direction: socket → pipe → socket, until EOF on the source and shutdown of the destination.
struct Half {
    /// A pipe created on the first bytes (see the module docs), or the user-space fallback.
    buffer: Buffer,
    /// Bytes in the buffer not yet written to the destination.
    in_pipe: usize,
    total: u64,
    done: bool,
}

impl Default for Half {
    fn default() -> Self {
        Half {
            buffer: Buffer::None,
            in_pipe: 0,
            total: 0,
            done: false,
        }
    }
}

impl Half {
    fn poll(
        &mut self,
        cx: &mut Context<'_>,
        src: &TcpStream,
        dst: &TcpStream,
    ) -> Poll<io::Result<()>> {
        while !self.done {
            if self.in_pipe > 0 {
                ready!(dst.poll_write_ready(cx))?;
                let len = self.in_pipe;
                // try_io/try_write clear tokio's readiness on WouldBlock, so the next poll really waits.
                let written = match &mut self.buffer {
                    Buffer::Pipe(pipe) => {
                        let from = pipe.read.as_fd();
                        dst.try_io(Interest::WRITABLE, || splice(from, dst.as_fd(), len))
                    }
                    Buffer::Spill(buf, at) => dst.try_write(&buf[*at..*at + len]).inspect(|m| {
                        *at += m;
                    }),
                    Buffer::None => unreachable!("bytes in flight live in a buffer"),
                };
                match written {
                    Ok(m) => {
                        self.in_pipe -= m;
                        self.total += m as u64;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Poll::Ready(Err(e)),
                }
                continue;
            }
            ready!(src.poll_read_ready(cx))?;
            let read = match &mut self.buffer {
                Buffer::Pipe(pipe) => {
                    let to = pipe.write.as_fd();
                    let len = pipe.capacity;
                    src.try_io(Interest::READABLE, || splice(src.as_fd(), to, len))
                }
                Buffer::Spill(buf, at) => {
                    *at = 0;
                    src.try_read(&mut buf[..])
                }
                Buffer::None => match src.try_io(Interest::READABLE, || peek(src.as_fd())) {
                    Ok(true) => {
                        self.buffer = match Pipe::new() {
                            Ok(pipe) => Buffer::Pipe(pipe),
                            Err(e) => {
                                spill_warning(&e);
                                Buffer::Spill(Box::new([0; SPILL]), 0)
                            }
                        };
                        continue;
                    }
                    Ok(false) => Ok(0),
                    Err(e) => Err(e),
                },
            };
            match read {
                Ok(0) => {
                    socket2::SockRef::from(dst).shutdown(Shutdown::Write)?;
                    self.done = true;
                }
                Ok(n) => {
                    self.in_pipe = n;
                    if let Buffer::Pipe(pipe) = &mut self.buffer {
                        pipe.grow_if_full(n);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        Poll::Ready(Ok(()))
    }
}

/// A splice(2) relay between two TCP sockets it owns: runs until both directions reached EOF; an error in
/// either ends both. Polled by hand, so an idle relay costs only its fields.
pub(crate) struct Splice {
    a: TcpStream,
    b: TcpStream,
    ab: Half,
    ba: Half,
}

impl Splice {
    pub(crate) fn new(a: TcpStream, b: TcpStream) -> Splice {
        Splice {
            a,
            b,
            ab: Half::default(),
            ba: Half::default(),
        }
    }

    /// Bytes written to each side so far.
    pub(crate) fn transferred(&self) -> Transferred {
        Transferred {
            a_to_b: self.ab.total,
            b_to_a: self.ba.total,
        }
    }

    /// Drives both directions; `Ready` once both are done or one failed, with the bytes moved so far.
    pub(crate) fn poll_relay(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<(Transferred, io::Result<()>)> {
        let result = match self.ab.poll(cx, &self.a, &self.b) {
            Poll::Ready(Err(e)) => Err(e),
            ab => match self.ba.poll(cx, &self.b, &self.a) {
                Poll::Ready(Err(e)) => Err(e),
                Poll::Ready(Ok(())) if ab.is_ready() => Ok(()),
                _ => return Poll::Pending,
            },
        };
        Poll::Ready((self.transferred(), result))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::poll_fn;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A pipe grows once a splice filled it, not before, and gives its place back when dropped.
    #[test]
    fn a_pipe_grows_when_a_splice_fills_it() {
        let mut pipe = Pipe::new().unwrap();
        pipe.grow_if_full(CHUNK - 1);
        assert_eq!((pipe.capacity, pipe.grown), (CHUNK, false));
        pipe.grow_if_full(CHUNK);
        // Other tests may hold every place at once; then the pipe rightly stays as it was.
        if pipe.grown {
            assert!(pipe.capacity >= BULK_PIPE, "{}", pipe.capacity);
            assert!(GROWN.load(Ordering::Relaxed) >= 1);
        } else {
            assert_eq!(pipe.capacity, CHUNK);
        }
    }

    async fn pair(l: &TcpListener) -> (TcpStream, TcpStream) {
        let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        (c, s)
    }

    /// Polls `half` until it would wait for input.
    async fn run_until_idle(half: &mut Half, src: &TcpStream, dst: &TcpStream) {
        poll_fn(|cx| match half.poll(cx, src, dst) {
            Poll::Pending if half.in_pipe == 0 => Poll::Ready(()),
            Poll::Pending => Poll::Pending,
            Poll::Ready(r) => panic!("direction ended: {r:?}"),
        })
        .await
    }

    #[tokio::test]
    async fn a_direction_opens_its_pipe_on_the_first_bytes_only() {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (mut client, a) = pair(&l).await;
        let (b, mut target) = pair(&l).await;
        let mut half = Half::default();
        run_until_idle(&mut half, &a, &b).await;
        assert!(
            matches!(half.buffer, Buffer::None),
            "an idle direction opened a pipe"
        );

        client.write_all(b"hello through a pipe").await.unwrap();
        a.readable().await.unwrap();
        run_until_idle(&mut half, &a, &b).await;
        assert!(matches!(half.buffer, Buffer::Pipe(_)));
        let mut got = [0u8; 20];
        target.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"hello through a pipe");
        assert_eq!(half.total, 20);
    }

    #[tokio::test]
    async fn eof_before_any_bytes_shuts_down_without_a_pipe() {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (mut client, a) = pair(&l).await;
        let (b, mut target) = pair(&l).await;
        client.shutdown().await.unwrap();
        let mut half = Half::default();
        poll_fn(|cx| half.poll(cx, &a, &b)).await.unwrap();
        assert!(matches!(half.buffer, Buffer::None));
        let mut rest = Vec::new();
        target.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty());
    }

    #[tokio::test]
    async fn bulk_both_ways_with_half_close_arrives_intact() {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (mut client, a) = pair(&l).await;
        let (b, mut target) = pair(&l).await;
        let mut relay = Splice::new(a, b);
        let relay = tokio::spawn(poll_fn(move |cx| relay.poll_relay(cx)));
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let sent = data.clone();
        let writer = tokio::spawn(async move {
            client.write_all(&sent).await.unwrap();
            client.shutdown().await.unwrap();
            let mut back = Vec::new();
            client.read_to_end(&mut back).await.unwrap();
            back
        });
        let mut got = Vec::new();
        target.read_to_end(&mut got).await.unwrap();
        assert!(got == data, "bytes changed in transit");
        // The client's direction is closed; the other one still carries the answer.
        target.write_all(b"bye").await.unwrap();
        drop(target);
        assert_eq!(writer.await.unwrap(), b"bye");
        let (t, r) = relay.await.unwrap();
        r.unwrap();
        assert_eq!((t.a_to_b, t.b_to_a), (3_000_000, 3));
    }
}
