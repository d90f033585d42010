//! Decodes every packet in the input as an MQTT V311 connection would; see `roost_codec_fuzz::decode_all`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roost_codec::ProtocolVersion;

fuzz_target!(|data: &[u8]| roost_codec_fuzz::decode_all(ProtocolVersion::V311, data));
