//! [`Draft`]: what the publish form holds, as typed, and the checks that turn it into an [`Outgoing`] or say in
//! words what is wrong. Pure, so the tests drive it directly.

use crate::explorer::payload::pretty_json;
use crate::mqtt::Outgoing;

/// How the person means the payload.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum PayloadFormat {
    /// Any text, sent as typed.
    #[default]
    Text,
    /// JSON: checked before it is sent, and the form says whether it parses.
    Json,
}

impl PayloadFormat {
    /// The stable name stored in saved messages and used as the form's option value.
    pub fn name(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Json => "json",
        }
    }

    /// The format named `name`; text for anything else.
    pub fn from_name(name: &str) -> Self {
        if name == "json" { Self::Json } else { Self::Text }
    }
}

/// The publish form's fields, as the person typed them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Draft {
    /// The topic name.
    pub topic: String,
    /// The payload text.
    pub payload: String,
    /// Whether the payload is meant as JSON.
    pub format: PayloadFormat,
    /// 0, 1 or 2.
    pub qos: u8,
    /// Whether the broker should keep it as the topic's retained message.
    pub retain: bool,
    /// MQTT 5 Content Type; empty for none.
    pub content_type: String,
    /// MQTT 5 Response Topic; empty for none.
    pub response_topic: String,
    /// MQTT 5 Correlation Data as text; empty for none.
    pub correlation_data: String,
    /// MQTT 5 Message Expiry Interval in seconds, as typed; empty for none.
    pub message_expiry: String,
    /// MQTT 5 user properties, one `name=value` per line.
    pub user_properties: String,
}

impl Draft {
    /// Whether the payload parses as JSON, when it is meant as JSON: `None` for text, `Some(Ok(()))` when it
    /// parses, `Some(Err(why))` with the parser's line and column otherwise.
    pub fn json_hint(&self) -> Option<Result<(), String>> {
        (self.format == PayloadFormat::Json).then(|| pretty_json(&self.payload).map(|_| ()))
    }

    /// The message to publish, or the first thing wrong with the fields, in words. The topic and the response
    /// topic are checked again by the service layer against the MQTT rules (no wildcards, [MQTT-3.3.2-2]).
    pub fn to_outgoing(&self) -> Result<Outgoing, String> {
        if self.topic.is_empty() {
            return Err("Enter a topic to publish to.".to_owned());
        }
        if let Some(Err(why)) = self.json_hint() {
            return Err(format!("The payload is not valid JSON ({why}); fix it or choose Text."));
        }
        let message_expiry = match self.message_expiry.trim() {
            "" => None,
            seconds => Some(seconds.parse::<u32>().map_err(|_| {
                format!(
                    "Message expiry must be a whole number of seconds from 0 to {}, not {seconds:?}.",
                    u32::MAX
                )
            })?),
        };
        Ok(Outgoing {
            topic: self.topic.clone(),
            payload: self.payload.clone(),
            qos: self.qos,
            retain: self.retain,
            content_type: self.content_type.clone(),
            response_topic: self.response_topic.clone(),
            correlation_data: self.correlation_data.clone(),
            message_expiry,
            user_properties: parse_user_properties(&self.user_properties)?,
        })
    }
}

/// `name=value` lines as user properties, in order; blank lines are skipped. The value may hold `=`; the name
/// may not be empty.
pub fn parse_user_properties(lines: &str) -> Result<Vec<(String, String)>, String> {
    let mut properties = Vec::new();
    for (number, line) in lines.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match line.split_once('=') {
            Some((name, value)) if !name.trim().is_empty() => {
                properties.push((name.trim().to_owned(), value.to_owned()));
            }
            _ => {
                return Err(format!(
                    "User property line {} must read name=value, not {line:?}.",
                    number + 1
                ));
            }
        }
    }
    Ok(properties)
}
