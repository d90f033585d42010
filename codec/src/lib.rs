//! MQTT 3.1, 3.1.1 and 5.0 wire format and client protocol state, shared by the Roost broker and dashboard.
//!
//! Sans-IO: this crate reads no clock, opens no socket and spawns nothing; callers hand it bytes and the time.
//! Decoding is streaming ([`Packet::decode`] returns `Ok(None)` until a whole packet is buffered) and zero-copy
//! (topics and payloads are slices of the received frame). Every malformed input is a [`DecodeError`] that names
//! the rule it breaks and the [`ReasonCode`] to send back.

#![warn(missing_docs)]

// The unit tests also run on wasm32, in headless Chromium (see .cargo/config.toml for the runner).
#[cfg(all(test, target_arch = "wasm32"))]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

pub mod client;
mod error;
mod packet;
mod properties;
mod reason;
mod topic;
mod types;
mod wire;

pub use bytes::{Bytes, BytesMut};
pub use bytestring::ByteString;
pub use error::{DecodeError, EncodeError};
pub use packet::{
    Ack, Auth, ConnAck, Connect, Disconnect, MAX_PACKET_SIZE, Packet, PacketType, Publish, QoSPid, SubAck, Subscribe,
    UnsubAck, Unsubscribe, Will,
};
pub use properties::{Properties, id as property_id};
pub use reason::ReasonCode;
pub use topic::{InvalidFilter, SharedFilter, TopicFilter, TopicName, matches};
pub use types::{PacketId, ProtocolVersion, QoS, RetainHandling, SubscriptionOptions};
