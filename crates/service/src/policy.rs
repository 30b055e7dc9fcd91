//! What the SOCKS4 and SOCKS5 handlers consult around a request: the authenticator, the bypass and the
//! routing. One copy, so the two handlers (and
//! [`crate::ServiceBuilder`], which hands the same set to both halves of `auto`) cannot drift apart.

use std::sync::Arc;
use std::time::Duration;

use socks_wire::{Address, ReplyCode};

use crate::Error;
use crate::access::{self, TargetFilter};
use crate::auth::{Authenticator, Users};
use crate::observe::Conn;
use crate::outbound::{DialError, Outbound};
use crate::route::{self, RouteRequest, Routing};

/// A handler's access and routing settings (none set: anyone, any target, the handler's outbound).
#[derive(Clone, Default)]
pub(crate) struct Policy {
    pub(crate) auth: Option<Arc<dyn Authenticator>>,
    pub(crate) routing: Option<Arc<dyn Routing>>,
    pub(crate) bypass: Option<Arc<dyn TargetFilter>>,
}

/// A CONNECT refused before any dial: the handler sends its protocol's refusal, then ends with `error`.
pub(crate) struct Refusal {
    /// The reply code the routing chose; `None` when the bypass refused the target.
    pub(crate) code: Option<ReplyCode>,
    pub(crate) error: Error,
}

impl Policy {
    /// This policy for a handler configured with `users`: they authenticate unless an authenticator
    /// was set (none of either: no authentication).
    pub(crate) fn with_users(mut self, users: &Users) -> Policy {
        if self.auth.is_none() && !users.is_empty() {
            self.auth = Some(Arc::new(users.clone()));
        }
        self
    }

    /// The outbound of a CONNECT to `target`: the bypass is asked first, then the routing (bounded by
    /// `timeout`, whose expiry is the outer error), which may pick another than the handler's `default`.
    pub(crate) async fn connect_outbound(
        &self,
        default: &Arc<dyn Outbound>,
        target: &Address,
        ctx: &Conn,
        timeout: Duration,
    ) -> Result<Result<Arc<dyn Outbound>, Refusal>, Error> {
        if let Err(error) = access::check_target(self.bypass.as_deref(), target, ctx) {
            return Ok(Err(Refusal { code: None, error }));
        }
        let req = RouteRequest {
            target,
            client: ctx.client(),
            user: ctx.user(),
        };
        let routed =
            tokio::time::timeout(timeout, route::pick(self.routing.as_deref(), default, req))
                .await
                .map_err(|_| Error::HandshakeTimeout(timeout))?;
        Ok(routed.map_err(|code| Refusal {
            code: Some(code),
            error: Error::Dial(DialError::Policy(code)),
        }))
    }
}

/// What the SOCKS4 and SOCKS5 handlers have alike: their constructors, the setters of their [`Policy`]
/// (documented per handler, as the replies named differ) and the [`crate::Handler`] entry point, which
/// runs the handler's `serve` into a report. A macro because the two handlers are distinct public
/// types built and entered the same way.
macro_rules! socks_handler {
    (
        $handler:ident($opts:ident),
        $($setter:ident($field:ident: $bound:ident) $doc:literal,)+
    ) => {
        impl $handler {
            /// A handler dialing targets directly from this host.
            pub fn new(opts: $opts) -> $handler {
                $handler::with_outbound(opts, ::std::sync::Arc::new($crate::Direct::default()))
            }

            /// A handler dialing targets through `outbound` (e.g. a proxy chain).
            pub fn with_outbound(
                opts: $opts,
                outbound: ::std::sync::Arc<dyn $crate::Outbound>,
            ) -> $handler {
                $handler::with_policy(opts, outbound, $crate::policy::Policy::default())
            }

            pub(crate) fn with_policy(
                opts: $opts,
                outbound: ::std::sync::Arc<dyn $crate::Outbound>,
                policy: $crate::policy::Policy,
            ) -> $handler {
                let policy = policy.with_users(&opts.users);
                $handler {
                    opts,
                    outbound,
                    policy,
                }
            }

            $(
                #[doc = $doc]
                pub fn $setter(mut self, $field: ::std::sync::Arc<dyn $crate::$bound>) -> $handler {
                    self.policy.$field = Some($field);
                    self
                }
            )+
        }

        impl $crate::Handler for $handler {
            fn handle<'a>(
                &'a self,
                conn: ::gost_transport::Stream,
                ctx: &'a $crate::Conn,
            ) -> $crate::BoxFuture<'a, $crate::Report> {
                Box::pin(async move {
                    let mut report = $crate::Report::default();
                    let result = self.serve(conn, ctx, &mut report).await;
                    report.result = result;
                    report
                })
            }
        }
    };
}
pub(crate) use socks_handler;
