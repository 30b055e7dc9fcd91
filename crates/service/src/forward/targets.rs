//! A forwarder's targets (`tcp://:L/a:1,b:2`): picked by a selector with failure marking.

use gost_chain::addr::target_address;
use gost_chain::select::FailMarker;
use gost_chain::{Error, Selector};
use socks_wire::Address;

/// One forwarding target.
#[derive(Debug)]
pub struct Target {
    name: Box<str>,
    addr: Address,
    marker: FailMarker,
}

impl Target {
    /// The target address (a configured empty host is the far end's `127.0.0.1`).
    pub fn addr(&self) -> &Address {
        &self.addr
    }

    /// The target as configured (`host:port`), for logs.
    pub fn name(&self) -> &str {
        &self.name
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
    /// Targets (`host:port` each, parsed here once) picked by `selector`; `None` when `addrs` is empty.
    pub fn new(
        addrs: impl IntoIterator<Item = impl AsRef<str>>,
        selector: Selector,
    ) -> Result<Option<Targets>, Error> {
        let targets = addrs
            .into_iter()
            .map(|name| {
                let name = name.as_ref();
                Ok(Target {
                    addr: target_address(name)?,
                    name: name.into(),
                    marker: FailMarker::default(),
                })
            })
            .collect::<Result<Vec<Target>, Error>>()?;
        Ok((!targets.is_empty()).then_some(Targets { targets, selector }))
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
        let t = Targets::new(["a:1", ":2"], Selector::default())
            .unwrap()
            .unwrap();
        assert_eq!([t.pick().name(), t.pick().name()], ["a:1", ":2"]);
        assert_eq!(t.all()[1].addr().to_string(), "127.0.0.1:2");
        t.all()[0].failed();
        assert_eq!([t.pick().name(), t.pick().name()], [":2", ":2"]);
        assert!(
            Targets::new(Vec::<String>::new(), Selector::default())
                .unwrap()
                .is_none()
        );
        assert!(Targets::new(["no-port"], Selector::default()).is_err());
    }
}
