//! The broker's CPU time and resident memory, read from /proc/PID/stat and /proc/PID/status (Linux only).

use std::time::Instant;

/// Clock ticks per second of /proc/PID/stat's utime and stime: USER_HZ, 100 on every Linux architecture we build
/// for (the kernel converts to it; `getconf CLK_TCK` prints it).
const TICKS_PER_SEC: f64 = 100.0;

/// One reading of the broker process.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    /// When it was read.
    at: Instant,
    /// utime + stime, in clock ticks.
    cpu_ticks: u64,
    /// VmRSS, KiB.
    pub(crate) rss_kib: u64,
}

impl Sample {
    /// The CPU time used (user and system), in seconds.
    pub(crate) fn cpu_seconds(&self) -> f64 {
        self.cpu_ticks as f64 / TICKS_PER_SEC
    }
}

/// Reads `pid`'s CPU time and RSS; `None` if the process is gone or /proc says something unexpected.
pub(crate) fn sample(pid: u32) -> Option<Sample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count fields after its last ')'.
    let after = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of the line (utime, stime) are the 12th and 13th after the name.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(Sample {
        at: Instant::now(),
        cpu_ticks: utime + stime,
        rss_kib,
    })
}

/// The broker between two readings.
#[derive(Debug, Clone, Copy)]
pub struct BrokerUsage {
    /// CPU time over wall time, in percent (100 = one core busy).
    pub cpu_percent: f64,
    /// VmRSS at the start, KiB.
    pub rss_start_kib: u64,
    /// VmRSS at the end, KiB.
    pub rss_end_kib: u64,
    /// CPU seconds used between the readings: over the messages delivered, the broker's cost per message.
    pub cpu_secs: f64,
}

/// What the broker used between `start` and `end`.
pub(crate) fn usage(start: Sample, end: Sample) -> BrokerUsage {
    let wall = end.at.duration_since(start.at).as_secs_f64();
    let cpu = end.cpu_ticks.saturating_sub(start.cpu_ticks) as f64 / TICKS_PER_SEC;
    BrokerUsage {
        cpu_percent: if wall > 0.0 { 100.0 * cpu / wall } else { 0.0 },
        rss_start_kib: start.rss_kib,
        rss_end_kib: end.rss_kib,
        cpu_secs: cpu,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let start = sample(std::process::id()).expect("/proc/self");
        assert!(start.rss_kib > 0);
        let end = sample(std::process::id()).expect("/proc/self");
        assert!(usage(start, end).cpu_percent >= 0.0);
    }
}
