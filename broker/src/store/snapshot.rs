//! Snapshots: a file header ([`log::SNAPSHOT_MAGIC`], the format version), then the whole live state as records
//! (with the file's own string table), in entries framed like the log's (each with its CRC) and closed by an end
//! marker that counts them, written to `snapshot.tmp`, synced, renamed to `snapshot-<lsn>.snap`, and made durable by
//! syncing the directory. A snapshot without its end marker is not one.

use std::io;
use std::path::Path;

use super::fs::Fs;
use super::log::{self, Lsn, RawEntry};
use super::record::{Decoder, Encoder};
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
    let header = log::file_header(log::SNAPSHOT_MAGIC);
    file.append(&header)?;
    let mut buf = Vec::with_capacity(CHUNK * 2);
    let mut chunk = Vec::new();
    let mut count = 0u64;
    let mut written = header.len() as u64;
    let mut enc = Encoder::default();
    for record in state.to_records() {
        chunk.clear();
        record.encode(&mut chunk, &mut enc);
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

/// Why a snapshot could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ReadError {
    /// Not whole or not valid: set it aside and use an older one.
    Bad(String),
    /// Of another storage format: refuse the directory.
    Format(String),
}

/// Reads a snapshot into a state, or says why it is not a whole, valid one of this format.
pub(crate) fn read(fs: &dyn Fs, path: &Path, lsn: Lsn) -> Result<State, ReadError> {
    let data = fs.read(path).map_err(|e| ReadError::Bad(e.to_string()))?;
    let data = match log::after_header(&data, log::SNAPSHOT_MAGIC) {
        Ok(Some(entries)) => entries,
        Ok(None) => return Err(ReadError::Bad("no header (written only in part)".into())),
        Err(log::HeaderError::Format(why)) => return Err(ReadError::Format(why)),
    };
    let mut dec = Decoder::default();
    let mut state = State::default();
    let mut count = 0u64;
    let mut ended = false;
    let stop = log::read_entries(data, |RawEntry { lsn: entry_lsn, body }| {
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
        for record in log::decode_records(body, &mut dec).map_err(|e| e.0)? {
            state.apply(record);
            count += 1;
        }
        Ok(())
    });
    match stop {
        log::Stop::End if ended => Ok(state),
        log::Stop::End => Err(ReadError::Bad("no end marker (written only in part)".into())),
        log::Stop::Bad { offset, reason, .. } => Err(ReadError::Bad(format!(
            "{reason} at byte {}",
            offset + log::FILE_HEADER
        ))),
    }
}
