//! The command line of `roost bench`: the scenario, the load, and where to connect (the flags of `roost pub`).

use clap::{Args, ValueEnum};

use crate::cli::ConnectArgs;

/// Which load to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// `--publishers` N publishers, one subscriber on a wildcard filter matching all of them.
    FanIn,
    /// One publisher, `--subscribers` N subscribers to its topic.
    FanOut,
    /// `--publishers` N publisher/subscriber pairs, each pair on its own topic.
    Pairs,
    /// `--connections` K connections opened as fast as possible, then held idle for a few seconds.
    Storm,
    /// `--topics` N retained messages published (all acknowledged), then one subscriber to the run's prefix with
    /// `/#`: how long until the last of them arrives, and how many do.
    Retained,
}

impl Scenario {
    /// The name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::FanIn => "fan-in",
            Self::FanOut => "fan-out",
            Self::Pairs => "pairs",
            Self::Storm => "storm",
            Self::Retained => "retained",
        }
    }
}

/// `roost bench`: a load generator in the spirit of emqtt-bench and mqtt-benchmark.
#[derive(Debug, Clone, Args)]
#[command(disable_help_flag = true)]
pub struct BenchArgs {
    /// The load to generate.
    #[arg(value_enum)]
    pub scenario: Scenario,
    /// Where and how to connect: -h, -p, -L, -V, -q, -u, -P, -k are those of `roost pub`. Each connection gets
    /// its own generated client identifier.
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Publishers (fan-in, pairs).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub publishers: u32,
    /// Subscribers (fan-out).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub subscribers: u32,
    /// Payload bytes; at least the 20-byte header (sequence, publisher, timestamp), which smaller sizes get.
    #[arg(long, default_value_t = 64)]
    pub size: usize,
    /// Seconds of publishing (storm: seconds the connections are held idle).
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Seconds after publishing starts from which the steady rate (`steady msgs/s`) is measured, beside the
    /// overall one: with `--stuck`, longer than the broker's slow_subscriber_timeout shows the healthy
    /// subscribers' rate once the stuck one no longer holds anyone back. 0: no steady rate.
    #[arg(long, default_value_t = 0.0)]
    pub settle: f64,
    /// Messages per second per publisher; 0 publishes as fast as the in-flight window allows.
    #[arg(long, default_value_t = 0.0)]
    pub rate: f64,
    /// Messages per publisher sent but not yet received by its subscribers (and, at QoS 1 and 2, not yet
    /// acknowledged) before the publisher waits.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=60_000))]
    pub inflight: u32,
    /// Connections to open (storm).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub connections: u32,
    /// Filters that never match, subscribed by one extra connection before publishing starts (fan-in, fan-out,
    /// pairs): half exact (`{prefix}/idle-{i}`), half with `+` (`roost-bench/+/idle-{i}`), 100 per SUBSCRIBE.
    /// They load the broker's subscription tree without adding deliveries.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub idle_filters: u32,
    /// Extra subscribers on the first subscriber's filter that subscribe and then never read their socket again
    /// (fan-in, fan-out, pairs). They are not counted in the audience, the in-flight window or the figures: the
    /// report is what the healthy subscribers got beside them.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=1000))]
    pub stuck: u32,
    /// Retained topics to publish (retained).
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    pub topics: u32,
    /// The broker's process id, to report its CPU use and resident memory from /proc.
    #[arg(long)]
    pub broker_pid: Option<u32>,
    /// Print the report as one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// No progress line on stderr.
    #[arg(long)]
    pub no_progress: bool,
}
