//! Zero-copy relay between two plain TCP sockets on Linux: splice(2) socket → pipe → socket.
//!
//! A pipe is the kernel-side buffer of one direction. It is created only when the first bytes arrive (a
//! 1-byte `MSG_PEEK` tells data from EOF before that), and closed when the relay ends: a session that
//! never carries data in a direction never opens a pipe for it (2 fds per idle session instead of 6), and
//! a connection closed right after the handshake needs no pipe at all.
//!
//! Both directions run in one task as a hand-written state machine over tokio's readiness
//! (`poll_read_ready`/`poll_write_ready`, each used by exactly one direction), which keeps the relay's
//! future small: it is part of every idle session's memory. The system calls are gost-sys's.

use std::io;
use std::net::Shutdown;
use std::os::fd::{AsFd, OwnedFd};

use gost_sys::splice::{peek, splice};
use std::task::{Context, Poll, ready};

use tokio::io::Interest;
use tokio::net::TcpStream;

use super::Transferred;

/// Bytes asked of one splice call into a pipe: the default pipe capacity on Linux.
const CHUNK: usize = 64 * 1024;

/// A pipe used as the kernel-side buffer of one direction.
struct Pipe {
    read: OwnedFd,
    write: OwnedFd,
}

impl Pipe {
    fn new() -> io::Result<Pipe> {
        let (read, write) = gost_sys::splice::pipe()?;
        Ok(Pipe { read, write })
    }
}

/// One direction: socket → pipe → socket, until EOF on the source and shutdown of the destination.
#[derive(Default)]
struct Half {
    /// Created on the first bytes (see the module docs).
    pipe: Option<Pipe>,
    /// Bytes in the pipe not yet written to the destination.
    in_pipe: usize,
    total: u64,
    done: bool,
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
                let pipe = self.pipe.as_ref().expect("bytes in flight live in a pipe");
                let (from, len) = (pipe.read.as_fd(), self.in_pipe);
                // try_io clears tokio's readiness on WouldBlock, so the next poll really waits.
                match dst.try_io(Interest::WRITABLE, || splice(from, dst.as_fd(), len)) {
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
            let read = match &self.pipe {
                Some(pipe) => {
                    let to = pipe.write.as_fd();
                    src.try_io(Interest::READABLE, || splice(src.as_fd(), to, CHUNK))
                }
                None => match src.try_io(Interest::READABLE, || peek(src.as_fd())) {
                    Ok(true) => {
                        self.pipe = Some(Pipe::new()?);
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
                Ok(n) => self.in_pipe = n,
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
        let transferred = Transferred {
            a_to_b: self.ab.total,
            b_to_a: self.ba.total,
        };
        Poll::Ready((transferred, result))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::poll_fn;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

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
        assert!(half.pipe.is_none(), "an idle direction opened a pipe");

        client.write_all(b"hello through a pipe").await.unwrap();
        a.readable().await.unwrap();
        run_until_idle(&mut half, &a, &b).await;
        assert!(half.pipe.is_some());
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
        assert!(half.pipe.is_none());
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
