//! [`Egress`]: where the outgoing sockets of a service or a chain node leave this host — upstream's
//! `interface` (a source address to bind, or a device name bound with `SO_BINDTODEVICE`) and `so_mark`
//! (`SO_MARK`, for policy routing). The TCP dialer, the direct UDP sockets of a router and a SOCKS5
//! connector's UDP relay socket all open their sockets here, so each option means the same everywhere.
//!
//! A source address only reaches targets of its own family: the dialer skips the other family's
//! addresses of a name, and fails with an error naming `interface` when none is left.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsFd;

use socket2::{Domain, Socket, Type};
use tokio::net::{TcpSocket, TcpStream, UdpSocket};

/// Upstream's `interface`: an IP address of this host, or the name of a network device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interface {
    /// Outgoing sockets are bound to this source address (port chosen by the kernel).
    Addr(IpAddr),
    /// Outgoing sockets are bound to this device (`SO_BINDTODEVICE`, needs CAP_NET_RAW).
    Device(String),
}

impl Interface {
    /// An IP literal is a source address, anything else a device name (as upstream decides).
    pub fn parse(s: &str) -> Interface {
        match s.parse::<IpAddr>() {
            Ok(ip) => Interface::Addr(ip),
            Err(_) => Interface::Device(s.to_owned()),
        }
    }
}

/// The egress options of outgoing sockets. The default changes nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Egress {
    /// `interface`: source address or device.
    pub interface: Option<Interface>,
    /// `so_mark`: the `SO_MARK` of every outgoing socket (needs CAP_NET_ADMIN).
    pub mark: Option<u32>,
}

impl Egress {
    /// True when no option is set.
    pub fn is_default(&self) -> bool {
        self.interface.is_none() && self.mark.is_none()
    }

    fn source(&self) -> Option<IpAddr> {
        match self.interface {
            Some(Interface::Addr(ip)) => Some(ip),
            _ => None,
        }
    }

    /// The addresses of `addrs` a socket leaving here can reach: all of them, or those of the source
    /// address's family; an error naming `interface` when none is left.
    pub(crate) fn reachable(&self, addrs: Vec<SocketAddr>) -> io::Result<Vec<SocketAddr>> {
        let Some(src) = self.source() else {
            return Ok(addrs);
        };
        let kept: Vec<_> = addrs
            .iter()
            .copied()
            .filter(|a| a.is_ipv4() == src.is_ipv4())
            .collect();
        if kept.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::AddrNotAvailable,
                format!(
                    "interface {src}: no address of the target ({}) is of its IP family",
                    list(&addrs)
                ),
            ));
        }
        Ok(kept)
    }

    /// `SO_BINDTODEVICE` and `SO_MARK` on a new socket, before it binds or connects.
    fn apply(&self, fd: std::os::fd::BorrowedFd<'_>) -> io::Result<()> {
        if let Some(Interface::Device(dev)) = &self.interface {
            gost_sys::sockopt::bind_device(fd, dev)?;
        }
        if let Some(mark) = self.mark {
            gost_sys::sockopt::set_mark(fd, mark)?;
        }
        Ok(())
    }

    /// A TCP connection to `addr` leaving through this egress.
    pub async fn connect(&self, addr: SocketAddr) -> io::Result<TcpStream> {
        if self.is_default() {
            return TcpStream::connect(addr).await;
        }
        let socket = match addr {
            SocketAddr::V4(_) => TcpSocket::new_v4()?,
            SocketAddr::V6(_) => TcpSocket::new_v6()?,
        };
        self.apply(socket.as_fd())?;
        if let Some(src) = self.source() {
            // The port is picked at connect time, so many connections from one source address can
            // share a port toward different targets.
            if src.is_ipv4() {
                gost_sys::sockopt::set_bind_address_no_port(socket.as_fd())?;
            }
            socket
                .bind(SocketAddr::new(src, 0))
                .map_err(|e| named_bind(src, e))?;
        }
        socket.connect(addr).await
    }

    /// A UDP socket for datagrams to `peer` (its family), or to any target when `peer` is `None`
    /// (dual-stack `[::]:0` where the host has IPv6, else `0.0.0.0:0`); bound to the source address
    /// instead when `interface` is one.
    pub fn udp_socket(&self, peer: Option<IpAddr>) -> io::Result<UdpSocket> {
        let socket = match (self.source(), peer) {
            (Some(src), Some(p)) if src.is_ipv4() != p.is_ipv4() => {
                return Err(io::Error::new(
                    io::ErrorKind::AddrNotAvailable,
                    format!("interface {src}: cannot reach {p} (another IP family)"),
                ));
            }
            (Some(src), _) => self.bound_udp(SocketAddr::new(src, 0))?,
            (None, Some(IpAddr::V4(_))) => self.bound_udp((Ipv4Addr::UNSPECIFIED, 0).into())?,
            (None, Some(IpAddr::V6(_))) => self.bound_udp((Ipv6Addr::UNSPECIFIED, 0).into())?,
            (None, None) => self.dual_stack_udp()?,
        };
        socket.set_nonblocking(true)?;
        UdpSocket::from_std(socket.into())
    }

    fn bound_udp(&self, at: SocketAddr) -> io::Result<Socket> {
        let s = Socket::new(Domain::for_address(at), Type::DGRAM, None)?;
        self.apply(s.as_fd())?;
        s.bind(&at.into()).map_err(|e| match self.source() {
            Some(src) => named_bind(src, e),
            None => e,
        })?;
        Ok(s)
    }

    /// `[::]:0` with `IPV6_V6ONLY` off, so it also reaches IPv4 targets; `0.0.0.0:0` where IPv6 is
    /// missing. The option is switched off explicitly rather than left to the system default: Linux's
    /// default comes from `net.ipv6.bindv6only` (1 on some hardened hosts), and with it on every
    /// datagram to an IPv4 target would fail.
    fn dual_stack_udp(&self) -> io::Result<Socket> {
        let v6 = Socket::new(Domain::IPV6, Type::DGRAM, None).and_then(|s| {
            s.set_only_v6(false)?;
            Ok(s)
        });
        match v6 {
            Ok(s) => {
                self.apply(s.as_fd())?;
                s.bind(&SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)).into())?;
                Ok(s)
            }
            Err(_) => self.bound_udp((Ipv4Addr::UNSPECIFIED, 0).into()),
        }
    }
}

fn named_bind(src: IpAddr, e: io::Error) -> io::Error {
    let hint = match e.kind() {
        io::ErrorKind::AddrNotAvailable => " (not an address of this host)",
        _ => "",
    };
    io::Error::new(e.kind(), format!("interface {src}: bind: {e}{hint}"))
}

fn list(addrs: &[SocketAddr]) -> String {
    addrs
        .iter()
        .map(|a| a.ip().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(ip: &str) -> Egress {
        Egress {
            interface: Some(Interface::parse(ip)),
            mark: None,
        }
    }

    #[test]
    fn ip_literals_are_addresses_and_other_names_devices() {
        assert_eq!(
            Interface::parse("127.0.0.9"),
            Interface::Addr([127, 0, 0, 9].into())
        );
        assert_eq!(
            Interface::parse("::1"),
            Interface::Addr(Ipv6Addr::LOCALHOST.into())
        );
        assert_eq!(Interface::parse("eth0"), Interface::Device("eth0".into()));
        assert!(Egress::default().is_default());
    }

    #[tokio::test]
    async fn tcp_leaves_from_the_source_address() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let egress = from("127.0.0.9");
        let (c, accepted) = tokio::join!(egress.connect(addr), l.accept());
        assert_eq!(
            c.unwrap().local_addr().unwrap().ip(),
            IpAddr::from([127, 0, 0, 9])
        );
        assert_eq!(accepted.unwrap().1.ip(), IpAddr::from([127, 0, 0, 9]));
    }

    #[tokio::test]
    async fn udp_leaves_from_the_source_address_and_device() {
        let target = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let to = target.local_addr().unwrap();
        let s = from("127.0.0.9").udp_socket(Some(to.ip())).unwrap();
        s.send_to(b"x", to).await.unwrap();
        let mut buf = [0u8; 4];
        let (_, peer) = target.recv_from(&mut buf).await.unwrap();
        assert_eq!(peer.ip(), IpAddr::from([127, 0, 0, 9]));

        let lo = Egress {
            interface: Some(Interface::Device("lo".into())),
            mark: Some(7),
        };
        let s = lo.udp_socket(None).unwrap();
        assert_eq!(
            gost_sys::sockopt::device(s.as_fd()).unwrap().as_deref(),
            Some("lo")
        );
        assert_eq!(gost_sys::sockopt::mark(s.as_fd()).unwrap(), 7);
        s.send_to(b"y", to).await.unwrap();
        target.recv_from(&mut buf).await.unwrap();
    }

    #[test]
    fn a_source_address_keeps_only_its_family() {
        let e = from("127.0.0.9");
        let v4: SocketAddr = "10.0.0.1:1".parse().unwrap();
        let v6: SocketAddr = "[::2]:1".parse().unwrap();
        assert_eq!(e.reachable(vec![v6, v4]).unwrap(), vec![v4]);
        let err = e.reachable(vec![v6]).unwrap_err().to_string();
        assert!(err.starts_with("interface 127.0.0.9: "), "{err}");
        let err = e.udp_socket(Some(v6.ip())).unwrap_err().to_string();
        assert!(err.starts_with("interface 127.0.0.9: "), "{err}");
    }

    #[tokio::test]
    async fn a_source_address_not_of_this_host_is_named() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let e = from("192.0.2.77")
            .connect(l.local_addr().unwrap())
            .await
            .unwrap_err();
        assert!(
            e.to_string().starts_with("interface 192.0.2.77: bind: "),
            "{e}"
        );
    }
}
