//! What the two handshake state machines share: the step result, the handshake error, and the
//! step that follows the method selection.

use thiserror::Error;

use crate::{DecodeError, EncodeError, Method, Socks4ReplyCode};

/// The outcome of one `advance` call: how many input bytes were used, and what to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct Step<E> {
    /// Bytes of the input that belonged to the handshake. Drop them from your buffer and keep the
    /// rest: it is the next message, TLS data, or (after the final event) application data.
    pub consumed: usize,
    /// What the caller does next.
    pub event: E,
}

/// Why a handshake ended without completing. Every error is final: flush whatever the call wrote
/// into `out` (it may hold the protocol's refusal, e.g. `05 FF` or `01 01`) and close.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The peer sent a malformed message.
    #[error("malformed message from peer: {0}")]
    Decode(#[from] DecodeError),
    /// A message could not be written (output buffer too small, or an unencodable value).
    #[error("cannot write handshake message: {0}")]
    Encode(#[from] EncodeError),
    /// Server: the client offered no acceptable method (`05 FF` was written).
    /// Client: the server answered `05 FF`.
    #[error("no acceptable authentication method")]
    NoAcceptableMethod,
    /// Client: the server chose a method this client cannot use (not offered, or needing
    /// credentials or TLS it does not have).
    #[error("server chose {0}, which this client cannot use")]
    UnexpectedMethod(Method),
    /// Server: the caller rejected the credentials (`01 01` was written).
    #[error("client credentials rejected")]
    AuthFailed,
    /// Client: the server rejected the credentials with this RFC 1929 status.
    #[error("server rejected the credentials (status {0:#04x})")]
    AuthRejected(u8),
    /// SOCKS4 client: the server refused the request with this reply code.
    #[error("server refused the SOCKS4 request ({0})")]
    Socks4Refused(Socks4ReplyCode),
    /// The state machine was driven out of order (e.g. `advance` while a credential verdict is
    /// pending, or after the handshake finished or failed).
    #[error("handshake driven out of order: {0}")]
    OutOfOrder(&'static str),
}

/// Where a handshake goes once the method is settled, the same on both sides: `05 FF` ends it;
/// otherwise the next state is `credentials` when the method runs the RFC 1929 sub-negotiation
/// and `request` when it does not, and `Some(start_tls)` is the event to hand the caller at once
/// when the method switches the connection to in-band TLS first.
pub(crate) fn after_method<S, E>(
    method: Method,
    credentials: S,
    request: S,
    start_tls: E,
) -> Result<(S, Option<E>), HandshakeError> {
    if method == Method::NoAcceptable {
        return Err(HandshakeError::NoAcceptableMethod);
    }
    let next = if method.needs_credentials() {
        credentials
    } else {
        request
    };
    Ok((next, method.starts_tls().then_some(start_tls)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_method_covers_every_method() {
        let next = |m| after_method(m, "creds", "request", "tls");
        assert_eq!(next(Method::NoAuth), Ok(("request", None)));
        assert_eq!(next(Method::UserPass), Ok(("creds", None)));
        assert_eq!(next(Method::Tls), Ok(("request", Some("tls"))));
        assert_eq!(next(Method::TlsAuth), Ok(("creds", Some("tls"))));
        assert_eq!(
            next(Method::NoAcceptable),
            Err(HandshakeError::NoAcceptableMethod)
        );
    }
}
