//! SOCKS services by `handler.type` (`socks5`/`socks`, `socks4`/`socks4a`, `auto`): the handler's
//! metadata, users, chain and certificate become gost-service's options, and gost-service's
//! [`ServiceBuilder`] (the same one embedders use) makes the service.

use std::sync::Arc;

use gost_chain::ChainObserver;
use gost_config::options::{HandlerKind, Socks4HandlerOptions, Socks5HandlerOptions};
use gost_config::{Config, ServiceConfig};
use gost_service::{BindPorts, ServiceBuilder, Socks4Options, Socks5Options, Users};
use gost_transport::tls::ServerTls;

use crate::Error;
use crate::certs::Certificates;
use crate::mux::smux_config;

/// The builder of the SOCKS service `service` (kind `kind`), without its listener. `listener_tls` is
/// the certificate its listener serves, which SOCKS5 reuses for methods 0x80/0x82 unless the handler
/// has its own.
pub(crate) fn builder(
    config: &Config,
    service: &ServiceConfig,
    kind: HandlerKind,
    listener_tls: Option<ServerTls>,
    certs: &mut Certificates,
    tables: &crate::names::Tables,
    chains: Option<&Arc<dyn ChainObserver>>,
) -> Result<ServiceBuilder, Error> {
    let users = Users::new(
        config
            .handler_credentials(service)
            .into_iter()
            .map(|a| (a.username, a.password)),
    );
    let md = &service.handler.metadata;
    let v4 = || -> Result<Socks4Options, Error> {
        let o = Socks4HandlerOptions::from_metadata(md).map_err(Error::metadata("handler"))?;
        let d = Socks4Options::default();
        Ok(Socks4Options {
            users: users.clone(),
            handshake_timeout: o.read_timeout.unwrap_or(d.handshake_timeout),
            bind: o.bind,
            bind_ports: bind_ports(o.bind_ports),
            ..d
        })
    };
    let builder = match kind {
        HandlerKind::Socks4 => ServiceBuilder::socks4_with(v4()?),
        HandlerKind::Socks5 => ServiceBuilder::socks5_with(socks5_options(
            config,
            service,
            users.clone(),
            listener_tls,
            certs,
        )?),
        HandlerKind::Auto => {
            let v5 = socks5_options(config, service, users.clone(), listener_tls, certs)?;
            ServiceBuilder::auto_with(v5, v4()?)
        }
        other => {
            return Err(Error::Unsupported(format!(
                "handler {other:?} is not a SOCKS handler"
            )));
        }
    };
    let egress = crate::chain::service_egress(service)?;
    Ok(
        match service.chain().is_some()
            || service.hosts.is_some()
            || service.resolver.is_some()
            || !egress.is_default()
        {
            true => builder.chain(crate::chain::service_router(
                config, service, tables, chains,
            )?),
            false => builder,
        },
    )
}

fn socks5_options(
    config: &Config,
    service: &ServiceConfig,
    users: Users,
    listener_tls: Option<ServerTls>,
    certs: &mut Certificates,
) -> Result<Socks5Options, Error> {
    let h = &service.handler;
    let o = Socks5HandlerOptions::from_metadata(&h.metadata).map_err(Error::metadata("handler"))?;
    let tls = if o.notls {
        None
    } else if h.tls.is_none() && listener_tls.is_some() {
        listener_tls
    } else {
        Some(certs.server(config, h.tls.as_ref())?)
    };
    let mux = smux_config(&o.mux);
    mux.validate().map_err(|e| Error::Options {
        what: "handler mux.* options",
        source: Box::new(e),
    })?;
    let d = Socks5Options::default();
    Ok(Socks5Options {
        users,
        tls,
        bind: o.bind,
        bind_ports: bind_ports(o.bind_ports),
        udp: o.udp,
        udp_buffer_size: o.udp_buffer_size.unwrap_or(d.udp_buffer_size),
        handshake_timeout: o.read_timeout.unwrap_or(d.handshake_timeout),
        public_addr: o.public_addr,
        comp: o.comp,
        mux,
        ..d
    })
}

/// `bindPorts` as gost-service takes it: no ranges means any port.
fn bind_ports(ranges: Vec<std::ops::RangeInclusive<u16>>) -> BindPorts {
    if ranges.is_empty() {
        BindPorts::any()
    } else {
        BindPorts::only(ranges)
    }
}
