//! UDP segmentation offload (`UDP_SEGMENT`, Linux ≥ 4.18) on top of sendmmsg(2): consecutive
//! datagrams of equal length to the same destination leave as one message, which the stack carries
//! as one packet and cuts into the original datagrams at the last moment (in the device, or at the
//! receiving socket on loopback). The datagrams on the wire are exactly those a plain [`mmsg::send`]
//! would send, in the same order; only the per-datagram work of the sending stack is saved.
//!
//! Like quinn-udp, offload is tried first and switched off for good (per [`Offload`], one per socket)
//! when the kernel or a device refuses it with `EIO` or `EINVAL`; the refused call is then resent
//! plainly, so a caller never loses datagrams to the probe.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::SocketAddr;
use std::os::fd::BorrowedFd;

use crate::mmsg::{self, to_storage};

/// Most datagrams in one offloaded message (the kernel's `UDP_MAX_SEGMENTS` was 64 before 6.9).
pub const MAX_SEGMENTS: usize = 64;
/// Most payload bytes in one offloaded message: what fits one IPv4 UDP datagram.
pub const MAX_BYTES: usize = 65_507;

/// Whether sends on one socket still try segmentation offload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offload {
    on: bool,
}

impl Default for Offload {
    fn default() -> Self {
        Offload { on: true }
    }
}

impl Offload {
    /// Offload tried until refused.
    pub fn new() -> Offload {
        Offload::default()
    }

    /// Plain sends only.
    pub fn off() -> Offload {
        Offload { on: false }
    }

    /// Whether sends still try offload.
    pub fn is_on(&self) -> bool {
        self.on
    }
}

/// A run of datagrams sent as one message: `count` datagrams from index `first`, each `segment`
/// bytes except possibly the last, which may be shorter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    /// Index of the run's first datagram.
    pub first: usize,
    /// Datagrams in the run.
    pub count: usize,
    /// The length of every datagram of the run but the last.
    pub segment: usize,
}

/// Cuts datagrams (`(length, destination)`, in order) into runs that one offloaded message can carry:
/// same destination, same length, except that a shorter datagram may end a run; an empty datagram
/// always goes alone (a segment cannot be empty); at most [`MAX_SEGMENTS`] datagrams and
/// [`MAX_BYTES`] bytes per run. Calls `run` once per run, in order.
pub fn plan(
    datagrams: impl IntoIterator<Item = (usize, Option<SocketAddr>)>,
    mut run: impl FnMut(Run),
) {
    // The open run, its destination, its bytes so far, and whether a short datagram closed it.
    let mut open: Option<(Run, Option<SocketAddr>, usize, bool)> = None;
    for (i, (len, to)) in datagrams.into_iter().enumerate() {
        if let Some((r, dest, bytes, closed)) = &mut open {
            let fits = !*closed
                && *dest == to
                && r.segment > 0
                && (1..=r.segment).contains(&len)
                && r.count < MAX_SEGMENTS
                && *bytes + len <= MAX_BYTES;
            if fits {
                r.count += 1;
                *bytes += len;
                *closed = len < r.segment;
                continue;
            }
            run(*r);
        }
        let first = Run {
            first: i,
            count: 1,
            segment: len,
        };
        open = Some((first, to, len, false));
    }
    if let Some((r, ..)) = open {
        run(r);
    }
}

/// Room for one `UDP_SEGMENT` control message (a `cmsghdr` and a `u16`), aligned for `cmsghdr`.
#[derive(Clone, Copy)]
#[repr(C, align(8))]
struct Control([u8; 24]);

// SAFETY (of the const evaluation): CMSG_SPACE only does arithmetic.
const CONTROL_LEN: usize = unsafe { libc::CMSG_SPACE(size_of::<u16>() as u32) } as usize;
const _: () = assert!(CONTROL_LEN <= size_of::<Control>());

/// Sends up to `n` (at most `N`) datagrams like [`mmsg::send`] (datagram `i` is `datagram(i)`: its
/// bytes and destination, `None` on a connected socket), each run that [`plan`] finds as one
/// offloaded message while `offload` is on. Returns how many datagrams went out; an error is
/// reported only for the first datagram the kernel refused.
pub fn send<'a, const N: usize>(
    fd: BorrowedFd<'_>,
    n: usize,
    offload: &mut Offload,
    mut datagram: impl FnMut(usize) -> (&'a [u8], Option<SocketAddr>),
) -> io::Result<usize> {
    let n = n.min(N);
    let mut all: [(&[u8], Option<SocketAddr>); N] = [(&[], None); N];
    for (i, d) in all.iter_mut().enumerate().take(n) {
        *d = datagram(i);
    }
    let all = &all[..n];
    if !offload.on {
        return mmsg::send::<N>(fd, n, |i| all[i]);
    }
    let mut runs = [Run {
        first: 0,
        count: 0,
        segment: 0,
    }; N];
    let mut messages = 0;
    plan(all.iter().map(|(b, to)| (b.len(), *to)), |r| {
        runs[messages] = r;
        messages += 1;
    });
    if messages == n {
        // Nothing to merge: no control messages needed.
        return mmsg::send::<N>(fd, n, |i| all[i]);
    }
    match send_runs::<N>(fd, all, &runs[..messages]) {
        Ok(sent) => Ok(runs[..sent].iter().map(|r| r.count).sum()),
        Err(e) if runs[0].count > 1 && e.kind() != io::ErrorKind::WouldBlock => {
            // Resent plainly: if that goes out, it was the offload the kernel refused.
            let plain = mmsg::send::<N>(fd, n, |i| all[i]);
            if plain.is_ok() && matches!(e.raw_os_error(), Some(libc::EIO | libc::EINVAL)) {
                offload.on = false;
            }
            plain
        }
        Err(e) => Err(e),
    }
}

/// One sendmmsg(2) with one message per run, a run of several datagrams carrying `UDP_SEGMENT`.
/// Returns how many messages (runs) went out.
fn send_runs<const N: usize>(
    fd: BorrowedFd<'_>,
    all: &[(&[u8], Option<SocketAddr>)],
    runs: &[Run],
) -> io::Result<usize> {
    // SAFETY: all-zero is a valid sockaddr_storage, iovec, mmsghdr and control buffer.
    let mut names: [libc::sockaddr_storage; N] = unsafe { zeroed() };
    let mut iovs: [libc::iovec; N] = unsafe { zeroed() };
    let mut hdrs: [libc::mmsghdr; N] = unsafe { zeroed() };
    let mut controls = [Control([0; 24]); N];
    for (iov, (bytes, _)) in iovs.iter_mut().zip(all) {
        *iov = libc::iovec {
            iov_base: bytes.as_ptr() as *mut libc::c_void,
            iov_len: bytes.len(),
        };
    }
    for (m, r) in runs.iter().enumerate() {
        let h = &mut hdrs[m].msg_hdr;
        if let Some(to) = all[r.first].1 {
            h.msg_name = (&raw mut names[m]).cast();
            h.msg_namelen = to_storage(to, &mut names[m]);
        }
        h.msg_iov = &raw mut iovs[r.first];
        h.msg_iovlen = r.count;
        if r.count > 1 {
            h.msg_control = (&raw mut controls[m]).cast();
            h.msg_controllen = CONTROL_LEN;
            // The segment is at most MAX_BYTES, so it fits a u16.
            let segment = r.segment as u16;
            // SAFETY: msg_control points at CONTROL_LEN zeroed, aligned bytes of controls[m], room
            // for one cmsghdr and its u16 (checked above), so CMSG_FIRSTHDR is that buffer's start.
            unsafe {
                let c = libc::CMSG_FIRSTHDR(h);
                (*c).cmsg_level = libc::SOL_UDP;
                (*c).cmsg_type = libc::UDP_SEGMENT;
                (*c).cmsg_len = libc::CMSG_LEN(size_of::<u16>() as u32) as usize;
                std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<u16>(), segment);
            }
        }
    }
    // SAFETY: each of the first runs.len() headers points at its own address (or none), its own
    // control buffer and a range of `iovs` that point at slices borrowed for the call; the kernel
    // only reads them.
    unsafe { mmsg::sendmmsg(fd, &mut hdrs[..runs.len()]) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::os::fd::AsFd;
    use std::time::Duration;

    fn runs(datagrams: &[(usize, Option<SocketAddr>)]) -> Vec<(usize, usize, usize)> {
        let mut out = Vec::new();
        plan(datagrams.iter().copied(), |r| {
            out.push((r.first, r.count, r.segment));
        });
        out
    }

    #[test]
    fn runs_split_at_a_new_size_a_new_destination_and_after_a_short_datagram() {
        let a = Some("127.0.0.1:1".parse().unwrap());
        let b = Some("127.0.0.1:2".parse().unwrap());
        assert_eq!(runs(&[]), vec![]);
        assert_eq!(runs(&[(64, a), (64, a), (64, a)]), vec![(0, 3, 64)]);
        // A shorter datagram ends its run; the next one starts another.
        assert_eq!(
            runs(&[(64, a), (64, a), (30, a), (64, a), (64, a)]),
            vec![(0, 3, 64), (3, 2, 64)]
        );
        assert_eq!(runs(&[(30, a), (64, a)]), vec![(0, 1, 30), (1, 1, 64)]);
        assert_eq!(
            runs(&[(64, a), (64, b), (64, b), (64, a)]),
            vec![(0, 1, 64), (1, 2, 64), (3, 1, 64)]
        );
        assert_eq!(runs(&[(64, None), (64, None)]), vec![(0, 2, 64)]);
        // An empty datagram is never a segment.
        assert_eq!(
            runs(&[(0, a), (0, a), (64, a), (0, a)]),
            vec![(0, 1, 0), (1, 1, 0), (2, 1, 64), (3, 1, 0)]
        );
    }

    #[test]
    fn runs_stay_within_the_kernels_segment_and_byte_limits() {
        let a = Some("[::1]:9".parse().unwrap());
        assert_eq!(
            runs(&vec![(10, a); 130]),
            vec![(0, 64, 10), (64, 64, 10), (128, 2, 10)]
        );
        // 32 × 2000 bytes fit one IPv4 datagram, 33 do not.
        assert_eq!(
            runs(&vec![(2000, a); 40]),
            vec![(0, 32, 2000), (32, 8, 2000)]
        );
        assert_eq!(
            runs(&[(MAX_BYTES, a); 2]),
            vec![(0, 1, MAX_BYTES), (1, 1, MAX_BYTES)]
        );
    }

    fn receiver() -> UdpSocket {
        receiver_on("127.0.0.1:0")
    }

    fn receiver_on(addr: &str) -> UdpSocket {
        let rx = UdpSocket::bind(addr).unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        rx
    }

    fn enable(s: &UdpSocket, level: libc::c_int, name: libc::c_int) {
        crate::sockopt::set_int(s.as_fd(), level, name, 1).unwrap();
    }

    /// Sends runs of several sizes, short last datagrams included, from `tx` to two receivers
    /// and checks that each gets its datagrams whole and in order; returns the offload state after.
    fn send_mixed(tx: &UdpSocket) -> Offload {
        let local = tx.local_addr().unwrap().ip();
        let on = SocketAddr::new(local, 0).to_string();
        let (ra, rb) = (receiver_on(&on), receiver_on(&on));
        let (a, b) = (ra.local_addr().unwrap(), rb.local_addr().unwrap());
        let lens = [100, 100, 100, 40, 100, 7, 7, 7, 100, 1200, 1200, 1200];
        let to = |i: usize| if (4..8).contains(&i) { b } else { a };
        let datagrams: Vec<_> = (0..lens.len())
            .map(|i| (vec![i as u8; lens[i]], to(i)))
            .collect();
        let mut offload = Offload::new();
        let mut done = 0;
        while done < datagrams.len() {
            let rest = &datagrams[done..];
            done += send::<16>(tx.as_fd(), rest.len(), &mut offload, |i| {
                (&rest[i].0, Some(rest[i].1))
            })
            .unwrap();
        }
        let mut buf = [0u8; 4096];
        for (d, to) in &datagrams {
            let rx = if *to == a { &ra } else { &rb };
            let (n, from) = rx.recv_from(&mut buf).unwrap();
            assert_eq!((&buf[..n], from), (&d[..], tx.local_addr().unwrap()));
        }
        offload
    }

    #[test]
    fn offloaded_runs_arrive_as_the_original_datagrams_in_order() {
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        assert!(send_mixed(&tx).is_on(), "loopback takes UDP_SEGMENT");
    }

    #[test]
    fn offloaded_runs_arrive_over_ipv6_too() {
        let tx = UdpSocket::bind("[::1]:0").expect("IPv6 loopback");
        assert!(send_mixed(&tx).is_on(), "IPv6 loopback takes UDP_SEGMENT");
    }

    #[test]
    fn a_run_leaves_as_one_packet() {
        // A receiver asking for UDP_GRO gets an offloaded run whole, as the one packet it travelled as.
        let rx = receiver();
        enable(&rx, libc::SOL_UDP, libc::UDP_GRO);
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.connect(rx.local_addr().unwrap()).unwrap();
        let mut offload = Offload::new();
        assert_eq!(
            send::<4>(tx.as_fd(), 3, &mut offload, |_| (&[7; 64], None)).unwrap(),
            3
        );
        let mut buf = [0u8; 1024];
        assert_eq!(rx.recv(&mut buf).unwrap(), 3 * 64);
        // Without offload, three packets.
        let mut plain = Offload::off();
        assert_eq!(
            send::<4>(tx.as_fd(), 3, &mut plain, |_| (&[7; 64], None)).unwrap(),
            3
        );
        assert_eq!(rx.recv(&mut buf).unwrap(), 64);
    }

    #[test]
    fn a_refused_offload_is_resent_plainly_and_switched_off() {
        // Without UDP checksums (SO_NO_CHECK) the kernel refuses UDP_SEGMENT with EINVAL, while
        // plain IPv4 datagrams still go.
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        const SO_NO_CHECK: libc::c_int = 11;
        enable(&tx, libc::SOL_SOCKET, SO_NO_CHECK);
        assert!(!send_mixed(&tx).is_on());
    }

    #[test]
    fn an_error_is_reported_for_the_first_refused_datagram() {
        // Port 0 is refused (EINVAL) with offload or without: the run's error is the datagram's,
        // and offload stays on.
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let to: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let mut offload = Offload::new();
        let e = send::<4>(tx.as_fd(), 3, &mut offload, |_| (&[1; 8], Some(to))).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
        assert!(offload.is_on());
    }
}
