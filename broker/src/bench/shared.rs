//! Counters shared by the publisher and subscriber tasks of one run: relaxed atomics, read by the publishers'
//! in-flight window and by the progress line, never locked.
//!
//! The bookkeeping is sparse (who hears whom, not a publishers × subscribers matrix), so that `pairs` with 10,000
//! pairs keeps 10,000 counters rather than 10⁸.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::Instant;

/// Who receives what in a run, and how far everyone got.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The run's clock origin: payload timestamps are nanoseconds since it.
    pub(crate) start: Instant,
    /// For each publisher, the subscribers that receive its messages, each with the slot of this publisher in
    /// that subscriber's [`Shared::hears`].
    audience: Vec<Vec<(usize, usize)>>,
    /// For each subscriber, the publishers it receives, in slot order.
    hears: Vec<Vec<usize>>,
    /// Messages published, per publisher.
    pub(crate) sent: Vec<AtomicU64>,
    /// One past the highest sequence number received by subscriber `s` from the publisher in its slot `k`, at
    /// `[s][k]`. The highest rather than a count, so that a lost message (QoS 0, or a broker that drops) does not
    /// shrink the publisher's window for the rest of the run.
    delivered: Vec<Vec<AtomicU64>>,
    /// Every message received by any subscriber (duplicates included), for the progress line.
    pub(crate) received: AtomicU64,
    /// Set when every publisher has stopped publishing: subscribers then drain and stop.
    pub(crate) publishing_done: AtomicBool,
    /// From when (nanoseconds since `start`) receipts count towards the steady rate; `u64::MAX`: never. Set once,
    /// before the subscribers start reading.
    pub(crate) settle_nanos: AtomicU64,
}

impl Shared {
    /// Counters for `subscribers` subscribers and one publisher per entry of `audience`, which says who hears it.
    pub(crate) fn new(audience: Vec<Vec<usize>>, subscribers: usize) -> Self {
        let mut hears: Vec<Vec<usize>> = vec![Vec::new(); subscribers];
        let audience: Vec<Vec<(usize, usize)>> = audience
            .into_iter()
            .enumerate()
            .map(|(p, subs)| {
                subs.into_iter()
                    .map(|s| {
                        hears[s].push(p);
                        (s, hears[s].len() - 1)
                    })
                    .collect()
            })
            .collect();
        Self {
            start: Instant::now(),
            delivered: hears
                .iter()
                .map(|h| h.iter().map(|_| AtomicU64::new(0)).collect())
                .collect(),
            sent: (0..audience.len()).map(|_| AtomicU64::new(0)).collect(),
            audience,
            hears,
            received: AtomicU64::new(0),
            publishing_done: AtomicBool::new(false),
            settle_nanos: AtomicU64::new(u64::MAX),
        }
    }

    /// Nanoseconds since the run started.
    pub(crate) fn now_nanos(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// The publishers `subscriber` receives.
    pub(crate) fn hears(&self, subscriber: usize) -> &[usize] {
        &self.hears[subscriber]
    }

    /// How many subscribers receive `publisher`'s messages.
    pub(crate) fn audience_len(&self, publisher: usize) -> usize {
        self.audience[publisher].len()
    }

    /// Records that `subscriber` received sequence `seq` from the publisher in its slot `slot`.
    pub(crate) fn record(&self, subscriber: usize, slot: usize, seq: u64) {
        if let Some(d) = self.delivered[subscriber].get(slot) {
            d.fetch_max(seq + 1, Relaxed);
        }
    }

    /// How far the slowest of `publisher`'s subscribers got in its sequence.
    pub(crate) fn slowest(&self, publisher: usize) -> u64 {
        self.audience[publisher]
            .iter()
            .map(|&(s, k)| self.delivered[s][k].load(Relaxed))
            .min()
            .unwrap_or(u64::MAX)
    }

    /// Whether `subscriber` has received the last message published to it so far.
    pub(crate) fn caught_up(&self, subscriber: usize) -> bool {
        self.hears[subscriber]
            .iter()
            .zip(&self.delivered[subscriber])
            .all(|(&p, d)| d.load(Relaxed) >= self.sent[p].load(Relaxed))
    }

    /// Messages published so far by everyone.
    pub(crate) fn total_sent(&self) -> u64 {
        self.sent.iter().map(|s| s.load(Relaxed)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_follow_the_audience() {
        // Publisher 0 to subscribers 0 and 1, publisher 1 to subscriber 1.
        let shared = Shared::new(vec![vec![0, 1], vec![1]], 2);
        assert_eq!((shared.hears(0), shared.hears(1)), (&[0][..], &[0, 1][..]));
        shared.sent[0].store(3, Relaxed);
        shared.sent[1].store(1, Relaxed);
        shared.record(1, 0, 2);
        assert_eq!(shared.slowest(0), 0);
        shared.record(0, 0, 2);
        assert_eq!(shared.slowest(0), 3);
        assert!(shared.caught_up(0));
        assert!(!shared.caught_up(1));
        shared.record(1, 1, 0);
        assert!(shared.caught_up(1));
        assert_eq!(shared.audience_len(0), 2);
    }
}
