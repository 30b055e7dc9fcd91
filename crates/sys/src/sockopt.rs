//! Socket and process options that socket2 and std do not expose: `IP_BIND_ADDRESS_NO_PORT`,
//! `SO_RCVBUFFORCE`, and the open-file limit; and the Linux-only egress options of outgoing sockets
//! (`SO_MARK`, `SO_BINDTODEVICE`, set through socket2) with errors that name the option the user wrote
//! (`so_mark`, `interface`), since a bare "Operation not permitted" at dial time says nothing.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

pub(crate) fn set_int(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: a borrowed, open descriptor and a c_int option value of the size given.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&raw const value).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `IP_BIND_ADDRESS_NO_PORT`: a bind to an address with port 0 leaves the port to connect time, so
/// many source addresses multiply the usable 4-tuples.
pub fn set_bind_address_no_port(fd: BorrowedFd<'_>) -> io::Result<()> {
    set_int(fd, libc::IPPROTO_IP, libc::IP_BIND_ADDRESS_NO_PORT, 1)
}

/// Sets the receive buffer to `bytes` past `rmem_max` (`SO_RCVBUFFORCE`, needs CAP_NET_ADMIN),
/// falling back to `SO_RCVBUF` (capped by the kernel) without it.
pub fn force_recv_buffer(fd: BorrowedFd<'_>, bytes: usize) -> io::Result<()> {
    let bytes = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    set_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, bytes)
        .or_else(|_| set_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, bytes))
}

/// The soft and hard limits of open file descriptors.
pub fn nofile() -> io::Result<(u64, u64)> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit fills a valid struct.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((lim.rlim_cur, lim.rlim_max))
}

/// Sets the soft limit of open file descriptors to `soft` (at most the hard limit); returns the old
/// soft limit.
pub fn set_nofile(soft: u64) -> io::Result<u64> {
    let (old, hard) = nofile()?;
    let lim = libc::rlimit {
        rlim_cur: soft.min(hard),
        rlim_max: hard,
    };
    // SAFETY: setrlimit reads a valid struct.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(old)
}

/// Raises the soft open-file limit to the hard one; returns the new soft limit.
pub fn raise_nofile() -> io::Result<u64> {
    let (_, hard) = nofile()?;
    set_nofile(hard)?;
    Ok(hard)
}

/// Makes `cmd`'s child process start with at most `limit` open file descriptors (soft and hard
/// limit), as `prlimit --nofile=LIMIT` would; the parent's limits are untouched.
pub fn limit_child_nofile(cmd: &mut std::process::Command, limit: u64) {
    use std::os::unix::process::CommandExt;
    let lim = libc::rlimit {
        rlim_cur: limit,
        rlim_max: limit,
    };
    // SAFETY: the closure runs in the forked child before exec and only calls setrlimit, which is
    // async-signal-safe, on a struct it owns.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// `SO_MARK` (upstream's `so_mark`): the firewall mark of every packet the socket sends, for policy
/// routing. Needs CAP_NET_ADMIN; the error names `so_mark` and the capability.
pub fn set_mark(fd: BorrowedFd<'_>, mark: u32) -> io::Result<()> {
    socket2::SockRef::from(&fd).set_mark(mark).map_err(|e| {
        named(
            &format!("so_mark {mark}: setsockopt(SO_MARK)"),
            e,
            "CAP_NET_ADMIN",
        )
    })
}

/// The socket's `SO_MARK` (0 when none was set).
pub fn mark(fd: BorrowedFd<'_>) -> io::Result<u32> {
    socket2::SockRef::from(&fd).mark()
}

/// `SO_BINDTODEVICE` (upstream's `interface` given a device name): the socket sends and receives only
/// through `device`. Needs CAP_NET_RAW; the error names `interface` and the device.
pub fn bind_device(fd: BorrowedFd<'_>, device: &str) -> io::Result<()> {
    socket2::SockRef::from(&fd)
        .bind_device(Some(device.as_bytes()))
        .map_err(|e| {
            let what = format!("interface {device}: setsockopt(SO_BINDTODEVICE)");
            match e.raw_os_error() {
                Some(libc::ENODEV) => io::Error::new(e.kind(), format!("{what}: no such device")),
                _ => named(&what, e, "CAP_NET_RAW"),
            }
        })
}

/// The device the socket is bound to with `SO_BINDTODEVICE`, if any.
pub fn device(fd: BorrowedFd<'_>) -> io::Result<Option<String>> {
    let name = socket2::SockRef::from(&fd).device()?;
    Ok(name.map(|n| String::from_utf8_lossy(&n).into_owned()))
}

/// `e` prefixed with `what`, and the capability a permission error asks for.
fn named(what: &str, e: io::Error, capability: &str) -> io::Error {
    let hint = match e.kind() {
        io::ErrorKind::PermissionDenied => format!(" (needs {capability})"),
        _ => String::new(),
    };
    io::Error::new(e.kind(), format!("{what}: {e}{hint}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    /// Run as root (CAP_NET_ADMIN) the mark is set and read back with getsockopt(SO_MARK); without the
    /// capability the error names `so_mark`.
    #[test]
    fn so_mark_is_set_or_named_in_the_error() {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        assert_eq!(mark(tcp.as_fd()).unwrap(), 0);
        match set_mark(tcp.as_fd(), 0x2a) {
            Ok(()) => assert_eq!(mark(tcp.as_fd()).unwrap(), 0x2a),
            Err(e) => {
                assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{e}");
                let text = e.to_string();
                assert!(
                    text.starts_with("so_mark 42: ") && text.contains("CAP_NET_ADMIN"),
                    "{text}"
                );
            }
        }
    }

    #[test]
    fn a_permission_error_names_the_option_and_capability() {
        let e = named(
            "so_mark 7: setsockopt(SO_MARK)",
            io::Error::from_raw_os_error(libc::EPERM),
            "CAP_NET_ADMIN",
        );
        assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
        let text = e.to_string();
        assert!(
            text.starts_with("so_mark 7: setsockopt(SO_MARK): "),
            "{text}"
        );
        assert!(text.ends_with("(needs CAP_NET_ADMIN)"), "{text}");
    }

    #[test]
    fn a_socket_binds_to_the_loopback_device_or_says_why_not() {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        assert_eq!(device(udp.as_fd()).unwrap(), None);
        match bind_device(udp.as_fd(), "lo") {
            Ok(()) => assert_eq!(device(udp.as_fd()).unwrap().as_deref(), Some("lo")),
            Err(e) => assert!(
                e.to_string().contains("interface lo: ") && e.to_string().contains("CAP_NET_RAW"),
                "{e}"
            ),
        }
        let e = bind_device(udp.as_fd(), "no-such-dev0").unwrap_err();
        assert!(e.to_string().starts_with("interface no-such-dev0: "), "{e}");
    }

    #[test]
    fn options_apply_to_real_sockets() {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        set_bind_address_no_port(tcp.as_fd()).unwrap();
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        force_recv_buffer(udp.as_fd(), 1 << 20).unwrap();
    }

    #[test]
    fn the_soft_limit_moves_within_the_hard_one() {
        let (soft, hard) = nofile().unwrap();
        assert!(soft <= hard);
        assert_eq!(raise_nofile().unwrap(), hard);
        assert_eq!(nofile().unwrap().0, hard);
        assert_eq!(set_nofile(soft).unwrap(), hard);
        assert_eq!(nofile().unwrap().0, soft);
    }
}
