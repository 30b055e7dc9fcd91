//! Who may use a service: the pluggable [`Authenticator`] trait and [`Users`], the static user list
//! (upstream `auth` / `auths`) checked in constant time.

use std::net::SocketAddr;

use gost_transport::BoxFuture;
use subtle::{Choice, ConstantTimeEq};

/// How the client presented its identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthMethod {
    /// SOCKS5 username/password (RFC 1929), method 0x02, or 0x82 when `tls` is set in the request.
    Socks5Password,
    /// The SOCKS4/4A userid field; the password is always empty.
    Socks4UserId,
    /// HTTP Basic authentication (the metrics endpoint).
    HttpBasic,
}

/// One authentication attempt, as an [`Authenticator`] sees it.
#[derive(Debug, Clone, Copy)]
pub struct AuthRequest<'a> {
    /// The protocol step that carried the credentials.
    pub method: AuthMethod,
    /// The username (SOCKS5) or userid (SOCKS4), raw bytes as sent.
    pub user: &'a [u8],
    /// The password (empty for SOCKS4).
    pub password: &'a [u8],
    /// The client's address as seen by the listener.
    pub client: SocketAddr,
    /// Whether the credentials arrived inside GOST's in-band TLS (SOCKS5 method 0x82).
    pub tls: bool,
}

/// Decides whether a client may use the service. Called once per connection that requires
/// authentication, inside the handshake timeout; a slow lookup delays only that client.
///
/// Implementations must not leak through timing which part of the credentials was wrong: compare secrets
/// with a constant-time comparison (e.g. `subtle::ConstantTimeEq`, as [`Users`] does).
///
/// ```
/// use gost_service::{AuthRequest, Authenticator, BoxFuture};
///
/// /// Lets in clients from loopback only, whatever their credentials.
/// struct LoopbackOnly;
///
/// impl Authenticator for LoopbackOnly {
///     fn authenticate<'a>(&'a self, req: &'a AuthRequest<'a>) -> BoxFuture<'a, bool> {
///         Box::pin(async move { req.client.ip().is_loopback() })
///     }
/// }
/// ```
pub trait Authenticator: Send + Sync + 'static {
    /// `true` lets the client in; `false` gets the protocol's refusal (SOCKS5 `01 01`, SOCKS4 0x5D).
    fn authenticate<'a>(&'a self, req: &'a AuthRequest<'a>) -> BoxFuture<'a, bool>;
}

/// Username/password pairs (upstream `auth` / `auths`). Order does not matter; names may repeat.
#[derive(Clone, Default)]
pub struct Users {
    entries: Vec<(Vec<u8>, Vec<u8>)>,
}

impl std::fmt::Debug for Users {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print passwords.
        f.debug_struct("Users")
            .field("count", &self.entries.len())
            .finish()
    }
}

impl Users {
    /// Builds the set from `(username, password)` pairs.
    pub fn new<U, P>(pairs: impl IntoIterator<Item = (U, P)>) -> Users
    where
        U: Into<Vec<u8>>,
        P: Into<Vec<u8>>,
    {
        Users {
            entries: pairs
                .into_iter()
                .map(|(u, p)| (u.into(), p.into()))
                .collect(),
        }
    }

    /// Whether no user is configured (authentication off).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether `user` exists and its password is empty or equals `password`, as upstream's authenticator
    /// decides. Every entry is compared, without early exit, so timing does not tell which part was wrong.
    pub fn check(&self, user: &[u8], password: &[u8]) -> bool {
        let mut ok = Choice::from(0);
        for (u, p) in &self.entries {
            let pass_ok = Choice::from(u8::from(p.is_empty())) | p.as_slice().ct_eq(password);
            ok |= u.as_slice().ct_eq(user) & pass_ok;
        }
        ok.into()
    }
}

impl<T: Authenticator + ?Sized> Authenticator for std::sync::Arc<T> {
    fn authenticate<'a>(&'a self, req: &'a AuthRequest<'a>) -> BoxFuture<'a, bool> {
        (**self).authenticate(req)
    }
}

impl Authenticator for Users {
    /// [`Users::check`] on the presented credentials, whatever the method or client.
    fn authenticate<'a>(&'a self, req: &'a AuthRequest<'a>) -> BoxFuture<'a, bool> {
        let ok = self.check(req.user, req.password);
        Box::pin(std::future::ready(ok))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_every_user() {
        let users = Users::new([("alice", "s3cret"), ("bob", "hunter2"), ("carol", "")]);
        assert!(users.check(b"alice", b"s3cret"));
        assert!(users.check(b"bob", b"hunter2"));
        assert!(!users.check(b"bob", b"s3cret"));
        assert!(!users.check(b"alice", b"s3cre"));
        assert!(!users.check(b"mallory", b""));
        // A user configured without a password is identified by name only (upstream; SOCKS4 needs this).
        assert!(users.check(b"carol", b""));
        assert!(users.check(b"carol", b"anything"));
        assert!(!format!("{users:?}").contains("s3cret"));
    }
}
