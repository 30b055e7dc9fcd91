//! [`PacketConn`]: one datagram socket interface over the three ways a UDP association can be carried —
//! a local UDP socket (no chain), a SOCKS5 UDP ASSOCIATE relay (`relay=udp`), or GOST's UDP-TUN frames
//! over the proxy connection (CMD 0xF3).

use std::io;
use std::net::SocketAddr;

use bytes::{Buf, BytesMut};
use gost_transport::Stream;
use socks_wire::{Address, Decode, Decoded, Encode, UdpHeader, UdpTunFrame};
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::UdpSocket;
use tokio::sync::Mutex;

use crate::Error;
use crate::addr::resolve_address;

/// Largest UDP-TUN payload (the frame's 16-bit length field).
pub const MAX_TUN_PAYLOAD: usize = 65535;

/// Sends datagrams to, and receives them from, any address. Both methods take `&self`, so one task
/// can send while another receives (share it in an `Arc`).
#[derive(Debug)]
pub struct PacketConn {
    kind: Kind,
    bound: Option<Address>,
}

#[derive(Debug)]
enum Kind {
    Direct(UdpSocket),
    Relay {
        socket: UdpSocket,
        /// The TCP control connection (the association lives as long as it) and the receive buffer.
        recv: Mutex<(Stream, Vec<u8>)>,
        /// Where outgoing datagrams get their header, reused so sending allocates nothing.
        send: Mutex<Vec<u8>>,
    },
    Tun {
        reader: Mutex<(ReadHalf<Stream>, BytesMut)>,
        /// The write half and the buffer each frame is encoded into (reused, so sending allocates nothing).
        writer: Mutex<(WriteHalf<Stream>, Vec<u8>)>,
    },
}

impl PacketConn {
    /// A local UDP socket: datagrams go straight to their targets.
    pub fn direct(socket: UdpSocket) -> PacketConn {
        PacketConn {
            kind: Kind::Direct(socket),
            bound: None,
        }
    }

    /// A SOCKS5 UDP ASSOCIATE relay: `socket` is connected to the server's relay address, `control` is
    /// the TCP connection that keeps the association alive, `buffer_size` bounds a received datagram.
    pub(crate) fn relay(socket: UdpSocket, control: Stream, buffer_size: usize) -> PacketConn {
        PacketConn {
            kind: Kind::Relay {
                socket,
                recv: Mutex::new((control, vec![0; buffer_size.max(16)])),
                send: Mutex::new(Vec::new()),
            },
            bound: None,
        }
    }

    /// UDP-TUN frames over `stream` (after a successful CMD 0xF3 reply); `bound` is the server's
    /// listening address in bind mode.
    pub(crate) fn tun(stream: Stream, bound: Option<Address>) -> PacketConn {
        let (r, w) = tokio::io::split(stream);
        PacketConn {
            kind: Kind::Tun {
                reader: Mutex::new((r, BytesMut::with_capacity(16 * 1024))),
                writer: Mutex::new((w, Vec::new())),
            },
            bound,
        }
    }

    /// The local socket of a [`PacketConn::direct`], for hot paths that drive it themselves (e.g. with
    /// batched system calls); a connection through a proxy is handed back unchanged.
    pub fn into_udp_socket(self) -> Result<UdpSocket, Box<PacketConn>> {
        match self.kind {
            Kind::Direct(socket) => Ok(socket),
            kind => Err(Box::new(PacketConn {
                kind,
                bound: self.bound,
            })),
        }
    }

    /// In UDP-TUN bind mode (`rudp`): the address the server listens on for peers.
    pub fn bound(&self) -> Option<&Address> {
        self.bound.as_ref()
    }

    /// Sends `payload` to `to`. A domain target is resolved on this host first and the datagram carries
    /// the IP address, as upstream's client does.
    ///
    /// An empty payload is not sent (a zero-length UDP-TUN frame would desynchronise upstream servers).
    pub async fn send_to(&self, payload: &[u8], to: &Address) -> Result<(), Error> {
        match &self.kind {
            Kind::Direct(socket) => {
                let to = resolve_address(to).await?;
                socket.send_to(payload, to).await?;
            }
            Kind::Relay { socket, send, .. } => {
                let to = Address::Ip(resolve_address(to).await?);
                let mut datagram = send.lock().await;
                datagram.clear();
                UdpHeader::new(to)
                    .encode(&mut *datagram)
                    .map_err(io::Error::other)?;
                datagram.extend_from_slice(payload);
                socket.send(&datagram).await?;
            }
            Kind::Tun { writer, .. } => {
                if payload.is_empty() {
                    return Ok(());
                }
                if payload.len() > MAX_TUN_PAYLOAD {
                    return Err(Error::Io(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("a UDP-TUN datagram carries at most {MAX_TUN_PAYLOAD} bytes"),
                    )));
                }
                let to = Address::Ip(resolve_address(to).await?);
                let mut guard = writer.lock().await;
                let (w, wire) = &mut *guard;
                wire.clear();
                UdpTunFrame::new(to, payload)
                    .encode(&mut *wire)
                    .map_err(io::Error::other)?;
                w.write_all(wire).await?;
                w.flush().await?;
            }
        }
        Ok(())
    }

    /// Receives one datagram into `buf` (truncated to its length) and returns its length and source.
    ///
    /// Fails when the association ends (the control connection or the tunnel closed).
    pub async fn recv_from(&self, buf: &mut [u8]) -> Result<(usize, Address), Error> {
        match &self.kind {
            Kind::Direct(socket) => {
                let (n, from) = socket.recv_from(buf).await?;
                Ok((n, Address::Ip(canonical(from))))
            }
            Kind::Relay { socket, recv, .. } => {
                let mut guard = recv.lock().await;
                let (control, data) = &mut *guard;
                loop {
                    let mut probe = [0u8; 64];
                    let n = tokio::select! {
                        r = socket.recv(data) => r?,
                        r = control.read(&mut probe) => {
                            return Err(match r {
                                Ok(0) => closed("the SOCKS5 server closed the UDP association's control connection"),
                                Ok(_) => closed("the SOCKS5 server sent data on the UDP association's control connection"),
                                Err(e) => e,
                            }.into());
                        }
                    };
                    // Datagrams that are not relay replies (RSV != 0, short) are dropped, as a relay would.
                    let Ok((header, payload)) = UdpHeader::split_datagram(&data[..n]) else {
                        continue;
                    };
                    let len = payload.len().min(buf.len());
                    buf[..len].copy_from_slice(&payload[..len]);
                    return Ok((len, header.addr));
                }
            }
            Kind::Tun { reader, .. } => {
                let mut guard = reader.lock().await;
                let (half, pending) = &mut *guard;
                loop {
                    let decoded = UdpTunFrame::decode(pending).map_err(io::Error::other)?;
                    match decoded {
                        Decoded::Complete(frame, used) => {
                            let len = frame.payload.len().min(buf.len());
                            buf[..len].copy_from_slice(&frame.payload[..len]);
                            let from = frame.addr;
                            pending.advance(used);
                            return Ok((len, from));
                        }
                        Decoded::NeedMore(n) => {
                            pending.reserve(n.max(4096));
                            if half.read_buf(pending).await? == 0 {
                                return Err(
                                    closed("the SOCKS5 server closed the UDP tunnel").into()
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}

fn closed(why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, why.to_owned())
}

/// `::ffff:a.b.c.d` as `a.b.c.d` (what a dual-stack socket reports for IPv4 peers).
fn canonical(sa: SocketAddr) -> SocketAddr {
    match sa {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(v4.into(), v6.port()),
            None => sa,
        },
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tun_frames_round_trip_across_split_reads() {
        let (a, mut b) = tokio::io::duplex(1 << 20);
        let conn = PacketConn::tun(Stream::new(a, None, None), None);
        let to: Address = "127.0.0.1:32002".parse().unwrap();
        conn.send_to(b"ping!", &to).await.unwrap();
        conn.send_to(b"", &to).await.unwrap();
        let mut wire = [0u8; 15];
        b.read_exact(&mut wire).await.unwrap();
        assert_eq!(hex(&wire), "0005ff017f0000017d0270696e6721");
        // The reply arrives one byte at a time.
        let big = vec![7u8; 65535];
        let mut frame = Vec::new();
        UdpTunFrame::new(to.clone(), &big)
            .encode(&mut frame)
            .unwrap();
        let writer = tokio::spawn(async move {
            for chunk in frame.chunks(1000) {
                b.write_all(chunk).await.unwrap();
            }
            b
        });
        let mut buf = vec![0u8; 70000];
        let (n, from) = conn.recv_from(&mut buf).await.unwrap();
        assert_eq!((n, from), (65535, to));
        assert!(buf[..n].iter().all(|&x| x == 7));
        drop(writer.await.unwrap());
        assert!(conn.recv_from(&mut buf).await.is_err());
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }
}
