//! Chain metrics with upstream's names, fed through gost-chain's [`ChainObserver`]:
//! `gost_chain_errors_total` (counter) and `gost_chain_node_connect_duration_seconds` (histogram),
//! both labelled `host`, `chain`, `node`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use gost_chain::ChainObserver;

use super::histogram::Histogram;
use super::{Metrics, escape, header};

/// Upper bounds (seconds) of the node connect duration buckets, as upstream.
pub const NODE_CONNECT_BUCKETS: [f64; 13] = [
    0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0,
];

/// The counters of every (chain, node) pair a route started from.
#[derive(Debug, Default)]
pub(super) struct ChainStats {
    nodes: RwLock<BTreeMap<(String, String), Arc<NodeStats>>>,
}

#[derive(Debug)]
struct NodeStats {
    errors: AtomicU64,
    connect: Histogram,
}

impl ChainStats {
    fn node(&self, chain: &str, node: &str) -> Arc<NodeStats> {
        let key = (chain.to_owned(), node.to_owned());
        let read = self.nodes.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(s) = read.get(&key) {
            return s.clone();
        }
        drop(read);
        let mut write = self.nodes.write().unwrap_or_else(PoisonError::into_inner);
        write
            .entry(key)
            .or_insert_with(|| {
                Arc::new(NodeStats {
                    errors: AtomicU64::new(0),
                    connect: Histogram::new(&NODE_CONNECT_BUCKETS),
                })
            })
            .clone()
    }

    /// Both metrics for every pair seen; `host` is escaped already.
    pub(super) fn render(&self, out: &mut String, host: &str) {
        let nodes = self.nodes.read().unwrap_or_else(PoisonError::into_inner);
        let labels = |(chain, node): &(String, String)| {
            format!(
                "host=\"{host}\",chain=\"{}\",node=\"{}\"",
                escape(chain),
                escape(node)
            )
        };
        let name = "gost_chain_errors_total";
        header(out, name, "counter", "Total chain errors");
        for (key, s) in nodes.iter() {
            let _ = writeln!(out, "{name}{{{}}} {}", labels(key), s.errors.load(Relaxed));
        }
        let name = "gost_chain_node_connect_duration_seconds";
        header(
            out,
            name,
            "histogram",
            "Distribution of chain node connect latencies",
        );
        for (key, s) in nodes.iter() {
            s.connect.render(out, name, &labels(key));
        }
    }
}

impl ChainObserver for Metrics {
    fn node_connected(&self, chain: &str, node: &str, took: Duration) {
        self.chains.node(chain, node).connect.observe(took);
    }

    fn chain_failed(&self, chain: &str, node: &str) {
        self.chains.node(chain, node).errors.fetch_add(1, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_errors_and_connect_durations_per_chain_and_node() {
        let m = Metrics::with_host("h");
        m.node_connected("chain-0", "node-0", Duration::from_millis(30));
        m.node_connected("chain-0", "node-0", Duration::from_secs(3));
        m.chain_failed("chain-0", "node-1");
        let text = m.render();
        let l0 = "host=\"h\",chain=\"chain-0\",node=\"node-0\"";
        let l1 = "host=\"h\",chain=\"chain-0\",node=\"node-1\"";
        let d = "gost_chain_node_connect_duration_seconds";
        for line in [
            "# TYPE gost_chain_errors_total counter".to_owned(),
            format!("gost_chain_errors_total{{{l0}}} 0"),
            format!("gost_chain_errors_total{{{l1}}} 1"),
            format!("# TYPE {d} histogram"),
            format!("{d}_bucket{{{l0},le=\"0.01\"}} 0"),
            format!("{d}_bucket{{{l0},le=\"0.05\"}} 1"),
            format!("{d}_bucket{{{l0},le=\"5\"}} 2"),
            format!("{d}_bucket{{{l0},le=\"+Inf\"}} 2"),
            format!("{d}_sum{{{l0}}} 3.03"),
            format!("{d}_count{{{l0}}} 2"),
            format!("{d}_count{{{l1}}} 0"),
        ] {
            assert!(
                text.lines().any(|x| x == line),
                "missing {line:?} in\n{text}"
            );
        }
    }
}
