//! The publish form in headless Chromium: the draft's checks, saved messages as JSON, and the component
//! (publishing with properties, the JSON hint, refusals in words, saving, one-click buttons, localStorage).

use std::sync::{Arc, Mutex};

use leptos::prelude::*;
use roost_web::mqtt::{Outgoing, Publisher};
use roost_web::publish::draft::parse_user_properties;
use roost_web::publish::saved::{MAX_SAVED, from_json, to_json, with_saved};
use roost_web::publish::{Draft, PayloadFormat, PublishForm, SavedMessage};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::{Element, HtmlElement, HtmlInputElement, HtmlSelectElement, HtmlTextAreaElement};

wasm_bindgen_test_configure!(run_in_browser);

fn draft(topic: &str, payload: &str) -> Draft {
    Draft {
        topic: topic.into(),
        payload: payload.into(),
        ..Draft::default()
    }
}

#[wasm_bindgen_test]
fn a_draft_becomes_an_outgoing_message_with_its_properties() {
    let full = Draft {
        format: PayloadFormat::Json,
        qos: 2,
        retain: true,
        content_type: "application/json".into(),
        response_topic: "reply/here".into(),
        correlation_data: "42".into(),
        message_expiry: " 60 ".into(),
        user_properties: "room=kitchen\n\nformula=a=b\n".into(),
        ..draft("kitchen/light/set", r#"{"on": true}"#)
    };
    let outgoing = full.to_outgoing().unwrap();
    assert_eq!(
        outgoing,
        Outgoing {
            topic: "kitchen/light/set".into(),
            payload: r#"{"on": true}"#.into(),
            qos: 2,
            retain: true,
            content_type: "application/json".into(),
            response_topic: "reply/here".into(),
            correlation_data: "42".into(),
            message_expiry: Some(60),
            user_properties: vec![("room".into(), "kitchen".into()), ("formula".into(), "a=b".into())],
        }
    );
    assert_eq!(draft("t", "").to_outgoing().unwrap().message_expiry, None);
}

#[wasm_bindgen_test]
fn a_bad_draft_says_what_is_wrong() {
    assert_eq!(
        draft("", "x").to_outgoing().unwrap_err(),
        "Enter a topic to publish to."
    );
    let json = Draft {
        format: PayloadFormat::Json,
        ..draft("t", "{oops")
    };
    let why = json.to_outgoing().unwrap_err();
    assert!(
        why.starts_with("The payload is not valid JSON (") && why.contains("line 1"),
        "{why}"
    );
    assert!(matches!(json.json_hint(), Some(Err(_))));
    assert_eq!(draft("t", "{oops").json_hint(), None, "text is not checked");
    let expiry = Draft {
        message_expiry: "-1".into(),
        ..draft("t", "")
    };
    assert!(
        expiry
            .to_outgoing()
            .unwrap_err()
            .starts_with("Message expiry must be a whole number")
    );
    let too_big = Draft {
        message_expiry: "4294967296".into(),
        ..draft("t", "")
    };
    assert!(too_big.to_outgoing().is_err());
    assert_eq!(
        parse_user_properties("a=1\nnovalue").unwrap_err(),
        "User property line 2 must read name=value, not \"novalue\"."
    );
    assert!(parse_user_properties("=x").is_err(), "an empty name");
}

fn saved(name: &str, topic: &str) -> SavedMessage {
    SavedMessage {
        name: name.into(),
        draft: draft(topic, "on"),
    }
}

#[wasm_bindgen_test]
fn saved_messages_round_trip_through_json_and_are_bounded() {
    let full = SavedMessage {
        name: "Light on".into(),
        draft: Draft {
            format: PayloadFormat::Json,
            qos: 1,
            retain: true,
            content_type: "a/b".into(),
            response_topic: "r".into(),
            correlation_data: "c".into(),
            message_expiry: "9".into(),
            user_properties: "k=v".into(),
            ..draft("kitchen/light/set", "{\"on\":true}")
        },
    };
    let list = vec![full, saved("two", "t")];
    assert_eq!(from_json(&to_json(&list)).unwrap(), list);
    // Hand-edited or foreign data: bad entries skipped, bad values defaulted, not-a-list refused.
    let odd = r#"[{"name":"x","topic":"t","qos":7,"retain":"yes"},{"topic":"no name"},3,{"name":"y"}]"#;
    assert_eq!(
        from_json(odd).unwrap(),
        [saved("x", "t")].map(|mut s| {
            s.draft.payload.clear();
            s
        })
    );
    assert!(from_json("{}").is_err());
    assert!(from_json("not json").is_err());

    let replaced = with_saved(list.clone(), saved("two", "other"));
    assert_eq!(replaced.len(), 2);
    assert_eq!(replaced[1].draft.topic, "other");
    let mut many = Vec::new();
    for i in 0..=MAX_SAVED {
        many = with_saved(many, saved(&i.to_string(), "t"));
    }
    assert_eq!(many.len(), MAX_SAVED);
    assert_eq!(many[0].name, "1", "the oldest went");
}

/// A `PublishForm` with a recording (or refusing) publisher, its saved messages under `key`.
struct Mounted {
    parent: HtmlElement,
    published: Arc<Mutex<Vec<Outgoing>>>,
    _handle: leptos::mount::UnmountHandle<leptos::tachys::view::any_view::AnyViewState>,
}

impl Mounted {
    fn new(key: &'static str, refuse: Option<&'static str>) -> Self {
        let document = document();
        let parent = document.create_element("div").unwrap().unchecked_into::<HtmlElement>();
        document.body().unwrap().append_child(&parent).unwrap();
        let published = Arc::new(Mutex::new(Vec::new()));
        let record = published.clone();
        let handle = leptos::mount::mount_to(parent.clone(), move || {
            provide_context(Publisher::new(move |outgoing| match refuse {
                Some(why) => Err(why.to_owned()),
                None => {
                    record.lock().unwrap().push(outgoing);
                    Ok(())
                }
            }));
            view! { <PublishForm storage_key=key /> }.into_any()
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

    fn text(&self, selector: &str) -> String {
        self.one(selector)
            .unwrap_or_else(|| panic!("no {selector}"))
            .text_content()
            .unwrap_or_default()
    }

    fn fill(&self, selector: &str, value: &str) {
        let element = self.one(selector).unwrap_or_else(|| panic!("no {selector}"));
        if let Some(input) = element.dyn_ref::<HtmlInputElement>() {
            input.set_value(value);
        } else if let Some(area) = element.dyn_ref::<HtmlTextAreaElement>() {
            area.set_value(value);
        } else {
            element.unchecked_ref::<HtmlSelectElement>().set_value(value);
            element.dispatch_event(&web_sys::Event::new("change").unwrap()).unwrap();
            return;
        }
        element.dispatch_event(&web_sys::Event::new("input").unwrap()).unwrap();
    }

    fn click(&self, selector: &str) {
        self.one(selector)
            .unwrap_or_else(|| panic!("no {selector}"))
            .unchecked_into::<HtmlElement>()
            .click();
    }

    fn taken(&self) -> Vec<Outgoing> {
        std::mem::take(&mut *self.published.lock().unwrap())
    }
}

fn clear(key: &str) {
    window().local_storage().unwrap().unwrap().remove_item(key).unwrap();
}

#[wasm_bindgen_test]
async fn the_form_publishes_what_was_typed_with_properties() {
    clear("test.publish.form");
    let shown = Mounted::new("test.publish.form", None);
    shown.fill(".publish-topic", "kitchen/light/set");
    shown.fill(".publish-payload", r#"{"on":true}"#);
    shown.fill(".publish-format", "json");
    shown.fill(".publish-qos", "1");
    shown.click(".publish-retain");
    shown.fill(".publish-content-type", "application/json");
    shown.fill(".publish-user-properties", "source=test");
    leptos::task::tick().await;
    assert_eq!(shown.text(".json-hint"), "Valid JSON");
    shown.click(".publish-submit");
    leptos::task::tick().await;
    assert_eq!(shown.text(".publish-outcome"), "Published to kitchen/light/set.");
    let published = shown.taken();
    assert_eq!(published.len(), 1);
    let message = &published[0];
    assert_eq!(
        (
            message.topic.as_str(),
            message.payload.as_str(),
            message.qos,
            message.retain
        ),
        ("kitchen/light/set", r#"{"on":true}"#, 1, true)
    );
    assert_eq!(message.content_type, "application/json");
    assert_eq!(message.user_properties, [("source".to_owned(), "test".to_owned())]);

    // Invalid JSON: the hint says so, and nothing is published.
    shown.fill(".publish-payload", r#"{"on":"#);
    leptos::task::tick().await;
    let hint = shown.one(".json-hint").unwrap();
    assert_eq!(hint.get_attribute("data-valid").as_deref(), Some("false"));
    shown.click(".publish-submit");
    leptos::task::tick().await;
    let outcome = shown.one(".publish-outcome").unwrap();
    assert_eq!(outcome.get_attribute("role").as_deref(), Some("alert"));
    assert!(
        shown
            .text(".publish-outcome")
            .starts_with("The payload is not valid JSON")
    );
    assert!(shown.taken().is_empty());
}

#[wasm_bindgen_test]
async fn a_refused_publish_says_why() {
    clear("test.publish.refused");
    let shown = Mounted::new(
        "test.publish.refused",
        Some("Not connected to the broker: nothing was published."),
    );
    shown.fill(".publish-topic", "a/b");
    shown.click(".publish-submit");
    leptos::task::tick().await;
    assert_eq!(
        shown.text(".publish-outcome"),
        "Not connected to the broker: nothing was published."
    );
    // An empty topic: the browser's own check (the field is required) stops the form before it is submitted.
    shown.fill(".publish-topic", "");
    let topic = shown
        .one(".publish-topic")
        .unwrap()
        .unchecked_into::<HtmlInputElement>();
    assert!(!topic.check_validity());
}

#[wasm_bindgen_test]
async fn saved_messages_become_buttons_that_survive_a_reload() {
    let key = "test.publish.saved";
    clear(key);
    let shown = Mounted::new(key, None);
    assert!(shown.one(".saved-none").is_some());
    shown.fill(".publish-topic", "hall/light/set");
    shown.fill(".publish-payload", "ON");
    shown.fill(".save-name", "Hall on");
    shown.click(".save-message");
    leptos::task::tick().await;
    assert_eq!(shown.text(".saved-outcome"), "Saved as \"Hall on\".");
    assert_eq!(shown.text(".saved-publish"), "Hall on");
    assert!(shown.taken().is_empty(), "saving publishes nothing");

    // Another page (a reload) finds it, and one click publishes it.
    let again = Mounted::new(key, None);
    leptos::task::tick().await;
    again.click(r#"li[data-name="Hall on"] .saved-publish"#);
    leptos::task::tick().await;
    let published = again.taken();
    assert_eq!(published.len(), 1);
    assert_eq!(
        (published[0].topic.as_str(), published[0].payload.as_str()),
        ("hall/light/set", "ON")
    );
    assert_eq!(again.text(".publish-outcome"), "Published to hall/light/set.");

    // Edit loads it into the form; Remove forgets it, in storage too.
    again.click(r#"li[data-name="Hall on"] .saved-edit"#);
    leptos::task::tick().await;
    let topic = again
        .one(".publish-topic")
        .unwrap()
        .unchecked_into::<HtmlInputElement>();
    assert_eq!(topic.value(), "hall/light/set");
    again.click(r#"li[data-name="Hall on"] .saved-remove"#);
    leptos::task::tick().await;
    assert!(again.one(".saved-publish").is_none());
    let stored = window().local_storage().unwrap().unwrap().get_item(key).unwrap();
    assert_eq!(stored.as_deref(), Some("[]"));
}

#[wasm_bindgen_test]
async fn unreadable_saved_messages_are_reported_not_lost_silently() {
    let key = "test.publish.corrupt";
    window()
        .local_storage()
        .unwrap()
        .unwrap()
        .set_item(key, "{not json")
        .unwrap();
    let shown = Mounted::new(key, None);
    leptos::task::tick().await;
    assert!(
        shown
            .text(".saved-outcome")
            .starts_with("The saved messages in this browser cannot be read"),
        "{}",
        shown.text(".saved-outcome")
    );
    // A draft that cannot be published is not saved either.
    shown.click(".save-message");
    leptos::task::tick().await;
    assert_eq!(shown.text(".saved-outcome"), "Not saved: Enter a topic to publish to.");
}

#[wasm_bindgen_test]
async fn publish_to_this_topic_fills_the_form_from_the_explorer() {
    use roost_web::explorer::{Explorer, MessageProperties, Payload, TopicMessage, TopicTree};
    use roost_web::publish::PublishTarget;

    clear("test.publish.target");
    let mut tree = TopicTree::default();
    tree.insert(TopicMessage {
        topic: "porch/light".into(),
        payload: Payload::Text("off".into()),
        size: 3,
        qos: 0,
        retain: false,
        received_ms: 0,
        properties: MessageProperties::default(),
    });
    let tree = RwSignal::new(tree);
    let document = document();
    let parent = document.create_element("div").unwrap().unchecked_into::<HtmlElement>();
    document.body().unwrap().append_child(&parent).unwrap();
    let _handle = leptos::mount::mount_to(parent.clone(), move || {
        provide_context(Publisher::new(|_| Ok(())));
        provide_context(PublishTarget(RwSignal::new(None)));
        view! {
            <Explorer tree=tree />
            <PublishForm storage_key="test.publish.target" />
        }
        .into_any()
    });
    leptos::task::tick().await;
    let click = |selector: &str| {
        parent
            .query_selector(selector)
            .unwrap()
            .unwrap_or_else(|| panic!("no {selector}"))
            .unchecked_into::<HtmlElement>()
            .click()
    };
    click(r#".tree-node[data-topic="porch"] .tree-toggle"#);
    leptos::task::tick().await;
    click(r#".tree-node[data-topic="porch/light"] .tree-topic"#);
    leptos::task::tick().await;
    click(".publish-here");
    // The form's effect runs on one tick, the input's value follows on the next.
    leptos::task::tick().await;
    leptos::task::tick().await;
    let topic = parent
        .query_selector(".publish-topic")
        .unwrap()
        .unwrap()
        .unchecked_into::<HtmlInputElement>();
    assert_eq!(topic.value(), "porch/light");
    let focused = document.active_element().expect("a focused element");
    assert_eq!(
        focused.class_name(),
        "publish-topic",
        "the person goes on typing in the form"
    );
}
