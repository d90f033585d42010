//! `roost bench`: a load generator in the spirit of emqtt-bench and mqtt-benchmark, built on the same
//! [`roost_codec::client::Client`] and connection loop (`cli::driver`, `cli::transport`) as `roost pub`/`sub`.
//!
//! A run connects the subscribers, waits for their SUBACKs, connects the publishers, publishes for `--duration`
//! seconds, lets the subscribers drain, and reports. Publishers and subscribers share one process and one
//! monotonic clock, so a payload's send timestamp and its receive time are directly comparable.
//!
//! One job per file:
//! - [`args`]: the command line.
//! - `payload`: the 20-byte header (sequence, publisher, send time) every payload starts with.
//! - `shared`: the counters publishers and subscribers share (the in-flight window, the progress line).
//! - `publisher`, `subscriber`: one connection each; `tracker`: what a subscriber saw.
//! - `storm`: the connection storm.
//! - `procstat`: the broker's CPU and RSS from /proc; `progress`: the line on stderr; `report`: table and JSON.

pub mod args;
mod fdlimit;
mod payload;
pub(crate) mod procstat;
mod progress;
mod publisher;
mod report;
mod retained;
mod shared;
mod storm;
mod subscriber;
mod tracker;

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use roost_codec::client::ClientOptions;
use roost_codec::{ProtocolVersion, TopicFilter, TopicName};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

pub use args::{BenchArgs, Scenario};
pub use procstat::BrokerUsage;
pub use report::{Latency, Report, RetainedReport};
pub use storm::StormReport;

use crate::cli::CliError;
use crate::cli::driver::Session;
use crate::cli::options::{Target, qos, setup, usage};
use shared::Shared;

/// Runs `roost bench` and prints its report; returns the exit code.
pub fn run_bench(args: BenchArgs) -> ExitCode {
    let result = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime.block_on(run(&args)),
        Err(source) => Err(CliError::Io {
            what: "Unable to start the runtime".into(),
            source,
        }),
    };
    match result {
        Ok(report) => {
            let text = if args.json {
                format!("{}\n", report.to_json())
            } else {
                report.to_table()
            };
            let _ = std::io::stdout().write_all(text.as_bytes());
            ExitCode::SUCCESS
        }
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "{e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// Runs the benchmark `args` describe and returns what it measured.
pub async fn run(args: &BenchArgs) -> Result<Report, CliError> {
    let setup = setup(&args.connect)?;
    let Ok(duration) = Duration::try_from_secs_f64(args.duration) else {
        return usage("--duration must be a number of seconds.");
    };
    if !(args.rate >= 0.0 && args.rate.is_finite()) {
        return usage("--rate must be a number of messages per second.");
    }
    let mut options = setup.options.clone();
    options.max_queued_publications = options.max_queued_publications.max(args.inflight as usize);
    let nonce = nonce();
    let id_prefix = format!("rb{nonce}");
    let version = match options.version {
        ProtocolVersion::V31 => "3.1",
        ProtocolVersion::V311 => "3.1.1",
        ProtocolVersion::V5 => "5",
    };
    let mut report = Report {
        scenario: args.scenario.name(),
        version,
        qos: args.connect.qos,
        publishers: 0,
        subscribers: 0,
        size: args.size.max(payload::HEADER_LEN) as u64,
        inflight: u64::from(args.inflight),
        elapsed_secs: 0.0,
        sent: 0,
        expected: 0,
        delivered: 0,
        lost: 0,
        duplicated: 0,
        out_of_order: 0,
        msgs_per_sec: 0.0,
        steady_msgs_per_sec: None,
        after_settle: 0,
        latency: None,
        publish_failures: 0,
        stalls: 0,
        idle_filters: 0,
        idle_matched: 0,
        stuck: 0,
        storm: None,
        retained: None,
        broker: None,
    };
    if args.scenario == Scenario::Storm {
        ensure_fds(u64::from(args.connections))?;
        let connected = Arc::new(AtomicU64::new(0));
        let progress =
            (!args.no_progress).then(|| progress::spawn(vec![("connected", progress::counter(connected.clone()))]));
        let result = storm::run(
            &setup.target,
            &options,
            &id_prefix,
            args.connections,
            duration,
            args.broker_pid,
            connected,
        )
        .await;
        if let Some(p) = progress {
            p.abort();
        }
        let (storm, samples) = result?;
        report.storm = Some(storm);
        report.broker = samples.map(|(start, end)| procstat::usage(start, end));
        return Ok(report);
    }
    let prefix = format!("roost-bench/{nonce}");
    if args.scenario == Scenario::Retained {
        ensure_fds(2)?;
        let plan = retained::Plan {
            prefix,
            id_prefix,
            topics: args.topics,
            qos: qos(args.connect.qos),
            size: args.size,
            inflight: args.inflight as usize,
        };
        let broker_start = args.broker_pid.and_then(procstat::sample);
        retained::run(&setup.target, &options, plan, &mut report).await?;
        let broker_end = args.broker_pid.and_then(procstat::sample);
        report.broker = broker_start.zip(broker_end).map(|(s, e)| procstat::usage(s, e));
        return Ok(report);
    }
    let (publishers, subscribers) = match args.scenario {
        Scenario::FanOut => (1, args.subscribers as usize),
        Scenario::FanIn => (args.publishers as usize, 1),
        Scenario::Pairs | Scenario::Storm | Scenario::Retained => (args.publishers as usize, args.publishers as usize),
    };
    let (audience, filters): (Vec<Vec<usize>>, Vec<String>) = match args.scenario {
        Scenario::FanIn => (vec![vec![0]; publishers], vec![format!("{prefix}/+")]),
        Scenario::FanOut => (
            vec![(0..subscribers).collect()],
            vec![format!("{prefix}/0"); subscribers],
        ),
        Scenario::Pairs | Scenario::Storm | Scenario::Retained => (
            (0..publishers).map(|p| vec![p]).collect(),
            (0..publishers).map(|p| format!("{prefix}/{p}")).collect(),
        ),
    };
    let idle = idle_filters(&prefix, args.idle_filters)?;
    let stuck = args.stuck as usize;
    ensure_fds((publishers + subscribers + stuck + usize::from(!idle.is_empty())) as u64)?;
    report.publishers = publishers as u64;
    report.subscribers = subscribers as u64;
    report.idle_filters = u64::from(args.idle_filters);
    report.stuck = u64::from(args.stuck);
    let qos = qos(args.connect.qos);
    let shared = Arc::new(Shared::new(audience, subscribers));
    // Handshakes in progress at once, as in the storm: 10,000 pairs connect in parallel without overflowing the
    // broker's accept backlog.
    let permits = Arc::new(Semaphore::new(storm::CONCURRENT));

    // Subscribers first (the stuck ones after the healthy ones, on the first one's filter), all subscribed before
    // anyone publishes.
    let mut connecting = JoinSet::new();
    let stuck_filters = std::iter::repeat_n(filters[0].clone(), stuck);
    for (i, filter) in filters.into_iter().chain(stuck_filters).enumerate() {
        let Ok(filter) = TopicFilter::new(filter.as_str()) else {
            return usage(format!("Invalid topic filter '{filter}'."));
        };
        let (target, options, permits) = (
            setup.target.clone(),
            with_id(&options, &id_prefix, 's', i),
            permits.clone(),
        );
        connecting.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let mut session = connect(&target, options).await?;
            subscriber::subscribe(&mut session, vec![filter], qos).await?;
            Ok((i, session))
        });
    }
    let mut subscriber_sessions = join_indexed(&mut connecting, subscribers + stuck).await?;
    // Never read again: dropped (the socket closed) only once the run is over.
    let stuck_sessions = subscriber_sessions.split_off(subscribers);
    let idle_session = if idle.is_empty() {
        None
    } else {
        let mut session = connect(&setup.target, with_id(&options, &id_prefix, 'i', 0)).await?;
        subscriber::subscribe_many(&mut session, idle, qos).await?;
        Some(session)
    };
    for i in 0..publishers {
        let (target, options, permits) = (
            setup.target.clone(),
            with_id(&options, &id_prefix, 'p', i),
            permits.clone(),
        );
        connecting.spawn(async move {
            let _permit = permits.acquire_owned().await;
            Ok((i, connect(&target, options).await?))
        });
    }
    let publisher_sessions = join_indexed(&mut connecting, publishers).await?;

    let broker_start = args.broker_pid.and_then(procstat::sample);
    let progress = (!args.no_progress).then(|| {
        let (sent, received) = (shared.clone(), shared.clone());
        progress::spawn(vec![
            ("sent", Arc::new(move || sent.total_sent())),
            ("received", Arc::new(move || received.received.load(Relaxed))),
        ])
    });
    let started = shared.now_nanos();
    let settle_nanos = (args.settle > 0.0).then(|| started + (args.settle * 1e9) as u64);
    if let Some(at) = settle_nanos {
        shared.settle_nanos.store(at, Relaxed);
    }
    let end = Instant::now() + duration;
    let interval = (args.rate > 0.0).then(|| Duration::from_secs_f64(1.0 / args.rate));
    let mut receiving = JoinSet::new();
    for (i, session) in subscriber_sessions.into_iter().enumerate() {
        receiving.spawn(subscriber::run(session, shared.clone(), i));
    }
    let holding = idle_session.map(|session| tokio::spawn(subscriber::hold(session, shared.clone())));
    let mut publishing = JoinSet::new();
    for (i, session) in publisher_sessions.into_iter().enumerate() {
        let Ok(topic) = TopicName::new(format!("{prefix}/{i}").as_str()) else {
            return usage(format!("Invalid topic '{prefix}/{i}'."));
        };
        let plan = publisher::Plan {
            index: i,
            topic,
            qos,
            size: args.size,
            inflight: u64::from(args.inflight),
            interval,
            end,
            poll: publisher::poll_interval(publishers),
        };
        publishing.spawn(publisher::run(session, shared.clone(), plan));
    }
    let result = finish(&mut publishing, &mut receiving, &shared, &mut report).await;
    let last_nanos = (report.elapsed_secs * 1e9) as u64;
    if let Some(p) = progress {
        p.abort();
    }
    result?;
    if let Some(holding) = holding {
        report.idle_matched = holding.await.map_err(task_failed)??;
    }
    // Sampled before the stuck subscribers' sockets close, so their backlog is still in the broker's memory.
    let broker_end = args.broker_pid.and_then(procstat::sample);
    drop(stuck_sessions);
    // From the first publication to the last receipt: the subscribers' drain wait after that is not counted.
    report.elapsed_secs = (report.elapsed_secs - started as f64 / 1e9).max(0.0);
    report.msgs_per_sec = if report.elapsed_secs > 0.0 {
        report.delivered as f64 / report.elapsed_secs
    } else {
        0.0
    };
    report.steady_msgs_per_sec = settle_nanos.map(|at| {
        let window = last_nanos.saturating_sub(at) as f64 / 1e9;
        if window > 0.0 {
            report.after_settle as f64 / window
        } else {
            0.0
        }
    });
    report.broker = broker_start.zip(broker_end).map(|(s, e)| procstat::usage(s, e));
    Ok(report)
}

/// Waits for the publishers, tells the subscribers, waits for them, and adds up what everyone saw.
/// `report.elapsed_secs` is left holding the time of the last receipt, in seconds since the run's clock origin.
async fn finish(
    publishing: &mut JoinSet<Result<publisher::Outcome, CliError>>,
    receiving: &mut JoinSet<Result<tracker::Tracker, CliError>>,
    shared: &Shared,
    report: &mut Report,
) -> Result<(), CliError> {
    while let Some(outcome) = publishing.join_next().await {
        let outcome = outcome.map_err(task_failed)??;
        report.publish_failures += outcome.failures;
        report.stalls += outcome.stalls;
    }
    shared.publishing_done.store(true, Relaxed);
    let mut latencies = Vec::new();
    let mut unique = 0;
    while let Some(tracker) = receiving.join_next().await {
        let mut tracker = tracker.map_err(task_failed)??;
        report.delivered += tracker.received;
        report.after_settle += tracker.after_settle;
        report.duplicated += tracker.duplicated;
        report.out_of_order += tracker.out_of_order;
        unique += tracker.unique();
        report.elapsed_secs = report.elapsed_secs.max(tracker.last_nanos as f64 / 1e9);
        latencies.append(&mut tracker.latencies);
    }
    report.sent = shared.total_sent();
    report.expected = (0..shared.sent.len())
        .map(|p| shared.sent[p].load(Relaxed) * shared.audience_len(p) as u64)
        .sum();
    report.lost = report.expected.saturating_sub(unique);
    report.latency = Latency::of(&mut latencies);
    Ok(())
}

/// `n` filters that never match a publisher's topic (`{prefix}/{index}`) but share its levels: even ones exact,
/// `{prefix}/idle-{i}`, odd ones with `+`, `roost-bench/+/idle-{i}`.
fn idle_filters(prefix: &str, n: u32) -> Result<Vec<TopicFilter>, CliError> {
    (0..n)
        .map(|i| {
            let filter = if i % 2 == 0 {
                format!("{prefix}/idle-{i}")
            } else {
                format!("roost-bench/+/idle-{i}")
            };
            TopicFilter::new(filter.as_str()).or_else(|_| usage(format!("Invalid topic filter '{filter}'.")))
        })
        .collect()
}

/// Makes room for `sockets` connections, or says why not.
fn ensure_fds(sockets: u64) -> Result<(), CliError> {
    fdlimit::ensure(sockets).or_else(|limit| {
        usage(format!(
            "{sockets} connections need more file descriptors than the limit of {limit} allows; raise it with \
             `ulimit -n`."
        ))
    })
}

/// Connects with `options`, without the `-d` log.
async fn connect(target: &Target, options: ClientOptions) -> Result<Session, CliError> {
    Ok(Session::connect(target, options, false).await?.0)
}

/// `options` with the client identifier `{prefix}{role}{i}`.
fn with_id(options: &ClientOptions, prefix: &str, role: char, i: usize) -> ClientOptions {
    let mut options = options.clone();
    options.client_id = format!("{prefix}{role}{i}").into();
    options
}

/// Awaits `n` tasks that each return their index and a session, in index order.
async fn join_indexed(
    tasks: &mut JoinSet<Result<(usize, Session), CliError>>,
    n: usize,
) -> Result<Vec<Session>, CliError> {
    let mut sessions: Vec<Option<Session>> = (0..n).map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        let (i, session) = joined.map_err(task_failed)??;
        sessions[i] = Some(session);
    }
    Ok(sessions.into_iter().flatten().collect())
}

/// A task that panicked or was cancelled, as an error.
fn task_failed(e: tokio::task::JoinError) -> CliError {
    CliError::Io {
        what: "A benchmark task failed".into(),
        source: std::io::Error::other(e),
    }
}

/// Distinguishes the client identifiers and topics of runs, so runs in one process or one broker do not collide.
fn nonce() -> String {
    static RUNS: AtomicU32 = AtomicU32::new(0);
    format!("{:x}x{}", std::process::id(), RUNS.fetch_add(1, Relaxed))
}
