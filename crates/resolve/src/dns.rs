//! [`Dns`]: upstream's `resolvers:` entry — nameservers asked in order (the first that answers wins),
//! each over UDP, TCP, TLS or HTTPS with its own preference, cache TTL and timeout, through
//! hickory-resolver (which also caches answers for their TTL).

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{
    ConnectionConfig, LookupIpStrategy, NameServerConfig, ProtocolConfig, ResolveHosts,
    ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use tracing::debug;

use crate::{DnsError, Family, NameserverSpec, Protocol};

/// A resolver asking its nameservers in order.
#[derive(Clone)]
pub struct Dns {
    name: String,
    servers: Vec<(SocketAddr, TokioResolver)>,
}

impl std::fmt::Debug for Dns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let addrs: Vec<_> = self.servers.iter().map(|(a, _)| a).collect();
        f.debug_struct("Dns")
            .field("name", &self.name)
            .field("nameservers", &addrs)
            .finish()
    }
}

impl Dns {
    /// A resolver named `name` (for logs) over `nameservers`. `tls` is the TLS client configuration of
    /// `tls://` and `https://` nameservers (`None`: the Mozilla roots of webpki-roots; tests pass one
    /// trusting their own certificate).
    pub fn new(
        name: impl Into<String>,
        nameservers: &[NameserverSpec],
        tls: Option<&rustls::ClientConfig>,
    ) -> Result<Dns, DnsError> {
        let servers = nameservers
            .iter()
            .map(|spec| Ok((spec.addr, one_server(spec, tls)?)))
            .collect::<Result<_, DnsError>>()?;
        Ok(Dns {
            name: name.into(),
            servers,
        })
    }

    /// The addresses of `host` from the first nameserver that has any; the last error otherwise.
    pub async fn resolve(&self, host: &str) -> io::Result<Vec<IpAddr>> {
        let mut last = io::Error::new(io::ErrorKind::NotFound, "no nameserver configured");
        // A fully qualified name: the client asked for exactly this one.
        let fqdn = format!("{}.", host.trim_end_matches('.'));
        for (addr, resolver) in &self.servers {
            match resolver.lookup_ip(fqdn.as_str()).await {
                Ok(answer) => {
                    let ips: Vec<IpAddr> = answer.iter().collect();
                    if !ips.is_empty() {
                        debug!(resolver = %self.name, nameserver = %addr, host, ?ips, "resolved");
                        return Ok(ips);
                    }
                }
                Err(e) => {
                    last = io::Error::new(
                        io::ErrorKind::NotFound,
                        format!("resolver {}: nameserver {addr}: {e}", self.name),
                    );
                }
            }
        }
        Err(last)
    }
}

/// A hickory resolver asking `spec`'s nameserver alone, so that [`Dns`] keeps upstream's order (hickory
/// would rank a pool of servers by their latency).
fn one_server(
    spec: &NameserverSpec,
    tls: Option<&rustls::ClientConfig>,
) -> Result<TokioResolver, DnsError> {
    let server_name = || -> Arc<str> {
        match &spec.server_name {
            Some(n) => n.as_str().into(),
            None => spec.addr.ip().to_string().into(),
        }
    };
    let mut conn = ConnectionConfig::new(match &spec.protocol {
        Protocol::Udp => ProtocolConfig::Udp,
        Protocol::Tcp => ProtocolConfig::Tcp,
        Protocol::Tls => ProtocolConfig::Tls {
            server_name: server_name(),
        },
        Protocol::Https { path } => ProtocolConfig::Https {
            server_name: server_name(),
            path: path.as_str().into(),
        },
    });
    conn.port = spec.addr.port();
    let server = NameServerConfig::new(spec.addr.ip(), true, vec![conn]);
    let config = ResolverConfig::from_parts(None, Vec::new(), vec![server]);
    let mut opts = ResolverOpts::default();
    // The names asked are the client's targets: no search domains, no /etc/hosts.
    opts.ndots = 0;
    opts.use_hosts_file = ResolveHosts::Never;
    opts.ip_strategy = match spec.family {
        Family::PreferIpv4 => LookupIpStrategy::Ipv4thenIpv6,
        Family::PreferIpv6 => LookupIpStrategy::Ipv6thenIpv4,
        Family::Ipv4Only => LookupIpStrategy::Ipv4Only,
        Family::Ipv6Only => LookupIpStrategy::Ipv6Only,
    };
    if let Some(t) = spec.timeout {
        opts.timeout = t;
    }
    if let Some(ttl) = spec.ttl {
        opts.positive_min_ttl = Some(ttl);
        opts.positive_max_ttl = Some(ttl);
    }
    let mut builder = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
        .with_options(opts);
    if let Some(tls) = tls {
        builder = builder.with_tls_config(tls.clone());
    }
    builder.build().map_err(|e| DnsError::Build {
        addr: spec.addr,
        reason: e.to_string(),
    })
}
