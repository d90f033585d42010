//! The subscription index: which sessions want a message published to a topic.
//!
//! A topic trie: one node per filter level, with `+` and `#` kept apart from the exact levels, so a publish visits
//! only the nodes its own levels lead to (at most two branches per level: the exact one and `+`). Its cost is the
//! topic's depth and the number of matches, not the number of filters: 10,000 filters that do not match cost
//! nothing but memory. (The list of filters it replaced tested every distinct filter on every publish, ~190 ns
//! each; see ARCHITECTURE.md for the measurement.)
//!
//! The index is generic over what it hands back for a match (`T`, in the broker an `Arc` of the session), so
//! matching needs no second lookup and the tests can use plain values. It is read-mostly: matching takes `&self`
//! (the broker keeps it behind an `RwLock`), and the only state matching changes, a shared group's round-robin
//! position, is an atomic.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytestring::ByteString;
use roost_codec::TopicFilter;

use crate::session::Subscription;

/// Every subscription of every session, as a trie of filter levels.
#[derive(Debug)]
pub(crate) struct SubscriptionIndex<T> {
    /// The level before the first `/`.
    root: Node<T>,
    /// How many subscriptions (ordinary and shared memberships) the index holds, for `$SYS`.
    len: usize,
}

/// One filter level.
#[derive(Debug)]
struct Node<T> {
    /// The next level, by its exact name (the empty level included: `a//b` is three levels).
    children: HashMap<ByteString, Node<T>>,
    /// The next level when it is `+`.
    plus: Option<Box<Node<T>>>,
    /// Subscriptions whose filter ends at this level. Boxed and absent until used: most nodes are only a step on
    /// the way to a longer filter.
    here: Option<Box<Subscribers<T>>>,
    /// Subscriptions whose filter ends with `/#` after this level (or is `#`, at the root): they match this level
    /// itself and everything below it ([MQTT-4.7.1-2]).
    multi: Option<Box<Subscribers<T>>>,
}

impl<T> Default for Node<T> {
    fn default() -> Self {
        Node {
            children: HashMap::new(),
            plus: None,
            here: None,
            multi: None,
        }
    }
}

impl<T> Node<T> {
    fn is_empty(&self) -> bool {
        self.children.is_empty() && self.plus.is_none() && self.here.is_none() && self.multi.is_none()
    }
}

/// The subscriptions of one filter: ordinary ones, one per client, and shared groups ([MQTT-4.8.2]).
#[derive(Debug)]
struct Subscribers<T> {
    /// Ordinary subscriptions in the order they were made.
    plain: Vec<Entry<T>>,
    /// Shared subscription groups on this filter, by share name.
    shared: Vec<SharedGroup<T>>,
}

impl<T> Default for Subscribers<T> {
    fn default() -> Self {
        Subscribers {
            plain: Vec::new(),
            shared: Vec::new(),
        }
    }
}

impl<T> Subscribers<T> {
    fn is_empty(&self) -> bool {
        self.plain.is_empty() && self.shared.is_empty()
    }
}

/// One client's subscription to one filter.
#[derive(Debug)]
struct Entry<T> {
    /// The subscribing client, the key for replacing and removing.
    client_id: ByteString,
    /// What a match hands back.
    target: T,
    /// Its options and identifier.
    subscription: Subscription,
}

/// The members of one shared subscription group, served round-robin.
#[derive(Debug)]
struct SharedGroup<T> {
    /// The share name (`$share/<name>/...`).
    name: ByteString,
    /// Members in the order they joined: order makes round-robin fair and testable.
    members: Vec<Entry<T>>,
    /// The member that gets the next message. Atomic, so matching can take `&self`: two publishes racing for the
    /// same position both advance it, which only changes who is next, never loses a message.
    next: AtomicUsize,
}

/// One subscription a published message matched.
#[derive(Debug, Clone)]
pub(crate) struct Match<T> {
    /// The subscriber.
    pub(crate) target: T,
    /// The subscription that matched.
    pub(crate) subscription: Subscription,
    /// Whether it is a shared group's pick: one member of the group gets each message (section 4.8.2).
    pub(crate) shared: bool,
}

impl<T> Default for SubscriptionIndex<T> {
    fn default() -> Self {
        SubscriptionIndex {
            root: Node::default(),
            len: 0,
        }
    }
}

/// The levels of a filter or topic ([MQTT-4.7.1-1]: `/` separates levels, empty levels count).
fn levels(s: &str) -> std::str::Split<'_, char> {
    s.split('/')
}

impl<T: Clone> SubscriptionIndex<T> {
    /// How many subscriptions the index holds.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Adds or replaces `client_id`'s subscription to `filter` ([MQTT-3.8.4-3]); whether it replaced one.
    pub(crate) fn subscribe(
        &mut self,
        client_id: &ByteString,
        filter: &TopicFilter,
        target: T,
        subscription: Subscription,
    ) -> bool {
        let shared = filter.shared();
        let matching = shared.as_ref().map_or(filter.as_str(), |s| s.filter);
        let subscribers = self.root.subscribers_mut(matching);
        let entry = Entry {
            client_id: client_id.clone(),
            target,
            subscription,
        };
        let list = match shared {
            None => &mut subscribers.plain,
            Some(shared) => {
                let at = match subscribers.shared.iter().position(|g| g.name == shared.group) {
                    Some(at) => at,
                    None => {
                        subscribers.shared.push(SharedGroup {
                            name: shared.group.into(),
                            members: Vec::new(),
                            next: AtomicUsize::new(0),
                        });
                        subscribers.shared.len() - 1
                    }
                };
                &mut subscribers.shared[at].members
            }
        };
        match list.iter_mut().find(|e| e.client_id == *client_id) {
            Some(existing) => {
                *existing = entry;
                true
            }
            None => {
                list.push(entry);
                self.len += 1;
                false
            }
        }
    }

    /// Removes `client_id`'s subscription to `filter`; whether there was one. Nodes left empty are pruned, so the
    /// trie holds only what is subscribed.
    pub(crate) fn unsubscribe(&mut self, client_id: &ByteString, filter: &TopicFilter) -> bool {
        let shared = filter.shared();
        let matching = shared.as_ref().map_or(filter.as_str(), |s| s.filter);
        let group = shared.as_ref().map(|s| s.group);
        let mut levels = levels(matching).collect::<Vec<_>>();
        let multi = levels.last() == Some(&"#");
        if multi {
            levels.pop();
        }
        let removed = Self::remove_at(&mut self.root, &levels, multi, &mut |subscribers| {
            remove_entry(subscribers, client_id, group)
        });
        if removed {
            self.len -= 1;
        }
        removed
    }

    /// Walks `levels` down from `node`, applies `remove` to the subscribers at the end, and prunes empty nodes on
    /// the way back up.
    fn remove_at(
        node: &mut Node<T>,
        levels: &[&str],
        multi: bool,
        remove: &mut impl FnMut(&mut Subscribers<T>) -> bool,
    ) -> bool {
        let Some((first, rest)) = levels.split_first() else {
            let slot = if multi { &mut node.multi } else { &mut node.here };
            let Some(subscribers) = slot else {
                return false;
            };
            let removed = remove(subscribers);
            if subscribers.is_empty() {
                *slot = None;
            }
            return removed;
        };
        if *first == "+" {
            let Some(plus) = node.plus.as_deref_mut() else {
                return false;
            };
            let removed = Self::remove_at(plus, rest, multi, remove);
            if plus.is_empty() {
                node.plus = None;
            }
            removed
        } else {
            let Some(child) = node.children.get_mut(*first) else {
                return false;
            };
            let removed = Self::remove_at(child, rest, multi, remove);
            if child.is_empty() {
                node.children.remove(*first);
            }
            removed
        }
    }

    /// Every subscription a message published to `topic` goes to: every matching ordinary subscription, and one
    /// member of each matching shared group (section 4.8.2), picked round-robin among those
    /// `eligible` says can take a message now (connected, or keeping messages while offline); when none is, the
    /// next in turn gets it (an offline persistent session queues it).
    ///
    /// A topic starting with `$` is not matched by a filter starting with `#` or `+` ([MQTT-4.7.2-1]).
    pub(crate) fn matching(&self, topic: &str, eligible: impl Fn(&T) -> bool, out: &mut Vec<Match<T>>) {
        let topic_levels = levels(topic).collect::<Vec<_>>();
        let system = topic.starts_with('$');
        let mut collect = |subscribers: &Subscribers<T>| {
            for entry in &subscribers.plain {
                out.push(Match {
                    target: entry.target.clone(),
                    subscription: entry.subscription,
                    shared: false,
                });
            }
            for group in &subscribers.shared {
                if let Some(member) = group.pick(&eligible) {
                    out.push(Match {
                        target: member.target.clone(),
                        subscription: member.subscription,
                        shared: true,
                    });
                }
            }
        };
        let root = &self.root;
        if !system {
            if let Some(multi) = &root.multi {
                collect(multi);
            }
        }
        let Some((first, rest)) = topic_levels.split_first() else {
            return;
        };
        if let Some(child) = root.children.get(*first) {
            child.collect(rest, &mut collect);
        }
        if !system && let Some(plus) = &root.plus {
            plus.collect(rest, &mut collect);
        }
    }
}

impl<T> Node<T> {
    /// The subscribers of `filter` (the matching part of a shared filter), creating the path to them.
    fn subscribers_mut(&mut self, filter: &str) -> &mut Subscribers<T> {
        let mut node = self;
        let mut levels = levels(filter).peekable();
        while let Some(level) = levels.next() {
            if level == "#" && levels.peek().is_none() {
                return node.multi.get_or_insert_with(Box::default);
            }
            node = if level == "+" {
                node.plus.get_or_insert_with(Box::default)
            } else {
                node.children.entry(ByteString::from(level)).or_default()
            };
        }
        node.here.get_or_insert_with(Box::default)
    }

    /// Hands every subscriber of this node's subtree that matches the remaining topic `levels` to `collect`. The
    /// node itself stands for the level just consumed.
    fn collect(&self, levels: &[&str], collect: &mut impl FnMut(&Subscribers<T>)) {
        // `a/#` matches `a` and everything below it ([MQTT-4.7.1-2]).
        if let Some(multi) = &self.multi {
            collect(multi);
        }
        let Some((first, rest)) = levels.split_first() else {
            if let Some(here) = &self.here {
                collect(here);
            }
            return;
        };
        if let Some(child) = self.children.get(*first) {
            child.collect(rest, collect);
        }
        if let Some(plus) = &self.plus {
            plus.collect(rest, collect);
        }
    }
}

impl<T> SharedGroup<T> {
    /// The member that gets the next message, advancing the round-robin position.
    fn pick(&self, eligible: &impl Fn(&T) -> bool) -> Option<&Entry<T>> {
        let n = self.members.len();
        if n == 0 {
            return None;
        }
        // Relaxed: the position orders nothing else; a race only changes who is next.
        let start = self.next.load(Ordering::Relaxed) % n;
        let pick = (0..n)
            .map(|i| (start + i) % n)
            .find(|&i| eligible(&self.members[i].target))
            .unwrap_or(start);
        self.next.store(pick + 1, Ordering::Relaxed);
        Some(&self.members[pick])
    }
}

/// Removes `client_id` from the ordinary subscribers, or from the shared group `group`; whether it was there.
fn remove_entry<T>(subscribers: &mut Subscribers<T>, client_id: &ByteString, group: Option<&str>) -> bool {
    match group {
        None => {
            let before = subscribers.plain.len();
            subscribers.plain.retain(|e| e.client_id != *client_id);
            subscribers.plain.len() != before
        }
        Some(name) => {
            let Some(at) = subscribers.shared.iter().position(|g| g.name == name) else {
                return false;
            };
            let members = &mut subscribers.shared[at].members;
            let before = members.len();
            members.retain(|e| e.client_id != *client_id);
            let removed = members.len() != before;
            if members.is_empty() {
                subscribers.shared.remove(at);
            }
            removed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use roost_codec::{QoS, SubscriptionOptions, matches};

    fn sub(qos: QoS) -> Subscription {
        Subscription {
            options: SubscriptionOptions::qos(qos),
            id: None,
        }
    }

    fn filter(s: &str) -> TopicFilter {
        TopicFilter::new(s).unwrap()
    }

    fn matched(index: &SubscriptionIndex<&'static str>, topic: &str) -> Vec<&'static str> {
        let mut out = Vec::new();
        index.matching(topic, |_| true, &mut out);
        let mut targets = out.into_iter().map(|m| m.target).collect::<Vec<_>>();
        targets.sort_unstable();
        targets
    }

    #[test]
    fn overlapping_filters_of_one_client_each_match() {
        let mut index = SubscriptionIndex::default();
        let a = ByteString::from("a");
        index.subscribe(&a, &filter("x/+"), "a", sub(QoS::AtMostOnce));
        index.subscribe(&a, &filter("x/#"), "a", sub(QoS::ExactlyOnce));
        index.subscribe(&"b".into(), &filter("y"), "b", sub(QoS::AtMostOnce));
        assert_eq!(matched(&index, "x/1"), ["a", "a"]);
        assert_eq!(index.len(), 3);
    }

    #[test]
    fn repeated_filter_replaces_and_unsubscribe_removes_and_prunes() {
        let mut index = SubscriptionIndex::default();
        let a = ByteString::from("a");
        assert!(!index.subscribe(&a, &filter("x/y/z"), "a", sub(QoS::AtMostOnce)));
        assert!(index.subscribe(&a, &filter("x/y/z"), "a", sub(QoS::AtLeastOnce)));
        let mut out = Vec::new();
        index.matching("x/y/z", |_| true, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].subscription, sub(QoS::AtLeastOnce));
        assert!(index.unsubscribe(&a, &filter("x/y/z")));
        assert!(!index.unsubscribe(&a, &filter("x/y/z")));
        assert!(matched(&index, "x/y/z").is_empty());
        assert!(index.root.is_empty(), "every node was pruned");
        assert_eq!(index.len(), 0);
    }

    #[test]
    fn multi_level_wildcard_matches_its_parent_level() {
        // [MQTT-4.7.1-2] "sport/tennis/player1/#" matches "sport/tennis/player1".
        let mut index = SubscriptionIndex::default();
        index.subscribe(&"a".into(), &filter("sport/tennis/player1/#"), "a", sub(QoS::AtMostOnce));
        index.subscribe(&"b".into(), &filter("#"), "b", sub(QoS::AtMostOnce));
        assert_eq!(matched(&index, "sport/tennis/player1"), ["a", "b"]);
        assert_eq!(matched(&index, "sport/tennis/player1/ranking"), ["a", "b"]);
        assert_eq!(matched(&index, "sport/tennis"), ["b"]);
    }

    #[test]
    fn dollar_topics_are_not_matched_by_first_level_wildcards() {
        // [MQTT-4.7.2-1]
        let mut index = SubscriptionIndex::default();
        index.subscribe(&"a".into(), &filter("#"), "hash", sub(QoS::AtMostOnce));
        index.subscribe(&"b".into(), &filter("+/monitor/Clients"), "plus", sub(QoS::AtMostOnce));
        index.subscribe(&"c".into(), &filter("$SYS/#"), "sys", sub(QoS::AtMostOnce));
        index.subscribe(&"d".into(), &filter("$SYS/monitor/+"), "sys-plus", sub(QoS::AtMostOnce));
        assert_eq!(matched(&index, "$SYS/monitor/Clients"), ["sys", "sys-plus"]);
        assert_eq!(matched(&index, "x/monitor/Clients"), ["hash", "plus"]);
    }

    #[test]
    fn shared_group_round_robins_and_skips_ineligible() {
        let mut index = SubscriptionIndex::default();
        for id in ["a", "b", "c"] {
            index.subscribe(&id.into(), &filter("$share/g/x"), id, sub(QoS::AtMostOnce));
        }
        // A second group on the same filter gets its own copy of every message.
        index.subscribe(&"d".into(), &filter("$share/h/x"), "d", sub(QoS::AtMostOnce));
        let mut picks = Vec::new();
        for _ in 0..4 {
            let mut out = Vec::new();
            index.matching("x", |id| *id != "b", &mut out);
            assert!(out.iter().all(|m| m.shared));
            assert_eq!(out.len(), 2);
            picks.push(out[0].target);
        }
        assert_eq!(picks, ["a", "c", "a", "c"]);
        assert!(index.unsubscribe(&"a".into(), &filter("$share/g/x")));
        assert!(!index.unsubscribe(&"a".into(), &filter("x")));
        assert_eq!(index.len(), 3);
    }

    /// Levels the property test builds topics and filters from: exact names that collide, the empty level, a `$`
    /// level, and the wildcards (filters only).
    const LEVELS: &[&str] = &["a", "b", "", "$s", "+", "#"];

    fn topic_strategy() -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(&LEVELS[..4]), 1..5).prop_map(|levels| levels.join("/"))
    }

    fn filter_strategy() -> impl Strategy<Value = String> {
        (prop::collection::vec(prop::sample::select(&LEVELS[..5]), 0..4), any::<bool>()).prop_filter_map(
            "a valid filter",
            |(mut levels, multi)| {
                if multi || levels.is_empty() {
                    levels.push("#");
                }
                let filter = levels.join("/");
                TopicFilter::new(filter.as_str()).ok().map(|_| filter)
            },
        )
    }

    proptest! {
        /// The trie agrees with the codec's reference matcher, `$` rules and shared filters included: every
        /// subscription whose filter matches is returned once, and nothing else.
        #[test]
        fn trie_agrees_with_the_reference_matcher(
            filters in prop::collection::vec((filter_strategy(), any::<bool>()), 1..24),
            topics in prop::collection::vec(topic_strategy(), 1..16),
        ) {
            let mut index = SubscriptionIndex::default();
            let mut subscribed = Vec::new();
            for (i, (f, shared)) in filters.iter().enumerate() {
                let full = if *shared { format!("$share/g{i}/{f}") } else { f.clone() };
                let client = ByteString::from(format!("c{i}"));
                index.subscribe(&client, &filter(&full), i, sub(QoS::AtMostOnce));
                subscribed.push(f.clone());
            }
            // Remove every third one again, so pruning is exercised.
            let mut live = vec![true; subscribed.len()];
            for (i, (f, shared)) in filters.iter().enumerate().filter(|(i, _)| i % 3 == 2) {
                let full = if *shared { format!("$share/g{i}/{f}") } else { f.clone() };
                let client = ByteString::from(format!("c{i}"));
                prop_assert!(index.unsubscribe(&client, &filter(&full)));
                live[i] = false;
            }
            for topic in &topics {
                let mut out = Vec::new();
                index.matching(topic, |_| true, &mut out);
                let mut got = out.into_iter().map(|m| m.target).collect::<Vec<_>>();
                got.sort_unstable();
                let want = subscribed
                    .iter()
                    .enumerate()
                    .filter(|(i, f)| live[*i] && matches(f, topic))
                    .map(|(i, _)| i)
                    .collect::<Vec<_>>();
                prop_assert_eq!(got, want, "topic {:?}", topic);
            }
        }
    }
}
