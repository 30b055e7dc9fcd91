//! Upstream's bandwidth (`limiters:`) and request-rate (`rlimiters:`) limiters: the `limits:` line
//! grammar, token buckets, and a stream wrapper that keeps a connection to its rates.
//!
//! They live in this crate because they restrict access like the other policies and are fed the same
//! way: inline lines plus a file, a Redis set and an HTTP body, re-read every `reload` period, failing
//! closed (see the crate docs).

mod bucket;
mod lines;
mod rate;
mod ruled;
mod throttled;
mod traffic;

pub use bucket::Throttle;
pub use lines::{
    InOut, LineError, Net, Rules, Scope, parse_bytes_rate, parse_request_line, parse_traffic_line,
};
pub use rate::{RequestLimiter, RequestSpec};
pub use throttled::Throttled;
pub use traffic::{ConnThrottle, TrafficLimiter, TrafficSpec};
