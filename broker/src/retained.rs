//! Retained messages: the last retained message per topic, handed to new subscribers ([MQTT-3.3.1-5]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use bytestring::ByteString;
use roost_codec::TopicFilter;

use crate::message::Message;

/// Retained messages by topic, bounded by count and bytes.
///
/// Policy when full: a retained message for a topic that has none is routed as usual but not kept (counted in
/// `refused` and logged at warn level); replacing a topic's message is refused only if the new one does not fit
/// the byte bound; deleting (empty payload, [MQTT-3.3.1-6]) always works.
#[derive(Debug)]
pub(crate) struct RetainedStore {
    messages: HashMap<ByteString, Arc<Message>>,
    bytes: usize,
    max_messages: usize,
    max_bytes: usize,
    /// How many retained messages were not kept because the store was full.
    pub(crate) refused: u64,
}

impl RetainedStore {
    /// An empty store with these bounds.
    pub(crate) fn new(max_messages: usize, max_bytes: usize) -> Self {
        RetainedStore {
            messages: HashMap::new(),
            bytes: 0,
            max_messages,
            max_bytes,
            refused: 0,
        }
    }

    /// Stores, replaces or (empty payload) deletes the retained message of `message.topic`
    /// ([MQTT-3.3.1-5], [MQTT-3.3.1-6], [MQTT-3.3.1-7]).
    pub(crate) fn retain(&mut self, message: &Arc<Message>) {
        let topic = message.topic.as_byte_string();
        let old_size = self.messages.get(topic).map_or(0, |old| old.size());
        if message.payload.is_empty() {
            if self.messages.remove(topic).is_some() {
                self.bytes -= old_size;
            }
            return;
        }
        let is_new = old_size == 0 && !self.messages.contains_key(topic);
        if (is_new && self.messages.len() >= self.max_messages)
            || self.bytes - old_size + message.size() > self.max_bytes
        {
            self.refused += 1;
            // Warn at the 1st, 2nd, 4th, 8th... refusal: a full store is visible without flooding the log.
            let topic = crate::log_text::Clipped(message.topic.as_str());
            if self.refused.is_power_of_two() {
                tracing::warn!(%topic, refused = self.refused, "retained store full: message not retained");
            } else {
                tracing::debug!(%topic, refused = self.refused, "retained store full: message not retained");
            }
            return;
        }
        self.bytes = self.bytes - old_size + message.size();
        self.messages.insert(topic.clone(), Arc::clone(message));
    }

    /// The unexpired retained messages matching `filter` (its inner filter for a shared subscription); expired
    /// ones are removed on the way ([MQTT-3.3.2-5]).
    pub(crate) fn matching(&mut self, filter: &TopicFilter, now: Instant) -> Vec<Arc<Message>> {
        let mut expired = Vec::new();
        let mut found = Vec::new();
        for (topic, message) in &self.messages {
            if !filter.matches(&message.topic) {
                continue;
            }
            if message.is_expired(now) {
                expired.push(topic.clone());
            } else {
                found.push(Arc::clone(message));
            }
        }
        for topic in expired {
            if let Some(old) = self.messages.remove(&topic) {
                self.bytes -= old.size();
            }
        }
        // Deterministic order for clients and tests: by topic.
        found.sort_by(|a, b| a.topic.cmp(&b.topic));
        found
    }

    /// How many messages are retained.
    pub(crate) fn len(&self) -> usize {
        self.messages.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use roost_codec::{Bytes, Properties, QoS, TopicName};

    fn message(topic: &str, payload: &'static [u8]) -> Arc<Message> {
        Arc::new(Message {
            topic: TopicName::new(topic).unwrap(),
            payload: Bytes::from_static(payload),
            qos: QoS::AtMostOnce,
            retain: true,
            properties: Properties::default(),
            expires_at: None,
            publisher: None,
        })
    }

    #[test]
    fn store_replace_delete() {
        let mut store = RetainedStore::new(10, 100);
        let now = Instant::now();
        store.retain(&message("a/b", b"1"));
        store.retain(&message("a/b", b"2"));
        store.retain(&message("a/c", b"3"));
        let found = store.matching(&TopicFilter::new("a/+").unwrap(), now);
        assert_eq!(found.iter().map(|m| &m.payload[..]).collect::<Vec<_>>(), [b"2", b"3"]);
        store.retain(&message("a/b", b""));
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn full_store_refuses_new_topics_but_replaces_and_deletes() {
        let mut store = RetainedStore::new(1, 100);
        store.retain(&message("a", b"1"));
        store.retain(&message("b", b"1"));
        assert_eq!((store.len(), store.refused), (1, 1));
        store.retain(&message("a", b"2"));
        assert_eq!(
            store.matching(&TopicFilter::new("a").unwrap(), Instant::now())[0].payload,
            &b"2"[..]
        );
        store.retain(&message("a", b""));
        store.retain(&message("b", b"1"));
        assert_eq!(store.len(), 1);
        // The byte bound: topic 1 + payload 200 does not fit in 100.
        let mut small = RetainedStore::new(10, 100);
        small.retain(&message("c", &[b'x'; 200]));
        assert_eq!((small.len(), small.refused), (0, 1));
    }
}
