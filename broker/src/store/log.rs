//! The log's framing and files. Every file starts with an 8-byte header naming its kind and format version
//! ([`FORMAT`]). Then entries `len u32 | crc32 u32 | lsn u64 | body`: in a log segment (`wal-<first lsn>.log`) one
//! entry is a frame holding a whole group-commit batch, body `count varint | records`, the submits with LSNs
//! `lsn .. lsn + count` (one CRC and one header for the batch, not one per submit: a batch is recovered whole or
//! not at all, which keeps each submit whole); snapshots use the same entries for chunks of records. Recovery
//! reads them back, cutting a torn tail and setting aside a file that is corrupt before its end.

use std::path::{Path, PathBuf};

use super::record::{Decoder, Encoder, Reader, Record};

/// Log sequence number: one per submit, consecutive, starting at 1.
pub type Lsn = u64;

/// Bytes before an entry's records.
pub(crate) const HEADER: usize = 16;

/// The largest entry accepted when reading: a length beyond it is corruption, not an allocation to attempt.
const MAX_ENTRY: usize = 256 * 1024 * 1024;

/// The CRC covers the LSN and the records, so an entry copied to the wrong place or a stale one is caught too.
fn checksum(lsn: Lsn, body: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&lsn.to_le_bytes());
    hasher.update(body);
    hasher.finalize()
}

/// The storage format this build writes and reads. 1 (before the file headers) had one entry per submit and no
/// string table; 2 (never released: only on the branch that introduced it) wrote message ids and sequence numbers
/// whole; 3 (never released) kept no user with a session. Files of another format are refused with [`HeaderError::Format`] (the project is unreleased: no
/// conversion).
pub(crate) const FORMAT: u16 = 4;

/// The first 6 bytes of a log segment; the format version follows as a little-endian u16.
pub(crate) const SEGMENT_MAGIC: &[u8; 6] = b"RSTWAL";
/// The first 6 bytes of a snapshot.
pub(crate) const SNAPSHOT_MAGIC: &[u8; 6] = b"RSTSNP";
/// Bytes of a file header.
pub(crate) const FILE_HEADER: usize = 8;

/// The header a file of this kind starts with.
pub(crate) fn file_header(magic: &[u8; 6]) -> [u8; FILE_HEADER] {
    let mut header = [0; FILE_HEADER];
    header[..6].copy_from_slice(magic);
    header[6..].copy_from_slice(&FORMAT.to_le_bytes());
    header
}

/// Why a file's header is not this build's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HeaderError {
    /// Another format version, or no header at all (format 1, or not a roost file).
    Format(String),
}

/// The entries of a file after its header, or `Ok(None)` for a file whose header was never wholly written (empty,
/// a prefix of the header, or zeroes: a crash right after the file was created, so it holds nothing synced).
pub(crate) fn after_header<'a>(data: &'a [u8], magic: &[u8; 6]) -> Result<Option<&'a [u8]>, HeaderError> {
    let header = file_header(magic);
    let head = &data[..data.len().min(FILE_HEADER)];
    if head.len() == FILE_HEADER && head[..6] == *magic {
        let version = u16::from_le_bytes([head[6], head[7]]);
        if version != FORMAT {
            return Err(HeaderError::Format(format!(
                "storage format {version}, this roost reads format {FORMAT} only"
            )));
        }
        return Ok(Some(&data[FILE_HEADER..]));
    }
    if header.starts_with(head) || head.iter().all(|&b| b == 0) {
        return Ok(None);
    }
    Err(HeaderError::Format(format!(
        "no storage format {FORMAT} header: written by an older roost (format 1, before the file headers), or \
         not a roost file"
    )))
}

/// Appends one log frame to `buf`: the `count` submits from LSN `first`, with their (kept) `records`.
pub(crate) fn encode_frame(first: Lsn, count: u64, records: &[Record], enc: &mut Encoder, buf: &mut Vec<u8>) {
    let start = buf.len();
    buf.extend_from_slice(&[0; HEADER]);
    super::record::Writer(buf).varint(count);
    for record in records {
        record.encode(buf, enc);
    }
    finish_entry(first, start, buf);
}

/// A log frame's body: how many LSNs it covers (at least one), and its records.
pub(crate) fn decode_frame(body: &[u8], dec: &mut Decoder) -> Result<(u64, Vec<Record>), super::record::DecodeError> {
    let mut r = Reader(body);
    let count = r.varint()?;
    if count == 0 {
        return Err(super::record::DecodeError("frame of no LSN"));
    }
    let mut records = Vec::new();
    while !r.is_empty() {
        records.push(Record::decode(&mut r, dec)?);
    }
    Ok((count, records))
}

/// Appends an entry whose body is `body` as given (snapshot markers).
pub(crate) fn encode_raw_entry(lsn: Lsn, body: &[u8], buf: &mut Vec<u8>) {
    let start = buf.len();
    buf.extend_from_slice(&[0; HEADER]);
    buf.extend_from_slice(body);
    finish_entry(lsn, start, buf);
}

fn finish_entry(lsn: Lsn, start: usize, buf: &mut [u8]) {
    let body_len = buf.len() - start - HEADER;
    let crc = checksum(lsn, &buf[start + HEADER..]);
    buf[start..start + 4].copy_from_slice(&(body_len as u32).to_le_bytes());
    buf[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    buf[start + 8..start + 16].copy_from_slice(&lsn.to_le_bytes());
}

/// One entry read back: its LSN and body (records not yet decoded).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawEntry<'a> {
    pub(crate) lsn: Lsn,
    pub(crate) body: &'a [u8],
}

/// The entry at the front of `buf`, its length, or why there is none.
fn parse_entry(buf: &[u8]) -> Result<(RawEntry<'_>, usize), &'static str> {
    if buf.len() < HEADER {
        return Err("short header");
    }
    let len = u32::from_le_bytes(buf[0..4].try_into().expect("4 bytes")) as usize;
    let crc = u32::from_le_bytes(buf[4..8].try_into().expect("4 bytes"));
    let lsn = u64::from_le_bytes(buf[8..16].try_into().expect("8 bytes"));
    if len == 0 && crc == 0 && lsn == 0 {
        return Err("zeroes");
    }
    if len > MAX_ENTRY || len > buf.len() - HEADER {
        return Err("short entry");
    }
    let body = &buf[HEADER..HEADER + len];
    if checksum(lsn, body) != crc {
        return Err("bad CRC");
    }
    Ok((RawEntry { lsn, body }, HEADER + len))
}

/// Decodes the records of a snapshot entry's body.
pub(crate) fn decode_records(body: &[u8], dec: &mut Decoder) -> Result<Vec<Record>, super::record::DecodeError> {
    let mut r = Reader(body);
    let mut records = Vec::new();
    while !r.is_empty() {
        records.push(Record::decode(&mut r, dec)?);
    }
    Ok(records)
}

/// Where reading a file stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Stop {
    /// At the end of the file, after a whole entry.
    End,
    /// At a bad entry starting at `offset`.
    Bad {
        /// Where the first bad byte's entry starts: the valid prefix's length.
        offset: usize,
        /// What was wrong.
        reason: &'static str,
        /// Whether a whole entry follows the bad one: then it is not a torn tail but corruption in the middle.
        whole_entry_follows: bool,
    },
}

/// Calls `f` with each valid entry of `buf` in order, until the end or the first bad one. `f` may refuse an
/// entry (its records do not decode, its LSN is out of order) with a reason, which stops reading there.
pub(crate) fn read_entries<'a>(buf: &'a [u8], mut f: impl FnMut(RawEntry<'a>) -> Result<(), &'static str>) -> Stop {
    let mut offset = 0;
    while offset < buf.len() {
        let bad = match parse_entry(&buf[offset..]) {
            Ok((entry, len)) => match f(entry) {
                Ok(()) => {
                    offset += len;
                    continue;
                }
                Err(reason) => (reason, len),
            },
            Err(reason) => {
                let declared = u32::from_le_bytes(
                    buf[offset..]
                        .get(0..4)
                        .map_or([0; 4], |b| b.try_into().expect("4 bytes")),
                ) as usize;
                (reason, HEADER + declared)
            }
        };
        let (reason, len) = bad;
        let next = offset.saturating_add(len);
        let whole_entry_follows = next < buf.len() && parse_entry(&buf[next..]).is_ok();
        return Stop::Bad {
            offset,
            reason,
            whole_entry_follows,
        };
    }
    Stop::End
}

/// Whether a whole entry with an LSN in `lsns` starts anywhere in `buf`: after a bad entry whose successor cannot
/// be found by its length (the length itself may be what is damaged), this tells corruption in the middle, with
/// acknowledged entries after it, from a torn tail. Cheap: the CRC is computed only where the LSN fits.
pub(crate) fn any_entry_within(buf: &[u8], lsns: std::ops::RangeInclusive<Lsn>) -> bool {
    (0..buf.len().saturating_sub(HEADER)).any(|at| {
        let lsn = u64::from_le_bytes(buf[at + 8..at + 16].try_into().expect("8 bytes"));
        lsns.contains(&lsn) && parse_entry(&buf[at..]).is_ok()
    })
}

/// `wal-00000000000000000001.log`: zero-padded so names sort by LSN.
pub(crate) fn segment_name(first: Lsn) -> String {
    format!("wal-{first:020}.log")
}

/// The first LSN of a segment file name, if it is one.
pub(crate) fn parse_segment_name(name: &str) -> Option<Lsn> {
    name.strip_prefix("wal-")?.strip_suffix(".log")?.parse().ok()
}

/// `snapshot-00000000000000000001.snap`, holding the state after that LSN.
pub(crate) fn snapshot_name(lsn: Lsn) -> String {
    format!("snapshot-{lsn:020}.snap")
}

/// The LSN of a snapshot file name, if it is one.
pub(crate) fn parse_snapshot_name(name: &str) -> Option<Lsn> {
    name.strip_prefix("snapshot-")?.strip_suffix(".snap")?.parse().ok()
}

/// Where a file found corrupt goes: beside the others, out of the way of recovery, kept for a person to look at.
pub(crate) fn set_aside_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".corrupt");
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(n: u64) -> Vec<u8> {
        let mut buf = Vec::new();
        let mut enc = Encoder::default();
        for lsn in 1..=n {
            encode_frame(
                lsn,
                1,
                &[Record::RetainedDelete {
                    topic: format!("t/{lsn}").into(),
                }],
                &mut enc,
                &mut buf,
            );
        }
        buf
    }

    #[test]
    fn file_headers_refuse_other_formats_and_accept_torn_ones() {
        let header = file_header(SEGMENT_MAGIC);
        let mut file = header.to_vec();
        file.extend_from_slice(b"entries");
        assert_eq!(after_header(&file, SEGMENT_MAGIC), Ok(Some(&b"entries"[..])));
        // Created, crashed before its header was synced: nothing in it.
        for torn in [&[][..], &header[..3], &[0; 8]] {
            assert_eq!(after_header(torn, SEGMENT_MAGIC), Ok(None), "{torn:?}");
        }
        // Format 1 (entries from the first byte), another version, a snapshot read as a segment.
        assert!(matches!(
            after_header(&entries(2), SEGMENT_MAGIC),
            Err(HeaderError::Format(_))
        ));
        // Format 2 (the unreleased one before this) and the next one.
        for version in [FORMAT - 1, FORMAT + 1] {
            let mut other = header;
            other[6..].copy_from_slice(&version.to_le_bytes());
            let said = format!("format {version}");
            assert!(
                matches!(after_header(&other, SEGMENT_MAGIC), Err(HeaderError::Format(why)) if why.contains(&said))
            );
        }
        assert!(after_header(&file_header(SNAPSHOT_MAGIC), SEGMENT_MAGIC).is_err());
    }

    #[test]
    fn a_frame_covers_its_lsns_and_its_records() {
        let records = [
            Record::RetainedDelete { topic: "a".into() },
            Record::RetainedDelete { topic: "a".into() },
        ];
        let mut buf = Vec::new();
        encode_frame(7, 3, &records, &mut Encoder::default(), &mut buf);
        let mut seen = Vec::new();
        assert_eq!(
            read_entries(&buf, |e| {
                seen.push((e.lsn, decode_frame(e.body, &mut Decoder::default()).unwrap()));
                Ok(())
            }),
            Stop::End
        );
        assert_eq!(seen, vec![(7, (3, records.to_vec()))]);
        // A frame of no LSN is malformed.
        let mut empty = Vec::new();
        encode_frame(1, 0, &[], &mut Encoder::default(), &mut empty);
        assert!(decode_frame(&empty[HEADER..], &mut Decoder::default()).is_err());
    }

    #[test]
    fn every_cut_of_the_last_entry_is_a_torn_tail() {
        let buf = entries(3);
        let two = entries(2).len();
        for cut in two..buf.len() {
            let mut seen = 0;
            let stop = read_entries(&buf[..cut], |_| {
                seen += 1;
                Ok(())
            });
            assert_eq!(seen, 2, "cut at {cut}");
            if cut == two {
                assert_eq!(stop, Stop::End);
            } else {
                assert!(
                    matches!(stop, Stop::Bad { offset, whole_entry_follows: false, .. } if offset == two),
                    "cut at {cut}: {stop:?}"
                );
            }
        }
    }

    #[test]
    fn a_flipped_bit_before_a_whole_entry_is_corruption() {
        let mut buf = entries(3);
        buf[HEADER + 2] ^= 1;
        let stop = read_entries(&buf, |_| Ok(()));
        assert!(matches!(
            stop,
            Stop::Bad {
                offset: 0,
                reason: "bad CRC",
                whole_entry_follows: true
            }
        ));
    }

    #[test]
    fn entries_are_found_past_a_damaged_length() {
        let mut buf = entries(3);
        // The first entry's length now points past the end: its successor cannot be found from it.
        buf[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
        let stop = read_entries(&buf, |_| Ok(()));
        assert!(matches!(
            stop,
            Stop::Bad {
                offset: 0,
                whole_entry_follows: false,
                ..
            }
        ));
        assert!(any_entry_within(&buf[1..], 2..=10), "entries 2 and 3 are still there");
        assert!(!any_entry_within(&buf[1..], 4..=10));
    }

    #[test]
    fn names_sort_by_lsn_and_parse_back() {
        assert!(segment_name(9) < segment_name(10));
        assert_eq!(parse_segment_name(&segment_name(u64::MAX)), Some(u64::MAX));
        assert_eq!(parse_snapshot_name(&snapshot_name(42)), Some(42));
        assert_eq!(parse_segment_name("wal-x.log"), None);
        assert_eq!(parse_snapshot_name("snapshot.tmp"), None);
    }
}
