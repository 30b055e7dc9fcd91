//! UDP ASSOCIATE (0x03): a UDP relay socket for one client, alive as long as its TCP control connection.
//!
//! Hardening over upstream GOST: the relay socket sits on the control connection's local IP (as HEAD);
//! it accepts datagrams only from the client's IP and from the port the client named in its request, or
//! the first port seen when it named 0; fragments (FRAG ≠ 0) are dropped; answers are forwarded only from
//! targets this client has sent to (at most `udp_max_targets`, least recently used forgotten first);
//! datagrams too big for `udpBufferSize` are dropped and logged instead of being truncated; and the
//! association ends after `udp_idle_timeout` without traffic. No buffer is allocated per datagram.
//!
//! With a chain (`-F`), the datagrams go through a UDP association on the chain's last hop and every rule
//! above still holds; an answer's source is the address the hop names in its header. The association
//! ends when the chain's does.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use gost_transport::Stream;
use socks_wire::{Address, Encode, ReplyCode, UdpHeader};
use tokio::io::AsyncReadExt;
use tokio::net::UdpSocket;
use tracing::{debug, warn};

use super::peers::{Peers, Targets, canonical};
use super::{Socks5Handler, reply};
use crate::relay::Transferred;
use crate::{Error, Report};

/// Room for the longest header the relay writes in front of an answer (IPv6: 3 + 1 + 16 + 2 bytes).
const HEADER_ROOM: usize = 22;
/// Header length the `udpBufferSize` rule assumes (IPv4), as upstream documents it.
const V4_HEADER: usize = 10;

pub(super) async fn serve(
    h: &Socks5Handler,
    mut conn: Stream,
    client: SocketAddr,
    requested: &Address,
    report: &mut Report,
) -> Result<(), Error> {
    let client_ip = conn.peer_addr().unwrap_or(client).ip().to_canonical();
    let local_ip = conn
        .local_addr()
        .map_or_else(|| unspecified_like(client_ip), |a| a.ip().to_canonical());
    let relay = match UdpSocket::bind(SocketAddr::new(local_ip, 0)).await {
        Ok(s) => s,
        Err(e) => {
            reply(&mut conn, ReplyCode::GeneralFailure, &Address::UNSPECIFIED).await?;
            return Err(e.into());
        }
    };
    let out = match h.outbound.udp().await.map(Targets::new) {
        Ok(Ok(t)) => t,
        Ok(Err(e)) => {
            reply(&mut conn, ReplyCode::GeneralFailure, &Address::UNSPECIFIED).await?;
            return Err(e.into());
        }
        Err(e) => {
            reply(&mut conn, e.socks5_code(), &Address::UNSPECIFIED).await?;
            return Err(e.into());
        }
    };
    let relay_addr = relay.local_addr()?;
    let announced = h.announce(&conn, relay_addr, true);
    reply(&mut conn, ReplyCode::Succeeded, &announced).await?;
    report.target = Some(format!("udp-associate relay {relay_addr}"));

    // The client may name the port it will send from; its IP is always the control connection's.
    let named_port = requested.port();
    let mut assoc = Association {
        h,
        relay,
        out,
        client_ip,
        client_port: (named_port != 0).then_some(named_port),
        peers: Peers::new(h.opts.udp_max_targets),
        counts: Counts::default(),
    };
    let result = assoc.run(&mut conn).await;
    report.transferred = assoc.counts.transferred;
    let c = &assoc.counts;
    if c.foreign + c.fragments + c.oversize + c.unsolicited + c.bad > 0 {
        debug!(
            foreign = c.foreign,
            fragments = c.fragments,
            oversize = c.oversize,
            unsolicited = c.unsolicited,
            malformed = c.bad,
            "udp association dropped datagrams"
        );
    }
    result
}

fn unspecified_like(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        IpAddr::V6(_) => std::net::Ipv6Addr::UNSPECIFIED.into(),
    }
}

#[derive(Default)]
struct Counts {
    transferred: Transferred,
    foreign: u64,
    fragments: u64,
    oversize: u64,
    unsolicited: u64,
    bad: u64,
}

struct Association<'h> {
    h: &'h Socks5Handler,
    /// Faces the client.
    relay: UdpSocket,
    /// Faces the targets.
    out: Targets,
    client_ip: IpAddr,
    /// The client's UDP port: named in the request, or locked to the first one seen.
    client_port: Option<u16>,
    peers: Peers,
    counts: Counts,
}

impl Association<'_> {
    async fn run(&mut self, control: &mut Stream) -> Result<(), Error> {
        let size = self.h.opts.udp_buffer_size.max(V4_HEADER + 1);
        // One byte more than allowed, so an oversize datagram is seen as such instead of truncated.
        let mut from_client = vec![0u8; size + 1];
        let max_answer = size - V4_HEADER;
        let mut to_client = vec![0u8; HEADER_ROOM + max_answer + 1];
        let mut ctl = [0u8; 256];
        let idle = self.h.opts.udp_idle_timeout;
        let mut last = tokio::time::Instant::now();
        loop {
            tokio::select! {
                n = control.read(&mut ctl) => match n {
                    // The association ends with its control connection; bytes on it mean nothing.
                    Ok(0) | Err(_) => return Ok(()),
                    Ok(_) => {}
                },
                r = self.relay.recv_from(&mut from_client) => {
                    let (n, src) = r?;
                    if self.forward_to_target(&from_client[..n], src, size).await {
                        last = tokio::time::Instant::now();
                    }
                }
                r = self.out.recv_from(&mut to_client[HEADER_ROOM..]) => {
                    // Through a chain, an error means the hop ended the association: so does this one.
                    let (n, src) = r?;
                    if self.forward_to_client(&mut to_client, n, src, max_answer).await {
                        last = tokio::time::Instant::now();
                    }
                }
                _ = tokio::time::sleep_until(last + idle) => {
                    debug!(?idle, "udp association idle; closing");
                    return Ok(());
                }
            }
        }
    }

    /// Forwards one client datagram; returns whether it was relayed.
    async fn forward_to_target(&mut self, datagram: &[u8], src: SocketAddr, size: usize) -> bool {
        let src = canonical(src);
        if src.ip() != self.client_ip || self.client_port.is_some_and(|p| p != src.port()) {
            self.counts.foreign += 1;
            return false;
        }
        self.client_port = Some(src.port());
        if datagram.len() > size {
            self.oversize("client", datagram.len(), size);
            return false;
        }
        let (header, payload) = match UdpHeader::split_datagram(datagram) {
            Ok(x) => x,
            Err(_) => {
                self.counts.bad += 1;
                return false;
            }
        };
        if header.frag != 0 {
            self.counts.fragments += 1;
            return false;
        }
        let Some(target) = self.peers.resolve(&*self.h.outbound, &header.addr).await else {
            self.counts.bad += 1;
            return false;
        };
        match self.out.send_to(payload, target).await {
            Ok(_) => {
                self.peers.remember(target);
                self.counts.transferred.a_to_b += payload.len() as u64;
                true
            }
            Err(e) => {
                debug!(%target, error = %e, "udp send to target failed");
                false
            }
        }
    }

    /// Wraps one answer of `n` bytes (stored at `buf[HEADER_ROOM..]`) in a header and sends it to the client.
    async fn forward_to_client(
        &mut self,
        buf: &mut [u8],
        n: usize,
        src: Option<SocketAddr>,
        max: usize,
    ) -> bool {
        let Some(src) = src.filter(|s| self.peers.answers_from(*s)) else {
            self.counts.unsolicited += 1;
            return false;
        };
        if n > max {
            self.oversize("target", n, max);
            return false;
        }
        let Some(client_port) = self.client_port else {
            return false;
        };
        let header = UdpHeader::new(Address::from(src));
        let start = HEADER_ROOM - header.encoded_len();
        if header.encode(&mut &mut buf[start..HEADER_ROOM]).is_err() {
            return false;
        }
        let client = SocketAddr::new(self.client_ip, client_port);
        match self
            .relay
            .send_to(&buf[start..HEADER_ROOM + n], client)
            .await
        {
            Ok(_) => {
                self.counts.transferred.b_to_a += n as u64;
                true
            }
            Err(e) => {
                debug!(%client, error = %e, "udp send to client failed");
                false
            }
        }
    }

    fn oversize(&mut self, from: &str, len: usize, max: usize) {
        if self.counts.oversize == 0 {
            warn!(
                from,
                len,
                max,
                "udp datagram larger than udpBufferSize allows; dropped (raise udpBufferSize)"
            );
        }
        self.counts.oversize += 1;
    }
}
