//! What one subscriber saw: per-publisher sequence bookkeeping (lost, duplicated, out of order) and latencies.

/// Sequences seen from one publisher.
#[derive(Debug, Default)]
struct Sequences {
    /// One bit per sequence number seen; sequences start at 0 and grow by one, so this stays dense.
    seen: Vec<u64>,
    /// Distinct sequence numbers seen.
    unique: u64,
    /// The highest sequence number seen plus one; a message below it that is new arrived out of order.
    next: u64,
}

/// One subscriber's tally.
#[derive(Debug, Default)]
pub(crate) struct Tracker {
    /// The publishers this subscriber hears, in slot order (a handful, or one: searched linearly), with what was
    /// seen from each.
    publishers: Vec<(u32, Sequences)>,
    /// Every message received, duplicates included.
    pub(crate) received: u64,
    /// Messages whose sequence number had been seen before.
    pub(crate) duplicated: u64,
    /// New messages with a sequence number below one already seen.
    pub(crate) out_of_order: u64,
    /// Payloads that were not ours (too short, unknown publisher).
    pub(crate) foreign: u64,
    /// Latency of every message, nanoseconds: an exact sample list, sorted once at the end.
    pub(crate) latencies: Vec<u64>,
    /// When the last message arrived, nanoseconds since the run started: where throughput is measured to.
    pub(crate) last_nanos: u64,
    /// Messages (duplicates included) received at or after `settle_nanos`, for the steady rate.
    pub(crate) after_settle: u64,
    /// From when messages count towards `after_settle`, nanoseconds since the run started (`u64::MAX`: never).
    settle_nanos: u64,
}

impl Tracker {
    /// A tracker for a subscriber that hears `publishers`.
    pub(crate) fn new(publishers: &[usize]) -> Self {
        Self {
            publishers: publishers
                .iter()
                .map(|&p| (u32::try_from(p).unwrap_or(u32::MAX), Sequences::default()))
                .collect(),
            settle_nanos: u64::MAX,
            ..Self::default()
        }
    }

    /// Counts messages received from `nanos` on (since the run started) towards the steady rate.
    pub(crate) fn settle_at(mut self, nanos: u64) -> Self {
        self.settle_nanos = nanos;
        self
    }

    /// Records message `seq` of `publisher`, sent and received at these nanoseconds since the run started.
    /// Returns the publisher's slot if the message was new.
    pub(crate) fn record(&mut self, publisher: u32, seq: u64, sent: u64, received: u64) -> Option<usize> {
        let Some(slot) = self.publishers.iter().position(|(p, _)| *p == publisher) else {
            self.foreign += 1;
            return None;
        };
        let sequences = &mut self.publishers[slot].1;
        self.received += 1;
        if received >= self.settle_nanos {
            self.after_settle += 1;
        }
        self.latencies.push(received.saturating_sub(sent));
        self.last_nanos = self.last_nanos.max(received);
        let (word, bit) = ((seq / 64) as usize, seq % 64);
        if sequences.seen.len() <= word {
            sequences.seen.resize(word + 1, 0);
        }
        if sequences.seen[word] & (1 << bit) != 0 {
            self.duplicated += 1;
            return None;
        }
        sequences.seen[word] |= 1 << bit;
        sequences.unique += 1;
        if seq < sequences.next {
            self.out_of_order += 1;
        }
        sequences.next = sequences.next.max(seq + 1);
        Some(slot)
    }

    /// Distinct messages received from all publishers.
    pub(crate) fn unique(&self) -> u64 {
        self.publishers.iter().map(|(_, s)| s.unique).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_duplicates_and_reordering() {
        let mut t = Tracker::new(&[0, 7]);
        assert_eq!(t.record(0, 0, 10, 20), Some(0));
        assert_eq!(t.record(0, 2, 10, 20), Some(0));
        assert_eq!(t.record(0, 1, 10, 20), Some(0));
        assert_eq!(t.record(0, 1, 10, 20), None);
        assert_eq!(t.record(7, 0, 10, 20), Some(1));
        assert_eq!(t.record(5, 0, 10, 20), None);
        assert_eq!((t.received, t.duplicated, t.out_of_order, t.foreign), (5, 1, 1, 1));
        assert_eq!(t.unique(), 4);
        assert_eq!(t.after_settle, 0, "no settle point, no steady count");
    }

    #[test]
    fn counts_what_arrives_after_the_settle_point() {
        let mut t = Tracker::new(&[0]).settle_at(100);
        t.record(0, 0, 10, 99);
        t.record(0, 1, 10, 100);
        t.record(0, 2, 10, 150);
        assert_eq!((t.received, t.after_settle), (3, 2));
    }
}
