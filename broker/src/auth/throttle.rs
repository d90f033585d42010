//! Slowing down password guessing: each failed login from an address makes that address wait longer before its
//! next refusal, up to a bound; the table of addresses is bounded too.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The wait after the first failure; it doubles with each further one.
const FIRST_DELAY: Duration = Duration::from_millis(100);
/// The longest wait: long enough to make guessing slow, short enough that a person who mistyped is not stuck.
const MAX_DELAY: Duration = Duration::from_secs(5);
/// Failures older than this are forgotten.
const WINDOW: Duration = Duration::from_secs(10 * 60);
/// Addresses remembered at once (a few hundred KiB at most). When full of recent failures, an address not in
/// the table gets the longest wait: under a spread-out attack, strangers wait.
const CAPACITY: usize = 4096;

/// Failed logins per client address.
#[derive(Debug, Default)]
pub(crate) struct Throttle {
    /// A `std` mutex: each section is a map lookup, never held across an `.await`.
    failures: Mutex<HashMap<IpAddr, Failures>>,
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

impl Throttle {
    /// Records a failed login from `peer` at `now` and returns how long to wait before refusing it.
    pub(crate) fn failed(&self, peer: IpAddr, now: Instant) -> Duration {
        let mut failures = self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !failures.contains_key(&peer) && failures.len() >= CAPACITY {
            failures.retain(|_, f| now.duration_since(f.last) < WINDOW);
            if failures.len() >= CAPACITY {
                return MAX_DELAY;
            }
        }
        let entry = failures.entry(peer).or_insert(Failures { count: 0, last: now });
        if now.duration_since(entry.last) >= WINDOW {
            entry.count = 0;
        }
        entry.count = entry.count.saturating_add(1);
        entry.last = now;
        delay(entry.count)
    }
}

/// The wait after `count` recent failures: 100 ms, 200 ms, 400 ms, ... up to [`MAX_DELAY`].
fn delay(count: u32) -> Duration {
    let doublings = count.saturating_sub(1).min(16);
    (FIRST_DELAY * 2u32.pow(doublings)).min(MAX_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_grows_per_address_up_to_a_bound() {
        let throttle = Throttle::default();
        let now = Instant::now();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let waits: Vec<_> = (0..8).map(|_| throttle.failed(a, now)).collect();
        assert_eq!(waits[..4], [100, 200, 400, 800].map(Duration::from_millis));
        assert_eq!(waits[7], MAX_DELAY);
        assert_eq!(throttle.failed(b, now), FIRST_DELAY, "another address starts afresh");
        assert_eq!(
            throttle.failed(a, now + WINDOW),
            FIRST_DELAY,
            "old failures are forgotten"
        );
    }

    #[test]
    fn the_table_is_bounded() {
        let throttle = Throttle::default();
        let now = Instant::now();
        for i in 0..CAPACITY as u32 {
            throttle.failed(IpAddr::from(i.to_be_bytes()), now);
        }
        let stranger: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(throttle.failed(stranger, now), MAX_DELAY);
        assert_eq!(throttle.failures.lock().unwrap().len(), CAPACITY);
        // Once the old failures expire, there is room again.
        assert_eq!(throttle.failed(stranger, now + WINDOW), FIRST_DELAY);
        assert_eq!(throttle.failures.lock().unwrap().len(), 1);
    }
}
