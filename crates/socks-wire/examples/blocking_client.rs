//! socks-wire from plain blocking `std::net` code: a SOCKS5 CONNECT (with optional username/password)
//! through a proxy, then an HTTP request over the tunnel. No async runtime involved.
//!
//! ```text
//! cargo run -p socks-wire --example blocking_client -- 127.0.0.1:1080 example.com:80 [user pass]
//! ```

use std::error::Error;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use socks_wire::{
    Address, ClientConfig, ClientEvent, ClientHandshake, Command, Reply, ReplyCode, Request,
    UserPassRequest,
};

/// A tunnel to `target` (`host:port`, resolved by the proxy) through the SOCKS5 proxy at `proxy`.
///
/// Fails with the proxy's reply code when it refuses, and never sends data before the reply arrived
/// (upstream GOST drops bytes that come with the request).
pub(crate) fn connect(
    proxy: &str,
    target: &str,
    credentials: Option<(&str, &str)>,
) -> Result<TcpStream, Box<dyn Error + Send + Sync>> {
    let (host, port) = target.rsplit_once(':').ok_or("target must be host:port")?;
    let addr = Address::from_host_port(host, port.parse()?)?;
    let mut conn = TcpStream::connect(proxy)?;
    // A handshake must not hang forever on a silent proxy.
    conn.set_read_timeout(Some(Duration::from_secs(15)))?;
    let config = ClientConfig {
        credentials: credentials.map(|(u, p)| UserPassRequest::new(u, p)),
        tls: false,
    };
    let mut hs = ClientHandshake::new(config, Request::new(Command::Connect, addr));
    let (mut input, mut out) = (Vec::new(), Vec::new());
    let reply: Reply = loop {
        let step = hs.advance(&input, &mut out)?;
        conn.write_all(&out)?;
        out.clear();
        input.drain(..step.consumed);
        match step.event {
            ClientEvent::NeedMore(_) => {
                let mut chunk = [0u8; 512];
                let n = conn.read(&mut chunk)?;
                if n == 0 {
                    return Err("proxy closed the connection during the handshake".into());
                }
                input.extend_from_slice(&chunk[..n]);
            }
            ClientEvent::StartTls => return Err("TLS was not offered".into()),
            ClientEvent::Reply(reply) => break reply,
        }
    };
    if reply.code != ReplyCode::Succeeded {
        return Err(format!("proxy refused: {:?}", reply.code).into());
    }
    conn.set_read_timeout(None)?;
    Ok(conn)
}

/// `GET /` on `target` through the proxy; the whole response.
pub(crate) fn fetch(
    proxy: &str,
    target: &str,
    credentials: Option<(&str, &str)>,
) -> Result<Vec<u8>, Box<dyn Error + Send + Sync>> {
    let mut conn = connect(proxy, target, credentials)?;
    let host = target.rsplit_once(':').map_or(target, |(h, _)| h);
    write!(conn, "GET / HTTP/1.0\r\nHost: {host}\r\n\r\n")?;
    let mut response = Vec::new();
    conn.read_to_end(&mut response)?;
    Ok(response)
}

fn main() -> Result<(), Box<dyn Error + Send + Sync>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (proxy, target, creds) = match args.as_slice() {
        [p, t] => (p, t, None),
        [p, t, u, pw] => (p, t, Some((u.as_str(), pw.as_str()))),
        _ => return Err("usage: blocking_client PROXY HOST:PORT [USER PASS]".into()),
    };
    let response = fetch(proxy, target, creds)?;
    io::stdout().write_all(&response)?;
    Ok(())
}
