//! SOCKS handlers by `handler.type` (`socks5`/`socks`, `socks4`/`socks4a`), configured from the
//! handler's metadata, its users, its chain and the certificate for SOCKS5's in-band TLS.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use gost_config::options::{MuxOptions, Socks4HandlerOptions, Socks5HandlerOptions};
use gost_config::{Config, ServiceConfig};
use gost_service::forward::chain_outbound;
use gost_service::outbound::Outbound;
use gost_service::{
    Handler, Report, Socks4Handler, Socks4Options, Socks5Handler, Socks5Options, Users,
};
use gost_transport::tls::ServerTls;
use gost_transport::{BoxFuture, Stream};

use super::listener::Certificates;

/// A SOCKS handler of either version.
pub enum SocksHandler {
    /// `socks5`, `socks`.
    V5(Socks5Handler),
    /// `socks4`, `socks4a`.
    V4(Socks4Handler),
}

impl Handler for SocksHandler {
    fn handle(&self, conn: Stream, client: SocketAddr) -> BoxFuture<'_, Report> {
        match self {
            SocksHandler::V5(h) => h.handle(conn, client),
            SocksHandler::V4(h) => h.handle(conn, client),
        }
    }
}

/// Whether `kind` is a SOCKS handler type this module builds.
pub fn is_socks(kind: &str) -> bool {
    matches!(kind, "socks5" | "socks" | "socks4" | "socks4a")
}

/// Builds the SOCKS handler of `service`. `listener_tls` is the certificate its listener serves, which
/// SOCKS5 reuses for methods 0x80/0x82 unless the handler has its own.
pub fn build(
    config: &Config,
    service: &ServiceConfig,
    listener_tls: Option<ServerTls>,
    certs: &mut Certificates,
) -> anyhow::Result<SocksHandler> {
    let h = &service.handler;
    let users = Users::new(
        config
            .handler_credentials(service)
            .into_iter()
            .map(|a| (a.username, a.password)),
    );
    let outbound: Option<Arc<dyn Outbound>> = chain_outbound(config, service)?;
    if matches!(h.kind.as_str(), "socks4" | "socks4a") {
        let o = Socks4HandlerOptions::from_metadata(&h.metadata).context("handler metadata")?;
        let opts = Socks4Options {
            users,
            handshake_timeout: o.read_timeout,
        };
        return Ok(SocksHandler::V4(match outbound {
            Some(out) => Socks4Handler::with_outbound(opts, out),
            None => Socks4Handler::new(opts),
        }));
    }
    let o = Socks5HandlerOptions::from_metadata(&h.metadata).context("handler metadata")?;
    let tls = if o.notls {
        None
    } else if h.tls.is_none() && listener_tls.is_some() {
        listener_tls
    } else {
        Some(certs.server(config, h.tls.as_ref())?)
    };
    let mux = smux_config(&o.mux);
    mux.validate().context("handler mux.* options")?;
    let opts = Socks5Options {
        users,
        tls,
        bind: o.bind,
        udp: o.udp,
        udp_buffer_size: o.udp_buffer_size,
        handshake_timeout: o.read_timeout,
        public_addr: o.public_addr,
        comp: o.comp,
        mux,
        ..Socks5Options::default()
    };
    Ok(SocksHandler::V5(match outbound {
        Some(out) => Socks5Handler::with_outbound(opts, out),
        None => Socks5Handler::new(opts),
    }))
}

fn smux_config(m: &MuxOptions) -> gost_smux::Config {
    gost_smux::Config {
        version: m.version,
        keep_alive_disabled: m.keepalive_disabled,
        keep_alive_interval: m.keepalive_interval,
        keep_alive_timeout: m.keepalive_timeout,
        max_frame_size: m.max_frame_size,
        max_receive_buffer: m.max_receive_buffer,
        max_stream_buffer: m.max_stream_buffer,
    }
}
