//! [`Bypass`]: the targets a hop or a node does not carry (upstream's chain-level bypass). When a route
//! is picked for a target, a hop whose bypass covers it ends the route there (that hop and the ones after
//! it are left out, so the previous node, or this host, reaches the target itself), and a node whose
//! bypass covers it is not picked; a hop left with no node ends the route the same way.
//!
//! gost-rs's configuration implements it with gost-access's bypass lists; gost-chain only asks.

use socks_wire::Address;

/// Whether a hop or node carries a target.
pub trait Bypass: Send + Sync + std::fmt::Debug + 'static {
    /// `Ok(true)` when `target` is bypassed (not carried); `Err` with the list's name while the list
    /// has never been loaded (its sources were never read): the route then fails rather than guess.
    fn bypasses(&self, target: &Address) -> Result<bool, NotLoaded>;
}

/// A bypass list that has not been loaded yet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bypass {0:?} has not been loaded yet (its sources were never read)")]
pub struct NotLoaded(pub String);

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use gost_transport::tcp::{TcpDialer, TcpOptions};
    use gost_transport::tls::ClientTls;

    use super::*;
    use crate::{Chain, Connector, Hop, Node, Selector, Socks5Connector};

    /// Bypasses the targets on one port; `None`: never loaded.
    #[derive(Debug)]
    struct Port(Option<u16>);

    impl Bypass for Port {
        fn bypasses(&self, target: &Address) -> Result<bool, NotLoaded> {
            match self.0 {
                Some(p) => Ok(target.port() == p),
                None => Err(NotLoaded("port".into())),
            }
        }
    }

    fn node(name: &str, bypass: Option<Port>) -> Node {
        let connector = Connector::Socks5(Socks5Connector::new(
            Default::default(),
            None,
            ClientTls::insecure(),
        ));
        let dialer = Arc::new(TcpDialer::new(TcpOptions::default()));
        let n = Node::new(name, "127.0.0.1:1080".parse().unwrap(), connector, dialer);
        match bypass {
            Some(b) => n.with_bypass(Arc::new(b)),
            None => n,
        }
    }

    fn names(chain: &Chain, port: u16) -> Vec<String> {
        let target: Address = format!("example.com:{port}").parse().unwrap();
        chain.route_to(&target).unwrap().map_or_else(Vec::new, |r| {
            r.nodes().iter().map(|n| n.name().to_owned()).collect()
        })
    }

    #[test]
    fn a_hop_bypass_ends_the_route_and_a_node_bypass_skips_the_node() {
        let first = Hop::new(
            "hop-0",
            vec![node("a", Some(Port(Some(22)))), node("b", None)],
            Selector::default(),
        )
        .unwrap();
        let second = Hop::new("hop-1", vec![node("c", None)], Selector::default())
            .unwrap()
            .with_bypass(Arc::new(Port(Some(80))));
        let chain = Chain::new("chain-0", vec![first, second]).unwrap();
        // Port 22: node a is skipped, so hop-0 always picks b.
        for _ in 0..3 {
            assert_eq!(names(&chain, 22), ["b", "c"]);
        }
        // Port 80: hop-1 does not carry it; hop-0's node reaches the target.
        assert_eq!(names(&chain, 80).len(), 1);
        let only = Hop::new(
            "hop-0",
            vec![node("a", Some(Port(Some(443))))],
            Selector::default(),
        )
        .unwrap();
        let chain = Chain::new("chain-1", vec![only]).unwrap();
        assert!(names(&chain, 443).is_empty(), "no node carries it: direct");
        assert_eq!(names(&chain, 8443), ["a"]);
    }

    #[test]
    fn a_bypass_never_loaded_fails_the_route() {
        let hop = Hop::new("hop-0", vec![node("a", None)], Selector::default())
            .unwrap()
            .with_bypass(Arc::new(Port(None)));
        let chain = Chain::new("chain-0", vec![hop]).unwrap();
        let err = chain
            .route_to(&"example.com:80".parse().unwrap())
            .unwrap_err();
        assert!(matches!(err, crate::Error::Bypass(_)), "{err}");
    }
}
