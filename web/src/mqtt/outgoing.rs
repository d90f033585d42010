//! [`Outgoing`]: a message the person asks the dashboard to publish, as plain values. The service layer turns it
//! into a `roost_codec::client::Message`; components never build packets.

use leptos::prelude::{Callable, Callback};
use roost_codec::client::Message;
use roost_codec::{ByteString, Properties, QoS, TopicName};

/// A message to publish: what the publish form, a saved-message button or a control-panel card hands the
/// service layer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outgoing {
    /// Where it goes; must be a valid topic name (no wildcards, not empty).
    pub topic: String,
    /// The payload, as UTF-8 text (the dashboard publishes what a person can type).
    pub payload: String,
    /// 0, 1 or 2.
    pub qos: u8,
    /// Whether the broker keeps it as the topic's retained message.
    pub retain: bool,
    /// MQTT 5 Content Type; empty for none.
    pub content_type: String,
    /// MQTT 5 Response Topic; empty for none.
    pub response_topic: String,
    /// MQTT 5 Correlation Data, as text; empty for none.
    pub correlation_data: String,
    /// MQTT 5 Message Expiry Interval in seconds; `None` for a message that never expires.
    pub message_expiry: Option<u32>,
    /// MQTT 5 user properties, in order.
    pub user_properties: Vec<(String, String)>,
}

impl Outgoing {
    /// A QoS 0, non-retained message without properties.
    pub fn new(topic: impl Into<String>, payload: impl Into<String>) -> Self {
        Self {
            topic: topic.into(),
            payload: payload.into(),
            ..Self::default()
        }
    }

    /// Whether any MQTT 5 property is set, which an MQTT 3.x connection cannot carry.
    pub fn has_v5_properties(&self) -> bool {
        !(self.content_type.is_empty()
            && self.response_topic.is_empty()
            && self.correlation_data.is_empty()
            && self.message_expiry.is_none()
            && self.user_properties.is_empty())
    }

    /// The codec's message, or why this cannot be published, in words.
    pub(crate) fn to_message(&self) -> Result<Message, String> {
        let topic = TopicName::new(self.topic.as_str()).map_err(|error| format!("Not a topic name: {error}."))?;
        let qos = match self.qos {
            0 => QoS::AtMostOnce,
            1 => QoS::AtLeastOnce,
            2 => QoS::ExactlyOnce,
            other => return Err(format!("QoS {other} does not exist; pick 0, 1 or 2.")),
        };
        let mut properties = Properties::default();
        if !self.content_type.is_empty() {
            properties.content_type = Some(ByteString::from(self.content_type.as_str()));
        }
        if !self.response_topic.is_empty() {
            let response = TopicName::new(self.response_topic.as_str())
                .map_err(|error| format!("Not a response topic: {error}."))?;
            properties.response_topic = Some(response);
        }
        if !self.correlation_data.is_empty() {
            properties.correlation_data = Some(self.correlation_data.clone().into_bytes().into());
        }
        properties.message_expiry_interval = self.message_expiry;
        properties.user_properties = self
            .user_properties
            .iter()
            .map(|(key, value)| (ByteString::from(key.as_str()), ByteString::from(value.as_str())))
            .collect();
        let mut message = Message::new(topic, self.payload.clone().into_bytes())
            .with_qos(qos)
            .with_retain(self.retain);
        message.properties = properties;
        Ok(message)
    }
}

/// How components publish: a copyable handle, provided as a context by the app (`expect_context::<Publisher>()`),
/// that forwards to [`super::MqttService::publish`]. Tests provide one that records what was published.
#[derive(Debug, Clone, Copy)]
pub struct Publisher(Callback<Outgoing, Result<(), String>>);

impl Publisher {
    /// A publisher that hands every message to `publish`.
    pub fn new(publish: impl Fn(Outgoing) -> Result<(), String> + Send + Sync + 'static) -> Self {
        Self(Callback::new(publish))
    }

    /// Publishes `outgoing`, or says in words why it was not.
    pub fn publish(&self, outgoing: Outgoing) -> Result<(), String> {
        self.0.run(outgoing)
    }
}
