//! The topic explorer in headless Chromium: the model ([`TopicTree`]) fed plain messages, and the view rendered
//! from it (nodes and counts, expanding, the search box, the selected topic's details).

use std::collections::HashSet;

use leptos::prelude::*;
use roost_web::explorer::view::format_time;
use roost_web::explorer::{Explorer, HistoryLimits, MAX_TOPICS, Payload, TopicMessage, TopicTree};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::{Element, HtmlElement, HtmlInputElement};

wasm_bindgen_test_configure!(run_in_browser);

/// A text message on `topic`.
fn text(topic: &str, value: &str) -> TopicMessage {
    TopicMessage {
        topic: topic.into(),
        payload: Payload::Text(value.into()),
        size: value.len(),
        qos: 0,
        retain: false,
        received_ms: 0,
        properties: Default::default(),
    }
}

/// The topics of the rows shown with `expanded` open.
fn rows(tree: &TopicTree, expanded: &[&str]) -> Vec<(String, usize)> {
    let expanded: HashSet<&str> = expanded.iter().copied().collect();
    tree.rows(|topic| expanded.contains(topic), 100)
        .into_iter()
        .map(|row| (row.topic, row.depth))
        .collect()
}

#[wasm_bindgen_test]
fn the_model_counts_per_topic_and_per_subtree() {
    let mut tree = TopicTree::default();
    tree.insert(text("kitchen/temp", "21.5"));
    tree.insert(text("kitchen/temp", "21.6"));
    tree.insert(text("kitchen/humidity", "40"));
    tree.insert(text("kitchen", "on"));
    tree.insert(text("garage/door", "open"));
    assert_eq!(tree.topics(), 4);
    assert_eq!(tree.root().total(), 5);
    let kitchen = tree.get("kitchen").unwrap();
    assert_eq!((kitchen.total(), kitchen.count()), (4, 1));
    let temp = tree.get("kitchen/temp").unwrap();
    assert_eq!((temp.total(), temp.count()), (2, 2));
    assert_eq!(temp.last().unwrap().payload.as_str(), "21.6");
    assert!(tree.get("kitchen/none").is_none());
    assert!(tree.get("garage").unwrap().last().is_none(), "a level, not a topic");
}

#[wasm_bindgen_test]
fn the_model_keeps_empty_levels_apart() {
    let mut tree = TopicTree::default();
    tree.insert(text("/a", "1"));
    tree.insert(text("a", "2"));
    tree.insert(text("a//b", "3"));
    assert_eq!(tree.topics(), 3);
    assert_eq!(tree.get("/a").unwrap().last().unwrap().payload.as_str(), "1");
    assert_eq!(tree.get("a//b").unwrap().last().unwrap().payload.as_str(), "3");
    assert_eq!(tree.get("a").unwrap().total(), 2);
}

#[wasm_bindgen_test]
fn the_model_rows_follow_what_is_expanded() {
    let mut tree = TopicTree::default();
    for topic in ["b/x", "a/y/z", "a/x", "c"] {
        tree.insert(text(topic, "1"));
    }
    assert_eq!(rows(&tree, &[]), [("a".into(), 0), ("b".into(), 0), ("c".into(), 0)]);
    assert_eq!(
        rows(&tree, &["a", "a/y"]),
        [
            ("a".into(), 0),
            ("a/x".into(), 1),
            ("a/y".into(), 1),
            ("a/y/z".into(), 2),
            ("b".into(), 0),
            ("c".into(), 0)
        ]
    );
    // A expanded node under a collapsed one stays hidden.
    assert_eq!(rows(&tree, &["a/y"]).len(), 3);
    assert_eq!(tree.rows(|_| true, 2).len(), 2, "limited");
}

#[wasm_bindgen_test]
fn the_model_is_bounded_in_topics_but_keeps_updating_known_ones() {
    let mut tree = TopicTree::new(2);
    tree.insert(text("a", "1"));
    tree.insert(text("b", "1"));
    tree.insert(text("c", "1"));
    tree.insert(text("a", "2"));
    tree.insert(text("a/d", "1"));
    assert_eq!(tree.topics(), 2);
    assert_eq!(tree.dropped(), 2);
    assert!(tree.get("c").is_none());
    assert!(tree.get("a/d").is_none());
    assert_eq!(tree.get("a").unwrap().last().unwrap().payload.as_str(), "2");
    assert_eq!(tree.root().total(), 3);
    assert_eq!(TopicTree::default().topics(), 0);
    assert_eq!(MAX_TOPICS, 10_000);
}

#[wasm_bindgen_test]
fn the_model_searches_by_substring_ignoring_case() {
    let mut tree = TopicTree::default();
    for topic in ["kitchen/temp", "Garage/Temp", "kitchen/humidity", "office"] {
        tree.insert(text(topic, "1"));
    }
    assert_eq!(tree.search("temp", 10), ["Garage/Temp", "kitchen/temp"]);
    assert_eq!(tree.search("KITCHEN", 10), ["kitchen/humidity", "kitchen/temp"]);
    assert_eq!(tree.search("kitchen", 1).len(), 1);
    assert!(tree.search("cellar", 10).is_empty());
}

#[wasm_bindgen_test]
fn payloads_are_text_when_utf8_and_hex_otherwise_and_bounded() {
    assert_eq!(Payload::from_bytes(b"21.5"), Payload::Text("21.5".into()));
    assert_eq!(Payload::from_bytes(&[0xff, 0xfe]), Payload::Hex("ff fe".into()));
    assert_eq!(Payload::from_bytes(b""), Payload::Text(String::new()));
    let long = "é".repeat(3000); // 6000 bytes of two-byte characters: the cut at 4096 falls between two.
    let Payload::Text(shown) = Payload::from_bytes(long.as_bytes()) else {
        panic!("text")
    };
    assert_eq!(shown.len(), 4096);
    let odd = format!("x{long}"); // Now the cut splits an "é": only whole characters are kept.
    let Payload::Text(shown) = Payload::from_bytes(odd.as_bytes()) else {
        panic!("text")
    };
    assert_eq!(shown.len(), 4095);
    let Payload::Hex(hex) = Payload::from_bytes(&[0xff; 5000]) else {
        panic!("hex")
    };
    assert_eq!(hex.len(), 1024 * 3 - 1);
}

/// An `Explorer` over `tree`, mounted in a fresh element of the page's body.
struct Mounted {
    parent: HtmlElement,
    _handle: leptos::mount::UnmountHandle<leptos::tachys::view::any_view::AnyViewState>,
}

impl Mounted {
    fn new(tree: RwSignal<TopicTree>) -> Self {
        let document = document();
        let parent = document.create_element("div").unwrap().unchecked_into::<HtmlElement>();
        document.body().unwrap().append_child(&parent).unwrap();
        let handle = leptos::mount::mount_to(parent.clone(), move || view! { <Explorer tree=tree /> }.into_any());
        Self {
            parent,
            _handle: handle,
        }
    }

    fn all(&self, selector: &str) -> Vec<Element> {
        let list = self.parent.query_selector_all(selector).unwrap();
        (0..list.length())
            .map(|i| list.item(i).unwrap().unchecked_into::<Element>())
            .collect()
    }

    /// The shown rows: topic, name, count, value and whether marked retained.
    fn rows(&self) -> Vec<(String, String, String, Option<String>, bool)> {
        self.all(".tree-node")
            .into_iter()
            .map(|row| {
                let text = |selector: &str| {
                    row.query_selector(selector)
                        .unwrap()
                        .map(|element| element.text_content().unwrap_or_default())
                };
                (
                    row.get_attribute("data-topic").unwrap(),
                    text(".tree-name").unwrap(),
                    text(".tree-count").unwrap(),
                    text(".tree-value"),
                    text(".tree-retained").is_some(),
                )
            })
            .collect()
    }

    fn row(&self, topic: &str) -> Element {
        self.parent
            .query_selector(&format!(r#".tree-node[data-topic="{topic}"]"#))
            .unwrap()
            .unwrap_or_else(|| panic!("a row for {topic}"))
    }

    fn click(&self, topic: &str, button: &str) {
        self.row(topic)
            .query_selector(button)
            .unwrap()
            .expect("the button")
            .unchecked_into::<HtmlElement>()
            .click();
    }

    fn search(&self, needle: &str) {
        let input = self
            .parent
            .query_selector(".explorer-search")
            .unwrap()
            .unwrap()
            .unchecked_into::<HtmlInputElement>();
        input.set_value(needle);
        input.dispatch_event(&web_sys::Event::new("input").unwrap()).unwrap();
    }

    fn details(&self) -> Option<String> {
        let details = self.parent.query_selector(".details").unwrap()?;
        details.text_content()
    }
}

fn house() -> TopicTree {
    let mut tree = TopicTree::default();
    let mut retained = text("kitchen/temp", "21.5");
    retained.retain = true;
    retained.qos = 1;
    tree.insert(retained);
    tree.insert(text("kitchen/humidity", "40"));
    tree.insert(text("kitchen/humidity", "41"));
    tree.insert(TopicMessage {
        topic: "garage/door".into(),
        payload: Payload::Hex("ff 00".into()),
        size: 2,
        qos: 2,
        retain: false,
        received_ms: 1_700_000_000_000,
        properties: Default::default(),
    });
    tree
}

fn row(
    topic: &str,
    name: &str,
    count: &str,
    value: Option<&str>,
    retain: bool,
) -> (String, String, String, Option<String>, bool) {
    (topic.into(), name.into(), count.into(), value.map(Into::into), retain)
}

#[wasm_bindgen_test]
async fn the_tree_shows_first_levels_with_counts_and_expands() {
    let tree = RwSignal::new(house());
    let shown = Mounted::new(tree);
    leptos::task::tick().await;
    assert_eq!(
        shown.rows(),
        [
            row("garage", "garage", "1", None, false),
            row("kitchen", "kitchen", "3", None, false)
        ]
    );
    assert_eq!(
        shown.row("kitchen").get_attribute("aria-expanded").as_deref(),
        Some("false")
    );

    shown.click("kitchen", ".tree-toggle");
    leptos::task::tick().await;
    assert_eq!(
        shown.rows(),
        [
            row("garage", "garage", "1", None, false),
            row("kitchen", "kitchen", "3", None, false),
            row("kitchen/humidity", "humidity", "2", Some("41"), false),
            row("kitchen/temp", "temp", "1", Some("21.5"), true),
        ]
    );
    assert_eq!(
        shown.row("kitchen").get_attribute("aria-expanded").as_deref(),
        Some("true")
    );
    assert_eq!(
        shown.row("kitchen/temp").get_attribute("aria-expanded"),
        None,
        "a leaf is neither open nor closed"
    );
    assert_eq!(
        shown.row("kitchen/temp").get_attribute("aria-level").as_deref(),
        Some("2")
    );
    assert!(
        shown
            .row("kitchen/temp")
            .query_selector(".tree-toggle")
            .unwrap()
            .is_none(),
        "a leaf"
    );

    // New messages update counts and values in place.
    tree.update(|tree| tree.insert(text("kitchen/humidity", "42")));
    leptos::task::tick().await;
    assert_eq!(
        shown.rows()[2],
        row("kitchen/humidity", "humidity", "3", Some("42"), false)
    );
    assert_eq!(shown.rows()[1].2, "4");

    shown.click("kitchen", ".tree-toggle");
    leptos::task::tick().await;
    assert_eq!(shown.rows().len(), 2, "collapsed again");
}

#[wasm_bindgen_test]
async fn the_search_box_filters_topics() {
    let shown = Mounted::new(RwSignal::new(house()));
    shown.search("HUMID");
    leptos::task::tick().await;
    assert_eq!(
        shown.rows(),
        [row("kitchen/humidity", "kitchen/humidity", "2", Some("41"), false)]
    );
    shown.search("");
    leptos::task::tick().await;
    assert_eq!(shown.rows().len(), 2);
}

#[wasm_bindgen_test]
async fn selecting_a_topic_shows_its_last_message() {
    let shown = Mounted::new(RwSignal::new(house()));
    assert_eq!(shown.details(), None);
    shown.click("kitchen", ".tree-toggle");
    leptos::task::tick().await;
    shown.click("kitchen/temp", ".tree-topic");
    leptos::task::tick().await;
    let details = shown.details().expect("details");
    assert!(details.contains("kitchen/temp"), "{details}");
    assert!(details.contains("QoS1"), "{details}");
    assert!(details.contains("Retainedyes"), "{details}");
    assert!(details.contains("4 bytes, text"), "{details}");
    assert!(details.contains("21.5"), "{details}");
    assert_eq!(
        shown.row("kitchen/temp").get_attribute("aria-selected").as_deref(),
        Some("true")
    );
    assert_eq!(
        shown.row("kitchen").get_attribute("aria-selected").as_deref(),
        Some("false")
    );

    shown.click("garage", ".tree-toggle");
    leptos::task::tick().await;
    shown.click("garage/door", ".tree-topic");
    leptos::task::tick().await;
    let details = shown.details().expect("details");
    assert!(details.contains("2 bytes, hex (not UTF-8)"), "{details}");
    assert!(details.contains("ff 00"), "{details}");
    // In this browser's own time zone, with its offset, rather than UTC.
    assert!(details.contains(&format_time(1_700_000_000_000)), "{details}");
    assert!(!details.contains("2023-11-14T22:13:20.000Z"), "{details}");

    shown.click("garage", ".tree-topic");
    leptos::task::tick().await;
    let details = shown.details().expect("details");
    assert!(details.contains("1 message below"), "{details}");
    let summary = shown.parent.query_selector(".explorer-summary").unwrap().unwrap();
    assert_eq!(summary.text_content().as_deref(), Some("3 topics, 4 messages"));
}

/// The payloads of `topic`'s history, oldest first.
fn history(tree: &TopicTree, topic: &str) -> Vec<String> {
    tree.get(topic)
        .map(|node| {
            node.history()
                .map(|(_, message)| message.payload.as_str().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[wasm_bindgen_test]
fn the_history_keeps_the_last_messages_of_each_topic() {
    let limits = HistoryLimits {
        per_topic: 3,
        ..HistoryLimits::default()
    };
    let mut tree = TopicTree::with_limits(10, limits);
    for value in 1..=5 {
        tree.insert(text("a", &value.to_string()));
    }
    tree.insert(text("b", "x"));
    assert_eq!(history(&tree, "a"), ["3", "4", "5"]);
    assert_eq!(history(&tree, "b"), ["x"]);
    let seqs: Vec<u64> = tree.get("a").unwrap().history().map(|(seq, _)| seq).collect();
    assert!(seqs.windows(2).all(|pair| pair[0] < pair[1]), "{seqs:?}");
    assert_eq!(
        tree.get("a").unwrap().count(),
        5,
        "counts are not bounded by the history"
    );
    let cost = text("a", "1").cost();
    assert_eq!(tree.history_bytes(), 3 * cost + text("b", "x").cost());
}

#[wasm_bindgen_test]
fn the_histories_together_are_bounded_in_bytes_oldest_first() {
    let cost = text("a", "1").cost();
    let limits = HistoryLimits {
        per_topic: 100,
        max_bytes: 4 * cost,
        max_messages: 1000,
    };
    let mut tree = TopicTree::with_limits(10, limits);
    tree.insert(text("a", "1"));
    tree.insert(text("b", "1"));
    tree.insert(text("a", "2"));
    tree.insert(text("b", "2"));
    assert_eq!(tree.history_bytes(), 4 * cost);
    tree.insert(text("c", "1"));
    // The oldest message of the whole tree went: a's first.
    assert_eq!(history(&tree, "a"), ["2"]);
    assert_eq!(history(&tree, "b"), ["1", "2"]);
    assert_eq!(history(&tree, "c"), ["1"]);
    assert!(tree.history_bytes() <= 4 * cost);
    // A topic whose history the bound emptied still shows its last message.
    for value in 3..=6 {
        tree.insert(text("b", &value.to_string()));
    }
    assert_eq!(history(&tree, "a"), Vec::<String>::new());
    assert_eq!(tree.get("a").unwrap().last().unwrap().payload.as_str(), "2");
    assert_eq!(history(&tree, "b"), ["3", "4", "5", "6"]);
}

#[wasm_bindgen_test]
fn the_histories_together_are_bounded_in_messages_even_with_stale_entries() {
    let limits = HistoryLimits {
        per_topic: 2,
        max_bytes: usize::MAX,
        max_messages: 5,
    };
    let mut tree = TopicTree::with_limits(10, limits);
    // Ten messages on one topic: the per-topic bound keeps 2, the arrival queue at most 5 entries.
    for value in 0..10 {
        tree.insert(text("a", &value.to_string()));
    }
    assert_eq!(history(&tree, "a"), ["8", "9"]);
    tree.insert(text("b", "x"));
    tree.insert(text("c", "y"));
    tree.insert(text("d", "z"));
    tree.insert(text("e", "w"));
    // The entries of 8 and 9 reached the front of the queue and went.
    assert_eq!(history(&tree, "a"), ["9"]);
    tree.insert(text("f", "v"));
    assert_eq!(history(&tree, "a"), Vec::<String>::new());
    assert_eq!(history(&tree, "f"), ["v"]);
}

#[wasm_bindgen_test]
fn retained_topics_follow_the_retain_flag_and_empty_payloads() {
    let mut tree = TopicTree::default();
    let retained = |topic: &str, value: &str| TopicMessage {
        retain: true,
        ..text(topic, value)
    };
    tree.insert(retained("house/kitchen/temp", "21"));
    tree.insert(retained("house/kitchen", "on"));
    tree.insert(retained("house/garage/door", "open"));
    tree.insert(text("house/garage/light", "off"));
    tree.insert(retained("office", "1"));
    assert_eq!(
        tree.retained_under("house"),
        ["house/garage/door", "house/kitchen", "house/kitchen/temp"]
    );
    assert_eq!(
        tree.retained_under("house/kitchen"),
        ["house/kitchen", "house/kitchen/temp"]
    );
    assert!(tree.retained_under("house/garage/light").is_empty());
    assert!(tree.retained_under("cellar").is_empty());
    // A live message without the flag leaves the stored one as it is.
    tree.insert(text("house/kitchen/temp", "22"));
    assert!(tree.get("house/kitchen/temp").unwrap().is_retained());
    // An empty retained message deletes it ([MQTT-3.3.1-6]).
    let mut delete = retained("house/kitchen/temp", "");
    delete.size = 0;
    tree.insert(delete);
    assert_eq!(tree.retained_under("house/kitchen"), ["house/kitchen"]);
}

#[wasm_bindgen_test]
fn clearing_forgets_everything_but_the_limits() {
    let limits = HistoryLimits {
        per_topic: 2,
        ..HistoryLimits::default()
    };
    let mut tree = TopicTree::with_limits(1, limits);
    tree.insert(text("a", "1"));
    tree.insert(text("b", "1"));
    tree.clear();
    assert_eq!(
        (tree.topics(), tree.root().total(), tree.dropped(), tree.history_bytes()),
        (0, 0, 0, 0)
    );
    for value in 1..=3 {
        tree.insert(text("b", &value.to_string()));
    }
    tree.insert(text("c", "1"));
    assert_eq!(history(&tree, "b"), ["2", "3"]);
    assert_eq!(tree.dropped(), 1, "still one topic at most");
}

#[wasm_bindgen_test]
async fn dollar_topics_are_hidden_unless_asked_for() {
    let mut tree = house();
    tree.insert(text("$SYS/broker/uptime", "5"));
    let shown = Mounted::new(RwSignal::new(tree.clone()));
    leptos::task::tick().await;
    let topics: Vec<String> = shown.rows().into_iter().map(|row| row.0).collect();
    assert_eq!(topics, ["garage", "kitchen"]);
    let summary = shown.parent.query_selector(".explorer-summary").unwrap().unwrap();
    assert_eq!(summary.text_content().as_deref(), Some("3 topics, 4 messages"));
    shown.search("uptime");
    leptos::task::tick().await;
    assert!(shown.rows().is_empty());
    shown.search("");
    let checkbox = shown
        .parent
        .query_selector(".explorer-dollar input")
        .unwrap()
        .unwrap()
        .unchecked_into::<HtmlElement>();
    checkbox.click();
    leptos::task::tick().await;
    let topics: Vec<String> = shown.rows().into_iter().map(|row| row.0).collect();
    assert_eq!(topics, ["$SYS", "garage", "kitchen"]);
    assert_eq!(summary.text_content().as_deref(), Some("4 topics, 5 messages"));
    assert_eq!(tree.counts(false), (3, 4));
    assert_eq!(tree.counts(true), (4, 5));
}

#[wasm_bindgen_test]
fn the_tree_keys_follow_the_aria_tree_pattern() {
    use roost_web::explorer::Row;
    use roost_web::explorer::keys::{TreeAction, tree_key};
    let line = |topic: &str, depth: usize, has_children: bool| Row {
        topic: topic.into(),
        name: topic.rsplit('/').next().unwrap().into(),
        depth,
        has_children,
    };
    // garage (closed), kitchen (open) > kitchen/fridge (open) > kitchen/fridge/temp, kitchen/humidity
    let rows = [
        line("garage", 0, true),
        line("kitchen", 0, true),
        line("kitchen/fridge", 1, true),
        line("kitchen/fridge/temp", 2, false),
        line("kitchen/humidity", 1, false),
    ];
    let open = |topic: &str| topic == "kitchen" || topic == "kitchen/fridge";
    let key = |current: usize, key: &str| tree_key(&rows, current, key, open);
    assert_eq!(key(0, "ArrowDown"), Some(TreeAction::Focus(1)));
    assert_eq!(key(4, "ArrowDown"), Some(TreeAction::Focus(4)), "the last line stays");
    assert_eq!(key(0, "ArrowUp"), Some(TreeAction::Focus(0)));
    assert_eq!(key(3, "Home"), Some(TreeAction::Focus(0)));
    assert_eq!(key(0, "End"), Some(TreeAction::Focus(4)));
    assert_eq!(
        key(0, "ArrowRight"),
        Some(TreeAction::Expand(0)),
        "a closed level opens"
    );
    assert_eq!(
        key(1, "ArrowRight"),
        Some(TreeAction::Focus(2)),
        "an open level goes to its first child"
    );
    assert_eq!(key(3, "ArrowRight"), Some(TreeAction::Focus(3)), "a leaf stays");
    assert_eq!(
        key(2, "ArrowLeft"),
        Some(TreeAction::Collapse(2)),
        "an open level closes"
    );
    assert_eq!(
        key(3, "ArrowLeft"),
        Some(TreeAction::Focus(2)),
        "a leaf goes to its parent"
    );
    assert_eq!(
        key(4, "ArrowLeft"),
        Some(TreeAction::Focus(1)),
        "past its sibling's children"
    );
    assert_eq!(
        key(0, "ArrowLeft"),
        Some(TreeAction::Focus(0)),
        "a closed first level stays"
    );
    assert_eq!(key(3, "Enter"), Some(TreeAction::Select(3)));
    assert_eq!(key(3, " "), Some(TreeAction::Select(3)));
    assert_eq!(key(3, "a"), None, "other keys are left to the page");
    assert_eq!(tree_key(&[], 0, "ArrowDown", open), None, "an empty tree");
}

#[wasm_bindgen_test]
fn times_are_local_with_their_offset() {
    let ms = 1_700_000_000_123_u64;
    let date = js_sys::Date::new(&(ms as f64).into());
    let offset = -(date.get_timezone_offset() as i64);
    let expected = format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.123 {}{:02}:{:02}",
        date.get_full_year(),
        date.get_month() + 1,
        date.get_date(),
        date.get_hours(),
        date.get_minutes(),
        date.get_seconds(),
        if offset < 0 { '-' } else { '+' },
        offset.abs() / 60,
        offset.abs() % 60
    );
    assert_eq!(format_time(ms), expected);
    // Whatever the zone, the same instant: parsing it back (ISO form with the offset) gives the same time.
    let iso = format_time(ms).replacen(' ', "T", 1).replacen(' ', "", 1);
    assert_eq!(js_sys::Date::parse(&iso), ms as f64, "{iso}");
}

#[wasm_bindgen_test]
async fn a_deleted_retained_message_says_deleted_in_the_tree() {
    let tree = RwSignal::new(TopicTree::default());
    let retained = |payload: &str| TopicMessage {
        topic: "porch/light".into(),
        payload: Payload::Text(payload.into()),
        size: payload.len(),
        qos: 0,
        retain: true,
        received_ms: 1,
        properties: Default::default(),
    };
    tree.update(|tree| tree.insert(retained("on")));
    let shown = Mounted::new(tree);
    leptos::task::tick().await;
    shown.click("porch", ".tree-toggle");
    leptos::task::tick().await;
    let line = shown.row("porch/light");
    assert!(line.query_selector(".tree-retained").unwrap().is_some());
    assert!(line.query_selector(".tree-deleted").unwrap().is_none());
    tree.update(|tree| tree.insert(retained("")));
    leptos::task::tick().await;
    let line = shown.row("porch/light");
    assert_eq!(
        line.query_selector(".tree-deleted")
            .unwrap()
            .map(|e| e.text_content().unwrap()),
        Some("deleted".to_owned())
    );
    assert!(
        line.query_selector(".tree-retained").unwrap().is_none(),
        "no R once deleted"
    );
    assert!(line.query_selector(".tree-value").unwrap().is_none(), "no empty value");
    // Published again: no longer deleted.
    tree.update(|tree| tree.insert(retained("off")));
    leptos::task::tick().await;
    let line = shown.row("porch/light");
    assert!(line.query_selector(".tree-deleted").unwrap().is_none());
    assert_eq!(
        line.query_selector(".tree-value")
            .unwrap()
            .unwrap()
            .text_content()
            .unwrap(),
        "off"
    );
}
