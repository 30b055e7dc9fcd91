//! Batched datagram I/O: up to `N` datagrams per recvmmsg(2) / sendmmsg(2) on a UDP socket, into and
//! out of caller-owned memory. The headers live on the stack (`N` is a compile-time bound, so each
//! call zeroes exactly what it may use); nothing is allocated per call.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, BorrowedFd};

/// One received datagram: its length and source (`None` if the kernel named no IP address).
#[derive(Debug, Clone, Copy)]
pub struct Received {
    /// Bytes of the datagram written into its buffer.
    pub len: usize,
    /// The sender.
    pub from: Option<SocketAddr>,
}

/// How [`recv`] waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Never block (`MSG_DONTWAIT`): `WouldBlock` when nothing is queued.
    Never,
    /// Block (up to the socket's timeout) for the first datagram, then take what is queued
    /// (`MSG_WAITFORONE`).
    ForOne,
}

/// Receives up to `n` (at most `N`) datagrams, datagram `i` into `buf[i * slot + offset..(i + 1) * slot]`
/// (a longer one is cut), appending one [`Received`] per datagram to `received`. Returns how many
/// arrived.
///
/// # Panics
/// If `n > N`, `offset >= slot` or `buf` is shorter than `n * slot`.
pub fn recv<const N: usize>(
    fd: BorrowedFd<'_>,
    buf: &mut [u8],
    slot: usize,
    offset: usize,
    n: usize,
    wait: Wait,
    received: &mut Vec<Received>,
) -> io::Result<usize> {
    assert!(n <= N && buf.len() >= n * slot && offset < slot);
    // SAFETY: all-zero is a valid sockaddr_storage, iovec and mmsghdr (zero family, null pointers).
    let mut names: [libc::sockaddr_storage; N] = unsafe { zeroed() };
    let mut iovs: [libc::iovec; N] = unsafe { zeroed() };
    let mut hdrs: [libc::mmsghdr; N] = unsafe { zeroed() };
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
    let flags = match wait {
        Wait::Never => libc::MSG_DONTWAIT,
        Wait::ForOne => libc::MSG_WAITFORONE,
    };
    // SAFETY: each of the first n headers points at its own name storage and at a disjoint region of
    // `buf`, all alive and exclusively borrowed for the duration of the call.
    let rc = unsafe {
        libc::recvmmsg(
            fd.as_raw_fd(),
            hdrs.as_mut_ptr(),
            n as libc::c_uint,
            flags,
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

/// Sends up to `n` (at most `N`) datagrams; datagram `i` is `datagram(i)`: its bytes and its
/// destination (`None` on a connected socket). Returns how many went out; an error is reported only
/// for the first datagram the kernel refused.
pub fn send<'a, const N: usize>(
    fd: BorrowedFd<'_>,
    n: usize,
    mut datagram: impl FnMut(usize) -> (&'a [u8], Option<SocketAddr>),
) -> io::Result<usize> {
    let n = n.min(N);
    // SAFETY: as in recv.
    let mut names: [libc::sockaddr_storage; N] = unsafe { zeroed() };
    let mut iovs: [libc::iovec; N] = unsafe { zeroed() };
    let mut hdrs: [libc::mmsghdr; N] = unsafe { zeroed() };
    for i in 0..n {
        let (bytes, to) = datagram(i);
        iovs[i] = libc::iovec {
            iov_base: bytes.as_ptr() as *mut libc::c_void,
            iov_len: bytes.len(),
        };
        let h = &mut hdrs[i].msg_hdr;
        if let Some(to) = to {
            h.msg_name = (&raw mut names[i]).cast();
            h.msg_namelen = to_storage(to, &mut names[i]);
        }
        h.msg_iov = &raw mut iovs[i];
        h.msg_iovlen = 1;
    }
    // SAFETY: the first n headers point at initialised addresses (or none) and at slices borrowed
    // for 'a, alive for the call; the kernel only reads them.
    unsafe { sendmmsg(fd, &mut hdrs[..n]) }
}

/// sendmmsg(2) of `hdrs`; returns how many messages went out.
///
/// # Safety
/// Every header must point at valid addresses, control data and iovecs (and those at readable
/// memory) that stay alive for the call.
pub(crate) unsafe fn sendmmsg(fd: BorrowedFd<'_>, hdrs: &mut [libc::mmsghdr]) -> io::Result<usize> {
    // SAFETY: the caller vouches for what the headers point at.
    let rc = unsafe {
        libc::sendmmsg(
            fd.as_raw_fd(),
            hdrs.as_mut_ptr(),
            hdrs.len() as libc::c_uint,
            0,
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc as usize)
    }
}

/// Writes `sa` as a `sockaddr_in` / `sockaddr_in6` into `storage`; returns its length.
pub(crate) fn to_storage(sa: SocketAddr, storage: &mut libc::sockaddr_storage) -> libc::socklen_t {
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
    use std::net::UdpSocket;
    use std::os::fd::AsFd;
    use std::time::Duration;

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
    fn batches_round_trip_with_sources_and_destinations() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = rx.local_addr().unwrap();
        let payloads: Vec<Vec<u8>> = (1..=10u8).map(|i| vec![i; i as usize]).collect();
        let sent = send::<8>(tx.as_fd(), payloads.len(), |i| (&payloads[i], Some(to))).unwrap();
        assert_eq!(sent, 8, "at most N per call");
        let mut buf = vec![0u8; 8 * 32];
        let mut received = Vec::new();
        let mut got = 0;
        while got < 8 {
            got += recv::<8>(rx.as_fd(), &mut buf, 32, 2, 8, Wait::ForOne, &mut received).unwrap();
        }
        for (i, r) in received.iter().enumerate() {
            assert_eq!(r.from, Some(tx.local_addr().unwrap()));
            assert_eq!(r.len, i + 1);
            assert_eq!(&buf[i * 32 + 2..i * 32 + 2 + r.len], &payloads[i][..]);
        }
        let mut none = Vec::new();
        let e = recv::<8>(rx.as_fd(), &mut buf, 32, 0, 8, Wait::Never, &mut none).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
    }

    #[test]
    fn a_connected_socket_needs_no_destination() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.connect(rx.local_addr().unwrap()).unwrap();
        assert_eq!(send::<4>(tx.as_fd(), 3, |_| (b"same", None)).unwrap(), 3);
        let mut buf = [0u8; 3 * 16];
        let mut received = Vec::new();
        while received.len() < 3 {
            recv::<4>(rx.as_fd(), &mut buf, 16, 0, 3, Wait::ForOne, &mut received).unwrap();
        }
        assert!(received.iter().all(|r| r.len == 4));
    }
}
