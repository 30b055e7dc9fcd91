//! The SOCKS4/4A server handler: CONNECT (4A names resolved here), BIND, userid authentication, 8-byte
//! replies.
//!
//! Differences from upstream GOST (`handler/socks/v4`), which has no BIND: BIND works when `bind` is
//! set, as in the SOCKS4 protocol and dante/3proxy (two 0x5A replies: the address listened on, then the
//! peer that connected; DSTIP names the expected peer, see [`crate::rendezvous`]); a disabled BIND and
//! unknown commands get reply 0x5B instead of a silent close, so clients learn why. Everything else
//! matches (userid checked against the users that have an empty password, 0x5D on failure, 0x5B when
//! the target cannot be reached).

use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;

use gost_transport::Stream;
use socks_wire::{
    Address, Decode, Decoded, Encode, Socks4Command, Socks4Reply, Socks4ReplyCode, Socks4Request,
    Socks4Target,
};

use crate::auth::{AuthMethod, AuthRequest, Authenticator, Users};
use crate::conn::send;
use crate::observe::Conn;
use crate::outbound::Outbound;
use crate::policy::{Policy, socks_handler};
use crate::relay::hand_off;
use crate::rendezvous::{self, BindPorts, Plan, wait_peer};
use crate::{Error, Report};

/// Settings of a SOCKS4/4A handler.
#[derive(Debug, Clone)]
pub struct Socks4Options {
    /// Accepted userids (users configured with an empty password); empty = no authentication.
    pub users: Users,
    /// Deadline for the request (upstream `readTimeout`). Default
    /// [`gost_chain::DEFAULT_HANDSHAKE_TIMEOUT`], 15 s.
    pub handshake_timeout: Duration,
    /// Enables BIND (`bind`). Default off (upstream has no SOCKS4 BIND).
    pub bind: bool,
    /// How long a BIND waits for its peer. Default 120 s.
    pub bind_accept_timeout: Duration,
    /// Ports BIND may open (`bindPorts`). Default any.
    pub bind_ports: BindPorts,
}

impl Default for Socks4Options {
    fn default() -> Self {
        Socks4Options {
            users: Users::default(),
            handshake_timeout: gost_chain::DEFAULT_HANDSHAKE_TIMEOUT,
            bind: false,
            bind_accept_timeout: rendezvous::DEFAULT_ACCEPT_TIMEOUT,
            bind_ports: BindPorts::any(),
        }
    }
}

/// Serves SOCKS4 and SOCKS4A clients.
pub struct Socks4Handler {
    opts: Socks4Options,
    outbound: Arc<dyn Outbound>,
    policy: Policy,
}

impl Socks4Handler {
    /// Whether the userid is accepted (always, when no authenticator is set).
    async fn authenticate(&self, user_id: &[u8], ctx: &Conn) -> bool {
        let Some(auth) = &self.policy.auth else {
            return true;
        };
        let req = AuthRequest {
            method: AuthMethod::Socks4UserId,
            user: user_id,
            password: b"",
            client: ctx.client(),
            tls: false,
        };
        let ok = auth.authenticate(&req).await;
        ctx.authenticated(&String::from_utf8_lossy(user_id), ok);
        ok
    }

    async fn read_request(&self, conn: &mut Stream) -> Result<(Socks4Request, Vec<u8>), Error> {
        let mut input = Vec::with_capacity(64);
        loop {
            match Socks4Request::decode(&input).map_err(Error::Decode)? {
                Decoded::Complete(req, len) => {
                    input.drain(..len);
                    return Ok((req, input));
                }
                Decoded::NeedMore(_) => conn.read_more(&mut input, &"client").await?,
            }
        }
    }

    async fn serve(&self, mut conn: Stream, ctx: &Conn, report: &mut Report) -> Result<(), Error> {
        let timeout = self.opts.handshake_timeout;
        let (req, early) = tokio::time::timeout(timeout, self.read_request(&mut conn))
            .await
            .map_err(|_| Error::HandshakeTimeout(timeout))??;
        let target = match &req.target {
            Socks4Target::Ip(ip) => Address::Ip(SocketAddr::new((*ip).into(), req.port)),
            Socks4Target::Domain(d) => Address::Domain(d.clone(), req.port),
        };
        let cmd = match req.command {
            Socks4Command::Connect => "connect",
            Socks4Command::Bind => "bind",
            Socks4Command::Other(_) => "unknown",
        };
        report.target = Some(format!("socks4 {cmd} {target}"));
        let authenticated = tokio::time::timeout(timeout, self.authenticate(&req.user_id, ctx))
            .await
            .map_err(|_| Error::HandshakeTimeout(timeout))?;
        if !authenticated {
            reply(&mut conn, Socks4ReplyCode::IdentdMismatch).await?;
            return Err(Error::AuthFailed(
                String::from_utf8_lossy(&req.user_id).into_owned(),
            ));
        }
        ctx.target(cmd, &target);
        match req.command {
            Socks4Command::Connect => {}
            Socks4Command::Bind if self.opts.bind => {
                return Box::pin(self.bind(conn, &target, early, report)).await;
            }
            Socks4Command::Bind => {
                reply(&mut conn, Socks4ReplyCode::Rejected).await?;
                return Err(Error::Disabled("SOCKS4 BIND"));
            }
            Socks4Command::Other(c) => {
                reply(&mut conn, Socks4ReplyCode::Rejected).await?;
                return Err(Error::UnsupportedCommand(c));
            }
        }
        let outbound = match self
            .policy
            .connect_outbound(&self.outbound, &target, ctx, timeout)
            .await?
        {
            Ok(o) => o,
            Err(refusal) => {
                reply(&mut conn, Socks4ReplyCode::Rejected).await?;
                return Err(refusal.error);
            }
        };
        let upstream = match outbound.connect(&target).await {
            Ok(s) => s,
            Err(e) => {
                reply(&mut conn, e.socks4_code()).await?;
                return Err(Error::Dial(e));
            }
        };
        reply(&mut conn, Socks4ReplyCode::Granted).await?;
        hand_off(conn, upstream, &early, report).await
    }
}

impl Socks4Handler {
    /// BIND: listen, reply 0x5A with the address listened on, wait for the expected peer, reply 0x5A
    /// with the peer's address, relay. Every failure is 0x5B (SOCKS4 has no finer code).
    async fn bind(
        &self,
        mut conn: Stream,
        target: &Address,
        mut early: Vec<u8>,
        report: &mut Report,
    ) -> Result<(), Error> {
        let control = conn.local_addr();
        let listener = match Plan::of(target).await {
            Ok(plan) => plan
                .listen(control, &self.opts.bind_ports)
                .map(|l| (plan, l)),
            Err(e) => Err(e.into()),
        };
        let (plan, listener) = match listener {
            Ok(l) => l,
            Err(e) => {
                reply(&mut conn, Socks4ReplyCode::Rejected).await?;
                return Err(e);
            }
        };
        let bound = listener.local_addr()?;
        // The wildcard is not reachable: name the control connection's local IP, as SOCKS5 BIND does.
        let listening = match (bound.ip().is_unspecified(), control) {
            (true, Some(local)) => SocketAddr::new(local.ip(), bound.port()),
            _ => bound,
        };
        reply_with(&mut conn, Socks4ReplyCode::Granted, v4(listening)).await?;
        let timeout = self.opts.bind_accept_timeout;
        let (peer, from) = match wait_peer(listener, &plan, &mut conn, &mut early, timeout).await? {
            Ok(found) => found,
            Err(e) => {
                reply(&mut conn, Socks4ReplyCode::Rejected).await?;
                return Err(e);
            }
        };
        report.target = Some(format!("socks4 bind {bound} peer {from}"));
        reply_with(&mut conn, Socks4ReplyCode::Granted, v4(from)).await?;
        hand_off(conn, Stream::from_tcp(peer), &early, report).await
    }
}

/// An address as a SOCKS4 reply carries it: IPv4 (an IPv4-mapped address as IPv4); 0.0.0.0 for IPv6,
/// which by the protocol tells the client to use the server's address.
fn v4(addr: SocketAddr) -> SocketAddrV4 {
    let ip = match addr.ip().to_canonical() {
        IpAddr::V4(ip) => ip,
        IpAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
    };
    SocketAddrV4::new(ip, addr.port())
}

/// Sends the 8-byte reply `00 CD 0000 00000000` in its own write.
async fn reply(conn: &mut Stream, code: Socks4ReplyCode) -> Result<(), Error> {
    reply_with(conn, code, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)).await
}

/// Sends the 8-byte reply `00 CD port ip` in its own write.
async fn reply_with(
    conn: &mut Stream,
    code: Socks4ReplyCode,
    addr: SocketAddrV4,
) -> Result<(), Error> {
    let mut out = [0u8; 8];
    let r = Socks4Reply { code, addr };
    r.encode(&mut &mut out[..])?;
    Ok(send(conn, &out).await?)
}

socks_handler!(
    Socks4Handler(Socks4Options),
    with_authenticator(auth: Authenticator) "Checks every userid with `auth` (method [`AuthMethod::Socks4UserId`], empty password) instead of\n[`Socks4Options::users`].",
    with_bypass(bypass: TargetFilter) "Refuses CONNECT targets `bypass` does not allow (reply 0x5B), before routing and without dialling.",
    with_routing(routing: Routing) "Lets `routing` pick the outbound of each CONNECT, or refuse it (reply 0x5B).",
);
