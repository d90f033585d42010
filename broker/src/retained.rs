//! Retained messages: the last retained message per topic, handed to new subscribers ([MQTT-3.3.1-5]).
//!
//! A trie of topic levels, so a subscription visits only the retained topics its filter can match: an exact filter
//! walks one path, `+` fans out over one level, `#` takes a subtree. Subscribing to `home/kitchen/#` on a broker
//! holding 50,000 retained messages costs the kitchen's messages, not 50,000 comparisons.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use bytestring::ByteString;
use roost_codec::TopicFilter;

use crate::message::Message;

/// Retained messages by topic, bounded by count and bytes.
///
/// Policy when full: a retained message for a topic that has none is routed as usual but not kept (counted in
/// `refused` and logged at warn level at the 1st, 2nd, 4th... refusal); replacing a topic's message is refused
/// only if the new one does not fit the byte bound; deleting (empty payload, [MQTT-3.3.1-6]) always works.
#[derive(Debug)]
pub(crate) struct RetainedStore {
    /// The level before the first `/`.
    root: Node,
    /// How many messages are kept.
    len: usize,
    /// Their bytes, as [`Message::size`] counts them.
    bytes: usize,
    max_messages: usize,
    max_bytes: usize,
    /// How many retained messages were not kept because the store was full.
    pub(crate) refused: u64,
}

/// One topic level.
#[derive(Debug, Default)]
struct Node {
    /// The next levels by name.
    children: HashMap<ByteString, Node>,
    /// The message retained on the topic ending here.
    message: Option<Arc<Message>>,
}

impl Node {
    fn is_empty(&self) -> bool {
        self.children.is_empty() && self.message.is_none()
    }

    /// Every message in this subtree, this node's included; at the root (`skip_system`), not under a first level
    /// starting with `$` ([MQTT-4.7.2-1]).
    fn subtree(&self, skip_system: bool, out: &mut Vec<Arc<Message>>) {
        if let Some(message) = &self.message {
            out.push(Arc::clone(message));
        }
        for (level, child) in &self.children {
            if !(skip_system && level.starts_with('$')) {
                child.subtree(false, out);
            }
        }
    }

    /// The messages under this node matching the remaining filter `levels`. `root` says this is the root, where
    /// wildcards do not match `$` levels.
    fn matching(&self, levels: &[&str], root: bool, out: &mut Vec<Arc<Message>>) {
        let Some((first, rest)) = levels.split_first() else {
            if let Some(message) = &self.message {
                out.push(Arc::clone(message));
            }
            return;
        };
        match *first {
            // `#` matches the parent level and everything below it ([MQTT-4.7.1-2]).
            "#" => self.subtree(root, out),
            "+" => {
                for (level, child) in &self.children {
                    if !(root && level.starts_with('$')) {
                        child.matching(rest, false, out);
                    }
                }
            }
            exact => {
                if let Some(child) = self.children.get(exact) {
                    child.matching(rest, false, out);
                }
            }
        }
    }

    /// Removes the message at `levels`, pruning nodes left empty; the message removed.
    fn remove(&mut self, levels: &[&str]) -> Option<Arc<Message>> {
        let Some((first, rest)) = levels.split_first() else {
            return self.message.take();
        };
        let child = self.children.get_mut(*first)?;
        let removed = child.remove(rest);
        if child.is_empty() {
            self.children.remove(*first);
        }
        removed
    }
}

impl RetainedStore {
    /// An empty store with these bounds.
    pub(crate) fn new(max_messages: usize, max_bytes: usize) -> Self {
        RetainedStore {
            root: Node::default(),
            len: 0,
            bytes: 0,
            max_messages,
            max_bytes,
            refused: 0,
        }
    }

    /// Stores, replaces or (empty payload) deletes the retained message of `message.topic`
    /// ([MQTT-3.3.1-5], [MQTT-3.3.1-6], [MQTT-3.3.1-7]). Returns whether the store now holds what was asked:
    /// `false` when a new message was not kept because the store is full.
    pub(crate) fn retain(&mut self, message: &Arc<Message>) -> bool {
        let levels = message.topic.as_str().split('/').collect::<Vec<_>>();
        if message.payload.is_empty() {
            if let Some(old) = self.root.remove(&levels) {
                self.len -= 1;
                self.bytes -= old.size();
            }
            return true;
        }
        let mut node = &mut self.root;
        for level in &levels {
            node = node.children.entry(ByteString::from(*level)).or_default();
        }
        let old_size = node.message.as_ref().map_or(0, |old| old.size());
        let is_new = node.message.is_none();
        if (is_new && self.len >= self.max_messages) || self.bytes - old_size + message.size() > self.max_bytes {
            self.refused += 1;
            if self.refused.is_power_of_two() {
                tracing::warn!(
                    topic = %crate::log_text::Clipped(message.topic.as_str()),
                    refused = self.refused,
                    max_messages = self.max_messages,
                    max_bytes = self.max_bytes,
                    "retained store full: message not retained (raise [limits] max_retained_messages / max_retained_bytes)"
                );
            }
            if is_new {
                // The path was created for nothing: take it away again.
                self.root.remove(&levels);
            }
            return false;
        }
        self.bytes = self.bytes - old_size + message.size();
        if is_new {
            self.len += 1;
        }
        node.message = Some(Arc::clone(message));
        true
    }

    /// The unexpired retained messages matching `filter` (its inner filter for a shared subscription), in topic
    /// order; expired ones are removed on the way ([MQTT-3.3.2-5]). Visits only the topics `filter` can match.
    pub(crate) fn matching(&mut self, filter: &TopicFilter, now: Instant) -> Vec<Arc<Message>> {
        let levels = filter.matching_part().split('/').collect::<Vec<_>>();
        let mut found = Vec::new();
        self.root.matching(&levels, true, &mut found);
        let (expired, mut found): (Vec<_>, Vec<_>) = found.into_iter().partition(|m| m.is_expired(now));
        for message in expired {
            let levels = message.topic.as_str().split('/').collect::<Vec<_>>();
            if let Some(old) = self.root.remove(&levels) {
                self.len -= 1;
                self.bytes -= old.size();
            }
        }
        // Deterministic order for clients and tests: by topic.
        found.sort_unstable_by(|a, b| a.topic.cmp(&b.topic));
        found
    }

    /// How many messages are retained.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Their bytes, as [`Message::size`] counts them.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use roost_codec::{Bytes, Properties, QoS, TopicName, matches};

    fn message(topic: &str, payload: &'static [u8]) -> Arc<Message> {
        Arc::new(Message {
            topic: TopicName::new(topic).unwrap(),
            payload: Bytes::from_static(payload),
            qos: QoS::AtMostOnce,
            retain: true,
            properties: Properties::default(),
            expires_at: None,
            publisher: None,
            charge: Default::default(),
        })
    }

    fn topics(found: &[Arc<Message>]) -> Vec<&str> {
        found.iter().map(|m| m.topic.as_str()).collect()
    }

    #[test]
    fn store_replace_delete() {
        let mut store = RetainedStore::new(10, 100);
        let now = Instant::now();
        assert!(store.retain(&message("a/b", b"1")));
        store.retain(&message("a/b", b"2"));
        store.retain(&message("a/c", b"3"));
        let found = store.matching(&TopicFilter::new("a/+").unwrap(), now);
        assert_eq!(found.iter().map(|m| &m.payload[..]).collect::<Vec<_>>(), [b"2", b"3"]);
        store.retain(&message("a/b", b""));
        assert_eq!(store.len(), 1);
        store.retain(&message("a/c", b""));
        assert!(store.root.is_empty(), "deleting prunes the path");
    }

    #[test]
    fn full_store_refuses_new_topics_but_replaces_and_deletes() {
        let mut store = RetainedStore::new(1, 100);
        assert!(store.retain(&message("a", b"1")));
        assert!(!store.retain(&message("b/c", b"1")));
        assert_eq!((store.len(), store.refused), (1, 1));
        assert!(
            !store.root.children.contains_key("b"),
            "a refused topic leaves no path behind"
        );
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
        assert!(!small.retain(&message("c", &[b'x'; 200])));
        assert_eq!((small.len(), small.refused), (0, 1));
    }

    #[test]
    fn wildcards_follow_the_dollar_rule_and_hash_includes_the_parent() {
        let mut store = RetainedStore::new(100, 10_000);
        for topic in ["$SYS/x", "a", "a/b", "a/b/c", "/lead", "b"] {
            store.retain(&message(topic, b"1"));
        }
        let now = Instant::now();
        let get = |store: &mut RetainedStore, f: &str| {
            let found = store.matching(&TopicFilter::new(f).unwrap(), now);
            topics(&found).into_iter().map(str::to_owned).collect::<Vec<_>>()
        };
        assert_eq!(get(&mut store, "#"), ["/lead", "a", "a/b", "a/b/c", "b"]);
        assert_eq!(get(&mut store, "a/#"), ["a", "a/b", "a/b/c"]);
        assert_eq!(get(&mut store, "+"), ["a", "b"]);
        assert_eq!(get(&mut store, "+/+"), ["/lead", "a/b"]);
        assert_eq!(get(&mut store, "$SYS/#"), ["$SYS/x"]);
        assert_eq!(get(&mut store, "$share/g/a/+"), ["a/b"]);
    }

    proptest! {
        /// The trie returns exactly what the reference matcher says, over random topics and filters.
        #[test]
        fn trie_agrees_with_the_reference_matcher(
            retained in prop::collection::btree_set(
                prop::collection::vec(prop::sample::select(vec!["a", "b", "", "$s"]), 1..4)
                    .prop_map(|l| l.join("/"))
                    .prop_filter("a topic name is not empty", |t| !t.is_empty()),
                1..20,
            ),
            filters in prop::collection::vec(
                prop::collection::vec(prop::sample::select(vec!["a", "b", "", "$s", "+"]), 0..4),
                1..10,
            ),
        ) {
            let mut store = RetainedStore::new(1000, 1 << 20);
            for topic in &retained {
                store.retain(&message(topic, b"x"));
            }
            for levels in filters {
                for multi in [false, true] {
                    let mut levels = levels.clone();
                    if multi || levels.is_empty() {
                        levels.push("#");
                    }
                    let filter = levels.join("/");
                    let Ok(parsed) = TopicFilter::new(filter.as_str()) else { continue };
                    let found = store.matching(&parsed, Instant::now());
                    let want = retained.iter().filter(|t| matches(&filter, t)).cloned().collect::<Vec<_>>();
                    prop_assert_eq!(topics(&found), want, "filter {:?}", filter);
                }
            }
        }
    }
}
