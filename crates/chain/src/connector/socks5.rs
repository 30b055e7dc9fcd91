//! The SOCKS5 connector: upstream GOST's method offer and in-band TLS, RFC 1929, then one command —
//! CONNECT, BIND, MBIND, UDP ASSOCIATE (`relay=udp`) or UDP-TUN — whose reply is read before anything
//! else is sent (upstream servers drop bytes that arrive in the same read as the request).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::Socks5ConnectorOptions;
use gost_transport::tls::ClientTls;
use gost_transport::{Egress, Stream};
use socks_wire::{
    Address, ClientConfig, ClientEvent, ClientHandshake, Command, Encode, Reply, ReplyCode,
    Request, UserPassRequest,
};
use tokio::io::AsyncWriteExt;

use super::read_reply;
use crate::addr::{resolve_address, wire_form};
use crate::bind::{BindListener, MuxBindListener};
use crate::error::bounded;
use crate::{DEFAULT_HANDSHAKE_TIMEOUT, Error, PacketConn};

/// A SOCKS5 client for one node: its options, credentials and the TLS client used when the server
/// picks GOST's method 0x80/0x82. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Socks5Connector {
    config: ClientConfig,
    tls: ClientTls,
    opts: Socks5ConnectorOptions,
    /// Where the UDP relay socket (`relay=udp`) leaves this host: the node's `interface`/`so_mark`
    /// (shared, so that the connector stays small inside the `Connector` enum).
    egress: Arc<Egress>,
}

/// What a successful exchange leaves: the (possibly TLS-wrapped) stream, the reply, and bytes the server
/// sent after the reply.
struct Exchanged {
    stream: Stream,
    reply: Reply,
    rest: Vec<u8>,
}

impl Socks5Connector {
    /// A connector with `opts`, optional `(username, password)` and the TLS client for 0x80/0x82 (upstream
    /// verifies nothing by default: [`ClientTls::insecure`]).
    pub fn new(
        opts: Socks5ConnectorOptions,
        credentials: Option<(String, String)>,
        tls: ClientTls,
    ) -> Socks5Connector {
        let config = ClientConfig {
            credentials: credentials.map(|(u, p)| UserPassRequest::new(&u, &p)),
            tls: !opts.notls,
        };
        Socks5Connector {
            config,
            tls,
            opts,
            egress: Arc::default(),
        }
    }

    /// Opens the UDP relay socket of `relay=udp` through `egress`, as the node's dialer opens its
    /// TCP connection.
    pub fn with_egress(mut self, egress: Egress) -> Socks5Connector {
        self.egress = Arc::new(egress);
        self
    }

    /// The connector's options.
    pub fn options(&self) -> &Socks5ConnectorOptions {
        &self.opts
    }

    fn timeout(&self) -> Duration {
        self.opts.timeout.unwrap_or(DEFAULT_HANDSHAKE_TIMEOUT)
    }

    /// Asks the node at `node` (reached through `stream`) to connect to `target`. Returns the stream
    /// carrying the target's bytes.
    pub async fn connect(
        &self,
        stream: Stream,
        node: &Address,
        target: &Address,
    ) -> Result<Stream, Error> {
        let addr = wire_form(target);
        let done = self
            .command(stream, node, Command::Connect, addr, "CONNECT")
            .await?;
        Ok(done.stream.prepend(done.rest))
    }

    /// Opens a UDP association for any targets: standard UDP ASSOCIATE with `relay=udp`, else GOST's UDP-TUN
    /// (CMD 0xF3, relay mode) over `stream`.
    pub async fn udp(&self, stream: Stream, node: &Address) -> Result<PacketConn, Error> {
        if !self.opts.relay {
            let done = self
                .command(
                    stream,
                    node,
                    Command::UdpTun,
                    Address::UNSPECIFIED,
                    "UDP-TUN",
                )
                .await?;
            return Ok(PacketConn::tun(done.stream.prepend(done.rest), None));
        }
        let peer_ip = stream.peer_addr().map(|a| a.ip());
        let done = self
            .command(
                stream,
                node,
                Command::UdpAssociate,
                Address::UNSPECIFIED,
                "UDP ASSOCIATE",
            )
            .await?;
        let mut relay: SocketAddr = resolve_address(&done.reply.addr).await?;
        if relay.ip().is_unspecified() {
            // "Same host as the control connection" (RFC 1928 servers may answer 0.0.0.0).
            match peer_ip {
                Some(ip) => relay.set_ip(ip),
                None => {
                    return Err(Error::Unsupported(format!(
                        "{node} announced its UDP relay as {relay}, which cannot be reached over this transport"
                    )));
                }
            }
        }
        let socket = self.egress.udp_socket(Some(relay.ip()))?;
        socket.connect(relay).await?;
        Ok(PacketConn::relay(
            socket,
            done.stream,
            self.opts.udp_buffer_size,
        ))
    }

    /// UDP-TUN bind mode (upstream's `rudp`): the server listens for UDP on `laddr` (`:5353` = all
    /// interfaces) and tunnels what peers send; replies go back to the peer named in each frame.
    pub async fn udp_bind(
        &self,
        stream: Stream,
        node: &Address,
        laddr: &Address,
    ) -> Result<PacketConn, Error> {
        let addr = laddr.clone();
        let done = self
            .command(stream, node, Command::UdpTun, addr, "UDP-TUN bind")
            .await?;
        Ok(PacketConn::tun(
            done.stream.prepend(done.rest),
            Some(done.reply.addr),
        ))
    }

    /// Plain BIND (RFC 1928 as upstream's server reads it: listen on `laddr`). The returned listener
    /// accepts exactly one peer.
    pub async fn bind(
        &self,
        stream: Stream,
        node: &Address,
        laddr: &Address,
    ) -> Result<BindListener, Error> {
        let addr = laddr.clone();
        let done = self
            .command(stream, node, Command::Bind, addr, "BIND")
            .await?;
        Ok(BindListener::new(
            done.stream,
            done.rest,
            done.reply.addr,
            node,
        ))
    }

    /// MBIND (CMD 0xF2): the server listens on `laddr` and opens one smux stream per peer on this connection;
    /// we are the smux server.
    pub async fn mux_bind(
        &self,
        stream: Stream,
        node: &Address,
        laddr: &Address,
    ) -> Result<MuxBindListener, Error> {
        let addr = laddr.clone();
        let done = self
            .command(stream, node, Command::MuxBind, addr, "MBIND")
            .await?;
        let io = done.stream.prepend(done.rest);
        MuxBindListener::start(io, done.reply.addr, &self.opts.mux, self.timeout())
    }

    /// Negotiates and sends one request under the handshake timeout; a failure reply is an error.
    async fn command(
        &self,
        stream: Stream,
        node: &Address,
        command: Command,
        addr: Address,
        what: &'static str,
    ) -> Result<Exchanged, Error> {
        let target = addr.to_string();
        let request = Request::new(command, addr);
        let done = bounded(
            self.timeout(),
            "SOCKS5 handshake",
            node,
            self.exchange(stream, node, request),
        )
        .await
        .map_err(|e| match e {
            Error::HungUp { node, .. } => Error::HungUp {
                node,
                command: what,
                hint: hung_up_hint(command),
            },
            other => other,
        })?;
        if done.reply.code != ReplyCode::Succeeded {
            return Err(Error::Refused {
                node: node.to_string(),
                command: what,
                target,
                code: done.reply.code,
                hint: hint(command, done.reply.code),
            });
        }
        Ok(done)
    }

    /// Drives the sans-io handshake: write what it asks, read until it has what it needs, start TLS when
    /// the server picks it.
    async fn exchange(
        &self,
        mut stream: Stream,
        node: &Address,
        request: Request,
    ) -> Result<Exchanged, Error> {
        let request_wire = request.to_vec().map_err(|e| Error::InvalidAddress {
            addr: request.addr.to_string(),
            reason: e.to_string(),
        })?;
        let mut hs = ClientHandshake::new(self.config.clone(), request);
        let (mut input, mut out) = (Vec::new(), Vec::new());
        let mut request_sent = false;
        loop {
            let step = hs
                .advance(&input, &mut out)
                .map_err(|source| Error::Handshake {
                    node: node.to_string(),
                    source,
                })?;
            if !out.is_empty() {
                // The machine writes the request alone, once the method (and credentials) are agreed.
                request_sent |= out == request_wire;
                stream.write_all(&out).await?;
                stream.flush().await?;
                out.clear();
            }
            input.drain(..step.consumed);
            match step.event {
                ClientEvent::NeedMore(_) => {
                    stream
                        .read_more(&mut input, node)
                        .await
                        .map_err(|e| match e.kind() {
                            std::io::ErrorKind::UnexpectedEof if request_sent => Error::HungUp {
                                node: node.to_string(),
                                command: "the request",
                                hint: "",
                            },
                            _ => Error::Io(e),
                        })?
                }
                ClientEvent::StartTls => {
                    if !input.is_empty() {
                        return Err(Error::Unsupported(format!(
                            "{node} sent data before the TLS handshake it asked for"
                        )));
                    }
                    stream = self.tls.connect(stream, &node.host()).await?;
                }
                ClientEvent::Reply(reply) => {
                    return Ok(Exchanged {
                        stream,
                        reply,
                        rest: input,
                    });
                }
            }
        }
    }
}

/// What to tell the user when a command is refused with `code`.
fn hint(command: Command, code: ReplyCode) -> &'static str {
    match (command, code) {
        (Command::UdpAssociate, ReplyCode::NotAllowed) => {
            "; the server does not allow UDP; start it with udp=true"
        }
        (Command::UdpTun, ReplyCode::NotAllowed) => {
            "; the server does not allow UDP-TUN; start it with udp=true (relay) or bind=true (rudp)"
        }
        (Command::Bind | Command::MuxBind, ReplyCode::NotAllowed) => {
            "; the server does not allow BIND; start it with bind=true"
        }
        (Command::MuxBind | Command::UdpTun, ReplyCode::CommandNotSupported) => {
            "; the server does not speak GOST's extensions (for UDP use relay=udp on the node)"
        }
        _ => "",
    }
}

/// What to tell the user when a server hangs up on `command` instead of answering it.
fn hung_up_hint(command: Command) -> &'static str {
    match command {
        Command::UdpTun => {
            "; it does not speak GOST's UDP-TUN: for a plain SOCKS5 server set relay=udp on the node"
        }
        Command::MuxBind => "; it does not speak GOST's MBIND (rtcp then uses plain BIND)",
        _ => "",
    }
}

/// Reads the second BIND reply (the peer connected) from `stream`, after `rest` already read.
pub(crate) async fn second_reply(
    stream: &mut Stream,
    rest: &mut Vec<u8>,
    node: &Address,
) -> Result<Reply, Error> {
    let reply = read_reply(stream, rest, node).await?;
    if reply.code != ReplyCode::Succeeded {
        return Err(Error::Refused {
            node: node.to_string(),
            command: "BIND",
            target: "(peer)".into(),
            code: reply.code,
            hint: "",
        });
    }
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_say_what_to_enable() {
        assert!(hint(Command::UdpAssociate, ReplyCode::NotAllowed).contains("udp=true"));
        assert!(hint(Command::MuxBind, ReplyCode::NotAllowed).contains("bind=true"));
        assert!(hint(Command::Bind, ReplyCode::NotAllowed).contains("bind=true"));
        assert_eq!(hint(Command::Connect, ReplyCode::NotAllowed), "");
    }
}
