//! The process's descriptor budget: every connection kind takes its descriptors from it before it opens
//! them, so the limits of each kind are reached — and refused cleanly — before the process runs into its
//! `RLIMIT_NOFILE` and every `socket`, `accept` or `pipe` starts failing with `EMFILE`.
//!
//! The budget is read once, at first use: the soft descriptor limit, less the descriptors open at that
//! moment (runtime, listeners, logs), less a margin for everything not counted here (DNS lookups, chain
//! hops, BIND listeners). Each claim is [`PER_CLAIM`] descriptors:
//!
//! * [`Kind::Connection`]: an accepted client and the socket it will open to its target; refused at
//!   accept (closed, logged, counted) when the budget is spent.
//! * [`Kind::Udp`]: a UDP association's relay socket and its outbound socket; at most half the budget,
//!   beyond which the association is refused with a failure reply.
//! * [`Kind::Pipe`]: one splice(2) pipe (one direction of a zero-copy relay); at most half the budget,
//!   beyond which the relay copies through user space instead.

use std::sync::{Mutex, OnceLock, PoisonError};

/// Descriptors one claim stands for.
pub(crate) const PER_CLAIM: usize = 2;

/// What a claim is for (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Connection,
    Udp,
    Pipe,
}

impl Kind {
    fn index(self) -> usize {
        match self {
            Kind::Connection => 0,
            Kind::Udp => 1,
            Kind::Pipe => 2,
        }
    }
}

/// The budget and what is claimed from it, in descriptors.
#[derive(Debug)]
struct Budget {
    pool: usize,
    used: Mutex<Used>,
}

#[derive(Debug, Default)]
struct Used {
    total: usize,
    by_kind: [usize; 3],
}

impl Budget {
    fn of_this_process() -> Budget {
        let limit = gost_sys::sockopt::nofile().map_or(1024, |(soft, _)| soft);
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let open = std::fs::read_dir("/proc/self/fd").map_or(16, Iterator::count);
        Budget::new(limit, open)
    }

    /// The budget of a process limited to `limit` descriptors with `open` already open.
    fn new(limit: usize, open: usize) -> Budget {
        let margin = (limit / 32).clamp(4, 256);
        Budget {
            pool: limit.saturating_sub(open).saturating_sub(margin),
            used: Mutex::default(),
        }
    }

    fn cap(&self, kind: Kind) -> usize {
        match kind {
            Kind::Connection => self.pool,
            Kind::Udp | Kind::Pipe => self.pool / 2,
        }
    }

    fn take(&self, kind: Kind) -> bool {
        let mut used = self.used.lock().unwrap_or_else(PoisonError::into_inner);
        let i = kind.index();
        if used.total + PER_CLAIM > self.pool || used.by_kind[i] + PER_CLAIM > self.cap(kind) {
            return false;
        }
        used.total += PER_CLAIM;
        used.by_kind[i] += PER_CLAIM;
        true
    }

    fn give_back(&self, kind: Kind) {
        let mut used = self.used.lock().unwrap_or_else(PoisonError::into_inner);
        used.total -= PER_CLAIM;
        used.by_kind[kind.index()] -= PER_CLAIM;
    }
}

fn budget() -> &'static Budget {
    static BUDGET: OnceLock<Budget> = OnceLock::new();
    BUDGET.get_or_init(Budget::of_this_process)
}

/// [`PER_CLAIM`] descriptors of the process's budget, given back when dropped.
#[derive(Debug)]
pub(crate) struct Claim(Kind);

impl Claim {
    /// Claims descriptors for `kind`, or `None` when its share or the budget is spent.
    pub(crate) fn take(kind: Kind) -> Option<Claim> {
        budget().take(kind).then(|| Claim(kind))
    }
}

/// Most claims of `kind` the budget allows at once.
pub(crate) fn capacity(kind: Kind) -> usize {
    budget().cap(kind) / PER_CLAIM
}

impl Drop for Claim {
    fn drop(&mut self) {
        budget().give_back(self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_share_the_pool_and_udp_and_pipes_get_half() {
        // 24 descriptors, 10 open, a margin of 4: 10 left, 5 claims; udp and pipes 2 claims each.
        let b = Budget::new(24, 10);
        assert_eq!(b.pool, 10);
        assert!(b.take(Kind::Udp) && b.take(Kind::Udp));
        assert!(!b.take(Kind::Udp), "udp beyond half the pool");
        assert!(b.take(Kind::Pipe) && b.take(Kind::Pipe));
        assert!(!b.take(Kind::Pipe));
        assert!(b.take(Kind::Connection));
        assert!(!b.take(Kind::Connection), "beyond the pool");
        b.give_back(Kind::Udp);
        assert!(b.take(Kind::Connection));
    }

    #[test]
    fn a_process_with_no_room_has_an_empty_pool() {
        let b = Budget::new(16, 20);
        assert_eq!(b.pool, 0);
        assert!(!b.take(Kind::Connection));
    }
}
