//! A forwarder's targets (`tcp://:L/a:1,b:2`): picked by a selector with failure marking.

use gost_chain::Selector;
use gost_chain::select::FailMarker;

/// One forwarding target.
#[derive(Debug)]
pub struct Target {
    addr: String,
    marker: FailMarker,
}

impl Target {
    /// The target address (`host:port`; an empty host is the far end's `127.0.0.1`).
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Records a failed attempt to reach it.
    pub fn failed(&self) {
        self.marker.mark();
    }

    /// Records a successful attempt.
    pub fn succeeded(&self) {
        self.marker.reset();
    }
}

/// The targets of one forwarding service.
#[derive(Debug)]
pub struct Targets {
    targets: Vec<Target>,
    selector: Selector,
}

impl Targets {
    /// Targets picked by `selector`; `None` when `addrs` is empty.
    pub fn new(addrs: impl IntoIterator<Item = String>, selector: Selector) -> Option<Targets> {
        let targets: Vec<Target> = addrs
            .into_iter()
            .map(|addr| Target {
                addr,
                marker: FailMarker::default(),
            })
            .collect();
        (!targets.is_empty()).then_some(Targets { targets, selector })
    }

    /// One target, round-robin, preferring those that did not just fail.
    pub fn pick(&self) -> &Target {
        self.selector
            .select(&self.targets, |t| &t.marker)
            .unwrap_or(&self.targets[0])
    }

    /// Every target.
    pub fn all(&self) -> &[Target] {
        &self.targets
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_robin_over_targets_skipping_failed_ones() {
        let t = Targets::new(["a:1".to_owned(), "b:2".to_owned()], Selector::default()).unwrap();
        assert_eq!([t.pick().addr(), t.pick().addr()], ["a:1", "b:2"]);
        t.all()[0].failed();
        assert_eq!([t.pick().addr(), t.pick().addr()], ["b:2", "b:2"]);
        assert!(Targets::new(Vec::new(), Selector::default()).is_none());
    }
}
