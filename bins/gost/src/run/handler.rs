//! SOCKS handlers by `handler.type` (`socks5`/`socks`, `socks4`/`socks4a`, `auto`), configured from the
//! handler's metadata, its users, its chain and the certificate for SOCKS5's in-band TLS.

use std::sync::Arc;

use anyhow::Context;
use gost_config::options::{MuxOptions, Socks4HandlerOptions, Socks5HandlerOptions};
use gost_config::{Config, ServiceConfig};
use gost_service::forward::chain_outbound;
use gost_service::outbound::Outbound;
use gost_service::{Handler, Socks4Handler, Socks4Options, Socks5Handler, Socks5Options, Users};
use gost_transport::tls::ServerTls;

use super::auto::AutoHandler;
use super::listener::Certificates;

/// Whether `kind` is a SOCKS handler type this module builds.
pub fn is_socks(kind: &str) -> bool {
    matches!(kind, "socks5" | "socks" | "socks4" | "socks4a" | "auto")
}

/// Builds the SOCKS handler of `service`. `listener_tls` is the certificate its listener serves, which
/// SOCKS5 reuses for methods 0x80/0x82 unless the handler has its own.
pub fn build(
    config: &Config,
    service: &ServiceConfig,
    listener_tls: Option<ServerTls>,
    certs: &mut Certificates,
) -> anyhow::Result<Arc<dyn Handler>> {
    let h = &service.handler;
    let users = Users::new(
        config
            .handler_credentials(service)
            .into_iter()
            .map(|a| (a.username, a.password)),
    );
    let outbound: Option<Arc<dyn Outbound>> = chain_outbound(config, service)?;
    let v4 = || -> anyhow::Result<Socks4Handler> {
        let o = Socks4HandlerOptions::from_metadata(&h.metadata).context("handler metadata")?;
        let opts = Socks4Options {
            users: users.clone(),
            handshake_timeout: o.read_timeout,
        };
        Ok(match &outbound {
            Some(out) => Socks4Handler::with_outbound(opts, out.clone()),
            None => Socks4Handler::new(opts),
        })
    };
    if matches!(h.kind.as_str(), "socks4" | "socks4a") {
        return Ok(Arc::new(v4()?));
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
        users: users.clone(),
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
    let timeout = opts.handshake_timeout;
    let v5 = match &outbound {
        Some(out) => Socks5Handler::with_outbound(opts, out.clone()),
        None => Socks5Handler::new(opts),
    };
    if h.kind == "auto" {
        let v4 = v4()?;
        return Ok(Arc::new(AutoHandler { v4, v5, timeout }));
    }
    Ok(Arc::new(v5))
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
