//! Batched UDP I/O (`sendmmsg`/`recvmmsg`, through gost-sys), so the UDP generator and sink each cost
//! one syscall per batch and stay well above the rate of any relay they measure.

use std::io;
use std::os::fd::AsFd;

use gost_sys::mmsg::{self, Received, Wait};

/// Datagrams per syscall.
pub(crate) const BATCH: usize = 64;

/// Sends `buf` `n` times (n ≤ BATCH) on a connected socket; returns how many went out.
pub(crate) fn send_copies(sock: &impl AsFd, buf: &[u8], n: usize) -> io::Result<usize> {
    mmsg::send::<BATCH>(sock.as_fd(), n, |_| (buf, None))
}

/// Receive buffers for up to BATCH datagrams of up to `size` bytes.
pub(crate) struct RecvBatch {
    bufs: Vec<u8>,
    size: usize,
    received: Vec<Received>,
}

impl RecvBatch {
    pub(crate) fn new(size: usize) -> RecvBatch {
        RecvBatch {
            bufs: vec![0; size * BATCH],
            size,
            received: Vec::with_capacity(BATCH),
        }
    }

    /// Blocks (up to the socket's read timeout) for at least one datagram and returns how many
    /// arrived (all that were queued, up to BATCH).
    pub(crate) fn recv(&mut self, sock: &impl AsFd) -> io::Result<usize> {
        self.received.clear();
        mmsg::recv::<BATCH>(
            sock.as_fd(),
            &mut self.bufs,
            self.size,
            0,
            BATCH,
            Wait::ForOne,
            &mut self.received,
        )
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
