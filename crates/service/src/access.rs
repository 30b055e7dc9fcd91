//! Access policies a service enforces besides credentials: [`Admission`] (which clients may connect,
//! asked at accept before a byte is read — inside the listener, before any TLS or WebSocket handshake,
//! when the listener supports it) and [`TargetFilter`] (which targets a CONNECT may reach, asked before
//! dialling), plus [`Denied`], the reason reported to logs and observers when a policy refuses.
//!
//! gost-access's policies implement these traits; [`AccessAuth`] combines its authers, HTTP plugins and
//! `skipauth` into one [`Authenticator`].

use std::net::IpAddr;
use std::sync::Arc;

use gost_access::{Auther, BypassGroup, HttpAuthPlugin, SkipAuth, Target};
use gost_transport::BoxFuture;
use socks_wire::Address;

use crate::auth::{AuthRequest, Authenticator, Users};

/// Why a policy refused a client or a request (the `reason` of the refusal log line and metric).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Denied {
    /// Credentials rejected.
    Auth,
    /// Client address refused by the service's admission.
    Admission,
    /// Target refused by the service's bypass.
    Bypass,
    /// Client over a request rate of the service's `rlimiter`.
    RateLimit,
    /// The service's bandwidth `limiter` has not been loaded yet (its sources were never read).
    Limiter,
}

impl Denied {
    /// `auth`, `admission`, `bypass`, `rlimiter` or `limiter`.
    pub fn as_str(self) -> &'static str {
        match self {
            Denied::Auth => "auth",
            Denied::Admission => "admission",
            Denied::Bypass => "bypass",
            Denied::RateLimit => "rlimiter",
            Denied::Limiter => "limiter",
        }
    }
}

/// Decides which clients may connect to a service. Called on the accept path: must not block.
pub trait Admission: Send + Sync + 'static {
    /// `true` serves the client.
    fn admit(&self, client: IpAddr) -> bool;
}

impl Admission for gost_access::Admission {
    fn admit(&self, client: IpAddr) -> bool {
        gost_access::Admission::admit(self, client)
    }
}

impl<T: Admission + ?Sized> Admission for Arc<T> {
    fn admit(&self, client: IpAddr) -> bool {
        (**self).admit(client)
    }
}

/// Several admissions (`admissions: [a, b]`): a client is admitted when none refuses it (upstream).
impl<A: Admission> Admission for Vec<Arc<A>> {
    fn admit(&self, client: IpAddr) -> bool {
        self.iter().all(|a| a.admit(client))
    }
}

/// Decides which targets a service's CONNECT may reach (upstream's service-level bypass).
pub trait TargetFilter: Send + Sync + 'static {
    /// `false` refuses the request (SOCKS5 0x02, SOCKS4 0x5B) without dialling.
    fn allows(&self, target: &Address) -> bool;
}

impl<T: TargetFilter + ?Sized> TargetFilter for Arc<T> {
    fn allows(&self, target: &Address) -> bool {
        (**self).allows(target)
    }
}

/// The view of a SOCKS address gost-access matches; `None` for a name that is not UTF-8.
pub fn target_of(addr: &Address) -> Option<Target<'_>> {
    match addr {
        Address::Ip(sa) => Some(Target::Ip(sa.ip(), sa.port())),
        Address::Domain(d, port) => d.as_str().map(|name| Target::Name(name, *port)),
    }
}

impl TargetFilter for BypassGroup {
    /// A name that is not UTF-8 cannot be matched against any list, so it is refused.
    fn allows(&self, target: &Address) -> bool {
        target_of(target).is_some_and(|t| !self.contains(t))
    }
}

/// Who may log in to a service built from configuration: the handler's own users, any of its
/// authers, any of its HTTP plugins (upstream's auther group: one yes is enough), and the `skipauth`
/// client networks, which pass whatever credentials they send.
#[derive(Debug, Default)]
pub struct AccessAuth {
    /// `handler.auth` (checked when non-empty).
    pub users: Users,
    /// `auther` / `authers` entries with loaders.
    pub authers: Vec<Arc<Auther>>,
    /// `authers` entries that are HTTP plugins.
    pub plugins: Vec<Arc<HttpAuthPlugin>>,
    /// `skipauth` client IPs and networks.
    pub skip: SkipAuth,
}

impl Authenticator for AccessAuth {
    fn authenticate<'a>(&'a self, req: &'a AuthRequest<'a>) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            if self.skip.contains(req.client.ip()) {
                return true;
            }
            if !self.users.is_empty() && self.users.check(req.user, req.password) {
                return true;
            }
            if self.authers.iter().any(|a| a.check(req.user, req.password)) {
                return true;
            }
            for p in &self.plugins {
                if p.authenticate(req.user, req.password, req.client)
                    .await
                    .is_some()
                {
                    return true;
                }
            }
            false
        })
    }
}

/// Checks a CONNECT target against the handler's bypass; a refusal is reported to the observer and
/// returned as the error the handler ends with (after sending its protocol's refusal).
pub(crate) fn check_target(
    filter: Option<&dyn TargetFilter>,
    target: &Address,
    ctx: &crate::Conn,
) -> Result<(), crate::Error> {
    match filter {
        Some(f) if !f.allows(target) => {
            ctx.denied(Denied::Bypass);
            Err(crate::Error::Bypassed(target.to_string()))
        }
        _ => Ok(()),
    }
}
