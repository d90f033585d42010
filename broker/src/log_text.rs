//! Keeping the log bounded against what peers send: [`Clipped`] shortens a peer-controlled string (client id, topic,
//! user name, reason string) before it is logged, and [`Throttle`] logs a repeated warning at its 1st, 2nd, 4th,
//! 8th… occurrence only.
//!
//! Why: a client id or topic can be 65,535 bytes. Logged whole on each of a connection's lines, one connection cost
//! 128 KB of log; a few thousand a minute fill a Raspberry Pi's SD card. A warning a client can trigger at will
//! (a full retained store, a refused connection) is the same problem in time instead of size.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// The most characters of a peer's string a log line shows.
pub(crate) const MAX_LOGGED_CHARS: usize = 64;

/// A peer-controlled string as it is logged: at most [`MAX_LOGGED_CHARS`] characters, and when it was longer, an
/// ellipsis and its real length in bytes (`abc…(65535 bytes)`), so the log still says something was odd.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clipped<'a>(pub(crate) &'a str);

impl fmt::Display for Clipped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.char_indices().nth(MAX_LOGGED_CHARS) {
            None => f.write_str(self.0),
            Some((cut, _)) => write!(f, "{}…({} bytes)", &self.0[..cut], self.0.len()),
        }
    }
}

/// Counts occurrences of one warning and says which ones to log: the 1st, 2nd, 4th, 8th… (powers of two), so a
/// condition that lasts stays visible, with its count, at a logarithmic cost. Lock-free; shared by every connection.
#[derive(Debug, Default)]
pub(crate) struct Throttle {
    count: AtomicU64,
}

impl Throttle {
    /// A new counter at zero.
    pub(crate) const fn new() -> Self {
        Throttle {
            count: AtomicU64::new(0),
        }
    }

    /// Counts one occurrence; `Some(total so far)` when this one should be logged.
    pub(crate) fn hit(&self) -> Option<u64> {
        // Relaxed: the count orders nothing else; a rare race only shifts which occurrence is logged.
        let count = self.count.fetch_add(1, Ordering::Relaxed) + 1;
        count.is_power_of_two().then_some(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_strings_are_logged_whole() {
        assert_eq!(Clipped("sensor-1").to_string(), "sensor-1");
        let exact = "x".repeat(MAX_LOGGED_CHARS);
        assert_eq!(Clipped(&exact).to_string(), exact);
    }

    #[test]
    fn long_strings_are_cut_with_their_length() {
        let long = "a".repeat(65_535);
        let shown = Clipped(&long).to_string();
        assert_eq!(shown, format!("{}…(65535 bytes)", "a".repeat(MAX_LOGGED_CHARS)));
        // Multi-byte characters are cut on a character boundary, never inside one.
        let wide = "é".repeat(100);
        assert_eq!(
            Clipped(&wide).to_string(),
            format!("{}…(200 bytes)", "é".repeat(MAX_LOGGED_CHARS))
        );
    }

    #[test]
    fn throttle_logs_powers_of_two() {
        let throttle = Throttle::new();
        let logged: Vec<u64> = (0..20).filter_map(|_| throttle.hit()).collect();
        assert_eq!(logged, [1, 2, 4, 8, 16]);
    }
}
