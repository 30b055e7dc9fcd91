//! A raw SOCKS5 client written as bytes (RFC 1928), for tests that must see or bend the wire: the
//! no-auth greeting, a request for an IP target, the reply, and the UDP relay header.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// Connects to `proxy` and negotiates "no authentication".
pub async fn connect_noauth(proxy: SocketAddr) -> TcpStream {
    let mut c = TcpStream::connect(proxy).await.unwrap();
    greet_noauth(&mut c).await;
    c
}

/// Offers only "no authentication" on `s` and expects it chosen.
pub async fn greet_noauth<S>(s: &mut S)
where
    S: AsyncRead + AsyncWrite + Unpin + ?Sized,
{
    s.write_all(&[5, 1, 0]).await.unwrap();
    s.flush().await.unwrap();
    let mut m = [0u8; 2];
    s.read_exact(&mut m).await.unwrap();
    assert_eq!(m, [5, 0], "method reply");
}

/// ATYP, address and port of an IP target.
fn address(target: SocketAddr) -> Vec<u8> {
    let mut v = match target {
        SocketAddr::V4(a) => [&[1][..], &a.ip().octets()].concat(),
        SocketAddr::V6(a) => [&[4][..], &a.ip().octets()].concat(),
    };
    v.extend_from_slice(&target.port().to_be_bytes());
    v
}

/// A request (`cmd` 1 CONNECT, 2 BIND, 3 UDP ASSOCIATE, or any other byte) for an IP target.
pub fn request(cmd: u8, target: SocketAddr) -> Vec<u8> {
    [&[5, cmd, 0][..], &address(target)].concat()
}

/// A UDP relay datagram: RSV, FRAG `frag`, the target, then `payload`.
pub fn udp_datagram(frag: u8, target: SocketAddr, payload: &[u8]) -> Vec<u8> {
    [&[0, 0, frag][..], &address(target), payload].concat()
}

/// Reads one reply exactly (within 10 s); returns REP and the bound address.
pub async fn read_reply<S>(s: &mut S) -> (u8, SocketAddr)
where
    S: AsyncRead + Unpin + ?Sized,
{
    let read = async {
        let mut head = [0u8; 4];
        s.read_exact(&mut head).await.unwrap();
        assert_eq!((head[0], head[2]), (5, 0), "reply version and RSV");
        let addr = match head[3] {
            1 => {
                let mut b = [0u8; 6];
                s.read_exact(&mut b).await.unwrap();
                SocketAddr::from(([b[0], b[1], b[2], b[3]], u16::from_be_bytes([b[4], b[5]])))
            }
            4 => {
                let mut b = [0u8; 18];
                s.read_exact(&mut b).await.unwrap();
                let ip: [u8; 16] = b[..16].try_into().unwrap();
                SocketAddr::from((ip, u16::from_be_bytes([b[16], b[17]])))
            }
            t => panic!("unexpected ATYP {t} in reply"),
        };
        (head[1], addr)
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("a SOCKS5 reply within 10 s")
}

/// Sends `request(cmd, target)` on `s` and reads the reply; returns REP and the bound address.
pub async fn ask<S>(s: &mut S, cmd: u8, target: SocketAddr) -> (u8, SocketAddr)
where
    S: AsyncRead + AsyncWrite + Unpin + ?Sized,
{
    s.write_all(&request(cmd, target)).await.unwrap();
    s.flush().await.unwrap();
    read_reply(s).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_datagrams_carry_the_target() {
        let v4: SocketAddr = "1.2.3.4:80".parse().unwrap();
        assert_eq!(request(1, v4), [5, 1, 0, 1, 1, 2, 3, 4, 0, 80]);
        assert_eq!(
            udp_datagram(0, v4, b"x"),
            [0, 0, 0, 1, 1, 2, 3, 4, 0, 80, b'x']
        );
        let v6: SocketAddr = "[::1]:1".parse().unwrap();
        let r = request(3, v6);
        assert_eq!((r.len(), r[3], r[19], r[21]), (22, 4, 1, 1));
    }

    #[tokio::test]
    async fn a_reply_is_read_whole() {
        let (mut a, mut b) = tokio::io::duplex(64);
        b.write_all(&[5, 0, 0, 1, 127, 0, 0, 1, 1, 2, 0xff])
            .await
            .unwrap();
        assert_eq!(
            read_reply(&mut a).await,
            (0, "127.0.0.1:258".parse().unwrap())
        );
        let mut rest = [0u8; 1];
        a.read_exact(&mut rest).await.unwrap();
        assert_eq!(rest, [0xff]);
    }
}
