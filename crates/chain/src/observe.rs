//! [`ChainObserver`]: what a chain reports about the routes dialled through it, for upstream's metrics
//! `gost_chain_node_connect_duration_seconds` and `gost_chain_errors_total`. gost-chain knows nothing
//! of metrics: gost-service's `Metrics` implements this trait and gost-app hands it to the chains.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Receives the outcome of each route dialled through a chain. Calls are made on the dialling task,
/// so implementations only count.
pub trait ChainObserver: Send + Sync + fmt::Debug {
    /// The first node of a route on `chain` was reached: its dialer connected (and ran its own
    /// handshake, TLS or WebSocket) in `took`.
    fn node_connected(&self, chain: &str, node: &str, took: Duration);

    /// A dial through `chain` failed because of the chain: a node could not be reached or answered
    /// badly (not a target the last node refused). `node` is the route's first node, as upstream
    /// labels it.
    fn chain_failed(&self, chain: &str, node: &str);
}

/// A chain's name with the observer its routes report to.
#[derive(Debug)]
pub(crate) struct Report {
    pub(crate) chain: String,
    pub(crate) observer: Arc<dyn ChainObserver>,
}
