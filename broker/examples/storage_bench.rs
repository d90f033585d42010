//! Measures the storage engine on this machine's disk and prints the figures BENCHMARKS.md quotes:
//! the disk's own fdatasync latency, group-commit throughput with 1, 8 and 64 concurrent waiters, bytes written
//! per byte of payload at steady state (compaction included), and recovery time for 100,000 retained messages.
//!
//! `cargo run --release -p roost-broker --example storage_bench [DIR]` (DIR defaults to a fresh directory under
//! the system temp dir; give one on the disk you care about, e.g. the SD card).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use roost_broker::store::{MessageId, QueueEntry, Record, SessionMeta, Store, StoreOptions, StoredMessage, SyncMode};
use roost_codec::{Bytes, QoS};

fn main() -> anyhow::Result<()> {
    let base = match std::env::args().nth(1) {
        Some(dir) => PathBuf::from(dir),
        None => std::env::temp_dir().join(format!("roost-storage-bench-{}", std::process::id())),
    };
    std::fs::create_dir_all(&base)?;
    println!("data directory: {}", base.display());
    fdatasync_latency(&base.join("fsync"))?;
    let runtime = tokio::runtime::Runtime::new()?;
    for waiters in [1, 8, 64] {
        runtime.block_on(group_commit(&base.join(format!("gc-{waiters}")), waiters))?;
    }
    runtime.block_on(steady_state(&base.join("steady-retained"), Workload::Retained))?;
    runtime.block_on(steady_state(&base.join("steady-queue"), Workload::Queue))?;
    recovery(&base.join("recovery"))?;
    std::fs::remove_dir_all(&base)?;
    Ok(())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

/// Bytes this process has caused to be sent to the block layer (page granular): what the disk really writes,
/// before the file system's own journal.
fn io_write_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/io")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("write_bytes: ").map(|v| v.trim().parse().ok()))
        })
        .flatten()
        .unwrap_or(0)
}

fn fdatasync_latency(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut file = std::fs::File::create(dir.join("probe"))?;
    let record = [0x5Au8; 100];
    let mut times = Vec::new();
    for _ in 0..2000 {
        file.write_all(&record)?;
        let started = Instant::now();
        file.sync_data()?;
        times.push(started.elapsed());
    }
    times.sort();
    println!(
        "fdatasync of a 100-byte append: p50 {} p99 {} max {} ({} samples)",
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.99)),
        ms(*times.last().unwrap()),
        times.len()
    );
    Ok(())
}

fn message(topic: String, payload: Bytes) -> StoredMessage {
    StoredMessage {
        topic: topic.into(),
        payload,
        qos: QoS::AtLeastOnce,
        retain: true,
        properties: Bytes::new(),
        expires_at_ms: None,
        publisher: Some("bench".into()),
    }
}

/// `waiters` tasks each submit a 100-byte retained message and wait for it to be durable, for 3 s.
async fn group_commit(dir: &Path, waiters: usize) -> anyhow::Result<()> {
    let (store, _) = Store::open(dir, StoreOptions::default())?;
    let payload = Bytes::from(vec![0x42u8; 100]);
    let deadline = Instant::now() + Duration::from_secs(3);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..waiters {
        let store = store.clone();
        let payload = payload.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut i = 0u64;
            while Instant::now() < deadline {
                let at = Instant::now();
                let lsn = store
                    .submit(vec![Record::RetainedSet {
                        message: message(format!("bench/{w}/{}", i % 100), payload.clone()),
                    }])
                    .expect("submit");
                store.durable(lsn).await.expect("durable");
                latencies.push(at.elapsed());
                i += 1;
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await?);
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let stats = store.stats();
    println!(
        "group commit, {waiters:>2} waiters: {:>7.0} acks/s, {} acks in {} fdatasyncs ({:.1} per sync), ack latency p50 {} p99 {}",
        latencies.len() as f64 / elapsed.as_secs_f64(),
        latencies.len(),
        stats.syncs,
        latencies.len() as f64 / stats.syncs.max(1) as f64,
        ms(percentile(&latencies, 0.5)),
        ms(percentile(&latencies, 0.99)),
    );
    store.close()?;
    Ok(())
}

#[derive(Debug, Clone, Copy)]
enum Workload {
    /// Retained messages overwritten over 10,000 topics.
    Retained,
    /// A persistent session's queue: each message put, queued, then removed once delivered.
    Queue,
}

/// 64 publishers, 100-byte payloads, until well past several compactions; bytes written per payload byte.
async fn steady_state(dir: &Path, workload: Workload) -> anyhow::Result<()> {
    let options = StoreOptions::default();
    let (store, _) = Store::open(dir, options)?;
    let payload = Bytes::from(vec![0x42u8; 100]);
    let per_task = 4_000u64;
    let tasks_n = 64u64;
    let io_before = io_write_bytes();
    let mut tasks = Vec::new();
    if let Workload::Queue = workload {
        let lsn = store.submit(vec![Record::SessionUpsert {
            client_id: "subscriber".into(),
            meta: SessionMeta {
                protocol_version: 5,
                expiry_interval: u32::MAX,
                disconnected_at_ms: None,
                will: None,
                user: None,
            },
        }])?;
        store.durable(lsn).await?;
    }
    let seq = Arc::new(std::sync::atomic::AtomicU64::new(0));
    for t in 0..tasks_n {
        let store = store.clone();
        let payload = payload.clone();
        let seq = seq.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..per_task {
                let topic = format!("sensors/{}/state", (t * per_task + i) % 10_000);
                let records = match workload {
                    Workload::Retained => vec![Record::RetainedSet {
                        message: message(topic, payload.clone()),
                    }],
                    Workload::Queue => {
                        let id: MessageId = store.message_id();
                        let seq = seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let lsn = store
                            .submit(vec![
                                Record::MessagePut {
                                    id,
                                    message: message(topic, payload.clone()),
                                },
                                Record::QueueAppend {
                                    client_id: "subscriber".into(),
                                    seq,
                                    entry: QueueEntry {
                                        message: id,
                                        qos: QoS::AtLeastOnce,
                                        retain: false,
                                        subscription_ids: vec![],
                                    },
                                },
                            ])
                            .expect("submit");
                        store.durable(lsn).await.expect("durable");
                        vec![Record::QueueRemove {
                            client_id: "subscriber".into(),
                            seq,
                        }]
                    }
                };
                let lsn = store.submit(records).expect("submit");
                store.durable(lsn).await.expect("durable");
            }
        }));
    }
    for task in tasks {
        task.await?;
    }
    store.close()?;
    let stats = store.stats();
    let payload_bytes = tasks_n * per_task * 100;
    let io = io_write_bytes() - io_before;
    println!(
        "steady state ({workload:?}, {} messages of 100 bytes, 64 publishers): log {} B + snapshots {} B ({} snapshots) = {:.2} bytes written per payload byte; block layer {:.2} per payload byte ({} fdatasyncs)",
        tasks_n * per_task,
        stats.log_bytes,
        stats.snapshot_bytes,
        stats.snapshots,
        (stats.log_bytes + stats.snapshot_bytes) as f64 / payload_bytes as f64,
        io as f64 / payload_bytes as f64,
        stats.syncs,
    );
    Ok(())
}

/// 100,000 retained messages (100-byte payloads), then the time `Store::open` takes to read them back: from the
/// log alone, and from a snapshot.
fn recovery(dir: &Path) -> anyhow::Result<()> {
    let payload = Bytes::from(vec![0x42u8; 100]);
    for label in ["log only", "snapshot"] {
        let dir = dir.join(label.replace(' ', "-"));
        let options = StoreOptions {
            sync: SyncMode::Never,
            snapshot_min_bytes: u64::MAX,
            ..StoreOptions::default()
        };
        let (store, _) = Store::open(&dir, options)?;
        let mut batch = Vec::new();
        for i in 0..100_000u32 {
            batch.push(Record::RetainedSet {
                message: message(format!("home/sensor/{i}/state"), payload.clone()),
            });
            if batch.len() == 1000 {
                store.submit(std::mem::take(&mut batch))?;
            }
        }
        store.close()?;
        drop(store);
        if label == "snapshot" {
            // Reopened with a small threshold, the replayed log outweighs the live state: the next write compacts.
            let compacting = StoreOptions {
                snapshot_min_bytes: 1024,
                snapshot_factor: 0,
                ..options
            };
            let (store, _) = Store::open(&dir, compacting)?;
            store.submit(vec![Record::RetainedDelete { topic: "none".into() }])?;
            store.close()?;
            assert_eq!(store.stats().snapshots, 1);
        }
        let started = Instant::now();
        let (store, recovered) = Store::open(&dir, StoreOptions::default())?;
        let elapsed = started.elapsed();
        assert_eq!(recovered.state.retained.len(), 100_000);
        println!(
            "recovery of 100,000 retained messages ({label}): {} ({})",
            ms(elapsed),
            recovered.report
        );
        store.close()?;
    }
    Ok(())
}
