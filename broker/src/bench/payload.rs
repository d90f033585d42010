//! The benchmark payload: a 20-byte header, then padding up to `--size`.
//!
//! | bytes | field |
//! |---|---|
//! | 0..8 | sequence number, per publisher, from 0 (big endian) |
//! | 8..12 | publisher index |
//! | 12..20 | send time, nanoseconds since the run started on the monotonic clock |
//!
//! Publishers and subscribers run in one process, so the send time and the receive time read the same clock.

use bytes::{BufMut as _, Bytes, BytesMut};

/// Bytes of the header; smaller `--size`s are raised to it.
pub(crate) const HEADER_LEN: usize = 20;

/// What a subscriber reads back from a payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    /// The publisher's sequence number.
    pub(crate) seq: u64,
    /// Which publisher.
    pub(crate) publisher: u32,
    /// When it was sent, nanoseconds since the run started.
    pub(crate) sent_nanos: u64,
}

/// A payload of `size` bytes (at least [`HEADER_LEN`]) carrying `header`.
pub(crate) fn encode(header: Header, size: usize) -> Bytes {
    let mut buf = BytesMut::with_capacity(size.max(HEADER_LEN));
    buf.put_u64(header.seq);
    buf.put_u32(header.publisher);
    buf.put_u64(header.sent_nanos);
    buf.resize(size.max(HEADER_LEN), b'x');
    buf.freeze()
}

/// The header of a payload; `None` if it is too short to be ours.
pub(crate) fn decode(payload: &[u8]) -> Option<Header> {
    let seq = payload.get(0..8)?;
    let publisher = payload.get(8..12)?;
    let sent = payload.get(12..20)?;
    Some(Header {
        seq: u64::from_be_bytes(seq.try_into().ok()?),
        publisher: u32::from_be_bytes(publisher.try_into().ok()?),
        sent_nanos: u64::from_be_bytes(sent.try_into().ok()?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_padding() {
        let header = Header {
            seq: 7,
            publisher: 3,
            sent_nanos: 123_456_789,
        };
        let bytes = encode(header, 64);
        assert_eq!(bytes.len(), 64);
        assert_eq!(decode(&bytes), Some(header));
        assert_eq!(encode(header, 4).len(), HEADER_LEN);
        assert_eq!(decode(&bytes[..19]), None);
    }
}
