//! Counters shared by the publisher and subscriber tasks of one run: relaxed atomics, read by the publishers'
//! in-flight window and by the progress line, never locked.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::Instant;

/// Who receives what in a run, and how far everyone got.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The run's clock origin: payload timestamps are nanoseconds since it.
    pub(crate) start: Instant,
    /// For each publisher, the subscribers that receive its messages.
    pub(crate) audience: Vec<Vec<usize>>,
    /// Messages published, per publisher.
    pub(crate) sent: Vec<AtomicU64>,
    /// One past the highest sequence number of publisher `p` received by subscriber `s`, at
    /// `s * publishers + p`. The highest rather than a count, so that a lost message (QoS 0, or a broker that
    /// drops) does not shrink the publisher's window for the rest of the run.
    pub(crate) delivered: Vec<AtomicU64>,
    /// Every message received by any subscriber (duplicates included), for the progress line.
    pub(crate) received: AtomicU64,
    /// Set when every publisher has stopped publishing: subscribers then drain and stop.
    pub(crate) publishing_done: AtomicBool,
}

impl Shared {
    /// Counters for `publishers` publishers and `subscribers` subscribers, with `audience` saying who hears whom.
    pub(crate) fn new(audience: Vec<Vec<usize>>, subscribers: usize) -> Self {
        let publishers = audience.len();
        Self {
            start: Instant::now(),
            audience,
            sent: (0..publishers).map(|_| AtomicU64::new(0)).collect(),
            delivered: (0..publishers * subscribers).map(|_| AtomicU64::new(0)).collect(),
            received: AtomicU64::new(0),
            publishing_done: AtomicBool::new(false),
        }
    }

    /// Nanoseconds since the run started.
    pub(crate) fn now_nanos(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// How far `subscriber` got in `publisher`'s sequence.
    pub(crate) fn delivered(&self, subscriber: usize, publisher: usize) -> &AtomicU64 {
        &self.delivered[subscriber * self.sent.len() + publisher]
    }

    /// How far the slowest of `publisher`'s subscribers got in its sequence.
    pub(crate) fn slowest(&self, publisher: usize) -> u64 {
        self.audience[publisher]
            .iter()
            .map(|&s| self.delivered(s, publisher).load(Relaxed))
            .min()
            .unwrap_or(u64::MAX)
    }

    /// Whether `subscriber` has received the last message published to it so far.
    pub(crate) fn caught_up(&self, subscriber: usize) -> bool {
        (0..self.sent.len())
            .filter(|&p| self.audience[p].contains(&subscriber))
            .all(|p| self.delivered(subscriber, p).load(Relaxed) >= self.sent[p].load(Relaxed))
    }

    /// Messages published so far by everyone.
    pub(crate) fn total_sent(&self) -> u64 {
        self.sent.iter().map(|s| s.load(Relaxed)).sum()
    }
}
