//! Group commit: one OS thread owns the log files (`fdatasync` blocks, so not a tokio task). It takes everything
//! submitted since its last write, drops the records that cancel out within it ([`super::cancel`]), frames it
//! (one frame per batch, split only past [`FRAME_BYTES`]), writes it with one `write(2)`, syncs once, applies it to
//! its model of the state and publishes the new durable LSN on a watch channel, waking every waiter of the batch
//! at once. Whatever is submitted while it syncs is the next batch: no timer at low load, no sync per message at
//! high load.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

use super::cancel::cancel;
use super::fs::{AppendFile, Fs};
use super::log::{self, Lsn};
use super::record::{Encoder, Record};
use super::snapshot;
use super::state::State;
use super::{StoreOptions, SyncMode};

/// What waiters see: the durable LSN, or why there will be no more.
#[derive(Debug, Clone, Default)]
pub(crate) struct Durable {
    pub(crate) lsn: Lsn,
    pub(crate) failed: Option<Arc<str>>,
}

/// Submitted entries not yet taken by the thread.
///
/// Unbounded by count on purpose: `submit` is called under the router's lock and must never block or drop a
/// change the router has already made in memory. What bounds it is bytes: `admit` refuses growth beyond
/// `max_bytes` counting these pending bytes, and deletes (which free space) are small.
#[derive(Debug, Default)]
pub(crate) struct QueueInner {
    pub(crate) items: Vec<(Lsn, Vec<Record>)>,
    /// The LSN the next submit gets; assigned under this lock so log order is submit order.
    pub(crate) next_lsn: Lsn,
    pub(crate) closed: bool,
    pub(crate) failed: Option<Arc<str>>,
}

/// The submit queue shared by producers and the thread.
#[derive(Debug, Default)]
pub(crate) struct Queue {
    pub(crate) inner: Mutex<QueueInner>,
    pub(crate) ready: Condvar,
}

impl Queue {
    pub(crate) fn lock(&self) -> MutexGuard<'_, QueueInner> {
        // Held only to push or take a Vec; a panic elsewhere cannot leave it half-changed.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Counters readable from any thread.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Live state bytes as of the last batch applied.
    pub(crate) live_bytes: AtomicU64,
    /// Growth submitted but not yet applied.
    pub(crate) pending_bytes: AtomicU64,
    pub(crate) batches: AtomicU64,
    pub(crate) syncs: AtomicU64,
    pub(crate) log_bytes: AtomicU64,
    pub(crate) snapshot_bytes: AtomicU64,
    pub(crate) snapshots: AtomicU64,
}

/// The files and the model, owned by the thread.
#[derive(Debug)]
pub(crate) struct Engine {
    pub(crate) fs: Arc<dyn Fs>,
    pub(crate) dir: PathBuf,
    pub(crate) options: StoreOptions,
    file: Box<dyn AppendFile>,
    /// The string table of the current segment (a new segment starts a new one).
    enc: Encoder,
    segment_bytes: u64,
    /// Log bytes written since the last snapshot: compaction starts when they outgrow the live state.
    log_since_snapshot: u64,
    /// Raised after a failed snapshot, so a full disk is not retried after every batch.
    snapshot_floor: u64,
    pub(crate) state: State,
    /// The last LSN written (in the kernel).
    written: Lsn,
    /// The last LSN synced.
    synced: Lsn,
    counters: Arc<Counters>,
    buf: Vec<u8>,
    /// The snapshot being written by its helper thread: its LSN and size when done.
    snapshotting: Option<std::thread::JoinHandle<std::io::Result<(Lsn, u64)>>>,
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Engine {
    /// Starts writing after `last_lsn` in a new segment; `log_bytes` are the log bytes recovery replayed.
    pub(crate) fn start(
        fs: Arc<dyn Fs>,
        dir: PathBuf,
        options: StoreOptions,
        state: State,
        last_lsn: Lsn,
        log_bytes: u64,
        counters: Arc<Counters>,
    ) -> std::io::Result<Self> {
        let file = open_segment(&*fs, &dir, last_lsn + 1)?;
        counters.live_bytes.store(state.live_bytes(), Ordering::Relaxed);
        counters.log_bytes.fetch_add(log::FILE_HEADER as u64, Ordering::Relaxed);
        Ok(Engine {
            snapshot_floor: options.snapshot_min_bytes,
            fs,
            dir,
            options,
            file,
            enc: Encoder::default(),
            segment_bytes: log::FILE_HEADER as u64,
            log_since_snapshot: log_bytes,
            state,
            written: last_lsn,
            synced: last_lsn,
            counters,
            buf: Vec::new(),
            snapshotting: None,
        })
    }

    /// Writes a batch with one append and applies it to the model. Consecutive submits (`items` holds consecutive
    /// LSNs, as the queue hands them out) form one frame, or several past [`FRAME_BYTES`]; records cancel out only
    /// within a frame, which is recovered whole or not at all.
    fn write(&mut self, items: Vec<(Lsn, Vec<Record>)>) -> std::io::Result<()> {
        self.buf.clear();
        let growth: u64 = items.iter().flat_map(|(_, records)| records).map(Record::growth).sum();
        let Some(&(last, _)) = items.last() else { return Ok(()) };
        let mut items = items.into_iter();
        while let Some((first, records)) = items.next() {
            let mut frame = records;
            let mut count = 1;
            let mut estimate = frame_estimate(&frame);
            while estimate < FRAME_BYTES
                && let Some((_, next)) = items.next()
            {
                estimate += frame_estimate(&next);
                frame.extend(next);
                count += 1;
            }
            let kept = cancel(&self.state, frame);
            log::encode_frame(first, count, &kept, &mut self.enc, &mut self.buf);
            // The model moves frame by frame: the next frame's cancelling looks at the state before it.
            for record in kept {
                self.state.apply(record);
            }
        }
        self.file.append(&self.buf)?;
        self.written = last;
        let n = self.buf.len() as u64;
        self.segment_bytes += n;
        self.log_since_snapshot += n;
        self.counters.log_bytes.fetch_add(n, Ordering::Relaxed);
        self.counters.batches.fetch_add(1, Ordering::Relaxed);
        self.counters.pending_bytes.fetch_sub(growth, Ordering::Relaxed);
        self.counters
            .live_bytes
            .store(self.state.live_bytes(), Ordering::Relaxed);
        if self.buf.capacity() > 4 * 1024 * 1024 {
            self.buf = Vec::new(); // one huge batch must not pin its buffer for ever
        }
        Ok(())
    }

    fn sync(&mut self) -> std::io::Result<()> {
        if self.synced < self.written {
            self.file.sync()?;
            self.counters.syncs.fetch_add(1, Ordering::Relaxed);
            self.synced = self.written;
        }
        Ok(())
    }

    /// Compacts when the log since the last snapshot outgrows the live state (never on a timer, so an idle
    /// broker on an SD card writes nothing); rotates to a new segment when the current one is full. The snapshot
    /// is written by a helper thread from a copy of the model, so acknowledgements do not wait for it.
    ///
    /// Errors are only those of syncing the log (fatal, as everywhere); a snapshot or a rotation that fails is
    /// logged and retried later.
    fn maintain(&mut self) -> std::io::Result<()> {
        if self.snapshotting.as_ref().is_some_and(|h| h.is_finished()) {
            self.finish_snapshot();
        }
        let threshold = self
            .snapshot_floor
            .max(self.options.snapshot_factor.saturating_mul(self.state.live_bytes()));
        let snapshot = self.snapshotting.is_none() && self.log_since_snapshot > threshold;
        if snapshot || self.segment_bytes > self.options.segment_max_bytes {
            // Entries before a new segment must not be lost with the old one. A failed sync here is the same
            // failure as anywhere: never retried (a retry can falsely succeed).
            self.sync()?;
        }
        if snapshot {
            if let Err(e) = self.start_snapshot() {
                self.snapshot_failed(&e);
            }
        } else if self.segment_bytes > self.options.segment_max_bytes
            && let Err(e) = self.rotate()
        {
            tracing::warn!(error = %e, "storage: could not start a new log segment; writing on in the old one");
        }
        Ok(())
    }

    fn snapshot_failed(&mut self, e: &std::io::Error) {
        tracing::warn!(error = %e, "storage: snapshot failed; the log keeps everything, retrying later");
        self.snapshot_floor = self.snapshot_floor.saturating_mul(2);
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        // Entries before the new segment must not be lost with it: sync them first.
        self.sync()?;
        self.file = open_segment(&*self.fs, &self.dir, self.written + 1)?;
        self.enc = Encoder::default();
        self.segment_bytes = log::FILE_HEADER as u64;
        self.log_since_snapshot += log::FILE_HEADER as u64;
        self.counters
            .log_bytes
            .fetch_add(log::FILE_HEADER as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Starts writing the model as a snapshot at the last written LSN, in a new segment from the next LSN on, so
    /// the snapshot plus the segments from there are the whole state.
    fn start_snapshot(&mut self) -> std::io::Result<()> {
        let lsn = self.written;
        self.rotate()?;
        self.state.drop_expired(now_ms());
        self.state.collect_garbage();
        self.counters
            .live_bytes
            .store(self.state.live_bytes(), Ordering::Relaxed);
        self.log_since_snapshot = 0;
        // Payloads and strings are reference counted: the copy costs maps, not message bytes.
        let state = self.state.clone();
        let (fs, dir) = (self.fs.clone(), self.dir.clone());
        self.snapshotting = Some(
            std::thread::Builder::new()
                .name("roost-snapshot".into())
                .spawn(move || snapshot::write(&*fs, &dir, &state, lsn).map(|bytes| (lsn, bytes)))?,
        );
        Ok(())
    }

    /// Waits for the snapshot being written, then deletes the segments and snapshots it makes unnecessary.
    fn finish_snapshot(&mut self) {
        let Some(handle) = self.snapshotting.take() else { return };
        let (lsn, bytes) = match handle.join() {
            Ok(Ok(done)) => done,
            Ok(Err(e)) => return self.snapshot_failed(&e),
            Err(_) => return self.snapshot_failed(&std::io::Error::other("snapshot thread panicked")),
        };
        self.counters.snapshot_bytes.fetch_add(bytes, Ordering::Relaxed);
        self.counters.snapshots.fetch_add(1, Ordering::Relaxed);
        self.snapshot_floor = self.options.snapshot_min_bytes;
        // Only now is the snapshot durable (renamed, directory synced): the files it replaces may go.
        let names = match self.fs.list(&self.dir) {
            Ok(names) => names,
            Err(e) => return tracing::warn!(error = %e, "storage: cannot list the data directory"),
        };
        for name in names {
            let old_segment = log::parse_segment_name(&name).is_some_and(|first| first <= lsn);
            let old_snapshot = log::parse_snapshot_name(&name).is_some_and(|at| at < lsn);
            if (old_segment || old_snapshot)
                && let Err(e) = self.fs.remove(&self.dir.join(&name))
            {
                tracing::warn!(error = %e, file = name, "storage: cannot remove a compacted file");
            }
        }
    }

    /// Writes a snapshot and waits for it (at open, after files were set aside).
    pub(crate) fn snapshot(&mut self) -> std::io::Result<()> {
        self.start_snapshot()?;
        let before = self.counters.snapshots.load(Ordering::Relaxed);
        self.finish_snapshot();
        if self.counters.snapshots.load(Ordering::Relaxed) == before {
            return Err(std::io::Error::other("snapshot failed (see the warning above)"));
        }
        Ok(())
    }
}

/// A frame is closed once its submits are estimated past this many bytes: a frame is read back whole, so one must
/// stay far below the reader's limit on an entry, whatever a batch holds.
const FRAME_BYTES: u64 = 1024 * 1024;

/// Roughly what a submit's records take in a frame.
fn frame_estimate(records: &[Record]) -> u64 {
    records.iter().map(|r| r.growth() + 32).sum()
}

/// Creates the segment that starts at `first`, with its header, and makes its directory entry durable, so a power
/// cut cannot lose a whole file of synced entries. A file of that name left by a crash holds nothing recovered
/// (recovery read every whole frame before `first`), so it is emptied first.
fn open_segment(fs: &dyn Fs, dir: &std::path::Path, first: Lsn) -> std::io::Result<Box<dyn AppendFile>> {
    let path = dir.join(log::segment_name(first));
    if fs.list(dir)?.contains(&log::segment_name(first)) {
        fs.truncate(&path, 0)?;
    }
    let mut file = fs.open_append(&path)?;
    file.append(&log::file_header(log::SEGMENT_MAGIC))?;
    fs.sync_dir(dir)?;
    Ok(file)
}

/// The thread's loop: batch, write, sync (per mode), publish, maintain; until closed and drained, or failed.
pub(crate) fn run(mut engine: Engine, queue: Arc<Queue>, durable: watch::Sender<Durable>) {
    let mode = engine.options.sync;
    let mut last_sync = Instant::now();
    loop {
        let (items, closing) = {
            let mut inner = queue.lock();
            loop {
                if !inner.items.is_empty() || inner.closed {
                    break;
                }
                match mode {
                    SyncMode::Interval(every) if engine.synced < engine.written => {
                        let wait = every.saturating_sub(last_sync.elapsed());
                        if wait.is_zero() {
                            break;
                        }
                        inner = queue
                            .ready
                            .wait_timeout(inner, wait)
                            .unwrap_or_else(|e| e.into_inner())
                            .0;
                    }
                    _ => inner = queue.ready.wait(inner).unwrap_or_else(|e| e.into_inner()),
                }
            }
            (std::mem::take(&mut inner.items), inner.closed)
        };
        let step = (|| {
            if !items.is_empty() {
                engine.write(items)?;
            }
            let sync_now = match mode {
                SyncMode::Always => true,
                SyncMode::Interval(every) => closing || last_sync.elapsed() >= every,
                SyncMode::Never => closing,
            };
            if sync_now {
                engine.sync()?;
                last_sync = Instant::now();
            }
            Ok::<_, std::io::Error>(())
        })();
        if let Err(e) = step {
            return fail(&engine, &queue, &durable, e);
        }
        // `always` acknowledges what is synced; the other modes what is written (in the kernel: a killed
        // process loses none of it).
        let lsn = match mode {
            SyncMode::Always => engine.synced,
            _ => engine.written,
        };
        durable.send_if_modified(|d| {
            let newer = lsn > d.lsn;
            d.lsn = d.lsn.max(lsn);
            newer
        });
        if let Err(e) = engine.maintain() {
            return fail(&engine, &queue, &durable, e);
        }
        if closing && queue.lock().items.is_empty() {
            engine.finish_snapshot();
            return;
        }
    }
}

/// Poisons the store: every pending and later `durable` and `submit` gets the error; the thread stops.
fn fail(engine: &Engine, queue: &Queue, durable: &watch::Sender<Durable>, e: std::io::Error) {
    let why: Arc<str> = format!("storage write or fdatasync failed in {}: {e}", engine.dir.display()).into();
    tracing::error!("{why}; no longer acknowledging anything that needs storage");
    queue.lock().failed = Some(why.clone());
    durable.send_modify(|d| d.failed = Some(why));
}
