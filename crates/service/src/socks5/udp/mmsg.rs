//! Batched datagram I/O for the UDP relay: up to [`MAX_BATCH`] datagrams per `recvmmsg(2)` /
//! `sendmmsg(2)` on a tokio `UdpSocket` (through `try_io`, so tokio's readiness stays right), into and
//! out of one buffer allocated at first use. A relay that wakes once per batch instead of once per
//! datagram spends its time moving datagrams rather than switching tasks.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::AsRawFd;

use tokio::io::Interest;
use tokio::net::UdpSocket;

/// Most datagrams moved by one system call.
pub(super) const MAX_BATCH: usize = 32;
/// Buffer bytes one direction of an association may hold: 32 datagrams at the default
/// `udpBufferSize` (4096), fewer when each slot must hold a larger datagram.
const BATCH_BYTES: usize = MAX_BATCH * (4096 + 64);

/// One received datagram: its length and source (`None` if the kernel named no IP address).
#[derive(Debug, Clone, Copy)]
pub(super) struct Received {
    pub len: usize,
    pub from: Option<SocketAddr>,
}

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
            recvmmsg(socket, buf, slot, offset, capacity, received)
        })
    }

    /// Sends every datagram of [`Batch::outgoing`] on `socket`, waiting for room when the socket's
    /// buffer is full. A datagram the kernel refuses is skipped and handed to `refused`; an error
    /// while waiting for room ends the call.
    pub(super) async fn send_all(
        &self,
        socket: &UdpSocket,
        mut refused: impl FnMut(&Outgoing, io::Error),
    ) -> io::Result<()> {
        let mut done = 0;
        while done < self.outgoing.len() {
            let rest = &self.outgoing[done..];
            match socket.try_io(Interest::WRITABLE, || sendmmsg(socket, &self.buf, rest)) {
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

fn recvmmsg(
    socket: &UdpSocket,
    buf: &mut [u8],
    slot: usize,
    offset: usize,
    n: usize,
    received: &mut Vec<Received>,
) -> io::Result<usize> {
    debug_assert!(n <= MAX_BATCH && buf.len() >= n * slot && offset < slot);
    // SAFETY: all-zero is a valid sockaddr_storage, iovec and mmsghdr (zero family, null pointers).
    let mut names: [libc::sockaddr_storage; MAX_BATCH] = unsafe { zeroed() };
    let mut iovs: [libc::iovec; MAX_BATCH] = unsafe { zeroed() };
    let mut hdrs: [libc::mmsghdr; MAX_BATCH] = unsafe { zeroed() };
    let base = buf.as_mut_ptr();
    for i in 0..n {
        iovs[i] = libc::iovec {
            // SAFETY: i * slot + offset < n * slot <= buf.len().
            iov_base: unsafe { base.add(i * slot + offset) }.cast(),
            iov_len: slot - offset,
        };
        let h = &mut hdrs[i].msg_hdr;
        h.msg_name = (&raw mut names[i]).cast();
        h.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        h.msg_iov = &raw mut iovs[i];
        h.msg_iovlen = 1;
    }
    // SAFETY: each of the first n headers points at its own name storage and at a disjoint region of
    // `buf`, all alive and exclusively borrowed for the duration of the call.
    let rc = unsafe {
        libc::recvmmsg(
            socket.as_raw_fd(),
            hdrs.as_mut_ptr(),
            n as libc::c_uint,
            libc::MSG_DONTWAIT,
            std::ptr::null_mut(),
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    let got = rc as usize;
    received.extend((0..got).map(|i| Received {
        len: hdrs[i].msg_len as usize,
        from: from_storage(&names[i]),
    }));
    Ok(got)
}

fn sendmmsg(socket: &UdpSocket, buf: &[u8], out: &[Outgoing]) -> io::Result<usize> {
    let n = out.len().min(MAX_BATCH);
    // SAFETY: as in recvmmsg.
    let mut names: [libc::sockaddr_storage; MAX_BATCH] = unsafe { zeroed() };
    let mut iovs: [libc::iovec; MAX_BATCH] = unsafe { zeroed() };
    let mut hdrs: [libc::mmsghdr; MAX_BATCH] = unsafe { zeroed() };
    for (i, o) in out.iter().take(n).enumerate() {
        let bytes = &buf[o.start..o.end];
        iovs[i] = libc::iovec {
            iov_base: bytes.as_ptr() as *mut libc::c_void,
            iov_len: bytes.len(),
        };
        let h = &mut hdrs[i].msg_hdr;
        h.msg_name = (&raw mut names[i]).cast();
        h.msg_namelen = to_storage(o.to, &mut names[i]);
        h.msg_iov = &raw mut iovs[i];
        h.msg_iovlen = 1;
    }
    // SAFETY: the first n headers point at initialised addresses and at regions of `buf`, alive for
    // the call; the kernel only reads them.
    let rc = unsafe { libc::sendmmsg(socket.as_raw_fd(), hdrs.as_mut_ptr(), n as libc::c_uint, 0) };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc as usize)
    }
}

/// Writes `sa` as a `sockaddr_in` / `sockaddr_in6` into `storage`; returns its length.
fn to_storage(sa: SocketAddr, storage: &mut libc::sockaddr_storage) -> libc::socklen_t {
    match sa {
        SocketAddr::V4(v4) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: v4.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(v4.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than, and aligned for, sockaddr_in.
            unsafe { std::ptr::write((storage as *mut libc::sockaddr_storage).cast(), sin) };
            size_of::<libc::sockaddr_in>() as libc::socklen_t
        }
        SocketAddr::V6(v6) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: v6.port().to_be(),
                sin6_flowinfo: v6.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: v6.ip().octets(),
                },
                sin6_scope_id: v6.scope_id(),
            };
            // SAFETY: sockaddr_storage is larger than, and aligned for, sockaddr_in6.
            unsafe { std::ptr::write((storage as *mut libc::sockaddr_storage).cast(), sin6) };
            size_of::<libc::sockaddr_in6>() as libc::socklen_t
        }
    }
}

/// The address the kernel wrote into `storage`, if it is IPv4 or IPv6.
fn from_storage(storage: &libc::sockaddr_storage) -> Option<SocketAddr> {
    let ptr = storage as *const libc::sockaddr_storage;
    match i32::from(storage.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in.
            let sin = unsafe { &*ptr.cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
            Some(SocketAddrV4::new(ip, u16::from_be(sin.sin_port)).into())
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a sockaddr_in6.
            let sin6 = unsafe { &*ptr.cast::<libc::sockaddr_in6>() };
            let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            let port = u16::from_be(sin6.sin6_port);
            Some(SocketAddrV6::new(ip, port, sin6.sin6_flowinfo, sin6.sin6_scope_id).into())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_survive_the_sockaddr_round_trip() {
        for s in ["127.0.0.1:53", "[::1]:8080", "[fe80::1%3]:1", "0.0.0.0:0"] {
            let sa: SocketAddr = s.parse().unwrap();
            // SAFETY: all-zero is a valid sockaddr_storage.
            let mut st: libc::sockaddr_storage = unsafe { zeroed() };
            to_storage(sa, &mut st);
            assert_eq!(from_storage(&st), Some(sa), "{s}");
        }
    }

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
