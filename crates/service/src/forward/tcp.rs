//! Local TCP port forwarding (`tcp://:L/target`): each accepted connection is relayed to a target.

use std::sync::Arc;

use gost_chain::Router;
use gost_transport::{BoxFuture, Stream};

use super::Targets;
use crate::observe::Conn;
use crate::outbound::DialError;
use crate::relay::Relay;
use crate::{Error, Handler, Report};

/// Relays each connection to one of its targets, directly or through the router's chain.
#[derive(Debug, Clone)]
pub struct TcpForwarder {
    router: Router,
    targets: Arc<Targets>,
}

impl TcpForwarder {
    /// A forwarder dialing `targets` through `router`.
    pub fn new(router: Router, targets: Targets) -> TcpForwarder {
        TcpForwarder {
            router,
            targets: Arc::new(targets),
        }
    }
}

impl Handler for TcpForwarder {
    fn handle<'a>(&'a self, conn: Stream, _ctx: &'a Conn) -> BoxFuture<'a, Report> {
        Box::pin(async move {
            let target = self.targets.pick();
            let mut report = Report {
                target: Some(format!("forward {}", target.name())),
                ..Report::default()
            };
            let upstream = match self.router.dial(target.addr()).await {
                Ok(s) => {
                    target.succeeded();
                    s
                }
                Err(e) => {
                    target.failed();
                    report.result = Err(Error::Dial(DialError::from_io(e.into())));
                    return report;
                }
            };
            report.relay = Some(Relay::new(conn, upstream));
            report
        })
    }
}
