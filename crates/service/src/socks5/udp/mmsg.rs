//! Batched datagram I/O for the UDP relay: up to [`MAX_BATCH`] datagrams per `recvmmsg(2)` /
//! `sendmmsg(2)` (gost-sys) on a tokio `UdpSocket` (through `try_io`, so tokio's readiness stays right), into and
//! out of one buffer allocated at first use. A relay that wakes once per batch instead of once per
//! datagram spends its time moving datagrams rather than switching tasks.
//!
//! Sends use UDP segmentation offload (gost-sys `gso`): a run of equal-size datagrams to one
//! destination, the common case of a bulk flow, crosses the sending stack once instead of once per
//! datagram; the datagrams on the wire are unchanged. A socket whose kernel or device refuses it
//! falls back to plain `sendmmsg` for good.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsFd;

use gost_sys::gso::{self, Offload};
use gost_sys::mmsg::{self, Wait};

use tokio::io::Interest;
use tokio::net::UdpSocket;

/// Most datagrams moved by one system call.
pub(super) const MAX_BATCH: usize = 32;
/// Buffer bytes one direction of an association may hold: 32 datagrams at the default
/// `udpBufferSize` (4096), fewer when each slot must hold a larger datagram.
const BATCH_BYTES: usize = MAX_BATCH * (4096 + 64);

pub(super) use gost_sys::mmsg::Received;

/// One datagram to send: `buf[start..end]` of its [`Batch`], to `to`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Outgoing {
    pub start: usize,
    pub end: usize,
    pub to: SocketAddr,
}

/// Slots for a batch of datagrams of up to `slot` bytes each, and the lists of what was received and
/// what is to be sent (both reused: no allocation per datagram or per batch).
pub(super) struct Batch {
    buf: Vec<u8>,
    slot: usize,
    capacity: usize,
    /// What the last [`Batch::recv`] got, slot `i` holding datagram `i`.
    pub received: Vec<Received>,
    /// What [`Batch::send_all`] sends next.
    pub outgoing: Vec<Outgoing>,
    /// Whether sends still try segmentation offload (one batch sends on one socket).
    offload: Offload,
}

impl Batch {
    /// Room for datagrams of up to `slot` bytes (allocated at the first [`Batch::recv`]).
    pub(super) fn new(slot: usize) -> Batch {
        Batch {
            buf: Vec::new(),
            slot,
            capacity: (BATCH_BYTES / slot).clamp(1, MAX_BATCH),
            received: Vec::new(),
            outgoing: Vec::new(),
            offload: Offload::new(),
        }
    }

    /// Bytes per slot.
    pub(super) fn slot_len(&self) -> usize {
        self.slot
    }

    /// Slot `i` (whole; a datagram received at `offset` starts there).
    pub(super) fn slot_mut(&mut self, i: usize) -> &mut [u8] {
        self.allocate();
        &mut self.buf[i * self.slot..(i + 1) * self.slot]
    }

    /// The bytes of `o`.
    pub(super) fn bytes(&self, o: &Outgoing) -> &[u8] {
        &self.buf[o.start..o.end]
    }

    fn allocate(&mut self) {
        if self.buf.is_empty() {
            self.buf = vec![0; self.slot * self.capacity];
            self.received = Vec::with_capacity(self.capacity);
            self.outgoing = Vec::with_capacity(self.capacity);
        }
    }

    /// Receives the datagrams waiting on `socket` (at most one batch), each into its slot at `offset`
    /// (a datagram longer than the rest of the slot is cut; callers size slots one byte larger than
    /// allowed to see it). `WouldBlock` when none is waiting; tokio's readiness is then cleared.
    pub(super) fn recv(&mut self, socket: &UdpSocket, offset: usize) -> io::Result<usize> {
        self.allocate();
        let (slot, capacity) = (self.slot, self.capacity);
        let Batch { buf, received, .. } = self;
        received.clear();
        socket.try_io(Interest::READABLE, || {
            mmsg::recv::<MAX_BATCH>(
                socket.as_fd(),
                buf,
                slot,
                offset,
                capacity,
                Wait::Never,
                received,
            )
        })
    }

    /// Sends every datagram of [`Batch::outgoing`] on `socket`, waiting for room when the socket's
    /// buffer is full. A datagram the kernel refuses is skipped and handed to `refused`; an error
    /// while waiting for room ends the call.
    pub(super) async fn send_all(
        &mut self,
        socket: &UdpSocket,
        mut refused: impl FnMut(&Outgoing, io::Error),
    ) -> io::Result<()> {
        let mut done = 0;
        let Batch {
            buf,
            outgoing,
            offload,
            ..
        } = self;
        while done < outgoing.len() {
            let rest = &outgoing[done..];
            let datagram = |i: usize| (&buf[rest[i].start..rest[i].end], Some(rest[i].to));
            match socket.try_io(Interest::WRITABLE, || {
                gso::send::<MAX_BATCH>(socket.as_fd(), rest.len(), offload, datagram)
            }) {
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => socket.writable().await?,
                Err(e) => {
                    // sendmmsg reports an error only for the first datagram it could not send.
                    refused(&rest[0], e);
                    done += 1;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_shrink_the_batch_for_large_datagrams_only() {
        assert_eq!(Batch::new(4097).capacity, MAX_BATCH);
        assert_eq!(Batch::new(65536).capacity, 2);
        assert_eq!(Batch::new(1 << 20).capacity, 1);
        assert!(Batch::new(4097).buf.is_empty(), "allocated at first use");
    }

    #[tokio::test]
    async fn a_batch_moves_datagrams_from_several_senders_in_order() {
        let rx = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let to = rx.local_addr().unwrap();
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        for i in 0..40u8 {
            let s = if i % 2 == 0 { &a } else { &b };
            s.send_to(&vec![i; 1 + i as usize], to).await.unwrap();
        }
        let mut batch = Batch::new(64);
        let mut seen = Vec::new();
        while seen.len() < 40 {
            rx.readable().await.unwrap();
            let n = match batch.recv(&rx, 3) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => panic!("{e}"),
            };
            assert!(n <= MAX_BATCH);
            for i in 0..n {
                let r = batch.received[i];
                let i_sent = seen.len() as u8;
                let want = if i_sent.is_multiple_of(2) { &a } else { &b };
                assert_eq!(r.from, Some(want.local_addr().unwrap()));
                assert_eq!(r.len, 1 + i_sent as usize);
                assert!(batch.slot_mut(i)[3..3 + r.len].iter().all(|&x| x == i_sent));
                seen.push(i_sent);
            }
        }
        // Send them all back to a, each with its own destination, from slot offsets.
        let slot = batch.slot_len();
        batch.outgoing.clear();
        for i in 0..3 {
            batch.slot_mut(i)[..4].copy_from_slice(&[i as u8; 4]);
            batch.outgoing.push(Outgoing {
                start: i * slot,
                end: i * slot + 4,
                to: a.local_addr().unwrap(),
            });
        }
        batch.send_all(&rx, |_, e| panic!("{e}")).await.unwrap();
        let mut buf = [0u8; 16];
        for i in 0..3u8 {
            let (n, from) = a.recv_from(&mut buf).await.unwrap();
            assert_eq!((&buf[..n], from), (&[i; 4][..], to));
        }
    }
}
