//! Property tests of the codec's public API: every valid packet round-trips byte-exactly, and nothing a peer can
//! send (random bytes, or valid packets with bits flipped or cut short) makes the decoder panic or consume bytes
//! it did not decode.
#![cfg(not(target_arch = "wasm32"))]

mod strategy;

use proptest::prelude::*;
use proptest::sample::Index;
use roost_codec::{BytesMut, EncodeError, MAX_PACKET_SIZE, Packet, ProtocolVersion};

const VERSIONS: [ProtocolVersion; 3] = [ProtocolVersion::V31, ProtocolVersion::V311, ProtocolVersion::V5];

/// A PINGREQ and the first byte of the next packet: what follows a packet in a stream.
const FOLLOWING: [u8; 3] = [0xC0, 0x00, 0x10];

fn version() -> impl Strategy<Value = ProtocolVersion> {
    proptest::sample::select(VERSIONS.to_vec())
}

fn version_and_packet() -> impl Strategy<Value = (ProtocolVersion, Packet)> {
    version().prop_flat_map(|v| (Just(v), strategy::packet(v)))
}

fn encode(version: ProtocolVersion, packet: &Packet) -> BytesMut {
    let mut buf = BytesMut::new();
    packet
        .encode(version, &mut buf, MAX_PACKET_SIZE)
        .expect("a valid packet encodes");
    buf
}

/// Whether `packet` holds a topic filter the decoder kept as invalid, for the server to refuse on its own; such a
/// packet is well-formed but cannot be encoded.
fn has_invalid_filter(packet: &Packet) -> bool {
    match packet {
        Packet::Subscribe(s) => s.filters.iter().any(|(f, _)| f.is_err()),
        Packet::Unsubscribe(u) => u.filters.iter().any(Result::is_err),
        _ => false,
    }
}

/// Decodes from `bytes` and checks the consumption rules: `Ok(Some)` consumes some bytes, at most all of them;
/// `Ok(None)` and errors consume nothing. A decoded packet re-encodes to bytes that decode to it again.
fn check_decode(version: ProtocolVersion, bytes: &[u8], max: u32) -> Result<(), TestCaseError> {
    let mut buf = BytesMut::from(bytes);
    match Packet::decode(&mut buf, version, max) {
        Ok(Some(packet)) => {
            let consumed = bytes.len() - buf.len();
            prop_assert!(consumed > 0 && consumed <= bytes.len());
            prop_assert_eq!(&buf[..], &bytes[consumed..], "only the front is consumed");
            if has_invalid_filter(&packet) {
                let mut refused = BytesMut::new();
                prop_assert_eq!(
                    packet.encode(version, &mut refused, MAX_PACKET_SIZE),
                    Err(EncodeError::InvalidTopicFilter)
                );
                prop_assert!(refused.is_empty());
                return Ok(());
            }
            let mut again = encode(version, &packet);
            prop_assert_eq!(Packet::decode(&mut again, version, MAX_PACKET_SIZE), Ok(Some(packet)));
            prop_assert!(again.is_empty());
        }
        Ok(None) | Err(_) => prop_assert_eq!(&buf[..], bytes, "Ok(None) and Err consume nothing"),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn valid_packets_round_trip((version, packet) in version_and_packet()) {
        let mut buf = encode(version, &packet);
        let len = buf.len();
        prop_assert_eq!(packet.encoded_len(version), Ok(len), "encoded_len is the bytes written");
        buf.extend_from_slice(&FOLLOWING);
        prop_assert_eq!(Packet::decode(&mut buf, version, MAX_PACKET_SIZE), Ok(Some(packet.clone())));
        prop_assert_eq!(&buf[..], &FOLLOWING[..], "decode consumes exactly the encoded length");
        // A limit of exactly the packet's size admits it; one byte less refuses it on both sides.
        let limit = u32::try_from(len).unwrap();
        let mut exact = encode(version, &packet);
        prop_assert_eq!(Packet::decode(&mut exact, version, limit), Ok(Some(packet.clone())));
        let mut tight = BytesMut::new();
        prop_assert!(packet.encode(version, &mut tight, limit - 1).is_err());
        prop_assert!(tight.is_empty());
    }

    #[test]
    fn valid_packets_stream_in_two_pieces((version, packet) in version_and_packet(), cut in any::<Index>()) {
        let bytes = encode(version, &packet);
        let cut = cut.index(bytes.len());
        let mut buf = BytesMut::from(&bytes[..cut]);
        prop_assert_eq!(Packet::decode(&mut buf, version, MAX_PACKET_SIZE), Ok(None));
        prop_assert_eq!(&buf[..], &bytes[..cut]);
        buf.extend_from_slice(&bytes[cut..]);
        prop_assert_eq!(Packet::decode(&mut buf, version, MAX_PACKET_SIZE), Ok(Some(packet)));
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        version in version(),
        bytes in proptest::collection::vec(any::<u8>(), 0..96),
        small_limit in any::<bool>(),
    ) {
        check_decode(version, &bytes, if small_limit { 48 } else { MAX_PACKET_SIZE })?;
    }

    /// Random bodies behind a fixed header whose length is right, so every packet's body decoder sees them.
    #[test]
    fn arbitrary_bodies_never_panic(
        version in version(),
        first in any::<u8>(),
        body in proptest::collection::vec(any::<u8>(), 0..96),
    ) {
        let bytes = [&[first, body.len() as u8][..], &body].concat();
        check_decode(version, &bytes, MAX_PACKET_SIZE)?;
    }

    #[test]
    fn flipped_bits_never_panic(
        (version, packet) in version_and_packet(),
        flips in proptest::collection::vec((any::<Index>(), 0u8..8), 1..4),
    ) {
        let mut bytes = encode(version, &packet).to_vec();
        for (at, bit) in flips {
            let at = at.index(bytes.len());
            bytes[at] ^= 1 << bit;
        }
        check_decode(version, &bytes, MAX_PACKET_SIZE)?;
    }

    #[test]
    fn truncations_and_extensions_never_panic(
        (version, packet) in version_and_packet(),
        cut in any::<Index>(),
        extra in proptest::collection::vec(any::<u8>(), 0..4),
        grow_length in any::<bool>(),
    ) {
        let bytes = encode(version, &packet).to_vec();
        // Cut the packet short, or append bytes and perhaps claim them in a one-byte remaining length.
        let mut mutated = if extra.is_empty() {
            bytes[..cut.index(bytes.len())].to_vec()
        } else {
            [&bytes[..], &extra].concat()
        };
        if grow_length && mutated.len() >= 2 && bytes[1] < 0x80 && usize::from(bytes[1]) + extra.len() < 0x80 {
            mutated[1] = bytes[1] + extra.len() as u8;
        }
        check_decode(version, &mutated, MAX_PACKET_SIZE)?;
    }
}
