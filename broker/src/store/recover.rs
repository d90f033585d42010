//! Recovery at start: the newest valid snapshot, then every log frame after it, in LSN order. A torn tail of the
//! last segment (what a crash mid-write leaves) is cut off; anything else that does not read back (a bad entry
//! with whole ones after it, a gap in the LSNs, a corrupt snapshot) is renamed `*.corrupt` and left for a person,
//! and the broker starts with the consistent prefix read so far. Recovery never refuses to start.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::fs::Fs;
use super::log::{self, Lsn, Stop};
use super::record::Decoder;
use super::snapshot;
use super::state::State;

/// What recovery found, for the one log line and for tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// The snapshot loaded, by its LSN.
    pub snapshot_lsn: Option<Lsn>,
    /// The last LSN recovered: the state is exactly the log up to it.
    pub last_lsn: Lsn,
    /// Submits (LSNs) replayed after the snapshot.
    pub entries_replayed: u64,
    /// Bytes cut from the end of the last segment (a write torn by a crash).
    pub torn_bytes: u64,
    /// Files set aside as corrupt, with why: their path after renaming.
    pub set_aside: Vec<(PathBuf, String)>,
    /// Retained messages, sessions and queued messages dropped because they expired while the broker was down.
    pub expired: usize,
    /// Retained messages recovered.
    pub retained: usize,
    /// Sessions recovered.
    pub sessions: usize,
    /// How long recovery took.
    pub elapsed: Duration,
}

impl RecoveryReport {
    /// Whether the files read back whole: nothing set aside. (A torn tail is normal after a crash.)
    pub fn is_clean(&self) -> bool {
        self.set_aside.is_empty()
    }
}

impl fmt::Display for RecoveryReport {
    /// One line: what was recovered, and anything cut or set aside.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "recovered {} retained messages and {} sessions up to LSN {} ({}, {} LSNs replayed) in {} ms",
            self.retained,
            self.sessions,
            self.last_lsn,
            match self.snapshot_lsn {
                Some(lsn) => format!("snapshot at LSN {lsn}"),
                None => "no snapshot".into(),
            },
            self.entries_replayed,
            self.elapsed.as_millis()
        )?;
        if self.expired > 0 {
            write!(f, "; {} expired while stopped", self.expired)?;
        }
        if self.torn_bytes > 0 {
            write!(f, "; cut a torn tail of {} bytes", self.torn_bytes)?;
        }
        for (path, why) in &self.set_aside {
            write!(f, "; CORRUPT, set aside {} ({why})", path.display())?;
        }
        Ok(())
    }
}

/// The recovered state and what the log looks like now.
#[derive(Debug)]
pub(crate) struct Recovery {
    pub(crate) state: State,
    pub(crate) report: RecoveryReport,
    /// Log bytes replayed: how much a snapshot would save at the next start.
    pub(crate) log_bytes: u64,
}

fn set_aside(fs: &dyn Fs, dir: &Path, name: &str, why: String, report: &mut RecoveryReport) {
    let path = dir.join(name);
    let aside = log::set_aside_path(&path);
    match fs.rename(&path, &aside) {
        Ok(()) => report.set_aside.push((aside, why)),
        // Renaming failed too: recovery still goes on with what it has, and says so.
        Err(e) => report
            .set_aside
            .push((path, format!("{why}; could not rename it: {e}"))),
    }
}

/// A file of another storage format: recovery refuses the directory rather than set aside (and so lose) what an
/// older roost acknowledged.
fn format_error(name: &str, why: String) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!(
            "{name}: {why}; this roost does not convert older data directories (roost is unreleased): stop, move \
             the directory away (or empty it) and start again"
        ),
    )
}

/// Reads the directory's snapshot and log into a state. Errors when the directory cannot be listed, or holds a
/// file of another storage format ([`log::FORMAT`]).
pub(crate) fn recover(fs: &dyn Fs, dir: &Path, now_ms: u64) -> std::io::Result<Recovery> {
    let started = Instant::now();
    let mut report = RecoveryReport::default();
    let names = fs.list(dir)?;
    if names.iter().any(|n| n == snapshot::TMP) {
        // A snapshot that never got renamed into place: the log still holds everything it would have.
        let _ = fs.remove(&dir.join(snapshot::TMP));
    }
    let mut snapshots: Vec<Lsn> = names.iter().filter_map(|n| log::parse_snapshot_name(n)).collect();
    snapshots.sort_unstable_by(|a, b| b.cmp(a));
    let mut state = State::default();
    for lsn in snapshots {
        let name = log::snapshot_name(lsn);
        match snapshot::read(fs, &dir.join(&name), lsn) {
            Ok(loaded) => {
                state = loaded;
                report.snapshot_lsn = Some(lsn);
                break;
            }
            Err(snapshot::ReadError::Format(why)) => return Err(format_error(&name, why)),
            Err(snapshot::ReadError::Bad(why)) => set_aside(fs, dir, &name, why, &mut report),
        }
    }
    let mut expected = report.snapshot_lsn.unwrap_or(0) + 1;
    let mut segments: Vec<Lsn> = names.iter().filter_map(|n| log::parse_segment_name(n)).collect();
    segments.sort_unstable();
    let mut broken = false;
    let mut log_bytes = 0u64;
    for (i, &first) in segments.iter().enumerate() {
        let name = log::segment_name(first);
        if broken {
            set_aside(fs, dir, &name, "follows a corrupt segment".into(), &mut report);
            continue;
        }
        // A segment starting past the next LSN means entries are missing: what follows cannot be applied.
        if first > expected {
            set_aside(
                fs,
                dir,
                &name,
                format!("starts at LSN {first}, LSN {expected} is missing"),
                &mut report,
            );
            broken = true;
            continue;
        }
        let data = match fs.read(&dir.join(&name)) {
            Ok(data) => data,
            Err(e) => {
                set_aside(fs, dir, &name, format!("unreadable: {e}"), &mut report);
                broken = true;
                continue;
            }
        };
        log_bytes += data.len() as u64;
        let entries = match log::after_header(&data, log::SEGMENT_MAGIC) {
            Ok(Some(entries)) => entries,
            Ok(None) => &[],
            Err(log::HeaderError::Format(why)) => return Err(format_error(&name, why)),
        };
        // Offsets below are in `entries`; the file's are `header` more.
        let header = data.len() - entries.len();
        // Each segment has its own string table, rebuilt from its first frame: frames already in the snapshot are
        // decoded too, only not applied.
        let mut dec = Decoder::default();
        let stop = log::read_entries(entries, |entry| {
            let (count, records) = log::decode_frame(entry.body, &mut dec).map_err(|e| e.0)?;
            let last = entry.lsn.checked_add(count - 1).ok_or("LSN count")?;
            if last < expected {
                return Ok(()); // already in the snapshot
            }
            if entry.lsn != expected {
                return Err("LSN out of order");
            }
            for record in records {
                state.apply(record);
            }
            expected = last + 1;
            report.entries_replayed += count;
            Ok(())
        });
        if let Stop::Bad {
            offset,
            reason,
            whole_entry_follows,
        } = stop
        {
            let last = i + 1 == segments.len();
            // Entries found further on mean the damage is not the end of the last write.
            let later = whole_entry_follows
                || log::any_entry_within(&entries[offset + 1..], expected + 1..=expected.saturating_add(1 << 20));
            if last && !later {
                // A crash in the middle of the last write: cut it off so new entries follow whole ones.
                report.torn_bytes = (entries.len() - offset) as u64;
                if let Err(e) = fs.truncate(&dir.join(&name), (header + offset) as u64) {
                    set_aside(fs, dir, &name, format!("torn tail could not be cut: {e}"), &mut report);
                }
            } else {
                set_aside(fs, dir, &name, format!("{reason} at byte {offset}"), &mut report);
                broken = true;
            }
        }
    }
    report.last_lsn = expected - 1;
    state.collect_garbage();
    report.expired = state.drop_expired(now_ms).len();
    report.retained = state.retained.len();
    report.sessions = state.sessions.len();
    report.elapsed = started.elapsed();
    Ok(Recovery {
        state,
        report,
        log_bytes,
    })
}
