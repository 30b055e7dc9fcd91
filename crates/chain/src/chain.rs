//! Nodes, hops and chains, and the [`Route`] through them: the first node is dialled, each node's connector
//! CONNECTs to the next node's address, the next node's dialer handshake (TLS, WebSocket) layers over that
//! stream, and the last node's connector then serves the actual request.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gost_transport::{Dialer, Stream};
use socks_wire::Address;

use crate::error::bounded;
use crate::observe::{ChainObserver, Report};
use crate::select::{FailMarker, Selector};
use crate::{BindListener, Bypass, Connector, Error, MuxBindListener, PacketConn};

/// One proxy server: where it is, how to reach it, and what it speaks.
pub struct Node {
    name: String,
    addr: Address,
    connector: Connector,
    dialer: Arc<dyn Dialer>,
    marker: FailMarker,
    bypass: Option<Arc<dyn Bypass>>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("name", &self.name)
            .field("addr", &self.addr)
            .field("connector", &self.connector.kind())
            .finish_non_exhaustive()
    }
}

impl Node {
    /// A node at `addr` reached with `dialer` and spoken to with `connector` (parse a configured
    /// `host:port` with [`crate::addr::target_address`]).
    pub fn new(
        name: impl Into<String>,
        addr: Address,
        connector: Connector,
        dialer: Arc<dyn Dialer>,
    ) -> Node {
        Node {
            name: name.into(),
            addr,
            connector,
            dialer,
            marker: FailMarker::default(),
            bypass: None,
        }
    }

    /// The node is not picked for the targets `bypass` covers (upstream's node-level bypass).
    pub fn with_bypass(mut self, bypass: Arc<dyn Bypass>) -> Node {
        self.bypass = Some(bypass);
        self
    }

    fn bypasses(&self, target: &Address) -> Result<bool, Error> {
        match &self.bypass {
            Some(b) => Ok(b.bypasses(target)?),
            None => Ok(false),
        }
    }

    /// The node's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The node's address.
    pub fn addr(&self) -> &Address {
        &self.addr
    }

    /// The node's connector.
    pub fn connector(&self) -> &Connector {
        &self.connector
    }

    /// The node's failure history.
    pub fn marker(&self) -> &FailMarker {
        &self.marker
    }
}

/// A set of interchangeable nodes and how to pick one.
#[derive(Debug)]
pub struct Hop {
    name: String,
    nodes: Vec<Arc<Node>>,
    selector: Selector,
    bypass: Option<Arc<dyn Bypass>>,
}

impl Hop {
    /// A hop of `nodes` (at least one) picked by `selector`.
    pub fn new(
        name: impl Into<String>,
        nodes: Vec<Node>,
        selector: Selector,
    ) -> Result<Hop, Error> {
        let name = name.into();
        if nodes.is_empty() {
            return Err(Error::Config(format!("hop {name:?} has no nodes")));
        }
        Ok(Hop {
            name,
            nodes: nodes.into_iter().map(Arc::new).collect(),
            selector,
            bypass: None,
        })
    }

    /// The route ends before this hop for the targets `bypass` covers (upstream's hop-level bypass).
    pub fn with_bypass(mut self, bypass: Arc<dyn Bypass>) -> Hop {
        self.bypass = Some(bypass);
        self
    }

    /// The hop's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The hop's nodes.
    pub fn nodes(&self) -> &[Arc<Node>] {
        &self.nodes
    }

    fn select(&self) -> Arc<Node> {
        let picked = self.selector.select(&self.nodes, |n| n.marker());
        Arc::clone(picked.unwrap_or(&self.nodes[0]))
    }

    /// A node carrying `target`, or `None` when the hop's bypass covers it or every node's does.
    fn select_for(&self, target: &Address) -> Result<Option<Arc<Node>>, Error> {
        if let Some(b) = &self.bypass
            && b.bypasses(target)?
        {
            return Ok(None);
        }
        let mut carrying = Vec::with_capacity(self.nodes.len());
        for node in &self.nodes {
            if !node.bypasses(target)? {
                carrying.push(node);
            }
        }
        let picked = self.selector.select(&carrying, |n| n.marker());
        Ok(picked.map(|n| Arc::clone(n)))
    }
}

/// Hops in dialling order.
#[derive(Debug)]
pub struct Chain {
    name: String,
    hops: Vec<Hop>,
    report: Option<Arc<Report>>,
}

impl Chain {
    /// A chain of `hops` (at least one).
    pub fn new(name: impl Into<String>, hops: Vec<Hop>) -> Result<Chain, Error> {
        let name = name.into();
        if hops.is_empty() {
            return Err(Error::Config(format!("chain {name:?} has no hops")));
        }
        Ok(Chain {
            name,
            hops,
            report: None,
        })
    }

    /// Reports each route's first-node connect time and the dials the chain failed to `observer`.
    pub fn with_observer(mut self, observer: Arc<dyn ChainObserver>) -> Chain {
        self.report = Some(Arc::new(Report {
            chain: self.name.clone(),
            observer,
        }));
        self
    }

    /// The chain's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The hops.
    pub fn hops(&self) -> &[Hop] {
        &self.hops
    }

    /// Picks one node per hop.
    pub fn route(&self) -> Route {
        Route {
            nodes: self.hops.iter().map(Hop::select).collect(),
            report: self.report.clone(),
        }
    }

    /// Picks one node per hop for `target`, up to the first hop that does not carry it (its bypass
    /// covers the target, or every node's does): the node before that hop reaches the target itself.
    /// `None` when the first hop does not carry it: this host reaches it, as without a chain.
    pub fn route_to(&self, target: &Address) -> Result<Option<Route>, Error> {
        let mut nodes = Vec::with_capacity(self.hops.len());
        for hop in &self.hops {
            match hop.select_for(target)? {
                Some(node) => nodes.push(node),
                None => break,
            }
        }
        Ok((!nodes.is_empty()).then(|| Route {
            nodes,
            report: self.report.clone(),
        }))
    }
}

/// One node per hop, ready to be dialled.
#[derive(Debug, Clone)]
pub struct Route {
    nodes: Vec<Arc<Node>>,
    report: Option<Arc<Report>>,
}

impl Route {
    /// The nodes in order.
    pub fn nodes(&self) -> &[Arc<Node>] {
        &self.nodes
    }

    fn last(&self) -> &Node {
        self.nodes.last().expect("a chain has at least one hop")
    }

    /// Opens a stream to the last node, through all the others, ready for its connector's request. Each
    /// step is bounded by `timeout`; the node a step failed to reach is marked failed, and the chain's
    /// observer told.
    pub async fn reach_last(&self, timeout: Duration) -> Result<Stream, Error> {
        self.through_chain(timeout)
            .await
            .inspect_err(|_| self.chain_failed())
    }

    async fn through_chain(&self, timeout: Duration) -> Result<Stream, Error> {
        let first = &self.nodes[0];
        let start = Instant::now();
        let mut stream = bounded(timeout, "dial", first.addr(), async {
            Ok(first.dialer.dial(first.addr()).await?)
        })
        .await
        .inspect_err(|_| first.marker.mark())?;
        if let Some(r) = &self.report {
            r.observer
                .node_connected(&r.chain, first.name(), start.elapsed());
        }
        for pair in self.nodes.windows(2) {
            let (prev, next) = (&pair[0], &pair[1]);
            stream = bounded(timeout, "dial through the chain", next.addr(), async {
                let s = prev
                    .connector
                    .connect(stream, prev.addr(), next.addr())
                    .await?;
                Ok(next.dialer.handshake(s, next.addr()).await?)
            })
            .await
            .inspect_err(|_| next.marker.mark())?;
        }
        Ok(stream)
    }

    /// Marks every node of the route healthy after a successful request.
    fn succeeded(&self) {
        self.nodes.iter().for_each(|n| n.marker.reset());
    }

    /// Tells the observer a dial failed because of the chain (labelled with the first node).
    fn chain_failed(&self) {
        if let Some(r) = &self.report {
            r.observer.chain_failed(&r.chain, self.nodes[0].name());
        }
    }

    /// The last node failed `e`: marked failed and counted as the chain's error, unless it only
    /// refused the request (an unreachable target or a disabled command is not the chain's fault).
    fn last_failed(&self, e: &Error) {
        if !matches!(e, Error::Refused { .. } | Error::Socks4Refused { .. }) {
            self.last().marker.mark();
            self.chain_failed();
        }
    }

    /// Runs `request` on the last node, over a stream reached through the others: a failure is the
    /// last node's (see [`Route::last_failed`]), a success marks the route healthy.
    async fn on_last<'r, T, F>(
        &'r self,
        timeout: Duration,
        request: impl FnOnce(Stream, &'r Node) -> F,
    ) -> Result<T, Error>
    where
        F: Future<Output = Result<T, Error>>,
    {
        let stream = self.reach_last(timeout).await?;
        let out = request(stream, self.last())
            .await
            .inspect_err(|e| self.last_failed(e))?;
        self.succeeded();
        Ok(out)
    }

    /// A connection to `target` through the whole route.
    pub async fn dial(&self, target: &Address, timeout: Duration) -> Result<Stream, Error> {
        self.on_last(timeout, |s, last| {
            last.connector.connect(s, last.addr(), target)
        })
        .await
    }

    /// A UDP association on the last node.
    pub async fn udp(&self, timeout: Duration) -> Result<PacketConn, Error> {
        self.on_last(timeout, |s, last| async move {
            last.connector.socks5("UDP")?.udp(s, last.addr()).await
        })
        .await
    }

    /// UDP-TUN bind mode on the last node, listening on `laddr`.
    pub async fn udp_bind(&self, laddr: &Address, timeout: Duration) -> Result<PacketConn, Error> {
        self.on_last(timeout, |s, last| async move {
            let c = last.connector.socks5("remote UDP forwarding (rudp)")?;
            c.udp_bind(s, last.addr(), laddr).await
        })
        .await
    }

    /// Plain BIND on the last node, listening on `laddr` (upstream's SOCKS4 server has no BIND either).
    pub async fn bind(&self, laddr: &Address, timeout: Duration) -> Result<BindListener, Error> {
        self.on_last(timeout, |s, last| async move {
            last.connector
                .socks5("BIND")?
                .bind(s, last.addr(), laddr)
                .await
        })
        .await
    }

    /// MBIND on the last node, listening on `laddr`.
    pub async fn mux_bind(
        &self,
        laddr: &Address,
        timeout: Duration,
    ) -> Result<MuxBindListener, Error> {
        self.on_last(timeout, |s, last| async move {
            let c = last.connector.socks5("remote TCP forwarding (rtcp)")?;
            c.mux_bind(s, last.addr(), laddr).await
        })
        .await
    }
}
