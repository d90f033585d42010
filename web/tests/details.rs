//! The selected topic's details in headless Chromium: the history (newest first, each message selectable), the
//! MQTT 5 properties, the payload views, the diff against the previous message, the chart, and deleting retained
//! messages with a confirmation.

use std::sync::{Arc, Mutex};

use leptos::prelude::*;
use roost_web::explorer::{Explorer, MessageProperties, Payload, TopicMessage, TopicTree};
use roost_web::mqtt::{Outgoing, Publisher};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::{Element, HtmlElement, HtmlSelectElement};

wasm_bindgen_test_configure!(run_in_browser);

fn message(topic: &str, value: &str, at: u64) -> TopicMessage {
    TopicMessage {
        topic: topic.into(),
        payload: Payload::Text(value.into()),
        size: value.len(),
        qos: 0,
        retain: false,
        received_ms: at,
        properties: MessageProperties::default(),
    }
}

/// What a test publisher was asked to publish.
type Published = Arc<Mutex<Vec<Outgoing>>>;

/// An `Explorer` over `tree` with a publisher that records (or refuses with `refuse`), mounted in the body.
struct Mounted {
    parent: HtmlElement,
    published: Published,
    _handle: leptos::mount::UnmountHandle<leptos::tachys::view::any_view::AnyViewState>,
}

impl Mounted {
    fn new(tree: RwSignal<TopicTree>, refuse: Option<&'static str>) -> Self {
        let document = document();
        let parent = document.create_element("div").unwrap().unchecked_into::<HtmlElement>();
        document.body().unwrap().append_child(&parent).unwrap();
        let published = Published::default();
        let record = published.clone();
        let handle = leptos::mount::mount_to(parent.clone(), move || {
            provide_context(Publisher::new(move |outgoing| match refuse {
                Some(why) => Err(why.to_owned()),
                None => {
                    record.lock().unwrap().push(outgoing);
                    Ok(())
                }
            }));
            view! { <Explorer tree=tree /> }.into_any()
        });
        Self {
            parent,
            published,
            _handle: handle,
        }
    }

    fn one(&self, selector: &str) -> Option<Element> {
        self.parent.query_selector(selector).unwrap()
    }

    fn all(&self, selector: &str) -> Vec<Element> {
        let list = self.parent.query_selector_all(selector).unwrap();
        (0..list.length())
            .map(|i| list.item(i).unwrap().unchecked_into::<Element>())
            .collect()
    }

    fn text(&self, selector: &str) -> String {
        self.one(selector)
            .unwrap_or_else(|| panic!("no {selector}"))
            .text_content()
            .unwrap_or_default()
    }

    fn click(&self, selector: &str) {
        self.one(selector)
            .unwrap_or_else(|| panic!("no {selector}"))
            .unchecked_into::<HtmlElement>()
            .click();
    }

    async fn select(&self, topic: &str) {
        let levels: Vec<&str> = topic.split('/').collect();
        for depth in 1..levels.len() {
            let level = levels[..depth].join("/");
            self.click(&format!(r#".tree-node[data-topic="{level}"] .tree-toggle"#));
            leptos::task::tick().await;
        }
        self.click(&format!(r#".tree-node[data-topic="{topic}"] .tree-topic"#));
        leptos::task::tick().await;
    }

    fn history(&self) -> Vec<String> {
        self.all(".history-item .history-value")
            .into_iter()
            .map(|value| value.text_content().unwrap_or_default())
            .collect()
    }
}

#[wasm_bindgen_test]
async fn the_history_lists_recent_messages_newest_first_and_each_can_be_shown() {
    let tree = RwSignal::new(TopicTree::default());
    tree.update(|tree| {
        tree.insert(message("sensor/temp", "20", 1_000));
        tree.insert(message("sensor/temp", "21", 2_000));
    });
    let shown = Mounted::new(tree, None);
    shown.select("sensor/temp").await;
    assert_eq!(shown.history(), ["21", "20"]);
    assert_eq!(shown.text(".details-payload"), "21");
    let pressed: Vec<_> = shown
        .all(".history-item")
        .iter()
        .map(|item| item.get_attribute("aria-pressed").unwrap())
        .collect();
    assert_eq!(pressed, ["true", "false"]);

    // A new message is shown while the newest is followed.
    tree.update(|tree| tree.insert(message("sensor/temp", "22", 3_000)));
    leptos::task::tick().await;
    assert_eq!(shown.history(), ["22", "21", "20"]);
    assert_eq!(shown.text(".details-payload"), "22");

    // Picking an older one keeps it shown when newer ones arrive.
    shown.all(".history-item")[2]
        .clone()
        .unchecked_into::<HtmlElement>()
        .click();
    leptos::task::tick().await;
    assert_eq!(shown.text(".details-payload"), "20");
    assert_eq!(shown.text(".diff-none"), "This is the oldest message kept.");
    tree.update(|tree| tree.insert(message("sensor/temp", "23", 4_000)));
    leptos::task::tick().await;
    assert_eq!(shown.text(".details-payload"), "20");
    assert_eq!(shown.history().len(), 4);
}

#[wasm_bindgen_test]
async fn mqtt5_properties_are_shown() {
    let tree = RwSignal::new(TopicTree::default());
    let mut with_properties = message("kitchen/light", "ON", 0);
    with_properties.properties = MessageProperties {
        content_type: Some("text/plain".into()),
        response_topic: Some("kitchen/light/reply".into()),
        correlation_data: Some(Payload::Hex("de ad".into())),
        message_expiry: Some(30),
        payload_utf8: Some(true),
        user_properties: vec![("room".into(), "kitchen".into()), ("room".into(), "hall".into())],
    };
    tree.update(|tree| tree.insert(with_properties));
    let shown = Mounted::new(tree, None);
    shown.select("kitchen/light").await;
    assert_eq!(shown.text(".prop-content-type"), "text/plain");
    assert_eq!(shown.text(".prop-response-topic"), "kitchen/light/reply");
    assert_eq!(shown.text(".prop-correlation-data"), "de ad (hex)");
    assert_eq!(shown.text(".prop-message-expiry"), "in 30 s (as forwarded)");
    assert_eq!(shown.text(".prop-payload-format"), "UTF-8 text");
    let users: Vec<_> = shown
        .all(".prop-user li")
        .iter()
        .map(|item| item.text_content().unwrap())
        .collect();
    assert_eq!(users, ["room: kitchen", "room: hall"]);

    // A message without properties shows none of them.
    tree.update(|tree| tree.insert(message("kitchen/light", "OFF", 1)));
    leptos::task::tick().await;
    assert!(shown.one(".prop-content-type").is_none());
    assert!(shown.one(".prop-user").is_none());
}

#[wasm_bindgen_test]
async fn the_payload_view_toggles_between_text_json_and_hex() {
    let tree = RwSignal::new(TopicTree::default());
    tree.update(|tree| {
        tree.insert(message("device/state", r#"{"on":true}"#, 0));
        tree.insert(message("device/name", "Hé", 0));
    });
    let shown = Mounted::new(tree, None);
    shown.select("device/state").await;
    assert_eq!(shown.text(".details-payload"), r#"{"on":true}"#);
    shown.click(r#".payload-view[data-view="JSON"]"#);
    leptos::task::tick().await;
    assert_eq!(shown.text(".details-payload"), "{\n  \"on\": true\n}");
    let json = shown.one(r#".payload-view[data-view="JSON"]"#).unwrap();
    assert_eq!(json.get_attribute("aria-pressed").as_deref(), Some("true"));
    shown.click(r#".payload-view[data-view="Hex"]"#);
    leptos::task::tick().await;
    assert_eq!(shown.text(".details-payload"), "7b 22 6f 6e 22 3a 74 72 75 65 7d");

    // The choice stays for the next topic; a payload that is not JSON says so.
    shown.click(r#".payload-view[data-view="JSON"]"#);
    leptos::task::tick().await;
    shown.click(r#".tree-node[data-topic="device/name"] .tree-topic"#);
    leptos::task::tick().await;
    assert_eq!(shown.text(".details-payload"), "Hé");
    assert!(
        shown.text(".payload-note").starts_with("Not JSON: "),
        "{}",
        shown.text(".payload-note")
    );
}

#[wasm_bindgen_test]
async fn the_diff_shows_what_changed_since_the_previous_message() {
    let tree = RwSignal::new(TopicTree::default());
    tree.update(|tree| {
        tree.insert(message("device/state", r#"{"on":true,"level":3}"#, 0));
        tree.insert(message("device/state", r#"{"on":false,"level":3}"#, 1));
    });
    let shown = Mounted::new(tree, None);
    shown.select("device/state").await;
    assert_eq!(
        shown.text(".diff"),
        "- {\"on\":true,\"level\":3}\n+ {\"on\":false,\"level\":3}\n"
    );
    shown.click(r#".payload-view[data-view="JSON"]"#);
    leptos::task::tick().await;
    let removed: Vec<_> = shown
        .all(".diff-removed")
        .iter()
        .map(|line| line.text_content().unwrap())
        .collect();
    let added: Vec<_> = shown
        .all(".diff-added")
        .iter()
        .map(|line| line.text_content().unwrap())
        .collect();
    // In the order the device sent the keys: "on" first, so its line ends with a comma.
    assert_eq!(removed, ["-   \"on\": true,\n"]);
    assert_eq!(added, ["+   \"on\": false,\n"]);
    assert_eq!(shown.all(".diff-same").len(), 3, "the braces and the level");

    tree.update(|tree| tree.insert(message("device/state", r#"{"on":false,"level":3}"#, 2)));
    leptos::task::tick().await;
    assert_eq!(shown.text(".diff-none"), "Same payload as the previous message.");
}

#[wasm_bindgen_test]
async fn numbers_and_chosen_json_fields_are_charted() {
    let tree = RwSignal::new(TopicTree::default());
    tree.update(|tree| {
        tree.insert(message("sensor/temp", "20", 1_000));
        tree.insert(message("sensor/temp", "oops", 1_500));
        tree.insert(message("sensor/temp", "22", 2_000));
        tree.insert(message("sensor/json", r#"{"t":{"c":1}}"#, 1_000));
        tree.insert(message("sensor/json", r#"{"t":{"c":3}}"#, 2_000));
        tree.insert(message("sensor/text", "hello", 0));
    });
    let shown = Mounted::new(tree, None);
    shown.select("sensor/temp").await;
    let line = shown.one(".chart-line").expect("a chart");
    assert_eq!(line.get_attribute("points").as_deref(), Some("0.0,96.0 300.0,4.0"));
    assert_eq!(shown.text(".chart-summary"), "last 22, lowest 20, highest 22, 2 values");
    tree.update(|tree| tree.insert(message("sensor/temp", "21", 3_000)));
    leptos::task::tick().await;
    assert_eq!(shown.text(".chart-summary"), "last 21, lowest 20, highest 22, 3 values");

    shown.click(r#".tree-node[data-topic="sensor/json"] .tree-topic"#);
    leptos::task::tick().await;
    assert_eq!(shown.text(".chart-summary"), "no numeric values yet");
    let select = shown
        .one(".chart-source select")
        .unwrap()
        .unchecked_into::<HtmlSelectElement>();
    select.set_value("/t/c");
    select.dispatch_event(&web_sys::Event::new("change").unwrap()).unwrap();
    leptos::task::tick().await;
    assert_eq!(shown.text(".chart-summary"), "last 3, lowest 1, highest 3, 2 values");

    shown.click(r#".tree-node[data-topic="sensor/text"] .tree-topic"#);
    leptos::task::tick().await;
    assert!(shown.one(".chart").is_none(), "no chart without numbers");
}

fn retained(topic: &str, value: &str) -> TopicMessage {
    TopicMessage {
        retain: true,
        ..message(topic, value, 0)
    }
}

#[wasm_bindgen_test]
async fn a_retained_message_is_deleted_after_confirmation() {
    let tree = RwSignal::new(TopicTree::default());
    tree.update(|tree| tree.insert(retained("garage/door", "open")));
    let shown = Mounted::new(tree, None);
    shown.select("garage/door").await;
    assert_eq!(shown.text(".delete-retained"), "Delete retained message");
    shown.click(".delete-retained");
    leptos::task::tick().await;
    assert!(
        shown
            .text(".confirm")
            .contains("Delete the retained message of 1 topic: garage/door?")
    );
    let focused = document().active_element().expect("a focused element");
    assert_eq!(focused.class_name(), "confirm-cancel", "keyboard users land on Cancel");
    shown.click(".confirm-cancel");
    leptos::task::tick().await;
    assert!(shown.one(".confirm").is_none());
    assert!(
        shown.published.lock().unwrap().is_empty(),
        "cancelled: nothing published"
    );

    shown.click(".delete-retained");
    leptos::task::tick().await;
    shown.click(".confirm-delete");
    leptos::task::tick().await;
    let published = shown.published.lock().unwrap().clone();
    let mut expected = Outgoing::new("garage/door", "");
    expected.retain = true;
    assert_eq!(published, [expected]);
    assert_eq!(shown.text(".delete-outcome"), "Deleted 1 retained message.");
    // The broker echoes the empty retained message on `#`: the button goes.
    tree.update(|tree| tree.insert(retained("garage/door", "")));
    leptos::task::tick().await;
    assert!(shown.one(".delete-retained").is_none());
    assert_eq!(shown.history(), ["(empty)", "open"]);
}

#[wasm_bindgen_test]
async fn every_retained_message_under_a_level_is_deleted_after_confirmation() {
    let tree = RwSignal::new(TopicTree::default());
    tree.update(|tree| {
        for i in 0..7 {
            tree.insert(retained(&format!("house/room{i}/light"), "on"));
        }
        tree.insert(message("house/room0/temp", "20", 0));
    });
    let shown = Mounted::new(tree, None);
    shown.select("house").await;
    assert_eq!(
        shown.text(".delete-retained"),
        "Delete 7 retained messages under this topic…"
    );
    shown.click(".delete-retained");
    leptos::task::tick().await;
    let question = shown.text(".confirm");
    assert!(
        question.contains("of 7 topics: house/room0/light, house/room1/light") && question.contains(" and 2 more?"),
        "{question}"
    );
    shown.click(".confirm-delete");
    leptos::task::tick().await;
    let topics: Vec<_> = shown
        .published
        .lock()
        .unwrap()
        .iter()
        .map(|out| out.topic.clone())
        .collect();
    assert_eq!(topics.len(), 7);
    assert!(!topics.contains(&"house/room0/temp".to_owned()));
}

#[wasm_bindgen_test]
async fn a_refused_delete_says_why() {
    let tree = RwSignal::new(TopicTree::default());
    tree.update(|tree| tree.insert(retained("garage/door", "open")));
    let shown = Mounted::new(tree, Some("Not connected to the broker: nothing was published."));
    shown.select("garage/door").await;
    shown.click(".delete-retained");
    leptos::task::tick().await;
    shown.click(".confirm-delete");
    leptos::task::tick().await;
    assert_eq!(
        shown.text(".delete-outcome"),
        "Not deleted: garage/door: Not connected to the broker: nothing was published."
    );
}
