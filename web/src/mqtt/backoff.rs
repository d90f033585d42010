//! How long to wait before the next automatic reconnect: 1 s, doubling up to 30 s, back to 1 s once a broker
//! accepts a connection. A broker that restarts is found again within a second; one that stays down is asked
//! twice a minute, not hammered by every open dashboard.

use std::time::Duration;

/// The first delay, after a connection that had been accepted ends.
pub(super) const FIRST: Duration = Duration::from_secs(1);
/// The longest delay.
pub(super) const MAX: Duration = Duration::from_secs(30);

/// The reconnect delays of one dashboard.
#[derive(Debug)]
pub(super) struct Backoff {
    /// The delay the next failure waits.
    next: Duration,
}

impl Backoff {
    /// Starts at [`FIRST`].
    pub(super) fn new() -> Self {
        Self { next: FIRST }
    }

    /// The delay before the next attempt; the one after it is twice as long, up to [`MAX`].
    pub(super) fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (delay * 2).min(MAX);
        delay
    }

    /// A connection was accepted: the next failure waits [`FIRST`] again.
    pub(super) fn reset(&mut self) {
        self.next = FIRST;
    }
}
