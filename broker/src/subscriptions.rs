//! The subscription index: which sessions want a message published to a topic.
//!
//! Simple and correct first: a map from filter to subscribers, each filter tested with the codec's matcher, so a
//! publish costs one match per distinct filter. A topic trie can replace [`SubscriptionIndex`] behind the same
//! three methods when the number of distinct filters makes that scan show up in a profile.

use std::collections::{BTreeMap, HashMap};

use bytestring::ByteString;
use roost_codec::{TopicFilter, TopicName, matches};

use crate::session::Subscription;

/// Every subscription of every session, by filter.
#[derive(Debug, Default)]
pub(crate) struct SubscriptionIndex {
    /// Ordinary subscriptions: filter → client id → subscription.
    plain: HashMap<ByteString, HashMap<ByteString, Subscription>>,
    /// Shared subscriptions: (share name, inner filter) → the group ([MQTT-4.8.2]).
    shared: HashMap<(ByteString, ByteString), SharedGroup>,
}

/// The members of one shared subscription group, served round-robin.
#[derive(Debug, Default)]
struct SharedGroup {
    /// Members in the order they joined (a BTreeMap would reorder them; order makes round-robin fair and testable).
    members: Vec<(ByteString, Subscription)>,
    /// Index of the member that gets the next message.
    next: usize,
}

/// One session's share of a publication: the subscriptions of that session that match.
#[derive(Debug, Default)]
pub(crate) struct Matched {
    /// Per client id, every matching ordinary subscription (one delivery at the highest QoS, [MQTT-3.3.4-2]).
    pub(crate) plain: BTreeMap<ByteString, Vec<Subscription>>,
    /// One (client id, subscription) per matching shared group: each group delivers to one member.
    pub(crate) shared: Vec<(ByteString, Subscription)>,
}

impl SubscriptionIndex {
    /// Adds or replaces `client_id`'s subscription to `filter`.
    pub(crate) fn subscribe(&mut self, client_id: &ByteString, filter: &TopicFilter, subscription: Subscription) {
        match filter.shared() {
            None => {
                self.plain
                    .entry(filter.as_byte_string().clone())
                    .or_default()
                    .insert(client_id.clone(), subscription);
            }
            Some(shared) => {
                let group = self
                    .shared
                    .entry((shared.group.into(), shared.filter.into()))
                    .or_default();
                match group.members.iter_mut().find(|(id, _)| id == client_id) {
                    Some((_, existing)) => *existing = subscription,
                    None => group.members.push((client_id.clone(), subscription)),
                }
            }
        }
    }

    /// Removes `client_id`'s subscription to `filter`; whether there was one.
    pub(crate) fn unsubscribe(&mut self, client_id: &ByteString, filter: &TopicFilter) -> bool {
        match filter.shared() {
            None => {
                let Some(subscribers) = self.plain.get_mut(filter.as_str()) else {
                    return false;
                };
                let removed = subscribers.remove(client_id).is_some();
                if subscribers.is_empty() {
                    self.plain.remove(filter.as_str());
                }
                removed
            }
            Some(shared) => {
                let key = (ByteString::from(shared.group), ByteString::from(shared.filter));
                let Some(group) = self.shared.get_mut(&key) else {
                    return false;
                };
                let before = group.members.len();
                group.members.retain(|(id, _)| id != client_id);
                let removed = group.members.len() != before;
                if group.members.is_empty() {
                    self.shared.remove(&key);
                }
                removed
            }
        }
    }

    /// The subscriptions a message on `topic` goes to. `eligible` says whether a shared group member can take a
    /// message now (connected, or its session keeps messages), so round-robin skips members that cannot.
    pub(crate) fn matching(&mut self, topic: &TopicName, mut eligible: impl FnMut(&ByteString) -> bool) -> Matched {
        let mut matched = Matched::default();
        for (filter, subscribers) in &self.plain {
            if matches(filter, topic.as_str()) {
                for (client_id, subscription) in subscribers {
                    matched.plain.entry(client_id.clone()).or_default().push(*subscription);
                }
            }
        }
        for ((_, filter), group) in &mut self.shared {
            if !matches(filter, topic.as_str()) || group.members.is_empty() {
                continue;
            }
            let n = group.members.len();
            let start = group.next % n;
            let pick = (0..n).map(|i| (start + i) % n).find(|&i| eligible(&group.members[i].0));
            // No eligible member: the first in turn gets it (an offline persistent session queues it).
            let pick = pick.unwrap_or(start);
            group.next = pick + 1;
            matched.shared.push(group.members[pick].clone());
        }
        matched
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use roost_codec::{QoS, SubscriptionOptions};

    fn sub(qos: QoS) -> Subscription {
        Subscription {
            options: SubscriptionOptions::qos(qos),
            id: None,
        }
    }

    fn filter(s: &str) -> TopicFilter {
        TopicFilter::new(s).unwrap()
    }

    fn topic(s: &str) -> TopicName {
        TopicName::new(s).unwrap()
    }

    #[test]
    fn overlapping_filters_of_one_client_are_grouped() {
        let mut index = SubscriptionIndex::default();
        let a = ByteString::from("a");
        index.subscribe(&a, &filter("x/+"), sub(QoS::AtMostOnce));
        index.subscribe(&a, &filter("x/#"), sub(QoS::ExactlyOnce));
        index.subscribe(&"b".into(), &filter("y"), sub(QoS::AtMostOnce));
        let matched = index.matching(&topic("x/1"), |_| true);
        assert_eq!(matched.plain.len(), 1);
        assert_eq!(matched.plain[&a].len(), 2);
    }

    #[test]
    fn repeated_filter_replaces_and_unsubscribe_removes() {
        let mut index = SubscriptionIndex::default();
        let a = ByteString::from("a");
        index.subscribe(&a, &filter("x"), sub(QoS::AtMostOnce));
        index.subscribe(&a, &filter("x"), sub(QoS::AtLeastOnce));
        let matched = index.matching(&topic("x"), |_| true);
        assert_eq!(matched.plain[&a], [sub(QoS::AtLeastOnce)]);
        assert!(index.unsubscribe(&a, &filter("x")));
        assert!(!index.unsubscribe(&a, &filter("x")));
        assert!(index.matching(&topic("x"), |_| true).plain.is_empty());
    }

    #[test]
    fn shared_group_round_robins_and_skips_ineligible() {
        let mut index = SubscriptionIndex::default();
        for id in ["a", "b", "c"] {
            index.subscribe(&id.into(), &filter("$share/g/x"), sub(QoS::AtMostOnce));
        }
        let mut picks = Vec::new();
        for _ in 0..4 {
            let matched = index.matching(&topic("x"), |id| id != "b");
            assert!(matched.plain.is_empty());
            picks.push(matched.shared[0].0.to_string());
        }
        assert_eq!(picks, ["a", "c", "a", "c"]);
    }
}
