//! Received PUBLISH packets as the explorer sees them: plain values, no bytes.

use roost_codec::{Publish, QoS};

use crate::explorer::{MessageProperties, Payload, TopicMessage};

/// `publish`, received at `received_ms` (milliseconds since the Unix epoch), as a [`TopicMessage`].
pub fn topic_message(publish: &Publish, received_ms: u64) -> TopicMessage {
    let properties = &publish.properties;
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
        properties: MessageProperties {
            content_type: properties.content_type.as_ref().map(|text| text.to_string()),
            response_topic: properties
                .response_topic
                .as_ref()
                .map(|topic| topic.as_str().to_owned()),
            correlation_data: properties.correlation_data.as_deref().map(Payload::from_bytes),
            message_expiry: properties.message_expiry_interval,
            payload_utf8: properties.payload_format_indicator,
            // [MQTT-3.3.2-18]: the broker forwards them in the order they were published; kept so.
            user_properties: properties
                .user_properties
                .iter()
                .map(|(key, value)| (key.to_string(), value.to_string()))
                .collect(),
        },
    }
}
