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

use crate::auth::Users;
use crate::conn::{read_more, send};
use crate::outbound::{Direct, Outbound};
use crate::relay::{Transferred, relay_streams};
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
}

impl Socks4Handler {
    /// A handler dialing targets directly from this host.
    pub fn new(opts: Socks4Options) -> Socks4Handler {
        Socks4Handler::with_outbound(opts, Arc::new(Direct::default()))
    }

    /// A handler dialing targets through `outbound` (e.g. a proxy chain).
    pub fn with_outbound(opts: Socks4Options, outbound: Arc<dyn Outbound>) -> Socks4Handler {
        Socks4Handler { opts, outbound }
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

    async fn serve(&self, mut conn: Stream, report: &mut Report) -> Result<(), Error> {
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
        if !self.opts.users.is_empty() && !self.opts.users.check(&req.user_id, b"") {
            reply(&mut conn, Socks4ReplyCode::IdentdMismatch).await?;
            return Err(Error::AuthFailed(
                String::from_utf8_lossy(&req.user_id).into_owned(),
            ));
        }
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
        let mut upstream = match self.outbound.connect(&target).await {
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
        let (t, result) = relay_streams(conn, upstream).await;
        report.transferred = Transferred {
            a_to_b: t.a_to_b + early.len() as u64,
            b_to_a: t.b_to_a,
        };
        Ok(result?)
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
    fn handle(&self, conn: Stream, _client: SocketAddr) -> BoxFuture<'_, Report> {
        Box::pin(async move {
            let mut report = Report::default();
            let result = self.serve(conn, &mut report).await;
            report.result = result;
            report
        })
    }
}
