//! A SOCKS5 server that sends some domains through an upstream SOCKS5 proxy, refuses others, and dials
//! everything else directly.
//!
//! ```text
//! cargo run -p gost-service --example domain_routing -- 127.0.0.1:1080 upstream.example:1080
//! curl -x socks5h://127.0.0.1:1080 http://example.com/        # through upstream.example:1080
//! curl -x socks5h://127.0.0.1:1080 http://ads.example.net/    # refused: reply 0x02
//! ```

use std::sync::Arc;

use gost_chain::Socks5ConnectorOptions;
use gost_chain::{Chain, Connector, Hop, Node, Router, Selector, Socks5Connector};
use gost_service::socks_wire::{Address, ReplyCode};
use gost_service::{BoxFuture, BuildError, Route, RouteRequest, Routing, Service, ServiceBuilder};
use gost_transport::tcp::{TcpDialer, TcpOptions};
use gost_transport::tls::ClientTls;

#[path = "shared/ctrl_c.rs"]
mod ctrl_c;
use ctrl_c::serve_until_ctrl_c;

/// Routes by the target's domain: suffix rules, first match wins; IP targets go direct.
pub(crate) struct DomainRouting {
    via_upstream: Vec<String>,
    refused: Vec<String>,
    upstream: Route,
}

impl DomainRouting {
    /// `via_upstream` domains (and their subdomains) go through the SOCKS5 proxy at `upstream`;
    /// `refused` ones get reply 0x02 (not allowed).
    pub(crate) fn new(
        upstream: &str,
        via_upstream: &[&str],
        refused: &[&str],
    ) -> Result<Self, gost_chain::Error> {
        let connector = Socks5Connector::new(
            Socks5ConnectorOptions {
                notls: true,
                ..Default::default()
            },
            None,
            ClientTls::insecure(),
        );
        let dialer = Arc::new(TcpDialer::new(TcpOptions::default()));
        let upstream = gost_chain::addr::target_address(upstream)?;
        let node = Node::new("upstream", upstream, Connector::Socks5(connector), dialer);
        let hop = Hop::new("hop-0", vec![node], Selector::default())?;
        let chain = Chain::new("upstream", vec![hop])?;
        Ok(DomainRouting {
            via_upstream: via_upstream.iter().map(|s| s.to_string()).collect(),
            refused: refused.iter().map(|s| s.to_string()).collect(),
            // Built once: the router keeps the node's failure marks across requests.
            upstream: Route::chain(Router::new(Some(chain))),
        })
    }
}

/// Whether `host` is `domain` or one of its subdomains (ASCII case-insensitive).
fn matches(host: &str, domain: &str) -> bool {
    let (host, domain) = (host.to_ascii_lowercase(), domain.to_ascii_lowercase());
    host == domain || host.ends_with(&format!(".{domain}"))
}

impl Routing for DomainRouting {
    fn route<'a>(&'a self, req: &'a RouteRequest<'a>) -> BoxFuture<'a, Route> {
        let route = match req.target {
            Address::Domain(name, _) => {
                let host = name.as_str().unwrap_or("");
                if self.refused.iter().any(|d| matches(host, d)) {
                    Route::Refuse(ReplyCode::NotAllowed)
                } else if self.via_upstream.iter().any(|d| matches(host, d)) {
                    self.upstream.clone()
                } else {
                    Route::Direct
                }
            }
            Address::Ip(_) => Route::Direct,
        };
        Box::pin(std::future::ready(route))
    }
}

/// SOCKS5 on `addr` with `routing`.
pub(crate) async fn server(addr: &str, routing: DomainRouting) -> Result<Service, BuildError> {
    ServiceBuilder::socks5()
        .name("socks5-routing")
        .bind(addr)
        .routing(routing)
        .build()
        .await
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:1080".into());
    let upstream = args
        .next()
        .ok_or("usage: domain_routing ADDR UPSTREAM_SOCKS5")?;
    let routing = DomainRouting::new(&upstream, &["example.com"], &["ads.example.net"])?;
    let service = server(&addr, routing).await?;
    serve_until_ctrl_c(service, "SOCKS5 proxy with domain routing").await;
    Ok(())
}
