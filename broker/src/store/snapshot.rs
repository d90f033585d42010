//! Snapshots: the whole live state as records, in entries framed like the log's (each with its CRC) and closed by
//! an end marker that counts them, written to `snapshot.tmp`, synced, renamed to `snapshot-<lsn>.snap`, and made
//! durable by syncing the directory. A snapshot without its end marker is not one.

use std::io;
use std::path::Path;

use super::fs::Fs;
use super::log::{self, Lsn, RawEntry};
use super::state::State;

/// The body of the last entry: this byte (never a record kind), then the number of records as a varint.
const END: u8 = 0xFF;

/// Entries of about this many bytes: small enough to write in pieces, large enough that headers cost nothing.
const CHUNK: usize = 64 * 1024;

/// The temporary name a snapshot is written under before it is renamed into place.
pub(crate) const TMP: &str = "snapshot.tmp";

/// Writes `state` (as of `lsn`) durably as `dir/snapshot-<lsn>.snap`; returns the bytes written.
pub(crate) fn write(fs: &dyn Fs, dir: &Path, state: &State, lsn: Lsn) -> io::Result<u64> {
    let tmp = dir.join(TMP);
    if fs.read(&tmp).is_ok() {
        fs.remove(&tmp)?;
    }
    let mut file = fs.open_append(&tmp)?;
    let mut buf = Vec::with_capacity(CHUNK * 2);
    let mut chunk = Vec::new();
    let mut count = 0u64;
    let mut written = 0u64;
    for record in state.to_records() {
        chunk.clear();
        record.encode(&mut chunk);
        // One entry per chunk: records never straddle entries.
        if buf.len() > log::HEADER && buf.len() + chunk.len() > CHUNK {
            written += flush(&mut *file, lsn, &mut buf)?;
        }
        if buf.is_empty() {
            buf.extend_from_slice(&[0; log::HEADER]);
        }
        buf.extend_from_slice(&chunk);
        count += 1;
    }
    if buf.len() > log::HEADER {
        written += flush(&mut *file, lsn, &mut buf)?;
    }
    let mut end = vec![END];
    super::record::Writer(&mut end).varint(count);
    log::encode_raw_entry(lsn, &end, &mut buf);
    file.append(&buf)?;
    written += buf.len() as u64;
    file.sync()?;
    drop(file);
    fs.rename(&tmp, &dir.join(log::snapshot_name(lsn)))?;
    fs.sync_dir(dir)?;
    Ok(written)
}

/// Frames the records in `buf` (after its reserved header) as one entry and appends it.
fn flush(file: &mut dyn super::fs::AppendFile, lsn: Lsn, buf: &mut Vec<u8>) -> io::Result<u64> {
    let body = buf.split_off(log::HEADER);
    buf.clear();
    log::encode_raw_entry(lsn, &body, buf);
    file.append(buf)?;
    let n = buf.len() as u64;
    buf.clear();
    Ok(n)
}

/// Reads a snapshot into a state, or says why it is not a whole, valid one.
pub(crate) fn read(fs: &dyn Fs, path: &Path, lsn: Lsn) -> Result<State, String> {
    let data = fs.read(path).map_err(|e| e.to_string())?;
    let mut state = State::default();
    let mut count = 0u64;
    let mut ended = false;
    let stop = log::read_entries(&data, |RawEntry { lsn: entry_lsn, body }| {
        if ended {
            return Err("data after the end marker");
        }
        if entry_lsn != lsn {
            return Err("entry of another snapshot");
        }
        if body.first() == Some(&END) {
            let mut r = super::record::Reader(&body[1..]);
            let expected = r.varint().map_err(|_| "bad end marker")?;
            if expected != count || !r.is_empty() {
                return Err("record count differs from the end marker");
            }
            ended = true;
            return Ok(());
        }
        for record in log::decode_records(body).map_err(|e| e.0)? {
            state.apply(record);
            count += 1;
        }
        Ok(())
    });
    match stop {
        log::Stop::End if ended => Ok(state),
        log::Stop::End => Err("no end marker (written only in part)".into()),
        log::Stop::Bad { offset, reason, .. } => Err(format!("{reason} at byte {offset}")),
    }
}
