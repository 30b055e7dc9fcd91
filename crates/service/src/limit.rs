//! Upstream's `limiter` (bandwidth) and `rlimiter` (request rate) on a service run by the runner
//! ([`Limits`]).
//!
//! A client over its request rate is closed at once by the service's gate (`crate::gate`), before a
//! byte is read. A connection with a bandwidth limit gets its
//! stream wrapped in gost-access's [`Throttled`]: what the service reads from the client draws from
//! the `in` buckets, what it writes to the client from the `out` buckets, for the handshake and the
//! relay alike (as upstream wraps the accepted connection). A wrapped stream is no longer plain TCP,
//! so its relay moves bounded chunks through the buffered copy; an unlimited connection is not wrapped
//! and keeps the zero-copy splice path. UDP-over-TCP (UDP-TUN) datagrams travel inside the wrapped
//! stream and are limited with it; UDP ASSOCIATE datagrams, which have a socket of their own, draw
//! from the same buckets (the connection's `Conn::throttle`), each waiting whole for its tokens.
//!
//! The forwarders without a runner (`udp`, `rtcp`, `rudp`) ask the same [`Limits`] for each new
//! session or remote peer (`crate::forward::PeerAdmission`).

use std::net::SocketAddr;
use std::sync::Arc;

use gost_access::limit::{ConnThrottle, RequestLimiter, Throttled, TrafficLimiter};
use gost_transport::Stream;

use crate::access::Denied;

/// The limiters of one service; the default limits nothing.
#[derive(Debug, Clone, Default)]
pub struct Limits {
    /// Bandwidth limiters (the service's `limiter` and the handler's); each one's buckets apply.
    pub traffic: Vec<Arc<TrafficLimiter>>,
    /// Request-rate limiters (`rlimiter`); a request any of them refuses is refused.
    pub requests: Vec<Arc<RequestLimiter>>,
}

impl Limits {
    /// Whether nothing is limited.
    pub fn is_empty(&self) -> bool {
        self.traffic.is_empty() && self.requests.is_empty()
    }

    /// The buckets of a new connection from `client`: every traffic limiter's, joined. A limiter not
    /// loaded yet refuses the client (fail closed).
    pub fn buckets(&self, client: SocketAddr) -> Result<ConnThrottle, Denied> {
        let mut all = ConnThrottle::default();
        for t in &self.traffic {
            let c = t.connection(client.ip()).ok_or(Denied::Limiter)?;
            all = all.join(c);
        }
        Ok(all)
    }

    /// A connection just accepted from `client`, wrapped when its bandwidth is limited, and the
    /// buckets it was wrapped with (for what the client sends outside the stream); refused while a
    /// limiter is not loaded.
    pub(crate) fn throttle(
        &self,
        conn: Stream,
        client: SocketAddr,
    ) -> Result<(Stream, Option<ConnThrottle>), Denied> {
        let throttle = self.buckets(client)?;
        if throttle.is_unlimited() {
            return Ok((conn, None));
        }
        Ok((wrap(conn, throttle.clone()), Some(throttle)))
    }
}

/// `conn` limited by `throttle`: reads draw from its input, writes from its output. An unlimited
/// connection is returned as is, so it keeps the zero-copy relay.
pub(crate) fn wrap(conn: Stream, throttle: ConnThrottle) -> Stream {
    if throttle.is_unlimited() {
        return conn;
    }
    let (peer, local) = (conn.peer_addr(), conn.local_addr());
    let wrapped = Throttled::new(conn, throttle.input, throttle.output);
    Stream::new(wrapped, peer, local)
}
