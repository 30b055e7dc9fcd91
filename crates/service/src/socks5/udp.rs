//! UDP ASSOCIATE (0x03): a UDP relay socket for one client, alive as long as its TCP control connection.
//!
//! Hardening over upstream GOST: the relay socket sits on the control connection's local IP (as HEAD);
//! it accepts datagrams only from the client's IP and from the port the client named in its request, or
//! the first port seen when it named 0; fragments (FRAG ≠ 0) are dropped; answers are forwarded only from
//! targets this client has sent to (at most `udp_max_targets`, least recently used forgotten first);
//! datagrams too big for `udpBufferSize` are dropped and logged instead of being truncated; and the
//! association ends after `udp_idle_timeout` without traffic. No buffer is allocated per datagram.
//!
//! Datagrams move in batches: one wake-up reads every datagram waiting (up to 32, `recvmmsg`), checks
//! each one, and sends the survivors with one `sendmmsg`, in both directions, a run of equal-size
//! datagrams to one destination as one segmentation-offloaded message (`udp/mmsg.rs`). The relay's
//! sockets ask for 1 MiB receive buffers so bursts queue instead of being dropped while the task waits
//! for a core.
//!
//! A bandwidth `limiter` on the service draws the datagrams, SOCKS header included, from the control
//! connection's buckets (`in` from the client, `out` to it): each waits whole for its tokens before its
//! batch is sent. An unlimited association asks no bucket.
//!
//! With a chain (`-F`), the datagrams go through a UDP association on the chain's last hop and every rule
//! above still holds; an answer's source is the address the hop names in its header. The association
//! ends when the chain's does.

mod mmsg;

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use gost_transport::Stream;
use socks_wire::{Address, Encode, ReplyCode, UdpHeader};
use tokio::io::AsyncReadExt;
use tokio::net::UdpSocket;
use tokio::time::Instant;
use tracing::{debug, warn};

use self::mmsg::{Batch, Outgoing, Received};
use super::peers::{Peers, Targets, canonical, enlarge_receive_buffer, for_socket};
use super::{Socks5Handler, reply};
use crate::fds::{Claim, Kind};
use crate::relay::Transferred;
use crate::{Conn, Error, Report};

/// Room for the longest header the relay writes in front of an answer (IPv6: 3 + 1 + 16 + 2 bytes).
const HEADER_ROOM: usize = 22;
/// Header length the `udpBufferSize` rule assumes (IPv4), as upstream documents it.
const V4_HEADER: usize = 10;

pub(super) async fn serve(
    h: &Socks5Handler,
    mut conn: Stream,
    ctx: &Conn,
    requested: &Address,
    report: &mut Report,
) -> Result<(), Error> {
    let client_ip = conn.peer_addr().unwrap_or(ctx.client()).ip().to_canonical();
    let local_ip = conn
        .local_addr()
        .map_or_else(|| unspecified_like(client_ip), |a| a.ip().to_canonical());
    // Held until the association ends: its relay socket and its outbound socket.
    let Some(_fds) = Claim::take(Kind::Udp) else {
        reply(&mut conn, ReplyCode::GeneralFailure, &Address::UNSPECIFIED).await?;
        return Err(Error::OutOfDescriptors("udp association"));
    };
    let relay = match UdpSocket::bind(SocketAddr::new(local_ip, 0)).await {
        Ok(s) => {
            enlarge_receive_buffer(&s);
            s
        }
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
        ctx,
        relay,
        out,
        client_ip,
        client_port: (named_port != 0).then_some(named_port),
        peers: Peers::new(h.opts.udp_max_targets),
        counts: Counts::default(),
    };
    let result = assoc.run(&mut conn).await;
    report.transferred = assoc.counts.transferred;
    ctx.relay_progress(report.transferred, true);
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
    /// Keeps the running byte counts, so a cut association still reports what it moved.
    ctx: &'h Conn,
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

/// What woke the association up on the targets' side.
enum Answer {
    /// The local socket has datagrams waiting.
    Ready,
    /// One answer through a chain, in slot 0 after the header room: its length and source.
    One(usize, Option<SocketAddr>),
}

/// Waits for answers: the local socket's readiness, or one datagram from the chain into `batch`.
async fn next_answer(out: &Targets, batch: &mut Batch) -> io::Result<Answer> {
    match out {
        Targets::Socket { socket, .. } => socket.readable().await.map(|()| Answer::Ready),
        Targets::Chain(conn) => {
            let (n, from) = conn
                .recv_from(&mut batch.slot_mut(0)[HEADER_ROOM..])
                .await
                .map_err(io::Error::from)?;
            Ok(Answer::One(n, from.to_socket_addr().map(canonical)))
        }
    }
}

impl Association<'_> {
    async fn run(&mut self, control: &mut Stream) -> Result<(), Error> {
        let size = self.h.opts.udp_buffer_size.max(V4_HEADER + 1);
        let max_answer = size - V4_HEADER;
        // Slots one byte larger than allowed, so an oversize datagram is seen as such, not truncated.
        let mut from_client = Batch::new(size + 1);
        let mut to_client = Batch::new(HEADER_ROOM + max_answer + 1);
        let mut ctl = [0u8; 256];
        let idle = self.h.opts.udp_idle_timeout;
        let mut last = Instant::now();
        // One timer, re-armed when it fires rather than at every datagram.
        let expiry = tokio::time::sleep_until(last + idle);
        tokio::pin!(expiry);
        loop {
            tokio::select! {
                n = control.read(&mut ctl) => match n {
                    // The association ends with its control connection; bytes on it mean nothing.
                    Ok(0) | Err(_) => return Ok(()),
                    Ok(_) => {}
                },
                r = self.relay.readable() => {
                    r?;
                    if self.relay_client_batch(&mut from_client, size).await? {
                        last = Instant::now();
                        self.ctx.relay_progress(self.counts.transferred, false);
                    }
                }
                r = next_answer(&self.out, &mut to_client) => {
                    // Through a chain, an error means the hop ended the association: so does this one.
                    if self.relay_answers(&mut to_client, r?, max_answer).await? {
                        last = Instant::now();
                        self.ctx.relay_progress(self.counts.transferred, false);
                    }
                }
                () = &mut expiry => {
                    if Instant::now() >= last + idle {
                        debug!(?idle, "udp association idle; closing");
                        return Ok(());
                    }
                    expiry.as_mut().reset(last + idle);
                }
            }
        }
    }

    /// Relays the client datagrams waiting on the relay socket (one batch) to their targets; returns
    /// whether any was relayed.
    async fn relay_client_batch(&mut self, batch: &mut Batch, size: usize) -> Result<bool, Error> {
        let n = match batch.recv(&self.relay, 0) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) => return Err(e.into()),
        };
        batch.outgoing.clear();
        let slot = batch.slot_len();
        for i in 0..n {
            let Received { len, from } = batch.received[i];
            let datagram = &batch.slot_mut(i)[..len];
            if let Some((offset, to)) = self.check_from_client(datagram, from, size).await {
                // The whole datagram is what the client sent to the service.
                if let Some(t) = self.ctx.throttle() {
                    t.input.datagram(len).await;
                }
                batch.outgoing.push(Outgoing {
                    start: i * slot + offset,
                    end: i * slot + len,
                    to,
                });
            }
        }
        if batch.outgoing.is_empty() {
            return Ok(false);
        }
        let mut refused = 0;
        match &self.out {
            Targets::Socket { socket, v6 } => {
                for o in &mut batch.outgoing {
                    o.to = for_socket(o.to, *v6);
                }
                batch
                    .send_all(socket, |o, e| {
                        debug!(target = %o.to, error = %e, "udp send to target failed");
                        refused += o.end - o.start;
                    })
                    .await?;
            }
            Targets::Chain(conn) => {
                for o in &batch.outgoing {
                    if let Err(e) = conn.send_to(batch.bytes(o), &Address::Ip(o.to)).await {
                        debug!(target = %o.to, error = %e, "udp send through the chain failed");
                        refused += o.end - o.start;
                    }
                }
            }
        }
        let sent: usize = batch.outgoing.iter().map(|o| o.end - o.start).sum();
        self.counts.transferred.a_to_b += (sent - refused) as u64;
        Ok(true)
    }

    /// Checks one client datagram; returns where its payload starts and its target, which is then
    /// remembered as one whose answers may come back.
    async fn check_from_client(
        &mut self,
        datagram: &[u8],
        src: Option<SocketAddr>,
        size: usize,
    ) -> Option<(usize, SocketAddr)> {
        let src = src.map(canonical);
        let Some(src) = src
            .filter(|s| s.ip() == self.client_ip && self.client_port.is_none_or(|p| p == s.port()))
        else {
            self.counts.foreign += 1;
            return None;
        };
        self.client_port = Some(src.port());
        if datagram.len() > size {
            self.oversize("client", datagram.len(), size);
            return None;
        }
        let Ok((header, payload)) = UdpHeader::split_datagram(datagram) else {
            self.counts.bad += 1;
            return None;
        };
        if header.frag != 0 {
            self.counts.fragments += 1;
            return None;
        }
        let Some(target) = self.peers.resolve(&*self.h.outbound, &header.addr).await else {
            self.counts.bad += 1;
            return None;
        };
        self.peers.remember(target);
        Some((datagram.len() - payload.len(), target))
    }

    /// Wraps the answers that woke the association up in a header each and sends them to the client;
    /// returns whether any was relayed.
    async fn relay_answers(
        &mut self,
        batch: &mut Batch,
        answer: Answer,
        max: usize,
    ) -> Result<bool, Error> {
        let n = match (answer, &self.out) {
            (Answer::One(len, from), _) => {
                batch.received.clear();
                batch.received.push(Received { len, from });
                1
            }
            (Answer::Ready, Targets::Socket { socket, .. }) => {
                match batch.recv(socket, HEADER_ROOM) {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                    Err(e) => return Err(e.into()),
                }
            }
            (Answer::Ready, Targets::Chain(_)) => return Ok(false),
        };
        batch.outgoing.clear();
        let slot = batch.slot_len();
        let mut bytes = 0;
        for i in 0..n {
            let Received { len, from } = batch.received[i];
            let Some(src) = from.map(canonical).filter(|s| self.peers.answers_from(*s)) else {
                self.counts.unsolicited += 1;
                continue;
            };
            if len > max {
                self.oversize("target", len, max);
                continue;
            }
            let Some(client_port) = self.client_port else {
                continue;
            };
            let header = UdpHeader::new(Address::from(src));
            let start = HEADER_ROOM - header.encoded_len();
            if header
                .encode(&mut &mut batch.slot_mut(i)[start..HEADER_ROOM])
                .is_err()
            {
                continue;
            }
            if let Some(t) = self.ctx.throttle() {
                t.output.datagram(HEADER_ROOM - start + len).await;
            }
            batch.outgoing.push(Outgoing {
                start: i * slot + start,
                end: i * slot + HEADER_ROOM + len,
                to: SocketAddr::new(self.client_ip, client_port),
            });
            bytes += len;
        }
        if batch.outgoing.is_empty() {
            return Ok(false);
        }
        batch
            .send_all(&self.relay, |o, e| {
                debug!(client = %o.to, error = %e, "udp send to client failed");
                // The datagram is its header (up to HEADER_ROOM in its slot) and the answer.
                bytes -= o.end - (o.start - o.start % slot + HEADER_ROOM);
            })
            .await?;
        self.counts.transferred.b_to_a += bytes as u64;
        Ok(true)
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
