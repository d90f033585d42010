//! Caps on connections at once, in total and per client IP address, so that one host (or a flood of half-open
//! connections) cannot use up the process's file descriptors and lock everyone else out.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

/// Counts open connections against a total cap and a per-address cap (0: no limit). Taking a [`Slot`] counts one;
/// dropping it uncounts it, so every path that ends a connection releases it.
#[derive(Debug)]
pub(crate) struct ConnectionLimits {
    total_max: usize,
    per_address_max: usize,
    /// `std::sync::Mutex`: a counter update, never held across an `.await`.
    counts: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

/// Which cap refused a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The total cap.
    Total,
    /// The per-address cap.
    PerAddress,
}

impl ConnectionLimits {
    /// Caps of `total_max` connections and `per_address_max` per IP address; 0 lifts either.
    pub(crate) fn new(total_max: usize, per_address_max: usize) -> Arc<Self> {
        Arc::new(ConnectionLimits {
            total_max,
            per_address_max,
            counts: Mutex::default(),
        })
    }

    /// Counts a connection from `addr`, or says which cap it would exceed.
    pub(crate) fn try_acquire(self: &Arc<Self>, addr: IpAddr) -> Result<Slot, Refused> {
        if self.total_max == 0 && self.per_address_max == 0 {
            return Ok(Slot { limits: None, addr });
        }
        // An IPv4 client on a dual-stack socket shows as ::ffff:a.b.c.d; it is the same host as a.b.c.d.
        let addr = addr.to_canonical();
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if self.total_max > 0 && counts.total >= self.total_max {
            return Err(Refused::Total);
        }
        let from_addr = counts.by_address.entry(addr).or_insert(0);
        if self.per_address_max > 0 && *from_addr >= self.per_address_max {
            return Err(Refused::PerAddress);
        }
        *from_addr += 1;
        counts.total += 1;
        Ok(Slot {
            limits: Some(Arc::clone(self)),
            addr,
        })
    }
}

/// One counted connection; dropping it releases the count.
#[derive(Debug)]
pub(crate) struct Slot {
    /// `None` when no cap is set, so an uncapped listener takes no lock.
    limits: Option<Arc<ConnectionLimits>>,
    addr: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let Some(limits) = &self.limits else { return };
        let mut counts = limits.counts.lock().unwrap_or_else(PoisonError::into_inner);
        counts.total -= 1;
        if let Some(from_addr) = counts.by_address.get_mut(&self.addr) {
            *from_addr -= 1;
            if *from_addr == 0 {
                counts.by_address.remove(&self.addr);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_count_and_release() {
        let limits = ConnectionLimits::new(3, 2);
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        let a1 = limits.try_acquire(a).unwrap();
        let _a2 = limits.try_acquire(a).unwrap();
        assert_eq!(limits.try_acquire(a).unwrap_err(), Refused::PerAddress);
        // The same host seen through a dual-stack socket counts as the same address.
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(limits.try_acquire(mapped).unwrap_err(), Refused::PerAddress);
        let _b1 = limits.try_acquire(b).unwrap();
        assert_eq!(limits.try_acquire(b).unwrap_err(), Refused::Total);
        drop(a1);
        let _b2 = limits.try_acquire(b).unwrap();
        assert_eq!(limits.counts.lock().unwrap().by_address.len(), 2);
    }

    #[test]
    fn no_caps_no_counting() {
        let limits = ConnectionLimits::new(0, 0);
        let slots: Vec<_> = (0..100)
            .map(|_| limits.try_acquire([10, 0, 0, 1].into()).unwrap())
            .collect();
        assert_eq!(slots.len(), 100);
        assert_eq!(limits.counts.lock().unwrap().total, 0);
    }
}
