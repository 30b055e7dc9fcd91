//! Socket and process options that socket2 and std do not expose: `IP_BIND_ADDRESS_NO_PORT`,
//! `SO_RCVBUFFORCE`, and the open-file limit.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

fn set_int(
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

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
