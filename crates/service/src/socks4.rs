//! The SOCKS4/4A server handler: CONNECT (4A names resolved here), userid authentication, 8-byte replies.
//!
//! Differences from upstream GOST (`handler/socks/v4`): BIND and unknown commands get reply 0x5B instead of
//! a silent close, so clients learn why; everything else matches (userid checked against the users that
//! have an empty password, 0x5D on failure, 0x5B when the target cannot be reached).

use std::net::{SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;

use gost_transport::{BoxFuture, Stream};
use socks_wire::{
    Address, Decode, Decoded, Encode, Socks4Command, Socks4Reply, Socks4ReplyCode, Socks4Request,
    Socks4Target,
};
use tokio::io::AsyncWriteExt;

use crate::access::{self, TargetFilter};
use crate::auth::{AuthMethod, AuthRequest, Authenticator, Users};
use crate::conn::{read_more, send};
use crate::observe::Conn;
use crate::outbound::{DialError, Direct, Outbound};
use crate::relay::relay_for;
use crate::route::{self, RouteRequest, Routing};
use crate::{Error, Handler, Report};

/// Upstream's `readTimeout` default: the bound on reading the request.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);

/// Settings of a SOCKS4/4A handler.
#[derive(Debug, Clone)]
pub struct Socks4Options {
    /// Accepted userids (users configured with an empty password); empty = no authentication.
    pub users: Users,
    /// Deadline for the request (upstream `readTimeout`). Default 15 s.
    pub handshake_timeout: Duration,
}

impl Default for Socks4Options {
    fn default() -> Self {
        Socks4Options {
            users: Users::default(),
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }
}

/// Serves SOCKS4 and SOCKS4A clients.
pub struct Socks4Handler {
    opts: Socks4Options,
    outbound: Arc<dyn Outbound>,
    auth: Option<Arc<dyn Authenticator>>,
    routing: Option<Arc<dyn Routing>>,
    bypass: Option<Arc<dyn TargetFilter>>,
}

impl Socks4Handler {
    /// A handler dialing targets directly from this host.
    pub fn new(opts: Socks4Options) -> Socks4Handler {
        Socks4Handler::with_outbound(opts, Arc::new(Direct::default()))
    }

    /// A handler dialing targets through `outbound` (e.g. a proxy chain).
    pub fn with_outbound(opts: Socks4Options, outbound: Arc<dyn Outbound>) -> Socks4Handler {
        let auth = (!opts.users.is_empty())
            .then(|| Arc::new(opts.users.clone()) as Arc<dyn Authenticator>);
        Socks4Handler {
            opts,
            outbound,
            auth,
            routing: None,
            bypass: None,
        }
    }

    /// Checks every userid with `auth` (method [`AuthMethod::Socks4UserId`], empty password) instead of
    /// [`Socks4Options::users`].
    pub fn with_authenticator(mut self, auth: Arc<dyn Authenticator>) -> Socks4Handler {
        self.auth = Some(auth);
        self
    }

    /// Refuses CONNECT targets `bypass` does not allow (reply 0x5B), before routing and without dialling.
    pub fn with_bypass(mut self, bypass: Arc<dyn TargetFilter>) -> Socks4Handler {
        self.bypass = Some(bypass);
        self
    }

    /// Lets `routing` pick the outbound of each CONNECT, or refuse it (reply 0x5B).
    pub fn with_routing(mut self, routing: Arc<dyn Routing>) -> Socks4Handler {
        self.routing = Some(routing);
        self
    }

    /// Whether the userid is accepted (always, when no authenticator is set).
    async fn authenticate(&self, user_id: &[u8], ctx: &Conn) -> bool {
        let Some(auth) = &self.auth else {
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
                Decoded::NeedMore(_) => read_more(conn, &mut input).await?,
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
            Socks4Command::Bind => {
                reply(&mut conn, Socks4ReplyCode::Rejected).await?;
                return Err(Error::Disabled("SOCKS4 BIND"));
            }
            Socks4Command::Other(c) => {
                reply(&mut conn, Socks4ReplyCode::Rejected).await?;
                return Err(Error::UnsupportedCommand(c));
            }
        }
        if let Err(e) = access::check_target(self.bypass.as_deref(), &target, ctx) {
            reply(&mut conn, Socks4ReplyCode::Rejected).await?;
            return Err(e);
        }
        let route = RouteRequest {
            target: &target,
            client: ctx.client(),
            user: ctx.user(),
        };
        let routed = tokio::time::timeout(
            timeout,
            route::pick(self.routing.as_deref(), &self.outbound, route),
        )
        .await
        .map_err(|_| Error::HandshakeTimeout(timeout))?;
        let outbound = match routed {
            Ok(o) => o,
            Err(code) => {
                reply(&mut conn, Socks4ReplyCode::Rejected).await?;
                return Err(Error::Dial(DialError::Policy(code)));
            }
        };
        let mut upstream = match outbound.connect(&target).await {
            Ok(s) => s,
            Err(e) => {
                reply(&mut conn, e.socks4_code()).await?;
                return Err(Error::Dial(e));
            }
        };
        reply(&mut conn, Socks4ReplyCode::Granted).await?;
        if !early.is_empty() {
            upstream.write_all(&early).await?;
        }
        let early_len = early.len() as u64;
        drop(early);
        relay_for(ctx, conn, upstream, early_len, report).await
    }
}

/// Sends the 8-byte reply `00 CD 0000 00000000` in its own write.
async fn reply(conn: &mut Stream, code: Socks4ReplyCode) -> Result<(), Error> {
    let mut out = [0u8; 8];
    let r = Socks4Reply {
        code,
        addr: SocketAddrV4::new([0, 0, 0, 0].into(), 0),
    };
    r.encode(&mut &mut out[..])?;
    Ok(send(conn, &out).await?)
}

impl Handler for Socks4Handler {
    fn handle(&self, conn: Stream, client: SocketAddr) -> BoxFuture<'_, Report> {
        Box::pin(async move { self.handle_conn(conn, &Conn::detached(client)).await })
    }

    fn handle_conn<'a>(&'a self, conn: Stream, ctx: &'a Conn) -> BoxFuture<'a, Report> {
        Box::pin(async move {
            let mut report = Report::default();
            let result = self.serve(conn, ctx, &mut report).await;
            report.result = result;
            report
        })
    }
}
