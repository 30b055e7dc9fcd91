//! The `auto` handler (upstream's default for `-L :port`): SOCKS4/4A or SOCKS5, told apart by the
//! first byte the client sends ([`crate::ServiceBuilder::auto`]). Upstream also detects HTTP here,
//! which gost-rs does not serve.

use std::io;
use std::time::Duration;

use gost_transport::{BoxFuture, Stream};
use tokio::io::AsyncReadExt;

use crate::observe::Conn;
use crate::{Error, Handler, Report, Socks4Handler, Socks5Handler};

/// Serves SOCKS4/4A and SOCKS5 clients on one port.
pub struct AutoHandler {
    /// For clients whose first byte is 4.
    pub v4: Socks4Handler,
    /// For everyone else (a non-SOCKS client gets SOCKS5's refusal).
    pub v5: Socks5Handler,
    /// How long to wait for the first byte (the handlers' `readTimeout`).
    pub timeout: Duration,
}

impl AutoHandler {
    async fn serve(&self, conn: Stream, ctx: &Conn) -> Report {
        let (conn, version) = match tokio::time::timeout(self.timeout, first_byte(conn)).await {
            Ok(Ok(found)) => found,
            Ok(Err(e)) => return failed(Error::Io(e)),
            Err(_) => return failed(Error::HandshakeTimeout(self.timeout)),
        };
        match version {
            4 => self.v4.handle(conn, ctx).await,
            _ => self.v5.handle(conn, ctx).await,
        }
    }
}

impl Handler for AutoHandler {
    fn handle<'a>(&'a self, conn: Stream, ctx: &'a Conn) -> BoxFuture<'a, Report> {
        Box::pin(self.serve(conn, ctx))
    }
}

fn failed(e: Error) -> Report {
    Report {
        result: Err(e),
        ..Report::default()
    }
}

/// The first byte of `conn`, left in place: peeked on plain TCP (which stays spliceable), otherwise
/// read and replayed.
async fn first_byte(conn: Stream) -> io::Result<(Stream, u8)> {
    let mut byte = [0u8; 1];
    let conn = match conn.into_tcp() {
        Ok(tcp) => {
            if tcp.peek(&mut byte).await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            Stream::from_tcp(tcp)
        }
        Err(mut conn) => {
            conn.read_exact(&mut byte).await?;
            conn.prepend(byte.to_vec())
        }
    };
    Ok((conn, byte[0]))
}
