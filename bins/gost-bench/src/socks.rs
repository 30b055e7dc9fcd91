//! A minimal SOCKS5 client (no authentication, IPv4 CONNECT and UDP ASSOCIATE) on fixed stack
//! buffers, so the load generator allocates nothing per request. Messages are not pipelined:
//! some peers (microsocks) drop a request that arrives in the same segment as the greeting.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::AsFd;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// Opens a TCP connection to `server` from source address `src` (port chosen by the kernel at
/// connect time, so many sources multiply the usable 4-tuples for short-lived connections).
pub(crate) async fn connect_from(src: Ipv4Addr, server: SocketAddrV4) -> io::Result<TcpStream> {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    sock.set_nonblocking(true)?;
    gost_sys::sockopt::set_bind_address_no_port(sock.as_fd())?;
    sock.bind(&SocketAddr::V4(SocketAddrV4::new(src, 0)).into())?;
    let std_stream: std::net::TcpStream = sock.into();
    let stream = TcpSocket::from_std_stream(std_stream)
        .connect(SocketAddr::V4(server))
        .await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

fn reply_error(what: &str, got: &[u8]) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("bad SOCKS5 {what}: {got:02x?}"),
    )
}

/// Greeting (no authentication) on a fresh connection to a SOCKS5 server.
async fn greet(s: &mut TcpStream) -> io::Result<()> {
    s.write_all(&[5, 1, 0]).await?;
    let mut r = [0u8; 2];
    s.read_exact(&mut r).await?;
    if r != [5, 0] {
        return Err(reply_error("method selection", &r));
    }
    Ok(())
}

/// Sends request `cmd` for `addr` and returns the reply's bound address.
async fn request(s: &mut TcpStream, cmd: u8, addr: SocketAddrV4) -> io::Result<SocketAddr> {
    let ip = addr.ip().octets();
    let port = addr.port().to_be_bytes();
    let req = [5, cmd, 0, 1, ip[0], ip[1], ip[2], ip[3], port[0], port[1]];
    s.write_all(&req).await?;
    let mut head = [0u8; 4];
    s.read_exact(&mut head).await?;
    if head[0] != 5 || head[1] != 0 {
        return Err(reply_error("reply", &head));
    }
    let mut rest = [0u8; 18];
    match head[3] {
        1 => {
            s.read_exact(&mut rest[..6]).await?;
            let ip = Ipv4Addr::new(rest[0], rest[1], rest[2], rest[3]);
            Ok(SocketAddr::from((
                ip,
                u16::from_be_bytes([rest[4], rest[5]]),
            )))
        }
        4 => {
            s.read_exact(&mut rest[..18]).await?;
            let mut ip = [0u8; 16];
            ip.copy_from_slice(&rest[..16]);
            Ok(SocketAddr::from((
                ip,
                u16::from_be_bytes([rest[16], rest[17]]),
            )))
        }
        _ => Err(reply_error("reply address type", &head)),
    }
}

/// Full CONNECT handshake: afterwards `s` carries the relayed stream to `target`.
pub(crate) async fn connect(s: &mut TcpStream, target: SocketAddrV4) -> io::Result<()> {
    greet(s).await?;
    request(s, 1, target).await.map(drop)
}

/// UDP ASSOCIATE handshake; returns the relay address (an unspecified IP is replaced by the
/// server's own). The association lives as long as `s` stays open.
pub(crate) async fn udp_associate(s: &mut TcpStream) -> io::Result<SocketAddr> {
    greet(s).await?;
    let mut relay = request(s, 3, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)).await?;
    if relay.ip().is_unspecified() {
        relay.set_ip(s.peer_addr()?.ip());
    }
    Ok(relay)
}

/// The SOCKS5 UDP request header (RSV, FRAG 0, IPv4 `target`) written into `buf`; returns its length.
pub(crate) fn udp_header(buf: &mut [u8], target: SocketAddrV4) -> usize {
    let ip = target.ip().octets();
    let port = target.port().to_be_bytes();
    let h = [0, 0, 0, 1, ip[0], ip[1], ip[2], ip[3], port[0], port[1]];
    buf[..h.len()].copy_from_slice(&h);
    h.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udp_header_bytes() {
        let mut buf = [0xffu8; 16];
        let n = udp_header(
            &mut buf,
            SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 1), 0x1f90),
        );
        assert_eq!(&buf[..n], &[0, 0, 0, 1, 127, 0, 0, 1, 0x1f, 0x90]);
    }
}
