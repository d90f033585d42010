//! Topic aliases the server uses towards us (MQTT 5, section 3.3.2.3.4). Outgoing aliases are not used.

use std::collections::BTreeMap;

use super::error::ProtocolError;
use crate::packet::Publish;
use crate::topic::TopicName;

/// The aliases the server has set on this connection. Cleared with every new connection: mappings are not carried
/// from one network connection to another ([MQTT-3.3.2-7]).
#[derive(Debug, Default)]
pub(crate) struct InboundAliases {
    /// Our Topic Alias Maximum, sent in CONNECT; 0 allows no alias ([MQTT-3.1.2-30]).
    maximum: u16,
    /// At most `maximum` entries, so the server cannot make us hold more.
    topics: BTreeMap<u16, TopicName>,
}

impl InboundAliases {
    /// An empty table for a new connection that announced `maximum`.
    pub(crate) fn new(maximum: u16) -> Self {
        Self {
            maximum,
            topics: BTreeMap::new(),
        }
    }

    /// Replaces an alias in `publish` by its topic: a topic with an alias sets the mapping, an empty topic with an
    /// alias uses it. The Topic Alias property is removed, so the application sees plain topics.
    pub(crate) fn resolve(&mut self, publish: &mut Publish) -> Result<(), ProtocolError> {
        let Some(alias) = publish.properties.topic_alias else {
            return Ok(());
        };
        let alias = alias.get();
        let invalid = ProtocolError::TopicAliasInvalid {
            alias,
            maximum: self.maximum,
        };
        // [MQTT-3.3.2-11]: the server must not exceed our maximum; we must accept everything up to it
        // ([MQTT-3.3.2-10]).
        if alias > self.maximum {
            return Err(invalid);
        }
        if publish.topic.is_empty() {
            publish.topic = self.topics.get(&alias).cloned().ok_or(invalid)?;
        } else {
            self.topics.insert(alias, publish.topic.clone());
        }
        publish.properties.topic_alias = None;
        Ok(())
    }
}
