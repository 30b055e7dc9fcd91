//! The SOCKS5 server handler: method negotiation (0x00, 0x02, GOST's in-band TLS 0x80/0x82), then one
//! command per connection.
//!
//! Commands: CONNECT, BIND (`bind`), UDP ASSOCIATE (`udp`), GOST's MBIND 0xF2 (`bind`) and UDP-TUN 0xF3
//! (`udp` for relay mode, `bind` for bind mode). A disabled command gets reply 0x02 and an unknown one
//! 0x07, as upstream. Every reply goes out in its own write.

mod bind;
mod connect;
mod mbind;
mod peers;
mod udp;
mod udp_tun;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use gost_transport::Stream;
use gost_transport::tls::ServerTls;
use socks_wire::{
    Address, Command, Encode, Reply, ReplyCode, Request, ServerConfig, ServerEvent, ServerHandshake,
};
use tokio::io::AsyncWrite;

use crate::auth::{AuthMethod, AuthRequest, Authenticator, Users};
use crate::conn::send;
use crate::observe::Conn;
use crate::outbound::Outbound;
use crate::policy::{Policy, socks_handler};
use crate::rendezvous::{self, BindPorts};
use crate::{Error, Report};

/// Settings of a SOCKS5 handler. `Default` is upstream's default except TLS (see [`Socks5Options::tls`]).
#[derive(Clone)]
pub struct Socks5Options {
    /// Accepted users (`auth`/`auths`); empty = no authentication.
    pub users: Users,
    /// TLS for methods 0x80/0x82. `None` never selects them (upstream `notls=true`). Upstream offers TLS by
    /// default with a generated certificate: set `Some(ServerTls::self_signed()?)` for that.
    pub tls: Option<ServerTls>,
    /// Enables BIND, MBIND and UDP-TUN bind mode (`bind`). Default off.
    pub bind: bool,
    /// Enables UDP ASSOCIATE and UDP-TUN relay mode (`udp`). Default off.
    pub udp: bool,
    /// UDP read buffer per direction (`udpBufferSize`); datagrams that do not fit are dropped and logged.
    /// Default 4096.
    pub udp_buffer_size: usize,
    /// Deadline for negotiation, authentication and the request (`readTimeout`). Default
    /// [`gost_chain::DEFAULT_HANDSHAKE_TIMEOUT`], 15 s.
    pub handshake_timeout: Duration,
    /// Host announced in BIND/MBIND replies, and in UDP replies when it is an IP (`publicAddr`).
    pub public_addr: Option<String>,
    /// How long a BIND waits for its peer. Default 120 s (upstream waits forever).
    pub bind_accept_timeout: Duration,
    /// Ports BIND, MBIND and UDP-TUN bind mode may open (`bindPorts`). Default any.
    pub bind_ports: BindPorts,
    /// A UDP association with no datagram either way for this long ends. Default 300 s.
    pub udp_idle_timeout: Duration,
    /// Most distinct targets one UDP association may talk to; the least recently used is forgotten
    /// beyond it. Default 256.
    pub udp_max_targets: usize,
    /// MBIND without the per-stream reply, for GOST v2 clients (`comp`). Default off.
    pub comp: bool,
    /// smux settings for MBIND (`mux.*`). Default upstream's (version 1, keepalive 10 s / 30 s).
    pub mux: gost_smux::Config,
}

impl Default for Socks5Options {
    fn default() -> Self {
        Socks5Options {
            users: Users::default(),
            tls: None,
            bind: false,
            udp: false,
            udp_buffer_size: 4096,
            handshake_timeout: gost_chain::DEFAULT_HANDSHAKE_TIMEOUT,
            public_addr: None,
            bind_accept_timeout: rendezvous::DEFAULT_ACCEPT_TIMEOUT,
            bind_ports: BindPorts::any(),
            udp_idle_timeout: Duration::from_secs(300),
            udp_max_targets: 256,
            comp: false,
            mux: gost_smux::Config::default(),
        }
    }
}

impl std::fmt::Debug for Socks5Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socks5Options")
            .field("users", &self.users)
            .field("tls", &self.tls.is_some())
            .field("bind", &self.bind)
            .field("udp", &self.udp)
            .field("udp_buffer_size", &self.udp_buffer_size)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("public_addr", &self.public_addr)
            .field("bind_ports", &self.bind_ports)
            .finish_non_exhaustive()
    }
}

/// Serves SOCKS5 clients.
pub struct Socks5Handler {
    opts: Socks5Options,
    outbound: Arc<dyn Outbound>,
    policy: Policy,
}

/// A negotiated connection: the (possibly TLS-wrapped) stream, the request, and bytes sent after it.
pub(crate) struct Negotiated {
    conn: Stream,
    request: Request,
    early: Vec<u8>,
}

impl Socks5Handler {
    /// Method choice, TLS, RFC 1929 and the request, driven by socks-wire's state machine.
    async fn negotiate(&self, mut conn: Stream, ctx: &Conn) -> Result<Negotiated, Error> {
        let config = ServerConfig {
            auth: self.policy.auth.is_some(),
            tls: self.opts.tls.is_some(),
        };
        let mut tls_done = false;
        let mut hs = ServerHandshake::new(config);
        let mut input = Vec::with_capacity(512);
        let mut out = Vec::with_capacity(16);
        let mut user = None;
        loop {
            let step = hs.advance(&input, &mut out);
            if !out.is_empty() {
                // Refusals (05 FF, 01 01, a 0x08 reply) are written before the error is returned.
                send(&mut conn, &out).await?;
                out.clear();
            }
            let step = match step {
                Ok(s) => s,
                Err(socks_wire::HandshakeError::AuthFailed) => {
                    return Err(Error::AuthFailed(user.unwrap_or_default()));
                }
                Err(e) => return Err(e.into()),
            };
            input.drain(..step.consumed);
            match step.event {
                ServerEvent::NeedMore(_) => conn.read_more(&mut input, &"client").await?,
                ServerEvent::StartTls => {
                    let tls = self
                        .opts
                        .tls
                        .as_ref()
                        .expect("TLS is offered only when configured");
                    conn = tls.accept(conn.prepend(std::mem::take(&mut input))).await?;
                    tls_done = true;
                }
                ServerEvent::Authenticate(creds) => {
                    let req = AuthRequest {
                        method: AuthMethod::Socks5Password,
                        user: &creds.username,
                        password: &creds.password,
                        client: ctx.client(),
                        tls: tls_done,
                    };
                    let ok = match &self.policy.auth {
                        Some(auth) => auth.authenticate(&req).await,
                        None => false,
                    };
                    let name = String::from_utf8_lossy(&creds.username).into_owned();
                    ctx.authenticated(&name, ok);
                    user = Some(name);
                    hs.set_authenticated(ok)?;
                }
                ServerEvent::Request(request) => {
                    return Ok(Negotiated {
                        conn,
                        request,
                        early: input,
                    });
                }
            }
        }
    }

    async fn serve(&self, conn: Stream, ctx: &Conn, report: &mut Report) -> Result<(), Error> {
        let timeout = self.opts.handshake_timeout;
        // Boxed: the handshake's state (and the rarer commands' below) would otherwise be part of every
        // CONNECT session's future, i.e. of every idle session's memory, for the whole relay.
        let Negotiated {
            mut conn,
            request,
            early,
        } = tokio::time::timeout(timeout, Box::pin(self.negotiate(conn, ctx)))
            .await
            .map_err(|_| Error::HandshakeTimeout(timeout))??;
        let Request { command, addr } = request;
        // The report's target stays unset: the runner logs the request `ctx` keeps, one string instead of two
        // per session (BIND and UDP ASSOCIATE name their own below).
        ctx.target(command_name(command), &addr);
        let o = &self.opts;
        match command {
            Command::Connect => match self
                .policy
                .connect_outbound(&self.outbound, &addr, ctx, timeout)
                .await?
            {
                Ok(outbound) => connect::serve(&*outbound, conn, &addr, early, report).await,
                Err(refusal) => {
                    let code = refusal.code.unwrap_or(ReplyCode::NotAllowed);
                    reply(&mut conn, code, &Address::UNSPECIFIED).await?;
                    Err(refusal.error)
                }
            },
            Command::Bind if o.bind => {
                Box::pin(bind::serve(self, conn, &addr, early, report)).await
            }
            Command::UdpAssociate if o.udp => {
                Box::pin(udp::serve(self, conn, ctx, &addr, report)).await
            }
            Command::MuxBind if o.bind => {
                Box::pin(mbind::serve(self, conn, &addr, early, report)).await
            }
            Command::UdpTun if addr.port() == 0 && o.udp => {
                Box::pin(udp_tun::serve(self, conn, ctx, None, early, report)).await
            }
            Command::UdpTun if addr.port() != 0 && o.bind => {
                Box::pin(udp_tun::serve(self, conn, ctx, Some(&addr), early, report)).await
            }
            Command::Bind | Command::UdpAssociate | Command::MuxBind | Command::UdpTun => {
                reply(&mut conn, ReplyCode::NotAllowed, &Address::UNSPECIFIED).await?;
                Err(Error::Disabled(command_name(command)))
            }
            other => {
                reply(
                    &mut conn,
                    ReplyCode::CommandNotSupported,
                    &Address::UNSPECIFIED,
                )
                .await?;
                Err(Error::UnsupportedCommand(other.into()))
            }
        }
    }

    /// The address announced for a socket bound on `port` of the control connection `conn`: `publicAddr`
    /// when set (when `ip_only`, only if it is an IP), else the control connection's local IP, else `bound`.
    fn announce(&self, conn: &Stream, bound: SocketAddr, ip_only: bool) -> Address {
        if let Some(public) = &self.opts.public_addr {
            match public.parse::<IpAddr>() {
                Ok(ip) => return Address::from(SocketAddr::new(ip, bound.port())),
                Err(_) if !ip_only => {
                    if let Ok(a) = Address::from_host_port(public, bound.port()) {
                        return a;
                    }
                }
                Err(_) => {}
            }
        }
        match conn.local_addr() {
            Some(local) if !bound.ip().is_unspecified() || !local.ip().is_unspecified() => {
                let ip = if bound.ip().is_unspecified() {
                    local.ip()
                } else {
                    bound.ip()
                };
                Address::from(SocketAddr::new(ip, bound.port()))
            }
            _ => Address::from(bound),
        }
    }
}

socks_handler!(
    Socks5Handler(Socks5Options),
    with_authenticator(auth: Authenticator) "Requires username/password authentication decided by `auth` (instead of [`Socks5Options::users`]).",
    with_bypass(bypass: TargetFilter) "Refuses CONNECT targets `bypass` does not allow (SOCKS5 0x02), before routing and without dialling.",
    with_routing(routing: Routing) "Lets `routing` pick the outbound of each CONNECT, or refuse it.",
);

/// Name of a command in logs and errors.
fn command_name(c: Command) -> &'static str {
    match c {
        Command::Connect => "connect",
        Command::Bind => "bind",
        Command::UdpAssociate => "udp-associate",
        Command::MuxBind => "mbind",
        Command::UdpTun => "udp-tun",
        Command::Resolve => "resolve",
        Command::ResolvePtr => "resolve-ptr",
        _ => "unknown",
    }
}

/// Sends one SOCKS5 reply in its own write.
pub(crate) async fn reply<W: AsyncWrite + Unpin + ?Sized>(
    conn: &mut W,
    code: ReplyCode,
    addr: &Address,
) -> Result<(), Error> {
    let mut buf = [0u8; 262];
    let n = Reply::new(code, addr.clone()).encode(&mut &mut buf[..])?;
    Ok(send(conn, &buf[..n]).await?)
}
