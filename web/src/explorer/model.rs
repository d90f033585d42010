//! [`TopicTree`]: every topic seen on `#`, keyed by topic level, with counts and each topic's last message.
//! Pure: it is given plain [`TopicMessage`]s (no bytes, no clock) and answers queries; the tests drive it directly.

use std::collections::BTreeMap;
use std::collections::VecDeque;
use std::sync::Arc;

use super::history::{HistoryBudget, HistoryLimits};

/// The most topics the tree holds by default. Beyond it, messages on topics already known still update them, but
/// messages on new topics are only counted in [`TopicTree::dropped`]: the page's memory stays bounded however many
/// distinct topics a broker carries.
pub const MAX_TOPICS: usize = 10_000;

/// How many payload bytes a [`TopicMessage`] keeps as text: enough to read, and at most ~40 MiB over 10,000 topics.
pub const MAX_TEXT_BYTES: usize = 4096;

/// How many payload bytes a [`TopicMessage`] keeps as hex (three characters per byte).
pub const MAX_HEX_BYTES: usize = 1024;

/// A payload as a person reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// Valid UTF-8, at most [`MAX_TEXT_BYTES`] of it.
    Text(String),
    /// Not UTF-8: the first [`MAX_HEX_BYTES`] bytes as space-separated hex pairs.
    Hex(String),
}

impl Payload {
    /// The payload `bytes` for display: text when UTF-8, else hex; cut to the limits above. A text cut in the
    /// middle of a character keeps the whole characters before it.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        let cut = &bytes[..bytes.len().min(MAX_TEXT_BYTES)];
        match std::str::from_utf8(cut) {
            Ok(text) => Self::Text(text.to_owned()),
            // Only the cut split a character: the characters before it are shown.
            Err(error) if error.error_len().is_none() && cut.len() < bytes.len() => {
                Self::Text(String::from_utf8_lossy(&cut[..error.valid_up_to()]).into_owned())
            }
            Err(_) => {
                let shown = &bytes[..bytes.len().min(MAX_HEX_BYTES)];
                let hex: Vec<String> = shown.iter().map(|byte| format!("{byte:02x}")).collect();
                Self::Hex(hex.join(" "))
            }
        }
    }

    /// The payload as shown: the text, or the hex.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Text(text) | Self::Hex(text) => text,
        }
    }
}

/// One received application message, as the explorer needs it: plain values, made by the MQTT service layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicMessage {
    /// The topic name (after any topic alias is resolved).
    pub topic: String,
    /// The payload, bounded.
    pub payload: Payload,
    /// The payload's whole size in bytes, so a cut payload says how much there was.
    pub size: usize,
    /// The QoS it was delivered with: 0, 1 or 2.
    pub qos: u8,
    /// The RETAIN flag: the broker sent it from its retained store (on subscribing), or, since the dashboard
    /// subscribes with Retain As Published (MQTT 5), it was published retained ([MQTT-3.3.1-12]).
    pub retain: bool,
    /// When it arrived, in milliseconds since the Unix epoch (the browser's `Date.now()`).
    pub received_ms: u64,
    /// Its MQTT 5 properties (all empty for MQTT 3.1.1).
    pub properties: MessageProperties,
}

impl TopicMessage {
    /// Roughly how many bytes of the page's memory this message holds: what the history's byte bound counts.
    pub fn cost(&self) -> usize {
        let properties = &self.properties;
        let strings = [&properties.content_type, &properties.response_topic]
            .into_iter()
            .flatten()
            .map(String::len)
            .sum::<usize>();
        let users: usize = properties
            .user_properties
            .iter()
            .map(|(key, value)| key.len() + value.len() + 48)
            .sum();
        let correlation = properties
            .correlation_data
            .as_ref()
            .map_or(0, |data| data.as_str().len());
        // The struct itself and the allocations' headers.
        const OVERHEAD: usize = 160;
        OVERHEAD + self.topic.len() + self.payload.as_str().len() + strings + users + correlation
    }
}

/// The MQTT 5 properties of a received message that a person may want to see, as plain values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageProperties {
    /// Content Type: the publisher's description of the payload (a MIME type, say).
    pub content_type: Option<String>,
    /// Response Topic: where the publisher wants a reply ([MQTT-3.3.2-13]: a topic name, never a filter).
    pub response_topic: Option<String>,
    /// Correlation Data: binary data the publisher uses to match a reply; shown as text or hex like a payload.
    pub correlation_data: Option<Payload>,
    /// Message Expiry Interval as the broker forwarded it: the seconds it had left ([MQTT-3.3.2-6]).
    pub message_expiry: Option<u32>,
    /// Payload Format Indicator: `Some(true)` when the publisher says the payload is UTF-8.
    pub payload_utf8: Option<bool>,
    /// User properties, in the order received ([MQTT-3.3.2-18]: kept in order); a name may repeat.
    pub user_properties: Vec<(String, String)>,
}

impl MessageProperties {
    /// Whether there is no property at all to show.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// One node of the tree: a topic level. It is a topic itself when a message was published to it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Node {
    /// Children by level name, in sorted order.
    children: BTreeMap<String, Node>,
    /// Messages received on this topic and every topic below it.
    total: u64,
    /// Messages received on this very topic.
    count: u64,
    /// Topics (nodes with a message) at or below this node.
    topics: u64,
    /// The last message on this very topic, if any. Kept apart from `history`, which the memory bound may empty.
    last: Option<Arc<TopicMessage>>,
    /// The recent messages on this very topic, oldest first, each with its sequence number (see
    /// [`HistoryBudget`]); at most [`HistoryLimits::per_topic`], fewer when the byte bound took the oldest.
    history: VecDeque<(u64, Arc<TopicMessage>)>,
    /// Whether the broker holds a retained message for this topic, as far as the dashboard saw: set by a
    /// message with the RETAIN flag and a payload, cleared by one with the flag and no payload, since a retained
    /// message with an empty payload removes the stored one ([MQTT-3.3.1-6]).
    retained: bool,
}

impl Node {
    /// Messages on this topic and all below it.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Topics (levels with a message) at or below this node.
    pub fn topics(&self) -> u64 {
        self.topics
    }

    /// Messages on this very topic.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The last message on this very topic.
    pub fn last(&self) -> Option<&TopicMessage> {
        self.last.as_deref()
    }

    /// The recent messages on this very topic, oldest first, each with a number that identifies it in the tree
    /// (it grows with every message received).
    pub fn history(&self) -> impl DoubleEndedIterator<Item = (u64, &TopicMessage)> + ExactSizeIterator {
        self.history.iter().map(|(seq, message)| (*seq, &**message))
    }

    /// [`Self::history`] as shared values, cheap to keep in a view's memo.
    pub fn history_shared(&self) -> Vec<(u64, Arc<TopicMessage>)> {
        self.history.iter().cloned().collect()
    }

    /// [`Self::last`] as a shared value.
    pub fn last_shared(&self) -> Option<Arc<TopicMessage>> {
        self.last.clone()
    }

    /// Whether the broker holds a retained message for this topic, as far as the dashboard saw.
    pub fn is_retained(&self) -> bool {
        self.retained
    }

    /// The levels below, sorted by name.
    pub fn children(&self) -> impl Iterator<Item = (&str, &Node)> {
        self.children.iter().map(|(name, node)| (name.as_str(), node))
    }

    /// Whether there are levels below.
    pub fn has_children(&self) -> bool {
        !self.children.is_empty()
    }
}

/// Every topic seen, as a tree of levels (`kitchen/temp` is `temp` under `kitchen`). Bounded to `max_topics`
/// topics (see [`MAX_TOPICS`]).
#[derive(Debug, Clone, PartialEq)]
pub struct TopicTree {
    /// The nameless root; its children are the first levels.
    root: Node,
    /// How many topics (nodes with a message) there are.
    topics: usize,
    /// The bound on `topics`.
    max_topics: usize,
    /// Messages not recorded because their topic was new and the tree was full.
    dropped: u64,
    /// The bound on every topic's history together.
    budget: HistoryBudget,
}

impl Default for TopicTree {
    fn default() -> Self {
        Self::new(MAX_TOPICS)
    }
}

impl TopicTree {
    /// An empty tree holding at most `max_topics` topics, with the default history limits.
    pub fn new(max_topics: usize) -> Self {
        Self::with_limits(max_topics, HistoryLimits::default())
    }

    /// An empty tree holding at most `max_topics` topics and histories bounded by `limits`.
    pub fn with_limits(max_topics: usize, limits: HistoryLimits) -> Self {
        Self {
            root: Node::default(),
            topics: 0,
            max_topics,
            dropped: 0,
            budget: HistoryBudget::new(limits),
        }
    }

    /// Forgets every topic, count and history, keeping the limits: after a reconnect the broker sends its
    /// retained messages again, which must not count twice.
    pub fn clear(&mut self) {
        *self = Self::with_limits(self.max_topics, self.budget.limits());
    }

    /// The retained topics at or below `topic` (a topic or a level), as far as the dashboard saw, sorted.
    pub fn retained_under(&self, topic: &str) -> Vec<String> {
        let Some(node) = self.get(topic) else {
            return Vec::new();
        };
        let mut found = Vec::new();
        if node.retained {
            found.push(topic.to_owned());
        }
        let mut stack: Vec<(String, &Node)> = Vec::new();
        push_children(&mut stack, Some(topic), node);
        while let Some((path, node)) = stack.pop() {
            if node.retained {
                found.push(path.clone());
            }
            push_children(&mut stack, Some(&path), node);
        }
        found.sort();
        found
    }

    /// Topics and messages, leaving out first levels starting with `$` (`$SYS`: the broker's own figures, which
    /// `#` does not match, [MQTT-4.7.2-1]) unless `with_dollar`.
    pub fn counts(&self, with_dollar: bool) -> (u64, u64) {
        let (mut topics, mut messages) = (self.root.topics, self.root.total);
        if !with_dollar {
            for (name, node) in &self.root.children {
                if name.starts_with('$') {
                    topics -= node.topics;
                    messages -= node.total;
                }
            }
        }
        (topics, messages)
    }

    /// Bytes the histories hold, as [`TopicMessage::cost`] counts them.
    pub fn history_bytes(&self) -> usize {
        self.budget.bytes()
    }

    /// Records `message`: counts along its path, and it becomes its topic's last message. A message on a new
    /// topic when the tree is full is counted in [`Self::dropped`] and changes nothing else.
    pub fn insert(&mut self, message: TopicMessage) {
        let is_new = self.get(&message.topic).is_none_or(|node| node.last.is_none());
        if is_new {
            if self.topics >= self.max_topics {
                self.dropped += 1;
                return;
            }
            self.topics += 1;
        }
        let message = Arc::new(message);
        let new_topic = u64::from(is_new);
        let mut node = &mut self.root;
        node.total += 1;
        node.topics += new_topic;
        for level in message.topic.split('/') {
            node = node.children.entry(level.to_owned()).or_default();
            node.total += 1;
            node.topics += new_topic;
        }
        node.count += 1;
        node.last = Some(Arc::clone(&message));
        if message.retain {
            node.retained = message.size > 0;
        }
        let seq = self.budget.admit(&message);
        node.history.push_back((seq, Arc::clone(&message)));
        if node.history.len() > self.budget.limits().per_topic
            && let Some((_, oldest)) = node.history.pop_front()
        {
            self.budget.release(&oldest);
        }
        while let Some((seq, topic)) = self.budget.next_eviction() {
            let Some(node) = get_mut(&mut self.root, &topic) else {
                continue;
            };
            // An entry whose message already left its topic's history (the per-topic bound) is stale.
            if node.history.front().is_some_and(|(front, _)| *front == seq)
                && let Some((_, oldest)) = node.history.pop_front()
            {
                self.budget.release(&oldest);
            }
        }
    }

    /// The node of `topic` (a topic or a level above topics), if seen.
    pub fn get(&self, topic: &str) -> Option<&Node> {
        topic
            .split('/')
            .try_fold(&self.root, |node, level| node.children.get(level))
    }

    /// The root: its children are the first levels, its total counts every recorded message.
    pub fn root(&self) -> &Node {
        &self.root
    }

    /// How many distinct topics are recorded.
    pub fn topics(&self) -> usize {
        self.topics
    }

    /// Messages left out because the tree was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Topics whose name contains `needle` (ignoring ASCII case), in sorted order, at most `limit` of them.
    pub fn search(&self, needle: &str, limit: usize) -> Vec<String> {
        let needle = needle.to_ascii_lowercase();
        let mut found = Vec::new();
        let mut path = Vec::new();
        collect(&self.root, &mut path, &needle, limit, &mut found);
        found
    }
}

/// One line of the tree view: a node whose ancestors are all expanded.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Row {
    /// The node's whole topic (its key).
    pub topic: String,
    /// Its own level's name.
    pub name: String,
    /// 0 for first levels.
    pub depth: usize,
    /// Whether it can be expanded.
    pub has_children: bool,
}

impl TopicTree {
    /// The lines of the tree view: the first levels, and the children of every node whose topic `is_expanded`
    /// says, depth first in sorted order; at most `limit` of them.
    pub fn rows(&self, is_expanded: impl Fn(&str) -> bool, limit: usize) -> Vec<Row> {
        let mut rows = Vec::new();
        let mut stack: Vec<(String, usize, &Node)> = Vec::new();
        push_rows(&mut stack, None, 0, &self.root);
        while let Some((topic, depth, node)) = stack.pop() {
            if rows.len() >= limit {
                break;
            }
            if node.has_children() && is_expanded(&topic) {
                push_rows(&mut stack, Some(&topic), depth + 1, node);
            }
            let name = topic.rsplit('/').next().unwrap_or_default().to_owned();
            rows.push(Row {
                topic,
                name,
                depth,
                has_children: node.has_children(),
            });
        }
        rows
    }
}

/// Pushes `node`'s children on `stack` so that they pop in sorted order.
fn push_rows<'a>(stack: &mut Vec<(String, usize, &'a Node)>, prefix: Option<&str>, depth: usize, node: &'a Node) {
    for (name, child) in node.children.iter().rev() {
        stack.push((child_topic(prefix, name), depth, child));
    }
}

/// Pushes `node`'s children on `stack` with their topics.
fn push_children<'a>(stack: &mut Vec<(String, &'a Node)>, prefix: Option<&str>, node: &'a Node) {
    for (name, child) in &node.children {
        stack.push((child_topic(prefix, name), child));
    }
}

/// The topic of level `name` under `prefix`.
fn child_topic(prefix: Option<&str>, name: &str) -> String {
    match prefix {
        Some(prefix) => format!("{prefix}/{name}"),
        None => name.to_owned(),
    }
}

/// The node of `topic`, to change it.
fn get_mut<'a>(root: &'a mut Node, topic: &str) -> Option<&'a mut Node> {
    topic
        .split('/')
        .try_fold(root, |node, level| node.children.get_mut(level))
}

/// Depth-first, in level order: the topics below `node` matching `needle`.
fn collect<'a>(node: &'a Node, path: &mut Vec<&'a str>, needle: &str, limit: usize, found: &mut Vec<String>) {
    for (name, child) in &node.children {
        if found.len() >= limit {
            return;
        }
        path.push(name);
        if child.last.is_some() {
            let topic = path.join("/");
            if topic.to_ascii_lowercase().contains(needle) {
                found.push(topic);
            }
        }
        collect(child, path, needle, limit, found);
        path.pop();
    }
}
