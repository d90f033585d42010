//! The storage engine (issue 11): retained messages and persistent sessions on disk, so that what Roost
//! acknowledges survives a crash. The router (`crate::router`) writes every change of retained messages and of
//! sessions that outlive their connection through it; connections hold acknowledgements until they are durable.
//!
//! Shape: the router stays the source of truth in memory. Each change it makes is also a [`Record`]; under its
//! lock it calls [`Store::submit`] (never blocks) and gets an [`Lsn`]; before sending the acknowledgement that
//! promises durability it awaits [`Store::durable`]. One OS thread (`committer`) writes whatever was submitted
//! since its last write as one append to the log and syncs once (group commit), then wakes all those waiters.
//! When the log outgrows the live state a snapshot replaces it (`snapshot`). At start, [`Store::open`] reads the
//! newest snapshot and the log after it (`recover`) and hands the state to the router as [`Recovered`].
//!
//! Files in the data directory: `wal-<first lsn>.log` segments, `snapshot-<lsn>.snap`, and `*.corrupt` files set
//! aside by recovery. Segments and snapshots start with a header naming the storage format (`log::FORMAT`, 3); a
//! directory of another format is refused at open (no conversion: roost is unreleased).
//!
//! # How the router uses it
//! Records of one event go in one submit (recovered all or none). Properties are stored with
//! `roost_codec::Properties::to_block` / `from_block`. Before each acknowledgement, `durable(lsn).await`:
//! - PUBLISH QoS 1 in: [`Store::admit`] the growth (refuse with 0x97 if full), then `MessagePut` once plus a
//!   `QueueAppend` per persistent session it is queued for, and `RetainedSet`/`RetainedDelete` if RETAIN; PUBACK
//!   after `durable`. Forwarding to online subscribers may go first (QoS 1 may duplicate).
//! - PUBLISH QoS 2 in: the same, then `InboundQos2Set` in a submit after the message's (the router submits per
//!   session, so they cannot share one): a stored id always has its message. PUBREC after `durable` of both.
//!   A crash between them can deliver the publisher's retransmission a second time to a subscriber that had
//!   the first; nothing acknowledged is lost. (Forwarding is not held back until `durable`.)
//! - PUBREL in: `InboundQos2Delete`; PUBCOMP after `durable` (else a new PUBLISH reusing the id is dropped).
//! - SUBSCRIBE / UNSUBSCRIBE: `SubscriptionSet` / `SubscriptionDelete`; SUBACK / UNSUBACK after `durable`.
//! - CONNECT of a persistent session, will changes, DISCONNECT: `SessionUpsert` (with `disconnected_at_ms` when
//!   the connection ends); CONNACK after `durable`. Clean start or expiry: `SessionDelete`.
//! - Sending a queued QoS 1/2 message: `QueueRemove` + `InflightOutSet(Publish)` in one submit; wait for
//!   `durable` before writing a QoS 2 PUBLISH (a restart must resend it with the same id). QoS 0 sent or
//!   dropped: `QueueRemove`, no wait.
//! - PUBREC from the subscriber: `InflightOutSet(PubRel)`; PUBREL after `durable`. PUBACK / PUBCOMP from it:
//!   `InflightOutDelete`, no wait.
//! - Expired or dropped retained and queued messages: `RetainedDelete` / `QueueRemove`, no wait.
//! - [`StoreError::Failed`] from `submit` or `durable`: send no acknowledgement, stop the listeners, exit non-zero.

mod cancel;
mod committer;
pub mod fs;
mod log;
mod record;
mod recover;
mod snapshot;
mod state;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

pub(crate) use committer::now_ms;
pub use log::Lsn;
pub use record::{
    DecodeError, MessageId, OutState, QueueEntry, Record, SessionMeta, StoredMessage, StoredSubscription, StoredWill,
};
pub use recover::RecoveryReport;
pub use state::{State, StoredSession};

use committer::{Counters, Durable, Engine, Queue};
use fs::{Fs, RealFs};

/// When an acknowledged change is on stable storage (`[storage] sync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// Acknowledge after `fdatasync` of the batch: survives kill -9 and power loss (if the device honours
    /// flushes). The default.
    Always,
    /// Acknowledge after `write(2)`; `fdatasync` at most this often: survives kill -9; a power cut loses at most
    /// the last interval (plus one sync) of acknowledged changes.
    Interval(Duration),
    /// Acknowledge after `write(2)`, sync only at shutdown: survives kill -9; a power cut loses what the kernel had
    /// not written back yet.
    Never,
}

/// How the store behaves; [`StoreOptions::default`] is what `roost` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    /// When acknowledgements are durable.
    pub sync: SyncMode,
    /// The most live bytes stored (retained and queued messages, sessions); beyond it [`Store::admit`] refuses
    /// new retained and queued messages. Deletes and acknowledgements always go through.
    pub max_bytes: u64,
    /// No snapshot before this many log bytes have been written since the last one (SD cards: few rewrites).
    pub snapshot_min_bytes: u64,
    /// A snapshot is written when the log since the last one exceeds this many times the live state: the disk
    /// holds at most about (1 + factor) × live state, and compaction rewrites each live byte once per `factor`
    /// bytes of log.
    pub snapshot_factor: u64,
    /// A new log segment is started past this size (between snapshots).
    pub segment_max_bytes: u64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            sync: SyncMode::Always,
            max_bytes: 1024 * 1024 * 1024,
            snapshot_min_bytes: 16 * 1024 * 1024,
            snapshot_factor: 4,
            segment_max_bytes: 64 * 1024 * 1024,
        }
    }
}

/// Why the store cannot do what was asked.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The data directory cannot be created or listed.
    #[error("storage: cannot open data directory {dir}: {message}")]
    Open {
        /// The directory.
        dir: PathBuf,
        /// What the OS said.
        message: String,
    },
    /// A write or fdatasync failed: nothing more is acknowledged (fail-stop; retrying a failed fsync can falsely
    /// succeed). The broker should stop accepting work and exit non-zero.
    #[error("{0}")]
    Failed(Arc<str>),
    /// Admitting this would take the store past `max_bytes`: refuse the message with reason code 0x97 (Quota
    /// exceeded).
    #[error("storage full: {max_bytes} bytes stored")]
    Full {
        /// The cap.
        max_bytes: u64,
    },
    /// The store was closed.
    #[error("storage closed")]
    Closed,
    /// Another process has the data directory open ([`Store::open`]'s lock).
    #[error("storage: the data directory {dir} is in use by another roost (or was locked by another program)")]
    InUse {
        /// The directory.
        dir: PathBuf,
    },
}

fn open_error(dir: &Path, e: std::io::Error) -> StoreError {
    StoreError::Open {
        dir: dir.to_owned(),
        message: e.to_string(),
    }
}

/// What [`Store::open`] read back: the state for the router to load, and the report it logged.
#[derive(Debug)]
pub struct Recovered {
    /// Retained messages, sessions and the messages their queues reference.
    pub state: State,
    /// What recovery found.
    pub report: RecoveryReport,
}

/// Figures for `$SYS` and the benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreStats {
    /// The durable LSN.
    pub durable_lsn: Lsn,
    /// Live state bytes (what `max_bytes` bounds).
    pub live_bytes: u64,
    /// Growth submitted and not yet written.
    pub pending_bytes: u64,
    /// Batches written.
    pub batches: u64,
    /// Log syncs done.
    pub syncs: u64,
    /// Log bytes written since open.
    pub log_bytes: u64,
    /// Snapshot bytes written since open.
    pub snapshot_bytes: u64,
    /// Snapshots written since open.
    pub snapshots: u64,
}

#[derive(Debug)]
struct Disk {
    queue: Arc<Queue>,
    durable: watch::Receiver<Durable>,
    counters: Arc<Counters>,
    max_bytes: u64,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// The advisory lock on `dir/lock` ([`Store::open`]), released after the thread has synced and stopped.
    _lock: Option<std::fs::File>,
}

impl Drop for Disk {
    /// The last handle gone: let the thread write and sync what is queued, and wait for it.
    fn drop(&mut self) {
        close(self);
    }
}

fn close(disk: &Disk) {
    disk.queue.lock().closed = true;
    disk.queue.ready.notify_one();
    let thread = disk.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(thread) = thread {
        let _ = thread.join();
    }
}

#[derive(Debug)]
struct Shared {
    /// `None`: in memory, every change durable at once (tests, `--memory`).
    disk: Option<Disk>,
    next_message_id: AtomicU64,
    /// The memory store's LSN counter.
    memory_lsn: AtomicU64,
}

/// A handle on the store; clones share it. The last one dropped closes it (writes and syncs what is queued).
#[derive(Debug, Clone)]
pub struct Store(Arc<Shared>);

impl Store {
    /// Opens (or creates) the store in `dir` on the real file system, recovering what it holds.
    ///
    /// The directory is locked first (an advisory `flock` on `dir/lock`, held while the store is open and released
    /// by the kernel when the process ends, kill -9 included): two processes appending to one log would corrupt
    /// it, so a second one gets [`StoreError::InUse`].
    pub fn open(dir: &Path, options: StoreOptions) -> Result<(Store, Recovered), StoreError> {
        let lock = (|| {
            std::fs::create_dir_all(dir)?;
            std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(dir.join("lock"))
        })()
        .map_err(|e| open_error(dir, e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(StoreError::InUse { dir: dir.to_owned() }),
            Err(std::fs::TryLockError::Error(e)) => return Err(open_error(dir, e)),
        }
        Self::open_locked(Arc::new(RealFs), dir, options, Some(lock))
    }

    /// [`Store::open`] over any file layer (tests pass a [`fs::FaultFs`]), without the lock.
    pub fn open_with(fs: Arc<dyn Fs>, dir: &Path, options: StoreOptions) -> Result<(Store, Recovered), StoreError> {
        Self::open_locked(fs, dir, options, None)
    }

    fn open_locked(
        fs: Arc<dyn Fs>,
        dir: &Path,
        options: StoreOptions,
        lock: Option<std::fs::File>,
    ) -> Result<(Store, Recovered), StoreError> {
        let open_error = |e: std::io::Error| open_error(dir, e);
        fs.create_dir_all(dir).map_err(open_error)?;
        let recovery = recover::recover(&*fs, dir, committer::now_ms()).map_err(open_error)?;
        let report = recovery.report;
        if report.is_clean() {
            tracing::info!("storage: {report}");
        } else {
            tracing::error!("storage: {report}");
        }
        let counters = Arc::new(Counters::default());
        let next_message_id = recovery.state.max_message_id() + 1;
        let mut engine = Engine::start(
            fs,
            dir.to_owned(),
            options,
            recovery.state.clone(),
            report.last_lsn,
            recovery.log_bytes,
            counters.clone(),
        )
        .map_err(open_error)?;
        // Set-aside files took entries already applied in memory with them: a snapshot makes the recovered state
        // durable again before anything new is acknowledged on top of it.
        if !report.is_clean() {
            engine.snapshot().map_err(open_error)?;
        }
        let (durable_tx, durable) = watch::channel(Durable {
            lsn: report.last_lsn,
            failed: None,
        });
        let queue = Arc::new(Queue::default());
        queue.lock().next_lsn = report.last_lsn + 1;
        let thread = std::thread::Builder::new()
            .name("roost-storage".into())
            .spawn({
                let queue = queue.clone();
                move || committer::run(engine, queue, durable_tx)
            })
            .map_err(open_error)?;
        let store = Store(Arc::new(Shared {
            disk: Some(Disk {
                queue,
                durable,
                counters,
                max_bytes: options.max_bytes,
                thread: Mutex::new(Some(thread)),
                _lock: lock,
            }),
            next_message_id: AtomicU64::new(next_message_id),
            memory_lsn: AtomicU64::new(0),
        }));
        Ok((
            store,
            Recovered {
                state: recovery.state,
                report,
            },
        ))
    }

    /// A store that keeps nothing: every change is durable at once (`[storage] dir = ""`, `--memory`).
    pub fn memory() -> Store {
        Store(Arc::new(Shared {
            disk: None,
            next_message_id: AtomicU64::new(1),
            memory_lsn: AtomicU64::new(0),
        }))
    }

    /// Whether this is the in-memory store.
    pub fn is_memory(&self) -> bool {
        self.0.disk.is_none()
    }

    /// A fresh id for a [`Record::MessagePut`].
    pub fn message_id(&self) -> MessageId {
        MessageId(self.0.next_message_id.fetch_add(1, Ordering::Relaxed))
    }

    /// Whether `growth` more bytes (see [`Record::growth`]) fit under `max_bytes`; `Err(Full)` means refuse the
    /// retained or queued message with reason code 0x97. Never blocks.
    pub fn admit(&self, growth: u64) -> Result<(), StoreError> {
        let Some(disk) = &self.0.disk else { return Ok(()) };
        let used =
            disk.counters.live_bytes.load(Ordering::Relaxed) + disk.counters.pending_bytes.load(Ordering::Relaxed);
        if used.saturating_add(growth) > disk.max_bytes {
            return Err(StoreError::Full {
                max_bytes: disk.max_bytes,
            });
        }
        Ok(())
    }

    /// Queues `records` to be written together (all or none of them are recovered) and returns their LSN.
    /// Never blocks and never awaits: call it under the router's lock, so log order is the order of the changes
    /// in memory. An empty submit writes nothing and returns the last LSN.
    pub fn submit(&self, records: Vec<Record>) -> Result<Lsn, StoreError> {
        let Some(disk) = &self.0.disk else {
            return Ok(self.0.memory_lsn.fetch_add(1, Ordering::Relaxed) + 1);
        };
        let mut queue = disk.queue.lock();
        if let Some(why) = &queue.failed {
            return Err(StoreError::Failed(why.clone()));
        }
        if queue.closed {
            return Err(StoreError::Closed);
        }
        if records.is_empty() {
            return Ok(queue.next_lsn - 1);
        }
        let lsn = queue.next_lsn;
        queue.next_lsn += 1;
        let growth: u64 = records.iter().map(Record::growth).sum();
        disk.counters.pending_bytes.fetch_add(growth, Ordering::Relaxed);
        let wake = queue.items.is_empty();
        queue.items.push((lsn, records));
        drop(queue);
        if wake {
            disk.queue.ready.notify_one();
        }
        Ok(lsn)
    }

    /// Submits several entries at once, so the committer takes them as one batch (tests of what a batch does).
    #[cfg(test)]
    pub(crate) fn submit_batch(&self, submits: Vec<Vec<Record>>) -> Lsn {
        let disk = self.0.disk.as_ref().expect("a store on disk");
        let mut queue = disk.queue.lock();
        for records in submits {
            let lsn = queue.next_lsn;
            queue.next_lsn += 1;
            let growth: u64 = records.iter().map(Record::growth).sum();
            disk.counters.pending_bytes.fetch_add(growth, Ordering::Relaxed);
            queue.items.push((lsn, records));
        }
        drop(queue);
        disk.queue.ready.notify_one();
        self.last_lsn()
    }

    /// The LSN of the last submit: waiting for it waits for everything submitted so far.
    pub fn last_lsn(&self) -> Lsn {
        match &self.0.disk {
            Some(disk) => disk.queue.lock().next_lsn - 1,
            None => self.0.memory_lsn.load(Ordering::Relaxed),
        }
    }

    /// Resolves once everything up to `lsn` is durable (per the sync mode), or with [`StoreError::Failed`] if
    /// storage failed first: then the acknowledgement must not be sent.
    pub async fn durable(&self, lsn: Lsn) -> Result<(), StoreError> {
        let Some(disk) = &self.0.disk else { return Ok(()) };
        let mut rx = disk.durable.clone();
        let state = rx
            .wait_for(|d| d.lsn >= lsn || d.failed.is_some())
            .await
            .map_err(|_| StoreError::Closed)?;
        if state.lsn >= lsn {
            return Ok(());
        }
        Err(StoreError::Failed(
            state.failed.clone().unwrap_or_else(|| "storage failed".into()),
        ))
    }

    /// Whether everything up to `lsn` is durable now, without waiting; [`StoreError::Failed`] if storage failed.
    pub fn is_durable(&self, lsn: Lsn) -> Result<bool, StoreError> {
        let Some(disk) = &self.0.disk else { return Ok(true) };
        let state = disk.durable.borrow();
        if state.lsn >= lsn {
            return Ok(true);
        }
        match &state.failed {
            Some(why) => Err(StoreError::Failed(why.clone())),
            None => Ok(false),
        }
    }

    /// Resolves when storage fails, with why; never for the in-memory store or one that closes cleanly.
    pub async fn failed(&self) -> Arc<str> {
        if let Some(disk) = &self.0.disk {
            let mut rx = disk.durable.clone();
            if let Ok(state) = rx.wait_for(|d| d.failed.is_some()).await
                && let Some(why) = &state.failed
            {
                return why.clone();
            }
        }
        std::future::pending().await
    }

    /// Why storage failed, if it did: the broker stops acknowledging and exits.
    pub fn failure(&self) -> Option<Arc<str>> {
        self.0.disk.as_ref()?.durable.borrow().failed.clone()
    }

    /// Current figures.
    pub fn stats(&self) -> StoreStats {
        let Some(disk) = &self.0.disk else {
            let lsn = self.0.memory_lsn.load(Ordering::Relaxed);
            return StoreStats {
                durable_lsn: lsn,
                ..StoreStats::default()
            };
        };
        let c = &disk.counters;
        StoreStats {
            durable_lsn: disk.durable.borrow().lsn,
            live_bytes: c.live_bytes.load(Ordering::Relaxed),
            pending_bytes: c.pending_bytes.load(Ordering::Relaxed),
            batches: c.batches.load(Ordering::Relaxed),
            syncs: c.syncs.load(Ordering::Relaxed),
            log_bytes: c.log_bytes.load(Ordering::Relaxed),
            snapshot_bytes: c.snapshot_bytes.load(Ordering::Relaxed),
            snapshots: c.snapshots.load(Ordering::Relaxed),
        }
    }

    /// Writes and syncs everything submitted, then stops the thread (graceful shutdown). Later submits get
    /// [`StoreError::Closed`]. Returns the failure if storage had failed.
    pub fn close(&self) -> Result<(), StoreError> {
        if let Some(disk) = &self.0.disk {
            close(disk);
            if let Some(why) = self.failure() {
                return Err(StoreError::Failed(why));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
