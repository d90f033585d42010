//! Topic names (what a PUBLISH is sent to) and topic filters (what a SUBSCRIBE asks for), as distinct validated
//! types over shared `Bytes` storage, and the wildcard matcher (section 4.7).

use std::fmt;

use bytestring::ByteString;

use crate::error::DecodeError;

/// The prefix of a shared subscription's filter (section 4.8.2).
const SHARE_PREFIX: &str = "$share/";

/// A topic name: no wildcards, no U+0000, at least one character, except the empty name a PUBLISH carries when a
/// Topic Alias stands in for it (MQTT 5 only; see [`TopicName::empty`]).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicName(ByteString);

impl TopicName {
    /// Validates a topic name: at least one character ([MQTT-4.7.3-1]), no `+` or `#` ([MQTT-3.3.2-2],
    /// [MQTT-4.7.1-1]), no U+0000 ([MQTT-4.7.3-2]).
    pub fn new(name: impl Into<ByteString>) -> Result<Self, DecodeError> {
        let name = name.into();
        if name.is_empty() {
            return Err(DecodeError::EmptyTopicName);
        }
        Self::from_wire(name)
    }

    /// The zero-length topic name of a PUBLISH whose Topic Alias names its topic (MQTT 5, section 3.3.2.3.4).
    pub fn empty() -> Self {
        Self(ByteString::new())
    }

    /// Validates a name decoded from the wire, where emptiness is checked by the caller.
    pub(crate) fn from_wire(name: ByteString) -> Result<Self, DecodeError> {
        if name.bytes().any(|b| b == b'+' || b == b'#') {
            return Err(DecodeError::WildcardInTopicName);
        }
        if name.contains('\0') {
            return Err(DecodeError::NullCharacter);
        }
        Ok(Self(name))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The shared storage behind the name.
    pub fn as_byte_string(&self) -> &ByteString {
        &self.0
    }

    /// Whether this is the empty name of an aliased PUBLISH.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Topics starting with `$` are for the server's use ([MQTT-4.7.2-1]); wildcards at the first level skip them.
    pub fn is_system(&self) -> bool {
        self.0.starts_with('$')
    }
}

impl fmt::Debug for TopicName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for TopicName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for TopicName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl TryFrom<&str> for TopicName {
    type Error = DecodeError;
    fn try_from(s: &str) -> Result<Self, DecodeError> {
        Self::new(s)
    }
}

/// A topic filter: a topic with optional `+` and `#` wildcards, possibly a shared subscription
/// `$share/{group}/{filter}`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicFilter(ByteString);

/// The parts of a shared subscription filter `$share/{group}/{filter}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharedFilter<'a> {
    /// The share name: the group whose members take turns receiving messages.
    pub group: &'a str,
    /// The filter matched against topic names.
    pub filter: &'a str,
}

impl TopicFilter {
    /// Validates a topic filter: at least one character ([MQTT-4.7.3-1]), `#` only alone as the last level
    /// ([MQTT-4.7.1-2]), `+` only alone in its level ([MQTT-4.7.1-3]), no U+0000 ([MQTT-4.7.3-2]); for
    /// `$share/`, a non-empty share name without `/`, `+` or `#` followed by `/` and a filter ([MQTT-4.8.2-1],
    /// [MQTT-4.8.2-2]).
    pub fn new(filter: impl Into<ByteString>) -> Result<Self, DecodeError> {
        let filter = filter.into();
        if filter.contains('\0') {
            return Err(DecodeError::NullCharacter);
        }
        let to_match = match filter.strip_prefix(SHARE_PREFIX) {
            Some(rest) => {
                let (group, inner) = rest.split_once('/').ok_or(DecodeError::InvalidTopicFilter)?;
                if group.is_empty() || group.contains(['+', '#']) {
                    return Err(DecodeError::InvalidTopicFilter);
                }
                inner
            }
            None => &filter,
        };
        if !is_valid_filter(to_match) {
            return Err(DecodeError::InvalidTopicFilter);
        }
        Ok(Self(filter))
    }

    /// The filter as text, including any `$share/{group}/` prefix.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The shared storage behind the filter.
    pub fn as_byte_string(&self) -> &ByteString {
        &self.0
    }

    /// The group and inner filter of a shared subscription, `None` for an ordinary filter.
    pub fn shared(&self) -> Option<SharedFilter<'_>> {
        let (group, filter) = self.0.strip_prefix(SHARE_PREFIX)?.split_once('/')?;
        Some(SharedFilter { group, filter })
    }

    /// The part matched against topic names: the inner filter of a shared subscription, else the whole filter.
    pub fn matching_part(&self) -> &str {
        self.shared().map_or(&self.0, |s| s.filter)
    }

    /// Whether the filter has a `+` or `#` wildcard.
    pub fn has_wildcards(&self) -> bool {
        self.matching_part().contains(['+', '#'])
    }

    /// Whether a message published to `topic` matches this filter (section 4.7).
    pub fn matches(&self, topic: &TopicName) -> bool {
        matches(self.matching_part(), topic.as_str())
    }
}

impl fmt::Debug for TopicFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for TopicFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for TopicFilter {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl TryFrom<&str> for TopicFilter {
    type Error = DecodeError;
    fn try_from(s: &str) -> Result<Self, DecodeError> {
        Self::new(s)
    }
}

/// A topic filter received in a SUBSCRIBE or UNSUBSCRIBE that is a well-formed UTF-8 string but not a valid
/// filter: empty, a misplaced wildcard (`a/#/b`, `a+`), or a bad `$share/` prefix (`$share/g`, `$share/g+/x`).
/// The packet around it is still well-formed, so a server answers this one filter with a failure (SUBACK 0x8F
/// Topic Filter invalid, 0x80 in MQTT 3.x; UNSUBACK 0x8F) and serves the others ([MQTT-3.8.4-6],
/// [MQTT-3.9.3-1], [MQTT-3.11.3-1]). A client never sends one: it cannot be encoded.
#[derive(Clone, PartialEq, Eq)]
pub struct InvalidFilter(ByteString);

impl InvalidFilter {
    /// Keeps `raw` when it is not a valid topic filter; other errors ([MQTT-4.7.3-2] U+0000, which makes the
    /// packet malformed) are returned as they are.
    pub(crate) fn check(raw: ByteString) -> Result<Result<TopicFilter, Self>, DecodeError> {
        match TopicFilter::new(raw.clone()) {
            Ok(filter) => Ok(Ok(filter)),
            Err(DecodeError::InvalidTopicFilter) => Ok(Err(Self(raw))),
            Err(other) => Err(other),
        }
    }

    /// The filter as received, for logs.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for InvalidFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InvalidFilter({:?})", &*self.0)
    }
}

fn is_valid_filter(filter: &str) -> bool {
    if filter.is_empty() {
        return false;
    }
    let mut levels = filter.split('/').peekable();
    while let Some(level) = levels.next() {
        let ok = match level {
            "#" => levels.peek().is_none(),
            "+" => true,
            other => !other.contains(['+', '#']),
        };
        if !ok {
            return false;
        }
    }
    true
}

/// Whether the (valid, non-shared) filter `filter` matches the topic name `topic`. `+` matches one whole level,
/// `#` the parent level and any number of levels below it; a filter starting with a wildcard does not match a
/// topic starting with `$` ([MQTT-4.7.2-1]).
pub fn matches(filter: &str, topic: &str) -> bool {
    if topic.starts_with('$') && filter.starts_with(['+', '#']) {
        return false;
    }
    let mut filter_levels = filter.split('/');
    let mut topic_levels = topic.split('/');
    loop {
        match (filter_levels.next(), topic_levels.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(f), Some(t)) if f == t => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    fn filter(s: &str) -> TopicFilter {
        TopicFilter::new(s.to_owned()).unwrap()
    }
    fn topic(s: &str) -> TopicName {
        TopicName::new(s.to_owned()).unwrap()
    }

    #[test]
    fn topic_names_reject_wildcards_and_empty() {
        for bad in ["a/+", "#", "a/#/b", "sport+"] {
            assert_eq!(TopicName::new(bad), Err(DecodeError::WildcardInTopicName), "{bad}");
        }
        assert_eq!(TopicName::new(""), Err(DecodeError::EmptyTopicName));
        assert_eq!(TopicName::new("a\0b"), Err(DecodeError::NullCharacter));
        for good in ["/", "a", "a//b", " ", "$SYS/broker/uptime", "ü/€"] {
            assert_eq!(topic(good).as_str(), good);
        }
    }

    #[test]
    fn filters_validate_wildcard_placement() {
        // [MQTT-4.7.1-2], [MQTT-4.7.1-3], [MQTT-4.7.3-1]
        for bad in ["", "a/#/b", "a+", "#a", "a#", "+a/b", "a/b#", "##", "a/++"] {
            assert_eq!(TopicFilter::new(bad), Err(DecodeError::InvalidTopicFilter), "{bad:?}");
        }
        for good in [
            "#",
            "+",
            "+/+",
            "/+",
            "a/#",
            "a/+/b",
            "sport/tennis/+",
            "/",
            "$SYS/#",
            "+/#",
        ] {
            assert_eq!(filter(good).as_str(), good);
        }
    }

    #[test]
    fn shared_subscriptions_parse_and_validate() {
        let f = filter("$share/group/a/+/c");
        assert_eq!(
            f.shared(),
            Some(SharedFilter {
                group: "group",
                filter: "a/+/c"
            })
        );
        assert_eq!(f.matching_part(), "a/+/c");
        assert!(f.matches(&topic("a/b/c")));
        assert!(!f.matches(&topic("$share/group/a/b/c")));
        // [MQTT-4.8.2-1], [MQTT-4.8.2-2]
        for bad in [
            "$share/",
            "$share//a",
            "$share/g",
            "$share/g/",
            "$share/g+/a",
            "$share/#/a",
            "$share/g/a/#/b",
        ] {
            assert_eq!(TopicFilter::new(bad), Err(DecodeError::InvalidTopicFilter), "{bad:?}");
        }
        assert_eq!(filter("$sharefoo/a").shared(), None);
    }

    #[test]
    fn matching_follows_section_4_7() {
        let cases = [
            ("sport/tennis/player1/#", "sport/tennis/player1", true),
            ("sport/tennis/player1/#", "sport/tennis/player1/ranking", true),
            ("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true),
            ("sport/#", "sport", true),
            ("#", "a/b/c", true),
            ("sport/tennis/+", "sport/tennis/player1", true),
            ("sport/tennis/+", "sport/tennis/player1/ranking", false),
            ("sport/+", "sport", false),
            ("sport/+", "sport/", true),
            ("+/+", "/finance", true),
            ("/+", "/finance", true),
            ("+", "/finance", false),
            ("a/b", "a/b", true),
            ("a/b", "a/b/c", false),
            ("a/b/c", "a/b", false),
            ("A", "a", false),
            ("+/tennis/#", "sport/tennis", true),
        ];
        for (f, t, expected) in cases {
            assert_eq!(filter(f).matches(&topic(t)), expected, "{f} vs {t}");
        }
    }

    #[test]
    fn leading_wildcards_skip_dollar_topics() {
        // [MQTT-4.7.2-1]
        assert!(!filter("#").matches(&topic("$SYS/broker/uptime")));
        assert!(!filter("+/monitor/Clients").matches(&topic("$SYS/monitor/Clients")));
        assert!(filter("$SYS/#").matches(&topic("$SYS/monitor/Clients")));
        assert!(filter("$SYS/monitor/+").matches(&topic("$SYS/monitor/Clients")));
        assert!(filter("a/#").matches(&topic("a/$b")));
    }
}
