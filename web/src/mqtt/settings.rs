//! [`ConnectionSettings`]: how the dashboard connects, as plain values a form edits and localStorage keeps, and
//! their checking into the codec's `ClientOptions` and the explorer's subscription. Pure, tested directly.

use std::num::NonZeroU32;

use roost_codec::client::ClientOptions;
use roost_codec::{ByteString, Properties, ProtocolVersion, QoS, TopicFilter, TopicName, Will};
use serde_json::{Map, Value, json};

use super::link::{MAX_PACKET_SIZE, TOPIC_ALIAS_MAXIMUM};

/// The MQTT version the dashboard speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum MqttVersion {
    /// MQTT 5.0: reason codes and properties.
    #[default]
    V5,
    /// MQTT 3.1.1, for brokers or habits that want it.
    V311,
}

impl MqttVersion {
    /// The stable name used in the form and in stored profiles.
    pub fn name(self) -> &'static str {
        match self {
            Self::V5 => "5",
            Self::V311 => "3.1.1",
        }
    }

    /// The version named `name`; MQTT 5 for anything else.
    pub fn from_name(name: &str) -> Self {
        if name == "3.1.1" { Self::V311 } else { Self::V5 }
    }
}

/// Everything about the connection a person can set.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConnectionSettings {
    /// The broker's WebSocket URL (`ws:` or `wss:`).
    pub url: String,
    /// The client identifier; empty asks the broker to assign one ([MQTT-3.1.3-6], [MQTT-3.2.2-16]).
    pub client_id: String,
    /// User name; empty for none.
    pub username: String,
    /// Password; empty for none. Never stored in a profile.
    pub password: String,
    /// 5 or 3.1.1.
    pub version: MqttVersion,
    /// Keep alive in seconds; 0 turns it off.
    pub keep_alive: u16,
    /// Clean Start (MQTT 5) / Clean Session (3.1.1): start without a stored session.
    pub clean_start: bool,
    /// MQTT 5 Session Expiry Interval in seconds; 0 ends the session with the connection.
    pub session_expiry: u32,
    /// The will's topic; empty for no will.
    pub will_topic: String,
    /// The will's payload.
    pub will_payload: String,
    /// The will's QoS: 0, 1 or 2.
    pub will_qos: u8,
    /// Whether the will is retained.
    pub will_retain: bool,
    /// What the explorer subscribes to (`#` for everything).
    pub filter: String,
}

impl ConnectionSettings {
    /// The defaults for a page whose broker is at `url`: MQTT 5, a generated client id, keep alive 60 s, clean
    /// start, no session kept, no will, everything (`#`) in the explorer.
    pub fn new(url: impl Into<String>, client_id: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            client_id: client_id.into(),
            username: String::new(),
            password: String::new(),
            version: MqttVersion::V5,
            keep_alive: 60,
            clean_start: true,
            session_expiry: 0,
            will_topic: String::new(),
            will_payload: String::new(),
            will_qos: 0,
            will_retain: false,
            filter: "#".to_owned(),
        }
    }

    /// The codec's options, or the first thing wrong, in words.
    pub fn client_options(&self) -> Result<ClientOptions, String> {
        let version = match self.version {
            MqttVersion::V5 => ProtocolVersion::V5,
            MqttVersion::V311 => ProtocolVersion::V311,
        };
        // [MQTT-3.1.3-5]: 1 to 23 of [0-9a-zA-Z] must be accepted; brokers may accept more, so only what the
        // encoder cannot write is refused here (a UTF-8 string of at most 65,535 bytes).
        if self.client_id.len() > usize::from(u16::MAX) {
            return Err("The client id is longer than 65,535 bytes.".to_owned());
        }
        // [MQTT-3.1.3-7] (3.1.1): an empty client id needs Clean Session.
        if self.client_id.is_empty() && version == ProtocolVersion::V311 && !self.clean_start {
            return Err("MQTT 3.1.1 needs a client id to keep a session: enter one or tick Clean start.".to_owned());
        }
        if !self.password.is_empty() && self.username.is_empty() && version == ProtocolVersion::V311 {
            // [MQTT-3.1.2-22]: in 3.1.1 a password needs a user name.
            return Err("MQTT 3.1.1 sends a password only with a user name.".to_owned());
        }
        let mut options = ClientOptions::new(version, self.client_id.as_str());
        options.maximum_packet_size = NonZeroU32::new(MAX_PACKET_SIZE);
        // MQTT 3.1.1 has no topic aliases; the codec sends the property only in MQTT 5.
        options.topic_alias_maximum = TOPIC_ALIAS_MAXIMUM;
        options.keep_alive = self.keep_alive;
        options.clean_start = self.clean_start;
        options.session_expiry_interval =
            (version == ProtocolVersion::V5 && self.session_expiry > 0).then_some(self.session_expiry);
        options.username = (!self.username.is_empty()).then(|| ByteString::from(self.username.as_str()));
        options.password = (!self.password.is_empty()).then(|| self.password.clone().into_bytes().into());
        if !self.will_topic.is_empty() {
            let topic = TopicName::new(self.will_topic.as_str())
                .map_err(|error| format!("The will topic is not a topic name: {error}."))?;
            let qos = qos(self.will_qos)?;
            options.will = Some(Will {
                topic,
                payload: self.will_payload.clone().into_bytes().into(),
                qos,
                retain: self.will_retain,
                properties: Properties::default(),
            });
        }
        Ok(options)
    }

    /// The explorer's subscription filter, or why it is not one.
    pub fn topic_filter(&self) -> Result<TopicFilter, String> {
        TopicFilter::new(self.filter.as_str())
            .map_err(|error| format!("The subscription {:?} is not a topic filter: {error}.", self.filter))
    }

    /// Both checks at once: what applying these settings needs.
    pub fn check(&self) -> Result<(ClientOptions, TopicFilter), String> {
        if !(self.url.starts_with("ws://") || self.url.starts_with("wss://")) {
            return Err(format!(
                "The broker URL must start with ws:// or wss://, not {:?}.",
                self.url
            ));
        }
        Ok((self.client_options()?, self.topic_filter()?))
    }

    /// As JSON for localStorage; the password is left out on purpose (localStorage is readable by any script on
    /// the page's origin and stays on disk).
    pub fn to_json(&self) -> Value {
        json!({
            "url": self.url,
            "client_id": self.client_id,
            "username": self.username,
            "version": self.version.name(),
            "keep_alive": self.keep_alive,
            "clean_start": self.clean_start,
            "session_expiry": self.session_expiry,
            "will_topic": self.will_topic,
            "will_payload": self.will_payload,
            "will_qos": self.will_qos,
            "will_retain": self.will_retain,
            "filter": self.filter,
        })
    }

    /// Settings from [`Self::to_json`]'s JSON; a missing or mistyped field keeps its value from `defaults`.
    pub fn from_json(value: &Map<String, Value>, defaults: &Self) -> Self {
        let text = |key: &str, default: &String| {
            value
                .get(key)
                .and_then(Value::as_str)
                .map_or_else(|| default.clone(), str::to_owned)
        };
        let flag = |key: &str, default: bool| value.get(key).and_then(Value::as_bool).unwrap_or(default);
        let number = |key: &str, default: u64, max: u64| {
            value
                .get(key)
                .and_then(Value::as_u64)
                .filter(|n| *n <= max)
                .unwrap_or(default)
        };
        Self {
            url: text("url", &defaults.url),
            client_id: text("client_id", &defaults.client_id),
            username: text("username", &defaults.username),
            password: String::new(),
            version: value
                .get("version")
                .and_then(Value::as_str)
                .map_or(defaults.version, MqttVersion::from_name),
            keep_alive: number("keep_alive", defaults.keep_alive.into(), u16::MAX.into()) as u16,
            clean_start: flag("clean_start", defaults.clean_start),
            session_expiry: number("session_expiry", defaults.session_expiry.into(), u32::MAX.into()) as u32,
            will_topic: text("will_topic", &defaults.will_topic),
            will_payload: text("will_payload", &defaults.will_payload),
            will_qos: number("will_qos", defaults.will_qos.into(), 2) as u8,
            will_retain: flag("will_retain", defaults.will_retain),
            filter: text("filter", &defaults.filter),
        }
    }
}

/// `qos` as the codec's, or why not.
fn qos(qos: u8) -> Result<QoS, String> {
    match qos {
        0 => Ok(QoS::AtMostOnce),
        1 => Ok(QoS::AtLeastOnce),
        2 => Ok(QoS::ExactlyOnce),
        other => Err(format!("QoS {other} does not exist; pick 0, 1 or 2.")),
    }
}

/// A fresh client id for this page: `roost-dashboard-` and eight hex digits, so two open pages do not take each
/// other's session over (the broker disconnects the older one: [MQTT-3.1.4-3] in 5.0). `random` is a number in [0, 1) (the browser's `Math.random()`).
pub fn generated_client_id(random: f64) -> String {
    let bits = (random.clamp(0.0, 1.0) * f64::from(u32::MAX)) as u32;
    format!("roost-dashboard-{bits:08x}")
}
