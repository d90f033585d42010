//! [`ServerLimits`]: what the server's CONNACK allows us, with the standard's defaults for what it leaves out.

use std::num::{NonZeroU16, NonZeroU32};

use crate::packet::MAX_PACKET_SIZE;
use crate::properties::Properties;
use crate::types::QoS;

/// The server's limits for the current (or last) connection. MQTT 3.x servers announce none: the defaults apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// How many QoS 1 and 2 publications may be unacknowledged at once ([MQTT-3.3.4-7]); 65,535 by default.
    pub receive_maximum: u16,
    /// The largest packet the server accepts ([MQTT-3.2.2-15]); the protocol's maximum by default.
    pub maximum_packet_size: u32,
    /// The highest QoS the server accepts in PUBLISH ([MQTT-3.2.2-11]); 2 by default.
    pub maximum_qos: QoS,
    /// Whether the server accepts retained messages ([MQTT-3.2.2-14]); yes by default.
    pub retain_available: bool,
    /// The highest topic alias the server accepts from us; 0 by default. The client sends no aliases.
    pub topic_alias_maximum: u16,
    /// Whether the server supports wildcard subscriptions; yes by default.
    pub wildcard_subscription_available: bool,
    /// Whether the server supports subscription identifiers; yes by default.
    pub subscription_identifier_available: bool,
    /// Whether the server supports shared subscriptions; yes by default.
    pub shared_subscription_available: bool,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            receive_maximum: u16::MAX,
            maximum_packet_size: MAX_PACKET_SIZE,
            maximum_qos: QoS::ExactlyOnce,
            retain_available: true,
            topic_alias_maximum: 0,
            wildcard_subscription_available: true,
            subscription_identifier_available: true,
            shared_subscription_available: true,
        }
    }
}

impl ServerLimits {
    /// The limits a CONNACK's properties announce (section 3.2.2.3).
    pub(crate) fn from_connack(p: &Properties) -> Self {
        let d = Self::default();
        Self {
            receive_maximum: p.receive_maximum.map_or(d.receive_maximum, NonZeroU16::get),
            maximum_packet_size: p.maximum_packet_size.map_or(d.maximum_packet_size, NonZeroU32::get),
            maximum_qos: p.maximum_qos.unwrap_or(d.maximum_qos),
            retain_available: p.retain_available.unwrap_or(d.retain_available),
            topic_alias_maximum: p.topic_alias_maximum.unwrap_or(d.topic_alias_maximum),
            wildcard_subscription_available: p
                .wildcard_subscription_available
                .unwrap_or(d.wildcard_subscription_available),
            subscription_identifier_available: p
                .subscription_identifier_available
                .unwrap_or(d.subscription_identifier_available),
            shared_subscription_available: p
                .shared_subscription_available
                .unwrap_or(d.shared_subscription_available),
        }
    }
}
