//! The bound on the explorer's message histories: each topic keeps its last [`HistoryLimits::per_topic`]
//! messages, and all topics together at most [`HistoryLimits::max_bytes`], the oldest messages of the whole tree
//! going first. [`HistoryBudget`] keeps the arrival order across topics; the tree does the evicting.

use std::collections::VecDeque;

use super::model::TopicMessage;

/// How many messages a topic's history keeps by default.
pub const HISTORY_PER_TOPIC: usize = 100;

/// How many bytes (as [`TopicMessage::cost`] counts them) every history together keeps by default: a busy `#`
/// fills it and then the page's memory stops growing.
pub const MAX_HISTORY_BYTES: usize = 16 * 1024 * 1024;

/// How many messages every history together keeps by default, whatever their size (the arrival queue holds one
/// entry per message, so this bounds it too).
pub const MAX_HISTORY_MESSAGES: usize = 100_000;

/// The history bounds of one tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryLimits {
    /// Messages per topic.
    pub per_topic: usize,
    /// Bytes over every topic.
    pub max_bytes: usize,
    /// Messages over every topic.
    pub max_messages: usize,
}

impl Default for HistoryLimits {
    fn default() -> Self {
        Self {
            per_topic: HISTORY_PER_TOPIC,
            max_bytes: MAX_HISTORY_BYTES,
            max_messages: MAX_HISTORY_MESSAGES,
        }
    }
}

/// The arrival order of every message in a history, and the bytes they hold.
///
/// Each admitted message gets the next sequence number and an entry in arrival order. The tree releases a
/// message when its topic's own bound drops it; its entry then stays, stale, until it reaches the front. While
/// over either bound, [`HistoryBudget::next_eviction`] hands the tree the oldest entry, which drops that message
/// if it is still its topic's oldest. Stale entries count against `max_messages`, so the queue stays bounded.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct HistoryBudget {
    /// The bounds.
    limits: HistoryLimits,
    /// (sequence number, topic) of every admitted message not evicted yet, oldest first.
    order: VecDeque<(u64, String)>,
    /// Bytes of the messages still in some topic's history.
    bytes: usize,
    /// The next sequence number.
    next_seq: u64,
}

impl HistoryBudget {
    /// An empty budget.
    pub(super) fn new(limits: HistoryLimits) -> Self {
        Self {
            limits,
            order: VecDeque::new(),
            bytes: 0,
            next_seq: 0,
        }
    }

    /// The bounds.
    pub(super) fn limits(&self) -> HistoryLimits {
        self.limits
    }

    /// Bytes of the messages in the histories.
    pub(super) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Counts `message` in; returns its sequence number.
    pub(super) fn admit(&mut self, message: &TopicMessage) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.bytes += message.cost();
        self.order.push_back((seq, message.topic.clone()));
        seq
    }

    /// `message` left its topic's history.
    pub(super) fn release(&mut self, message: &TopicMessage) {
        self.bytes = self.bytes.saturating_sub(message.cost());
    }

    /// While over a bound: the oldest entry, for the tree to drop if it is still there.
    pub(super) fn next_eviction(&mut self) -> Option<(u64, String)> {
        let over = self.bytes > self.limits.max_bytes || self.order.len() > self.limits.max_messages;
        if over { self.order.pop_front() } else { None }
    }
}
