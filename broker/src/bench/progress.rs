//! The progress line: once a second on stderr, the totals so far and their rate over the last second.

use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

/// Reads a running total.
pub(crate) type Counter = Arc<dyn Fn() -> u64 + Send + Sync>;

/// Prints `label total (rate/s)` for each counter once a second until aborted.
pub(crate) fn spawn(counters: Vec<(&'static str, Counter)>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let started = Instant::now();
        let mut last: Vec<u64> = counters.iter().map(|(_, read)| read()).collect();
        let mut ticks = tokio::time::interval_at((started + Duration::from_secs(1)).into(), Duration::from_secs(1));
        loop {
            ticks.tick().await;
            let mut line = format!("bench: {:>4.0}s", started.elapsed().as_secs_f64());
            for ((label, read), last) in counters.iter().zip(&mut last) {
                let now = read();
                line.push_str(&format!("  {label} {now} ({}/s)", now.saturating_sub(*last)));
                *last = now;
            }
            // A closed stderr must not end the run.
            let _ = writeln!(std::io::stderr(), "{line}");
        }
    })
}

/// A counter read by the progress line.
pub(crate) fn counter(value: Arc<AtomicU64>) -> Counter {
    Arc::new(move || value.load(Relaxed))
}
