//! splice(2) between a socket and a pipe, the pipe itself, and a one-byte peek that tells pending
//! data from EOF without consuming anything. All calls are non-blocking.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// A non-blocking, close-on-exec pipe: `(read end, write end)`.
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Asks the kernel to let pipe `fd` hold `bytes` (`F_SETPIPE_SZ`, rounded up to a power of two pages)
/// and returns the capacity it now has. Fails when `bytes` exceeds `/proc/sys/fs/pipe-max-size` for an
/// unprivileged process or the user's pipe memory is spent; the pipe then keeps its capacity.
pub fn set_pipe_capacity(fd: BorrowedFd<'_>, bytes: usize) -> io::Result<usize> {
    let bytes =
        libc::c_int::try_from(bytes).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: the descriptor is borrowed, so open for the call; F_SETPIPE_SZ takes an int argument.
    let rc = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETPIPE_SZ, bytes) };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc as usize)
    }
}

/// Whether socket `fd` has bytes to read (`Ok(true)`) or is at EOF (`Ok(false)`), without consuming
/// anything; `WouldBlock` when neither is known yet.
pub fn peek(fd: BorrowedFd<'_>) -> io::Result<bool> {
    let mut byte = 0u8;
    // SAFETY: `byte` is valid for one byte of writes; MSG_PEEK leaves it in the socket.
    let n = unsafe {
        libc::recv(
            fd.as_raw_fd(),
            (&raw mut byte).cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n > 0)
    }
}

/// One non-blocking splice(2) of up to `len` bytes from `from` to `to` (one of them a pipe);
/// `Ok(0)` means EOF on `from`.
pub fn splice(from: BorrowedFd<'_>, to: BorrowedFd<'_>, len: usize) -> io::Result<usize> {
    // SAFETY: both descriptors are borrowed, so open for the call; null offsets mean "current
    // position", which is what sockets and pipes require.
    let n = unsafe {
        libc::splice(
            from.as_raw_fd(),
            std::ptr::null_mut(),
            to.as_raw_fd(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsFd;

    /// Reads the socket's readiness with a blocking 1-byte peek, then splices what is there.
    fn splice_blocking(src: &TcpStream, w: &OwnedFd) -> usize {
        let mut one = [0u8; 1];
        src.peek(&mut one).unwrap();
        splice(src.as_fd(), w.as_fd(), 64).unwrap()
    }

    #[test]
    fn a_pipe_takes_the_capacity_asked() {
        let (read, _write) = pipe().unwrap();
        let got = set_pipe_capacity(read.as_fd(), 256 * 1024).unwrap();
        assert!(got >= 256 * 1024, "{got}");
    }

    #[test]
    fn bytes_go_socket_to_pipe_to_socket() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (src, _) = l.accept().unwrap();
        let dst_peer = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (dst, _) = l.accept().unwrap();
        let (r, w) = pipe().unwrap();

        assert_eq!(
            peek(src.as_fd()).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
        client.write_all(b"spliced").unwrap();
        // Blocking source: the splice waits for the bytes instead of the test polling for them.
        let moved = splice_blocking(&src, &w);
        assert_eq!(moved, 7);
        assert!(!peek(src.as_fd()).unwrap_or(false), "all bytes moved");
        assert_eq!(splice(r.as_fd(), dst.as_fd(), 7).unwrap(), 7);
        let mut got = [0u8; 7];
        (&dst_peer).read_exact(&mut got).unwrap();
        assert_eq!(&got, b"spliced");

        drop(client);
        // EOF: peek says so and splice returns 0.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let eof = loop {
            match peek(src.as_fd()) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    assert!(std::time::Instant::now() < deadline, "no EOF within 5 s");
                    std::thread::yield_now();
                }
                other => break other.unwrap(),
            }
        };
        assert!(!eof);
        assert_eq!(splice(src.as_fd(), w.as_fd(), 64).unwrap(), 0);
    }
}
