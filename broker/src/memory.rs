//! `[limits] max_memory`: one budget for the application messages the broker holds in memory, wherever they are
//! (queued for subscribers, in flight, retained).
//!
//! Per-session bounds (`max_queued_bytes`) and the retained store's (`max_retained_bytes`) each stop one
//! thing from growing; many offline sessions filling their queues together, or a client opening many sessions,
//! still add up. The budget is charged once per message, whatever number of queues share it (a message is one
//! `Arc`), when the broker accepts a PUBLISH, and released when the last holder lets the message go: the
//! [`Charge`] travels inside the message and is released by its `Drop`. A PUBLISH that would pass the budget is
//! refused at the door (see `handler::packets`), never dropped after being acknowledged.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// The bytes of messages held, against the limit.
#[derive(Debug)]
pub(crate) struct MemoryBudget {
    /// `max_memory`; 0: no limit (still counted, for `$SYS`).
    limit: usize,
    /// Bytes of every message held now, as [`crate::message::Message::size`] counts them.
    used: AtomicUsize,
    /// PUBLISH packets refused because the budget was full.
    refused: AtomicU64,
}

impl MemoryBudget {
    /// A budget of `limit` bytes (0: unlimited).
    pub(crate) fn new(limit: usize) -> Arc<Self> {
        Arc::new(MemoryBudget {
            limit,
            used: AtomicUsize::new(0),
            refused: AtomicU64::new(0),
        })
    }

    /// Charges `bytes` if they fit under the limit; `None` (and counted as refused) if they do not. A message
    /// larger than the whole budget never fits.
    pub(crate) fn try_charge(self: &Arc<Self>, bytes: usize) -> Option<Charge> {
        // Relaxed throughout: a counter checked against a limit; it orders no other memory, and two publishers
        // racing for the last bytes are settled by the compare-exchange itself.
        let fits = self
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                let after = used.checked_add(bytes)?;
                (self.limit == 0 || after <= self.limit).then_some(after)
            })
            .is_ok();
        if fits {
            Some(Charge {
                budget: Some(Arc::clone(self)),
                bytes,
            })
        } else {
            self.refused.fetch_add(1, Ordering::Relaxed);
            None
        }
    }

    /// Charges `bytes` whatever the limit: for what the broker holds without a choice (messages restored from
    /// the store at start), so the count stays true and new publications wait for room.
    pub(crate) fn charge(self: &Arc<Self>, bytes: usize) -> Charge {
        self.used.fetch_add(bytes, Ordering::Relaxed);
        Charge {
            budget: Some(Arc::clone(self)),
            bytes,
        }
    }

    /// Bytes held now.
    pub(crate) fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// The limit (0: none).
    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    /// PUBLISH packets refused so far because the budget was full.
    pub(crate) fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }
}

/// Bytes charged to a [`MemoryBudget`], given back when dropped. The default charges nothing (messages the
/// broker makes itself: `$SYS`, wills, the command-line tools').
#[derive(Debug, Default)]
pub(crate) struct Charge {
    budget: Option<Arc<MemoryBudget>>,
    bytes: usize,
}

impl Drop for Charge {
    fn drop(&mut self) {
        if let Some(budget) = &self.budget {
            budget.used.fetch_sub(self.bytes, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_are_refused_past_the_limit_and_given_back_when_dropped() {
        let budget = MemoryBudget::new(100);
        let first = budget.try_charge(60).expect("fits");
        assert!(budget.try_charge(41).is_none(), "60 + 41 > 100");
        let second = budget.try_charge(40).expect("exactly full fits");
        assert_eq!((budget.used(), budget.refused()), (100, 1));
        drop(first);
        assert_eq!(budget.used(), 40);
        assert!(budget.try_charge(101).is_none(), "larger than the whole budget");
        drop(second);
        assert_eq!((budget.used(), budget.refused()), (0, 2));
    }

    #[test]
    fn a_forced_charge_counts_and_holds_new_charges_back() {
        let budget = MemoryBudget::new(10);
        let restored = budget.charge(25);
        assert_eq!(budget.used(), 25);
        assert!(budget.try_charge(1).is_none());
        drop(restored);
        assert!(budget.try_charge(10).is_some());
    }

    #[test]
    fn without_a_limit_everything_fits_and_is_counted() {
        let budget = MemoryBudget::new(0);
        let charge = budget.try_charge(usize::MAX / 2).expect("no limit");
        assert_eq!(budget.used(), usize::MAX / 2);
        drop(charge);
        assert_eq!((budget.used(), budget.refused()), (0, 0));
        drop(Charge::default());
        assert_eq!(budget.used(), 0, "the default charges nothing");
    }
}
