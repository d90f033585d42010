//! [`History`]: a chart card's recent values, bounded, fed from the topic tree's last message and message count
//! (the tree keeps one message per topic, and tells its readers in batches, so the card keeps its own history).

use std::collections::VecDeque;

/// The last values of a topic, at most `capacity` of them.
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    /// The values, oldest first.
    values: VecDeque<f64>,
    /// The bound on `values`.
    capacity: usize,
    /// The topic's message count when the last value was taken, so one message is taken once.
    seen: Option<u64>,
}

impl History {
    /// An empty history of at most `capacity` values (at least 1).
    pub fn new(capacity: usize) -> Self {
        Self {
            values: VecDeque::new(),
            capacity: capacity.max(1),
            seen: None,
        }
    }

    /// Takes `value`, the topic's last message when it has `count` messages, unless that message was taken
    /// already. A value that is not a number is skipped (the caller shows why). Returns whether one was added.
    pub fn observe(&mut self, count: u64, value: Result<f64, String>) -> bool {
        if self.seen == Some(count) {
            return false;
        }
        self.seen = Some(count);
        let Ok(value) = value else {
            return false;
        };
        if self.values.len() == self.capacity {
            self.values.pop_front();
        }
        self.values.push_back(value);
        true
    }

    /// Starts from `values` (oldest first; the last `capacity` are kept) remembered by the broker, unless a live
    /// message was taken already. The remembered last value (count 0, see `cards::reported`) is among them, so it
    /// is not taken again.
    pub fn seed(&mut self, values: impl IntoIterator<Item = f64>) {
        if self.seen.is_some_and(|count| count > 0) {
            return;
        }
        self.values = values.into_iter().collect();
        while self.values.len() > self.capacity {
            self.values.pop_front();
        }
        self.seen = Some(0);
    }

    /// The values, oldest first.
    pub fn values(&self) -> impl ExactSizeIterator<Item = f64> + '_ {
        self.values.iter().copied()
    }

    /// The lowest and highest value, if any.
    pub fn range(&self) -> Option<(f64, f64)> {
        let mut values = self.values();
        let first = values.next()?;
        Some(values.fold((first, first), |(low, high), value| (low.min(value), high.max(value))))
    }

    /// The SVG polyline points drawing the values in a `width` × `height` box (y grows downwards), or an empty
    /// string for fewer than two values.
    pub fn polyline(&self, width: f64, height: f64) -> String {
        let Some((low, high)) = self.range() else {
            return String::new();
        };
        if self.values.len() < 2 {
            return String::new();
        }
        let span = if high > low { high - low } else { 1.0 };
        let step = width / (self.values.len() - 1) as f64;
        self.values()
            .enumerate()
            .map(|(i, value)| {
                let x = i as f64 * step;
                // A flat line sits in the middle.
                let y = if high > low {
                    height - (value - low) / span * height
                } else {
                    height / 2.0
                };
                format!("{x:.1},{y:.1}")
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}
