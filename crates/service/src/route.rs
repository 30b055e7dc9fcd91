//! Per-request outbound decisions: the [`Routing`] trait picks, for each CONNECT, whether the target is
//! dialed with the handler's outbound, through another [`Outbound`] (a proxy chain, say), or refused with a
//! chosen reply code.
//!
//! Routing applies to CONNECT (SOCKS4 and SOCKS5). UDP datagrams and BIND listeners keep using the
//! handler's outbound, as the per-datagram targets of an association are not requests of their own.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use gost_chain::Router;
use gost_transport::BoxFuture;
use socks_wire::{Address, ReplyCode};

use crate::outbound::{ChainOutbound, Direct, Outbound};

/// What a client asked for, as a [`Routing`] sees it.
#[derive(Debug, Clone, Copy)]
pub struct RouteRequest<'a> {
    /// The target of the CONNECT.
    pub target: &'a Address,
    /// The client's address as seen by the listener.
    pub client: SocketAddr,
    /// The authenticated user, when the service requires authentication.
    pub user: Option<&'a str>,
}

/// Where one request goes.
#[derive(Clone)]
pub enum Route {
    /// Through the handler's own outbound (direct, or the chain it was built with).
    Default,
    /// Directly from this host, whatever the handler's outbound is.
    Direct,
    /// Through this outbound, e.g. [`Route::chain`].
    Via(Arc<dyn Outbound>),
    /// Not at all: the client gets this SOCKS5 reply code (SOCKS4 clients get 0x5B).
    Refuse(ReplyCode),
}

impl Route {
    /// Through a gost-chain router (a chain of proxies, or direct when it has no chain).
    ///
    /// Build the route once and clone it per request: the router keeps per-node failure marks.
    pub fn chain(router: Router) -> Route {
        Route::Via(Arc::new(ChainOutbound::new(router)))
    }

    /// The outbound to dial with, or the refusal code. `default` is the handler's outbound.
    pub(crate) fn outbound(
        self,
        default: &Arc<dyn Outbound>,
    ) -> Result<Arc<dyn Outbound>, ReplyCode> {
        match self {
            Route::Default => Ok(default.clone()),
            Route::Direct => Ok(direct()),
            Route::Via(o) => Ok(o),
            Route::Refuse(code) => Err(code),
        }
    }
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Route::Default => f.write_str("Default"),
            Route::Direct => f.write_str("Direct"),
            Route::Via(_) => f.write_str("Via(..)"),
            Route::Refuse(code) => f.debug_tuple("Refuse").field(code).finish(),
        }
    }
}

/// One shared direct outbound for every [`Route::Direct`], so routing allocates nothing per request.
fn direct() -> Arc<dyn Outbound> {
    static DIRECT: OnceLock<Arc<dyn Outbound>> = OnceLock::new();
    DIRECT.get_or_init(|| Arc::new(Direct::default())).clone()
}

/// Decides where each CONNECT goes. Called after authentication, inside the handshake timeout.
///
/// ```
/// use gost_service::{BoxFuture, Route, RouteRequest, Routing};
/// use gost_service::socks_wire::{Address, ReplyCode};
///
/// /// Refuses every `*.internal` name; everything else goes the default way.
/// struct NoInternal;
///
/// impl Routing for NoInternal {
///     fn route<'a>(&'a self, req: &'a RouteRequest<'a>) -> BoxFuture<'a, Route> {
///         let route = match req.target {
///             Address::Domain(host, _) if host.as_bytes().ends_with(b".internal") => {
///                 Route::Refuse(ReplyCode::NotAllowed)
///             }
///             _ => Route::Default,
///         };
///         Box::pin(std::future::ready(route))
///     }
/// }
/// ```
pub trait Routing: Send + Sync + 'static {
    /// The route for one request.
    fn route<'a>(&'a self, req: &'a RouteRequest<'a>) -> BoxFuture<'a, Route>;
}

impl<T: Routing + ?Sized> Routing for Arc<T> {
    fn route<'a>(&'a self, req: &'a RouteRequest<'a>) -> BoxFuture<'a, Route> {
        (**self).route(req)
    }
}

/// Picks the outbound for a request: the handler's own when no routing is set.
pub(crate) async fn pick(
    routing: Option<&dyn Routing>,
    default: &Arc<dyn Outbound>,
    req: RouteRequest<'_>,
) -> Result<Arc<dyn Outbound>, ReplyCode> {
    match routing {
        None => Ok(default.clone()),
        Some(r) => r.route(&req).await.outbound(default),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct ByPort;

    impl Routing for ByPort {
        fn route<'a>(&'a self, req: &'a RouteRequest<'a>) -> BoxFuture<'a, Route> {
            Box::pin(std::future::ready(match req.target.port() {
                1 => Route::Refuse(ReplyCode::NotAllowed),
                2 => Route::Direct,
                _ => Route::Default,
            }))
        }
    }

    #[tokio::test]
    async fn routes_map_to_outbounds_or_codes() {
        fn req(target: &Address) -> RouteRequest<'_> {
            RouteRequest {
                target,
                client: SocketAddr::from(([127, 0, 0, 1], 9)),
                user: None,
            }
        }
        let default: Arc<dyn Outbound> = Arc::new(Direct::default());
        let [t1, t2, t3] =
            [1, 2, 3].map(|port| Address::from_host_port("example.com", port).unwrap());
        let refused = pick(Some(&ByPort), &default, req(&t1)).await;
        assert_eq!(refused.err(), Some(ReplyCode::NotAllowed));
        let direct = pick(Some(&ByPort), &default, req(&t2)).await.unwrap();
        assert!(Arc::ptr_eq(&direct, &super::direct()));
        let dflt = pick(Some(&ByPort), &default, req(&t3)).await.unwrap();
        assert!(Arc::ptr_eq(&dflt, &default));
        let none = pick(None, &default, req(&t1)).await.unwrap();
        assert!(Arc::ptr_eq(&none, &default));
    }
}
