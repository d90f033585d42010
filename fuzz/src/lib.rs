//! What every decode target checks, whatever the protocol version.

use roost_codec::{BytesMut, EncodeError, MAX_PACKET_SIZE, Packet, ProtocolVersion};

/// Whether `packet` is a SUBSCRIBE or UNSUBSCRIBE holding a filter the decoder kept as invalid (for the server to
/// refuse on its own); such a packet is well-formed but cannot be encoded.
fn has_invalid_filter(packet: &Packet) -> bool {
    match packet {
        Packet::Subscribe(s) => s.filters.iter().any(|(f, _)| f.is_err()),
        Packet::Unsubscribe(u) => u.filters.iter().any(Result::is_err),
        _ => false,
    }
}

/// Decodes packet after packet from `data` until it needs more bytes or meets an error, checking that:
/// a decoded packet consumed bytes from the front; `Ok(None)` and errors consumed nothing; a decoded packet
/// encodes (the encoder accepts whatever the decoder accepts, except invalid topic filters, which it refuses),
/// `encoded_len` is what encode writes, and the encoding decodes, whole, to the same packet.
pub fn decode_all(version: ProtocolVersion, data: &[u8]) {
    let mut buf = BytesMut::from(data);
    loop {
        let before = buf.len();
        match Packet::decode(&mut buf, version, MAX_PACKET_SIZE) {
            Ok(Some(packet)) => {
                assert!(buf.len() < before, "a decoded packet consumed nothing");
                let mut encoded = BytesMut::new();
                if has_invalid_filter(&packet) {
                    let refused = packet.encode(version, &mut encoded, MAX_PACKET_SIZE);
                    assert_eq!(refused, Err(EncodeError::InvalidTopicFilter));
                    assert!(encoded.is_empty(), "a refused encode wrote bytes");
                    continue;
                }
                if let Err(e) = packet.encode(version, &mut encoded, MAX_PACKET_SIZE) {
                    panic!("decoded {packet:?} but cannot encode it: {e:?}");
                }
                assert_eq!(packet.encoded_len(version), Ok(encoded.len()));
                let again = Packet::decode(&mut encoded, version, MAX_PACKET_SIZE);
                assert_eq!(again, Ok(Some(packet)), "re-encoded packet decodes differently");
                assert!(encoded.is_empty(), "re-encoded packet left bytes behind");
            }
            Ok(None) | Err(_) => {
                assert_eq!(buf.len(), before, "Ok(None) or Err consumed bytes");
                assert_eq!(&buf[..], &data[data.len() - before..]);
                return;
            }
        }
    }
}
