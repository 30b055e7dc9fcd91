//! Zero-copy relay between two plain TCP sockets on Linux: splice(2) socket → pipe → socket.
//!
//! Each direction owns a pipe pair (created when the relay starts and closed when it ends); bytes move
//! kernel-side and never enter user memory. The sockets stay registered with tokio, so readiness comes from
//! the runtime's reactor and both directions run in one task.

use std::io;
use std::net::Shutdown;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use tokio::io::Interest;
use tokio::net::TcpStream;

use super::Transferred;

/// Bytes moved per splice call: the default pipe capacity on Linux.
const CHUNK: usize = 64 * 1024;

/// A pipe used as the kernel-side buffer of one direction.
struct Pipe {
    read: OwnedFd,
    write: OwnedFd,
}

impl Pipe {
    fn new() -> io::Result<Pipe> {
        let mut fds = [0 as RawFd; 2];
        // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
        let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nobody else.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        Ok(Pipe { read, write })
    }
}

/// One non-blocking splice(2) call; `Ok(0)` means EOF on `from`.
fn splice(from: RawFd, to: RawFd, len: usize) -> io::Result<usize> {
    // SAFETY: both descriptors are open for the duration of the call; null offsets mean "current position",
    // which is what sockets and pipes require.
    let n = unsafe {
        libc::splice(
            from,
            std::ptr::null_mut(),
            to,
            std::ptr::null_mut(),
            len,
            libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK,
        )
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Moves bytes from `src` to `dst` until EOF on `src`, then shuts down `dst`'s write half.
async fn one_way(src: &TcpStream, dst: &TcpStream, total: &mut u64) -> io::Result<()> {
    let pipe = Pipe::new()?;
    let (pipe_r, pipe_w) = (pipe.read.as_raw_fd(), pipe.write.as_raw_fd());
    let (src_fd, dst_fd) = (src.as_raw_fd(), dst.as_raw_fd());
    loop {
        // try_io clears tokio's readiness on WouldBlock, so the next readable() really waits.
        let n = loop {
            src.readable().await?;
            match src.try_io(Interest::READABLE, || splice(src_fd, pipe_w, CHUNK)) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        };
        if n == 0 {
            return socket2::SockRef::from(dst).shutdown(Shutdown::Write);
        }
        let mut left = n;
        while left > 0 {
            dst.writable().await?;
            match dst.try_io(Interest::WRITABLE, || splice(pipe_r, dst_fd, left)) {
                Ok(m) => {
                    left -= m;
                    *total += m as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// Relays between two TCP sockets with splice(2) until both directions reached EOF; an error ends both.
pub(crate) async fn relay_tcp(a: &TcpStream, b: &TcpStream) -> (Transferred, io::Result<()>) {
    let mut t = Transferred::default();
    let result = tokio::try_join!(one_way(a, b, &mut t.a_to_b), one_way(b, a, &mut t.b_to_a));
    (t, result.map(|_| ()))
}
