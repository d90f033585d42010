//! The data representations of section 1.5: integers, Variable Byte Integers, UTF-8 strings and binary data.
//! Decoding reads from a `Bytes` frame so strings and payloads are slices of it, never copies.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use bytestring::ByteString;

use crate::error::{DecodeError, EncodeError};

/// The largest value a Variable Byte Integer can hold (section 1.5.5).
pub(crate) const MAX_VARINT: u32 = 268_435_455;

/// Reads fields front to back from one packet's body.
#[derive(Debug)]
pub(crate) struct Reader {
    buf: Bytes,
}

impl Reader {
    pub(crate) fn new(buf: Bytes) -> Self {
        Self { buf }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    fn need(&self, n: usize, field: &'static str) -> Result<(), DecodeError> {
        if self.buf.len() < n {
            Err(DecodeError::UnexpectedEnd(field))
        } else {
            Ok(())
        }
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        self.need(1, field)?;
        Ok(self.buf.get_u8())
    }

    pub(crate) fn u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        self.need(2, field)?;
        Ok(self.buf.get_u16())
    }

    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        self.need(4, field)?;
        Ok(self.buf.get_u32())
    }

    pub(crate) fn varint(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        match parse_varint(&self.buf)? {
            Some((value, len)) => {
                self.buf.advance(len);
                Ok(value)
            }
            None => Err(DecodeError::UnexpectedEnd(field)),
        }
    }

    /// Takes the next `n` bytes as a slice of the frame.
    pub(crate) fn take(&mut self, n: usize, field: &'static str) -> Result<Bytes, DecodeError> {
        self.need(n, field)?;
        Ok(self.buf.split_to(n))
    }

    /// Binary Data (section 1.5.6): a two-byte length and that many bytes.
    pub(crate) fn binary(&mut self, field: &'static str) -> Result<Bytes, DecodeError> {
        let len = self.u16(field)? as usize;
        self.take(len, field)
    }

    /// A UTF-8 Encoded String (section 1.5.4).
    pub(crate) fn string(&mut self, field: &'static str) -> Result<ByteString, DecodeError> {
        validate_string(self.binary(field)?)
    }

    /// Everything left: the payload of PUBLISH.
    pub(crate) fn rest(&mut self) -> Bytes {
        std::mem::take(&mut self.buf)
    }
}

/// Checks UTF-8 well-formedness ([MQTT-1.5.4-1]; surrogates are ill-formed UTF-8) and the absence of U+0000
/// ([MQTT-1.5.4-2]).
pub(crate) fn validate_string(bytes: Bytes) -> Result<ByteString, DecodeError> {
    if bytes.contains(&0) {
        return Err(DecodeError::NullCharacter);
    }
    ByteString::try_from(bytes).map_err(|_| DecodeError::InvalidUtf8)
}

/// Parses a Variable Byte Integer from the front of `buf`: `Ok(None)` if more bytes are needed, else the value and
/// its encoded length. Rejects a fifth byte and non-minimal encodings ([MQTT-1.5.5-1]).
pub(crate) fn parse_varint(buf: &[u8]) -> Result<Option<(u32, usize)>, DecodeError> {
    let mut value = 0u32;
    for (i, &byte) in buf.iter().enumerate().take(4) {
        value |= u32::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            // A final zero byte after a continuation byte adds nothing: the value had a shorter encoding.
            if i > 0 && byte == 0 {
                return Err(DecodeError::MalformedVarInt);
            }
            return Ok(Some((value, i + 1)));
        }
    }
    if buf.len() >= 4 {
        Err(DecodeError::MalformedVarInt)
    } else {
        Ok(None)
    }
}

/// The number of bytes `value` takes as a Variable Byte Integer.
pub(crate) const fn varint_len(value: u32) -> usize {
    match value {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

pub(crate) fn put_varint(buf: &mut BytesMut, mut value: u32) {
    debug_assert!(value <= MAX_VARINT);
    loop {
        let mut byte = (value & 0x7F) as u8;
        value >>= 7;
        if value > 0 {
            byte |= 0x80;
        }
        buf.put_u8(byte);
        if value == 0 {
            return;
        }
    }
}

/// Length of a string or binary field on the wire, checking the 65,535-byte limit.
pub(crate) fn field_len(bytes: &[u8]) -> Result<usize, EncodeError> {
    if bytes.len() > usize::from(u16::MAX) {
        Err(EncodeError::FieldTooLong)
    } else {
        Ok(2 + bytes.len())
    }
}

/// Length of a UTF-8 Encoded String field on the wire: [`field_len`], refusing U+0000 ([MQTT-1.5.4-2]), which
/// a `str` can hold but MQTT cannot. (A `str` is always well-formed UTF-8, [MQTT-1.5.4-1].)
pub(crate) fn string_len(s: &str) -> Result<usize, EncodeError> {
    if s.as_bytes().contains(&0) {
        return Err(EncodeError::NullCharacter);
    }
    field_len(s.as_bytes())
}

/// Writes a two-byte length and the bytes; the length was checked by [`field_len`].
pub(crate) fn put_binary(buf: &mut BytesMut, bytes: &[u8]) {
    buf.put_u16(bytes.len() as u16);
    buf.put_slice(bytes);
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn varint_boundaries_round_trip() {
        for (value, len) in [
            (0, 1),
            (127, 1),
            (128, 2),
            (16_383, 2),
            (16_384, 3),
            (2_097_151, 3),
            (2_097_152, 4),
            (MAX_VARINT, 4),
        ] {
            let mut buf = BytesMut::new();
            put_varint(&mut buf, value);
            assert_eq!(buf.len(), len, "{value}");
            assert_eq!(varint_len(value), len);
            assert_eq!(parse_varint(&buf), Ok(Some((value, len))));
        }
    }

    #[test]
    fn varint_spec_examples() {
        // Table 1-1 of section 1.5.5.
        assert_eq!(parse_varint(&[0xC1, 0x02]), Ok(Some((321, 2))));
        assert_eq!(parse_varint(&[0xFF, 0xFF, 0xFF, 0x7F]), Ok(Some((MAX_VARINT, 4))));
    }

    #[test]
    fn varint_incomplete_needs_more() {
        assert_eq!(parse_varint(&[]), Ok(None));
        assert_eq!(parse_varint(&[0x80]), Ok(None));
        assert_eq!(parse_varint(&[0xFF, 0xFF, 0xFF]), Ok(None));
    }

    #[test]
    fn varint_five_bytes_is_malformed() {
        assert_eq!(
            parse_varint(&[0xFF, 0xFF, 0xFF, 0xFF, 0x01]),
            Err(DecodeError::MalformedVarInt)
        );
        assert_eq!(
            parse_varint(&[0x80, 0x80, 0x80, 0x80]),
            Err(DecodeError::MalformedVarInt)
        );
    }

    #[test]
    fn varint_non_minimal_is_malformed() {
        // [MQTT-1.5.5-1]: 0 encoded in two bytes, 1 encoded in three.
        assert_eq!(parse_varint(&[0x80, 0x00]), Err(DecodeError::MalformedVarInt));
        assert_eq!(parse_varint(&[0x81, 0x80, 0x00]), Err(DecodeError::MalformedVarInt));
    }

    #[test]
    fn strings_reject_null_and_ill_formed_utf8() {
        assert_eq!(
            validate_string(Bytes::from_static(b"a\0b")),
            Err(DecodeError::NullCharacter)
        );
        // U+D800 encoded as if it were a scalar value: ED A0 80.
        assert_eq!(
            validate_string(Bytes::from_static(b"\xED\xA0\x80")),
            Err(DecodeError::InvalidUtf8)
        );
        assert_eq!(
            validate_string(Bytes::from_static(b"\xC0\xAF")),
            Err(DecodeError::InvalidUtf8)
        );
        assert_eq!(
            validate_string(Bytes::from_static("ab\u{FEFF}".as_bytes())).unwrap(),
            "ab\u{FEFF}"
        );
    }

    #[test]
    fn reader_reports_the_missing_field() {
        let mut r = Reader::new(Bytes::from_static(&[0x00, 0x05, b'a']));
        assert_eq!(r.string("topic name"), Err(DecodeError::UnexpectedEnd("topic name")));
    }
}
