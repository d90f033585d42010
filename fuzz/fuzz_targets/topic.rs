//! Topic names, topic filters and the matcher on arbitrary strings: nothing panics, and what is valid behaves.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roost_codec::{TopicFilter, TopicName, matches};

fuzz_target!(|input: (&str, &str)| {
    let (a, b) = input;
    // The free matcher takes any strings, valid or not.
    let _ = matches(a, b);
    let _ = matches(b, a);
    let name = TopicName::new(a.to_owned());
    let filter = TopicFilter::new(b.to_owned());
    if let (Ok(name), Ok(filter)) = (&name, &filter) {
        let _ = filter.matches(name);
        let _ = filter.has_wildcards();
        let _ = filter.shared();
    }
    if let Ok(filter) = &filter {
        assert!(!filter.as_str().is_empty());
        if !filter.has_wildcards() {
            // A filter without wildcards is a topic name, and matches exactly that topic.
            let part = filter.matching_part();
            let topic = TopicName::new(part.to_owned())
                .unwrap_or_else(|e| panic!("{filter:?} has no wildcards but {part:?} is no topic name: {e:?}"));
            assert!(filter.matches(&topic), "{filter:?} does not match {topic:?}");
        }
    }
    if let Ok(name) = &name {
        assert!(!name.as_str().contains(['+', '#', '\0']));
        // Every topic name is a filter matching itself, unless it spells a shared subscription.
        if let Ok(as_filter) = TopicFilter::new(name.as_str().to_owned()) {
            if as_filter.shared().is_none() {
                assert!(as_filter.matches(name), "{name:?} does not match itself");
            }
        } else {
            assert!(
                name.as_str().starts_with("$share/"),
                "{name:?} is a name but not a filter"
            );
        }
        // "#" matches every topic but those starting with '$' ([MQTT-4.7.2-1]).
        let hash = TopicFilter::new("#").unwrap();
        assert_eq!(hash.matches(name), !name.as_str().starts_with('$'));
    }
});
