//! `storm`: opens `--connections` connections as fast as it can (at most [`CONCURRENT`] handshakes at once),
//! reports the connect rate, holds them all idle for `--duration` seconds, and with `--broker-pid` reports the
//! broker's resident memory per connection (VmRSS at the end of the hold minus VmRSS before the first connect).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use roost_codec::client::ClientOptions;
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use super::procstat::{self, Sample};
use crate::cli::CliError;
use crate::cli::driver::Session;
use crate::cli::options::Target;

/// Handshakes in progress at once: enough to keep the broker busy, few enough not to overflow its accept backlog.
pub(crate) const CONCURRENT: usize = 128;

/// How long closing all connections may take.
const CLOSE: Duration = Duration::from_secs(10);

/// What a storm measured.
#[derive(Debug, Clone)]
pub struct StormReport {
    /// Connections attempted.
    pub connections: u64,
    /// Connections refused or failed.
    pub failures: u64,
    /// The first failure, in words.
    pub first_failure: Option<String>,
    /// Seconds from the first connect to the last CONNACK.
    pub connect_secs: f64,
    /// Successful connections per second.
    pub connects_per_sec: f64,
    /// Broker VmRSS growth per held connection, bytes (with `--broker-pid`).
    pub rss_per_connection_bytes: Option<f64>,
}

/// Runs the storm. `options` is the template; each connection gets `{id_prefix}c{i}` as its client identifier.
pub(crate) async fn run(
    target: &Target,
    options: &ClientOptions,
    id_prefix: &str,
    connections: u32,
    hold: Duration,
    broker_pid: Option<u32>,
    progress: Arc<AtomicU64>,
) -> Result<(StormReport, Option<(Sample, Sample)>), CliError> {
    let before = broker_pid.and_then(procstat::sample);
    let permits = Arc::new(Semaphore::new(CONCURRENT));
    let release = CancellationToken::new();
    // One report per connection: capacity for all, so no task ever waits on it.
    let (tx, mut rx) = mpsc::channel(connections as usize);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..connections {
        let (target, permits, release, tx, progress) = (
            target.clone(),
            permits.clone(),
            release.clone(),
            tx.clone(),
            progress.clone(),
        );
        let mut options = options.clone();
        options.client_id = format!("{id_prefix}c{i}").into();
        tasks.spawn(async move {
            let permit = permits.acquire_owned().await;
            let connected = Session::connect(&target, options, false).await;
            drop(permit);
            match connected {
                Ok((session, _)) => {
                    progress.fetch_add(1, Relaxed);
                    let _ = tx.send(Ok(())).await;
                    release.cancelled().await;
                    let _ = session.disconnect().await;
                }
                Err(e) => {
                    let _ = tx.send(Err(e.to_string())).await;
                }
            }
        });
    }
    drop(tx);
    let (mut ok, mut failures, mut first_failure) = (0u64, 0u64, None);
    while let Some(result) = rx.recv().await {
        match result {
            Ok(()) => ok += 1,
            Err(e) => {
                failures += 1;
                first_failure.get_or_insert(e);
            }
        }
        if ok + failures == u64::from(connections) {
            break;
        }
    }
    let connect_secs = started.elapsed().as_secs_f64();
    tokio::time::sleep(hold).await;
    let after = broker_pid.and_then(procstat::sample);
    release.cancel();
    let _ = tokio::time::timeout(CLOSE, async { while tasks.join_next().await.is_some() {} }).await;
    tasks.abort_all();
    let samples = before.zip(after);
    let rss_per_connection_bytes = samples
        .filter(|_| ok > 0)
        .map(|(b, a)| (a.rss_kib as f64 - b.rss_kib as f64) * 1024.0 / ok as f64);
    let report = StormReport {
        connections: u64::from(connections),
        failures,
        first_failure,
        connect_secs,
        connects_per_sec: if connect_secs > 0.0 {
            ok as f64 / connect_secs
        } else {
            0.0
        },
        rss_per_connection_bytes,
    };
    Ok((report, samples))
}
