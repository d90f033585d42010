//! Topic aliases the broker sets up towards one MQTT 5 client (section 3.3.2.3.4): the first PUBLISH of a topic
//! carries the topic and an alias, later ones only the alias and an empty topic. A long topic name (Home
//! Assistant's `homeassistant/sensor/living_room_temperature/state`) then costs 3 bytes per message instead of
//! 50 or more.
//!
//! One table per network connection, owned by its `Connection` and applied to each PUBLISH as it is queued for the
//! socket, so the wire order is the order aliases are set up in, and a new connection (a resumed session's resends
//! included) starts with an empty table ([MQTT-3.3.2-7]). The router never sees aliases: the PUBLISH it keeps for
//! a resend has its full topic.

use std::collections::HashMap;
use std::num::NonZeroU16;

use bytestring::ByteString;
use roost_codec::{Packet, Publish, TopicName};

/// A slot's "no neighbour" in the recency list.
const NONE: u16 = u16::MAX;

/// The aliases of one connection: at most `maximum`, the least recently used one reassigned when a new topic
/// needs one. Allocated on first use: most connections never receive a PUBLISH while idle, and an idle
/// connection must stay cheap (see `handler::tests::an_idle_connection_task_stays_small`).
#[derive(Debug, Default)]
pub(crate) struct OutgoingAliases {
    /// How many aliases we may use: the client's Topic Alias Maximum (CONNECT) capped by
    /// [`crate::config::MAX_OUTGOING_TOPIC_ALIASES`]; 0 uses none ([MQTT-3.1.2-27]).
    maximum: u16,
    /// The table, once the first PUBLISH needed one.
    table: Option<Box<Table>>,
}

/// What to send instead of a PUBLISH's topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Alias {
    /// The topic has this alias already: send an empty topic and the alias.
    Known(NonZeroU16),
    /// The topic gets this alias: send the topic and the alias, which sets the mapping up (or replaces what the
    /// alias meant before).
    New(NonZeroU16),
}

/// Alias `n` lives in `slots[n - 1]`; the slots form a doubly linked list from the most to the least recently used.
#[derive(Debug)]
struct Table {
    /// Topic → alias.
    by_topic: HashMap<ByteString, u16>,
    slots: Vec<Slot>,
    /// The most recently used slot, or [`NONE`].
    head: u16,
    /// The least recently used slot, the next to be reassigned, or [`NONE`].
    tail: u16,
}

#[derive(Debug)]
struct Slot {
    /// The topic this alias stands for. Copied into its own allocation: a decoded topic is a slice of the frame it
    /// arrived in, and keeping that slice would keep the whole frame, payload and all, alive with the alias.
    topic: ByteString,
    prev: u16,
    next: u16,
}

impl OutgoingAliases {
    /// A table allowing `maximum` aliases (already capped by the caller); nothing is allocated yet.
    pub(crate) fn new(maximum: u16) -> Self {
        Self { maximum, table: None }
    }

    /// The alias to use for `topic`, marking it most recently used; `None` when aliases are off. `fits` says whether
    /// a PUBLISH carrying the topic and a new alias may still be sent (the client's Maximum Packet Size): when it
    /// may not, the topic is sent plainly and the table is left as it was.
    pub(crate) fn alias_for(&mut self, topic: &TopicName, fits: impl FnOnce() -> bool) -> Option<Alias> {
        if self.maximum == 0 || topic.is_empty() {
            return None;
        }
        let maximum = self.maximum;
        let table = self.table.get_or_insert_with(|| Box::new(Table::new()));
        if let Some(&alias) = table.by_topic.get(topic.as_byte_string()) {
            table.touch(alias - 1);
            return NonZeroU16::new(alias).map(Alias::Known);
        }
        if !fits() {
            return None;
        }
        let topic = ByteString::from(topic.as_str());
        let slot = if table.slots.len() < usize::from(maximum) {
            table.slots.push(Slot {
                topic: topic.clone(),
                prev: NONE,
                next: NONE,
            });
            let slot = u16::try_from(table.slots.len() - 1).expect("at most u16::MAX - 1 slots");
            table.push_front(slot);
            slot
        } else {
            let slot = table.tail;
            let old = std::mem::replace(&mut table.slots[usize::from(slot)].topic, topic.clone());
            table.by_topic.remove(&old);
            table.touch(slot);
            slot
        };
        table.by_topic.insert(topic, slot + 1);
        // [MQTT-3.3.2-8] never 0; [MQTT-3.3.2-11], [MQTT-3.1.2-26] never above the client's maximum: slot < maximum.
        NonZeroU16::new(slot + 1).map(Alias::New)
    }

    /// `publish` as it goes to this client: with an alias in place of its topic when aliases are on. `fits` is asked
    /// whether a packet may be sent, for the PUBLISH with its topic and a new alias.
    pub(crate) fn apply(&mut self, publish: &Publish, fits: impl FnOnce(&Packet) -> bool) -> Option<Publish> {
        let alias = self.alias_for(&publish.topic, || {
            // The largest form, topic and alias (the alias's value does not change its size), checked before the
            // table changes. Only a topic without an alias yet costs this copy.
            let mut with_alias = publish.clone();
            with_alias.properties.topic_alias = NonZeroU16::new(1);
            fits(&Packet::Publish(with_alias))
        })?;
        let mut aliased = publish.clone();
        match alias {
            Alias::Known(alias) => {
                aliased.topic = TopicName::empty();
                aliased.properties.topic_alias = Some(alias);
            }
            Alias::New(alias) => aliased.properties.topic_alias = Some(alias),
        }
        Some(aliased)
    }
}

impl Table {
    fn new() -> Self {
        Self {
            by_topic: HashMap::new(),
            slots: Vec::new(),
            head: NONE,
            tail: NONE,
        }
    }

    /// Makes `slot` the most recently used.
    fn touch(&mut self, slot: u16) {
        if self.head == slot {
            return;
        }
        self.unlink(slot);
        self.push_front(slot);
    }

    fn unlink(&mut self, slot: u16) {
        let Slot { prev, next, .. } = self.slots[usize::from(slot)];
        match prev {
            NONE => self.head = next,
            prev => self.slots[usize::from(prev)].next = next,
        }
        match next {
            NONE => self.tail = prev,
            next => self.slots[usize::from(next)].prev = prev,
        }
    }

    fn push_front(&mut self, slot: u16) {
        let old_head = self.head;
        let entry = &mut self.slots[usize::from(slot)];
        entry.prev = NONE;
        entry.next = old_head;
        match old_head {
            NONE => self.tail = slot,
            old => self.slots[usize::from(old)].prev = slot,
        }
        self.head = slot;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(name: &str) -> TopicName {
        TopicName::new(name).unwrap()
    }

    fn alias(aliases: &mut OutgoingAliases, name: &str) -> Option<Alias> {
        aliases.alias_for(&topic(name), || true)
    }

    fn nz(n: u16) -> NonZeroU16 {
        NonZeroU16::new(n).unwrap()
    }

    #[test]
    fn a_topic_is_sent_once_then_only_its_alias() {
        let mut aliases = OutgoingAliases::new(2);
        assert_eq!(alias(&mut aliases, "a/b"), Some(Alias::New(nz(1))));
        assert_eq!(alias(&mut aliases, "a/b"), Some(Alias::Known(nz(1))));
        assert_eq!(alias(&mut aliases, "c"), Some(Alias::New(nz(2))));
        assert_eq!(alias(&mut aliases, "a/b"), Some(Alias::Known(nz(1))));
    }

    #[test]
    fn the_least_recently_used_alias_is_reassigned_and_never_exceeds_the_maximum_mqtt_3_3_2_11() {
        let mut aliases = OutgoingAliases::new(3);
        for name in ["a", "b", "c"] {
            alias(&mut aliases, name);
        }
        // "a" used again: "b" is now the least recently used, and its alias goes to "d".
        assert_eq!(alias(&mut aliases, "a"), Some(Alias::Known(nz(1))));
        assert_eq!(alias(&mut aliases, "d"), Some(Alias::New(nz(2))));
        assert_eq!(alias(&mut aliases, "b"), Some(Alias::New(nz(3))));
        assert_eq!(alias(&mut aliases, "a"), Some(Alias::Known(nz(1))));
        assert_eq!(alias(&mut aliases, "d"), Some(Alias::Known(nz(2))));
        for round in 0..100 {
            let name = format!("t/{round}");
            match alias(&mut aliases, &name) {
                Some(Alias::New(n) | Alias::Known(n)) => assert!((1..=3).contains(&n.get()), "{n}"),
                None => panic!("no alias for {name}"),
            }
        }
        assert_eq!(aliases.table.as_ref().unwrap().by_topic.len(), 3);
    }

    #[test]
    fn a_maximum_of_zero_uses_no_alias_and_allocates_nothing_mqtt_3_1_2_27() {
        let mut aliases = OutgoingAliases::new(0);
        assert_eq!(alias(&mut aliases, "a"), None);
        assert!(aliases.table.is_none());
        assert!(OutgoingAliases::new(5).table.is_none());
    }

    #[test]
    fn a_new_alias_that_would_not_fit_leaves_the_topic_plain_and_the_table_unchanged() {
        let mut aliases = OutgoingAliases::new(1);
        assert_eq!(alias(&mut aliases, "a"), Some(Alias::New(nz(1))));
        assert_eq!(aliases.alias_for(&topic("b"), || false), None);
        assert_eq!(alias(&mut aliases, "a"), Some(Alias::Known(nz(1))));
    }

    #[test]
    fn apply_replaces_the_topic_by_the_alias_once_known() {
        let mut aliases = OutgoingAliases::new(4);
        let publish = Publish::new(topic("homeassistant/sensor/x/state"), "21.5");
        let first = aliases.apply(&publish, |_| true).unwrap();
        assert_eq!(
            (first.topic.as_str(), first.properties.topic_alias),
            ("homeassistant/sensor/x/state", Some(nz(1)))
        );
        let second = aliases.apply(&publish, |_| true).unwrap();
        assert_eq!(
            (second.topic.as_str(), second.properties.topic_alias),
            ("", Some(nz(1)))
        );
        assert_eq!(second.payload, publish.payload);
        assert!(OutgoingAliases::new(0).apply(&publish, |_| true).is_none());
    }
}
