//! Received PUBLISH packets as the explorer sees them: plain values, no bytes.

use roost_codec::{Publish, QoS};

use crate::explorer::{Payload, TopicMessage};

/// `publish`, received at `received_ms` (milliseconds since the Unix epoch), as a [`TopicMessage`].
pub fn topic_message(publish: &Publish, received_ms: u64) -> TopicMessage {
    TopicMessage {
        topic: publish.topic.as_str().to_owned(),
        payload: Payload::from_bytes(&publish.payload),
        size: publish.payload.len(),
        qos: match publish.qos() {
            QoS::AtMostOnce => 0,
            QoS::AtLeastOnce => 1,
            QoS::ExactlyOnce => 2,
        },
        retain: publish.retain,
        received_ms,
    }
}
