//! The final report: a table for people, or one JSON object (`--json`) for scripts.

use std::fmt::Write as _;

use super::procstat::BrokerUsage;
use super::storm::StormReport;

/// Latency percentiles, microseconds, computed exactly from every sample (a sorted `Vec`, not a histogram).
#[derive(Debug, Clone, Copy)]
pub struct Latency {
    /// Median.
    pub p50_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// Largest.
    pub max_us: f64,
}

impl Latency {
    /// The percentiles of `samples` (nanoseconds); `None` when there are none. Sorts `samples`.
    pub(crate) fn of(samples: &mut [u64]) -> Option<Self> {
        samples.sort_unstable();
        let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize] as f64 / 1000.0;
        let max = *samples.last()?;
        Some(Self {
            p50_us: at(0.5),
            p99_us: at(0.99),
            max_us: max as f64 / 1000.0,
        })
    }
}

/// What the retained scenario measured beyond the common fields.
#[derive(Debug, Clone, Copy)]
pub struct RetainedReport {
    /// Retained topics published.
    pub topics: u64,
    /// Seconds to publish them all and have them acknowledged (QoS 1 and 2).
    pub publish_secs: f64,
    /// Seconds from sending SUBSCRIBE to the last retained message received.
    pub subscribe_to_last_secs: f64,
}

/// Everything a run measured.
#[derive(Debug, Clone)]
pub struct Report {
    /// fan-in, fan-out, pairs or storm.
    pub scenario: &'static str,
    /// "3.1", "3.1.1" or "5".
    pub version: &'static str,
    /// Publish and subscribe QoS.
    pub qos: u8,
    /// Publishers connected.
    pub publishers: u64,
    /// Subscribers connected.
    pub subscribers: u64,
    /// Payload bytes.
    pub size: u64,
    /// The in-flight window per publisher.
    pub inflight: u64,
    /// Seconds from the first publication to the last receipt.
    pub elapsed_secs: f64,
    /// Messages published.
    pub sent: u64,
    /// Messages the subscribers should have received (each publication times the subscribers it matches).
    pub expected: u64,
    /// Messages received, duplicates included.
    pub delivered: u64,
    /// Expected messages never received.
    pub lost: u64,
    /// Messages received more than once.
    pub duplicated: u64,
    /// Messages received after a later one from the same publisher.
    pub out_of_order: u64,
    /// Delivered messages per second over `elapsed_secs`.
    pub msgs_per_sec: f64,
    /// Delivered messages per second from `--settle` seconds after publishing started to the last receipt;
    /// `None` without `--settle`.
    pub steady_msgs_per_sec: Option<f64>,
    /// Messages received after the settle point (the steady rate's numerator).
    pub after_settle: u64,
    /// Publish-to-receive latency; `None` when nothing arrived.
    pub latency: Option<Latency>,
    /// QoS 1/2 publications the broker refused or never completed.
    pub publish_failures: u64,
    /// Times a publisher's in-flight window did not move for 2 s and was given up on.
    pub stalls: u64,
    /// Never-matching filters subscribed by an extra connection (`--idle-filters`).
    pub idle_filters: u64,
    /// Messages that arrived on the idle filters' connection: any is a routing bug.
    pub idle_matched: u64,
    /// Subscribers that never read (`--stuck`), beside the `subscribers` counted above.
    pub stuck: u64,
    /// The storm's figures (storm only).
    pub storm: Option<StormReport>,
    /// The retained scenario's own figures (retained only); the others are in the common fields: `sent` topics
    /// published, `delivered` retained messages received, `elapsed_secs` from SUBSCRIBE to the last of them,
    /// latency measured from SUBSCRIBE.
    pub retained: Option<RetainedReport>,
    /// The broker's CPU and memory (with `--broker-pid`).
    pub broker: Option<BrokerUsage>,
}

impl Report {
    /// One JSON object on one line.
    pub fn to_json(&self) -> String {
        let mut j = String::from("{");
        let _ = write!(
            j,
            "\"scenario\":\"{}\",\"version\":\"{}\",\"qos\":{},\"publishers\":{},\"subscribers\":{},\"size\":{},\
             \"inflight\":{},\"elapsed_secs\":{},\"sent\":{},\"expected\":{},\"delivered\":{},\"lost\":{},\
             \"duplicated\":{},\"out_of_order\":{},\"msgs_per_sec\":{},\"publish_failures\":{},\"stalls\":{},\
             \"idle_filters\":{},\"idle_matched\":{},\"stuck\":{}",
            self.scenario,
            self.version,
            self.qos,
            self.publishers,
            self.subscribers,
            self.size,
            self.inflight,
            num(self.elapsed_secs),
            self.sent,
            self.expected,
            self.delivered,
            self.lost,
            self.duplicated,
            self.out_of_order,
            num(self.msgs_per_sec),
            self.publish_failures,
            self.stalls,
            self.idle_filters,
            self.idle_matched,
            self.stuck,
        );
        if let Some(steady) = self.steady_msgs_per_sec {
            let _ = write!(j, ",\"steady_msgs_per_sec\":{}", num(steady));
        }
        match self.latency {
            Some(l) => {
                let _ = write!(
                    j,
                    ",\"latency_us\":{{\"p50\":{},\"p99\":{},\"max\":{},\"method\":\"sorted-vec\"}}",
                    num(l.p50_us),
                    num(l.p99_us),
                    num(l.max_us)
                );
            }
            None => j.push_str(",\"latency_us\":null"),
        }
        match &self.storm {
            Some(s) => {
                let _ = write!(
                    j,
                    ",\"storm\":{{\"connections\":{},\"failures\":{},\"first_failure\":{},\"connect_secs\":{},\
                     \"connects_per_sec\":{},\"rss_per_connection_bytes\":{}}}",
                    s.connections,
                    s.failures,
                    s.first_failure.as_deref().map_or("null".to_owned(), string),
                    num(s.connect_secs),
                    num(s.connects_per_sec),
                    s.rss_per_connection_bytes.map_or("null".to_owned(), num),
                );
            }
            None => j.push_str(",\"storm\":null"),
        }
        match &self.retained {
            Some(r) => {
                let _ = write!(
                    j,
                    ",\"retained\":{{\"topics\":{},\"publish_secs\":{},\"subscribe_to_last_secs\":{}}}",
                    r.topics,
                    num(r.publish_secs),
                    num(r.subscribe_to_last_secs),
                );
            }
            None => j.push_str(",\"retained\":null"),
        }
        match self.broker {
            Some(b) => {
                let _ = write!(
                    j,
                    ",\"broker\":{{\"cpu_percent\":{},\"cpu_secs\":{},\"rss_start_kib\":{},\"rss_end_kib\":{}}}",
                    num(b.cpu_percent),
                    num(b.cpu_secs),
                    b.rss_start_kib,
                    b.rss_end_kib
                );
            }
            None => j.push_str(",\"broker\":null"),
        }
        j.push('}');
        j
    }

    /// A two-column table.
    pub fn to_table(&self) -> String {
        let mut rows: Vec<(&str, String)> = vec![
            ("scenario", self.scenario.to_owned()),
            ("protocol / qos", format!("MQTT {} / QoS {}", self.version, self.qos)),
        ];
        if let Some(s) = &self.storm {
            rows.extend([
                ("connections", format!("{} ({} failed)", s.connections, s.failures)),
                ("connect time", format!("{:.3} s", s.connect_secs)),
                ("connects/s", format!("{:.0}", s.connects_per_sec)),
                (
                    "broker RSS/connection",
                    s.rss_per_connection_bytes
                        .map_or("- (no --broker-pid)".to_owned(), |b| format!("{b:.0} B")),
                ),
            ]);
            if let Some(f) = &s.first_failure {
                rows.push(("first failure", f.clone()));
            }
        } else {
            rows.extend([
                (
                    "publishers / subscribers",
                    format!("{} / {}", self.publishers, self.subscribers),
                ),
                ("payload / window", format!("{} B / {} msgs", self.size, self.inflight)),
                ("elapsed", format!("{:.2} s", self.elapsed_secs)),
                ("sent", self.sent.to_string()),
                (
                    "delivered / expected",
                    format!("{} / {}", self.delivered, self.expected),
                ),
                ("delivered msgs/s", format!("{:.0}", self.msgs_per_sec)),
                (
                    "steady msgs/s",
                    self.steady_msgs_per_sec.map_or("-".to_owned(), |r| format!("{r:.0}")),
                ),
                (
                    "lost / dup / out of order",
                    format!("{} / {} / {}", self.lost, self.duplicated, self.out_of_order),
                ),
                (
                    "latency p50/p99/max",
                    self.latency.map_or("-".to_owned(), |l| {
                        format!("{:.0} / {:.0} / {:.0} µs (exact)", l.p50_us, l.p99_us, l.max_us)
                    }),
                ),
                (
                    "publish failures / stalls",
                    format!("{} / {}", self.publish_failures, self.stalls),
                ),
            ]);
            if self.idle_filters > 0 {
                rows.push((
                    "idle filters / matched",
                    format!("{} / {}", self.idle_filters, self.idle_matched),
                ));
            }
            if self.stuck > 0 {
                rows.push(("stuck subscribers", self.stuck.to_string()));
            }
            if let Some(r) = &self.retained {
                rows.push(("retained topics", r.topics.to_string()));
                rows.push(("publish (acknowledged)", format!("{:.3} s", r.publish_secs)));
                rows.push(("SUBSCRIBE to last", format!("{:.3} s", r.subscribe_to_last_secs)));
            }
        }
        if let Some(b) = self.broker {
            rows.push(("broker CPU", format!("{:.0} %", b.cpu_percent)));
            rows.push((
                "broker RSS start/end",
                format!("{} / {} KiB", b.rss_start_kib, b.rss_end_kib),
            ));
        }
        let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        rows.iter().fold(String::new(), |mut out, (k, v)| {
            let _ = writeln!(out, "{k:<width$}  {v}");
            out
        })
    }
}

/// A finite number as JSON (NaN and infinities, which JSON lacks, become null).
fn num(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.3}")
    } else {
        "null".to_owned()
    }
}

/// A JSON string.
fn string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
