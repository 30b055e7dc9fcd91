//! UDP-TUN (GOST 0xF3): UDP datagrams framed over the SOCKS5 connection itself.
//!
//! Frame, both ways: `LEN(2, BE) FRAG=0xFF ATYP ADDR PORT DATA(LEN)`; the address is the destination
//! (client → server) or the source (server → client). DST.PORT = 0 is relay mode (`udp=true`): datagrams go
//! out of a fresh unconnected socket to any target, and, unlike upstream, only answers from targets this
//! client sent to come back (with a chain, they go through a UDP association on its last hop). DST.PORT ≠ 0 is bind mode (`bind=true`, used by `rudp`): the server listens
//! on DST and tunnels datagrams from every peer. A zero-length datagram is never framed (a peer reading
//! LEN = 0 desynchronises); frames always go out whole in one write.

use std::net::SocketAddr;

use gost_transport::Stream;
use socks_wire::{Address, Decode, Decoded, ReplyCode, UdpTunFrame};
use tokio::io::AsyncReadExt;
use tokio::net::UdpSocket;
use tracing::{debug, warn};

use super::bind::{listen_addr, refusal};
use super::peers::{Peers, Targets};
use super::{Socks5Handler, reply};
use crate::conn::send;
use crate::fds::{Claim, Kind};
use crate::outbound::PacketConn;
use crate::relay::Transferred;
use crate::{Conn, Error, Report};

/// Longest frame header the server writes (IPv6 source: 2 + 1 + 1 + 16 + 2).
const HEADER_ROOM: usize = 22;
/// Longest frame a client can send: LEN is 16 bits, the header at most 3 + 1 + 1 + 255 + 2 bytes.
const MAX_FRAME: usize = 3 + 1 + 1 + 255 + 2 + 65535;
/// Longest datagram a target can send; answers are received whole so an oversize one is logged with
/// its real length.
const MAX_DATAGRAM: usize = 65535;

pub(super) async fn serve(
    h: &Socks5Handler,
    mut conn: Stream,
    ctx: &Conn,
    bind: Option<&Address>,
    early: Vec<u8>,
    report: &mut Report,
) -> Result<(), Error> {
    let addr_port = bind.map_or(0, Address::port);
    // Held until the tunnel ends: its UDP socket (and room for the connection's own).
    let Some(_fds) = Claim::take(Kind::Udp) else {
        reply(&mut conn, ReplyCode::GeneralFailure, &Address::UNSPECIFIED).await?;
        return Err(Error::OutOfDescriptors("udp association"));
    };
    let targets = match bind {
        None => h.outbound.udp().await.map_err(Error::from),
        Some(_) if !h.opts.bind_ports.allows(addr_port) => Err(Error::PortNotAllowed(addr_port)),
        Some(addr) => match listen_addr(addr).await {
            Ok(sa) => UdpSocket::bind(sa)
                .await
                .map(PacketConn::direct)
                .map_err(Error::from),
            Err(e) => Err(e.into()),
        },
    };
    let socket = match targets.and_then(|t| Ok(Targets::new(t)?)) {
        Ok(s) => s,
        Err(e) => {
            reply(&mut conn, refusal(&e), &Address::UNSPECIFIED).await?;
            return Err(e);
        }
    };
    // Through a chain the datagrams leave from the last hop: the reply names no local socket.
    let local = socket
        .local_addr()?
        .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
    reply(&mut conn, ReplyCode::Succeeded, &Address::from(local)).await?;
    report.target = Some(match bind {
        None => format!("udp-tun relay {local}"),
        Some(_) => format!("udp-tun bind {local}"),
    });
    let mut tun = Tunnel {
        h,
        ctx,
        socket,
        relay_mode: bind.is_none(),
        peers: Peers::new(h.opts.udp_max_targets),
        transferred: Transferred::default(),
        oversize: Oversize::default(),
    };
    let result = tun.run(&mut conn, early).await;
    report.transferred = tun.transferred;
    ctx.relay_progress(report.transferred, true);
    result
}

/// A read of the client's stream, where the client hanging up between two frames is a normal end (EOF):
/// UDP-TUN has no closing message, and a client that closes without TLS's close_notify, or with a
/// reset, loses nothing a datagram service promises (was: every such session logged as an error).
fn client_read(read: std::io::Result<usize>, buffered: usize) -> std::io::Result<usize> {
    use std::io::ErrorKind::{ConnectionReset, UnexpectedEof};
    match read {
        Err(e) if buffered == 0 && matches!(e.kind(), UnexpectedEof | ConnectionReset) => {
            debug!(error = %e, "udp-tun client hung up between frames");
            Ok(0)
        }
        r => r,
    }
}

struct Tunnel<'h> {
    h: &'h Socks5Handler,
    /// Keeps the running byte counts, so a cut tunnel still reports what it moved.
    ctx: &'h Conn,
    socket: Targets,
    relay_mode: bool,
    /// Relay mode: targets the client sent to (answers from others are dropped).
    peers: Peers,
    transferred: Transferred,
    oversize: Oversize,
}

/// Datagrams dropped for being larger than `udpBufferSize`, per direction (the first of each is logged).
#[derive(Default)]
struct Oversize {
    from_client: u64,
    from_target: u64,
}

impl Oversize {
    /// Counts one datagram of `len` bytes over `max`, logging the first from `from` at WARN.
    fn drop(&mut self, from: &'static str, len: usize, max: usize) {
        let count = match from {
            "client" => &mut self.from_client,
            _ => &mut self.from_target,
        };
        if *count == 0 {
            warn!(
                from,
                len,
                max,
                "udp-tun datagram larger than udpBufferSize; dropped (raise udpBufferSize)"
            );
        }
        *count += 1;
    }
}

enum Event {
    /// This many more bytes arrived on the stream (0 = EOF).
    Stream(usize),
    /// A datagram of this length (stored after the header room) came from this address (`None`: a source
    /// a chain's hop named by domain).
    Datagram(usize, Option<SocketAddr>),
    Idle,
}

impl Tunnel<'_> {
    async fn run(&mut self, conn: &mut Stream, early: Vec<u8>) -> Result<(), Error> {
        let size = self.h.opts.udp_buffer_size.max(1);
        // Room for any datagram, so an oversize one is seen whole (and its length logged), not truncated.
        let mut out = vec![0u8; HEADER_ROOM + MAX_DATAGRAM];
        let mut input = early;
        input.reserve(4096);
        let mut start = 0;
        let idle = self.h.opts.udp_idle_timeout;
        let mut last = tokio::time::Instant::now();
        loop {
            // Decode and forward every whole frame already buffered.
            while let Decoded::Complete(frame, len) = UdpTunFrame::decode(&input[start..])? {
                self.forward_to_peer(&frame, size).await;
                self.ctx.relay_progress(self.transferred, false);
                start += len;
                last = tokio::time::Instant::now();
            }
            input.drain(..start);
            start = 0;
            let event = {
                let room = (input.len() + 4096).min(MAX_FRAME);
                let filled = input.len();
                input.resize(room, 0);
                let ev = tokio::select! {
                    n = conn.read(&mut input[filled..]) => Event::Stream(client_read(n, filled)?),
                    r = self.socket.recv_from(&mut out[HEADER_ROOM..]) => {
                        let (n, from) = r?;
                        Event::Datagram(n, from)
                    }
                    _ = tokio::time::sleep_until(last + idle), if self.relay_mode => Event::Idle,
                };
                let got = if let Event::Stream(n) = ev { n } else { 0 };
                input.truncate(filled + got);
                ev
            };
            match event {
                Event::Stream(0) => return Ok(()),
                Event::Stream(_) => {}
                Event::Datagram(n, from) => {
                    if self
                        .forward_to_client(conn, &mut out, n, from, size)
                        .await?
                    {
                        last = tokio::time::Instant::now();
                        self.ctx.relay_progress(self.transferred, false);
                    }
                }
                Event::Idle => {
                    debug!(?idle, "udp-tun idle; closing");
                    return Ok(());
                }
            }
        }
    }

    /// Sends one client frame's payload to its destination, unless it is larger than `size`.
    async fn forward_to_peer(&mut self, frame: &UdpTunFrame<'_>, size: usize) {
        if frame.payload.len() > size {
            self.oversize.drop("client", frame.payload.len(), size);
            return;
        }
        let Some(target) = self.peers.resolve(&*self.h.outbound, &frame.addr).await else {
            return;
        };
        match self.socket.send_to(frame.payload, target).await {
            Ok(_) => {
                self.transferred.a_to_b += frame.payload.len() as u64;
                if self.relay_mode {
                    self.peers.remember(target);
                }
            }
            Err(e) => debug!(%target, error = %e, "udp-tun send failed"),
        }
    }

    /// Frames one datagram of `n` bytes (at `out[HEADER_ROOM..]`) and writes it to the client in one write.
    async fn forward_to_client(
        &mut self,
        conn: &mut Stream,
        out: &mut [u8],
        n: usize,
        from: Option<SocketAddr>,
        size: usize,
    ) -> Result<bool, Error> {
        let Some(from) = from else {
            return Ok(false);
        };
        if self.relay_mode && !self.peers.answers_from(from) {
            return Ok(false);
        }
        if n == 0 {
            // LEN = 0 would desynchronise the client's reader.
            return Ok(false);
        }
        if n > size {
            self.oversize.drop("target", n, size);
            return Ok(false);
        }
        // The header goes right in front of the datagram, so the frame leaves in one write without a copy.
        let mut header = [0u8; HEADER_ROOM];
        let header_len = UdpTunFrame::new(Address::from(from), &out[HEADER_ROOM..HEADER_ROOM + n])
            .encode_header(&mut &mut header[..])?;
        let start = HEADER_ROOM - header_len;
        out[start..HEADER_ROOM].copy_from_slice(&header[..header_len]);
        send(conn, &out[start..HEADER_ROOM + n]).await?;
        self.transferred.b_to_a += n as u64;
        Ok(true)
    }
}
