//! Batched UDP I/O (`sendmmsg`/`recvmmsg`), so the UDP generator and sink each cost one syscall
//! per batch and stay well above the rate of any relay they measure.

use std::io;
use std::os::fd::AsRawFd;

/// Datagrams per syscall.
pub const BATCH: usize = 64;

/// Sends `buf` `n` times (n ≤ BATCH) on a connected socket; returns how many went out.
pub fn send_copies(sock: &impl AsRawFd, buf: &[u8], n: usize) -> io::Result<usize> {
    let n = n.min(BATCH);
    let mut iov = [libc::iovec {
        iov_base: buf.as_ptr() as *mut libc::c_void,
        iov_len: buf.len(),
    }; BATCH];
    // SAFETY: all-zero is a valid mmsghdr (null pointers, zero lengths).
    let mut hdrs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
    for (h, v) in hdrs.iter_mut().zip(iov.iter_mut()).take(n) {
        h.msg_hdr.msg_iov = v;
        h.msg_hdr.msg_iovlen = 1;
    }
    // SAFETY: hdrs[..n] point at iov entries that point at `buf`, all alive for the call; the
    // kernel only reads from them (sendmmsg).
    let rc = unsafe { libc::sendmmsg(sock.as_raw_fd(), hdrs.as_mut_ptr(), n as libc::c_uint, 0) };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc as usize)
    }
}

/// Receive buffers for up to BATCH datagrams of up to `size` bytes.
pub struct RecvBatch {
    bufs: Vec<u8>,
    size: usize,
}

impl RecvBatch {
    pub fn new(size: usize) -> RecvBatch {
        RecvBatch {
            bufs: vec![0; size * BATCH],
            size,
        }
    }

    /// Blocks (up to the socket's read timeout) for at least one datagram and returns how many
    /// arrived (all that were queued, up to BATCH).
    pub fn recv(&mut self, sock: &impl AsRawFd) -> io::Result<usize> {
        let size = self.size;
        let base = self.bufs.as_mut_ptr();
        let mut iov: [libc::iovec; BATCH] = std::array::from_fn(|i| libc::iovec {
            // SAFETY: i * size stays inside `bufs`, which holds BATCH * size bytes.
            iov_base: unsafe { base.add(i * size) }.cast(),
            iov_len: size,
        });
        // SAFETY: all-zero is a valid mmsghdr.
        let mut hdrs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
        for (h, v) in hdrs.iter_mut().zip(iov.iter_mut()) {
            h.msg_hdr.msg_iov = v;
            h.msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: every header points at a distinct, live region of `bufs` for the kernel to fill.
        let rc = unsafe {
            libc::recvmmsg(
                sock.as_raw_fd(),
                hdrs.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_WAITFORONE,
                std::ptr::null_mut(),
            )
        };
        if rc < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(rc as usize)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::time::Duration;

    #[test]
    fn batches_round_trip_on_loopback() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.connect(rx.local_addr().unwrap()).unwrap();
        assert_eq!(send_copies(&tx, b"hello", 10).unwrap(), 10);
        let mut batch = RecvBatch::new(64);
        let mut got = 0;
        while got < 10 {
            got += batch.recv(&rx).unwrap();
        }
        assert_eq!(got, 10);
    }
}
