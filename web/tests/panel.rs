//! The control panel's components in headless Chromium, with a topic tree fed by hand and a publisher that
//! records what the cards send: a switch sends its command and shows the reported state, a slider sends on
//! release, the editor publishes the layout retained at QoS 1, a broken layout is explained, discovered devices
//! become cards with their availability, and the broker view shows `$SYS` figures.

use std::sync::{Arc, Mutex};

use leptos::prelude::*;
use roost_web::broker_view::BrokerView;
use roost_web::explorer::{Payload, TopicMessage, TopicTree};
use roost_web::mqtt::{Outgoing, Publisher};
use roost_web::panel::{DiscoveredDevices, Layout, Panel};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::{Element, Event, EventInit, HtmlElement, HtmlInputElement, HtmlSelectElement};

wasm_bindgen_test_configure!(run_in_browser);

fn message(topic: &str, payload: &str, received_ms: u64) -> TopicMessage {
    TopicMessage {
        topic: topic.into(),
        payload: Payload::Text(payload.into()),
        size: payload.len(),
        qos: 0,
        retain: false,
        received_ms,
        properties: Default::default(),
    }
}

/// A component over `tree`, mounted in a fresh element, with a publisher that records every message.
struct Mounted {
    parent: HtmlElement,
    sent: Arc<Mutex<Vec<Outgoing>>>,
    _handle: leptos::mount::UnmountHandle<leptos::tachys::view::any_view::AnyViewState>,
}

#[derive(Clone, Copy)]
enum What {
    Panel,
    Discovered,
    Broker,
}

impl Mounted {
    fn new(tree: RwSignal<TopicTree>, what: What) -> Self {
        let document = document();
        let parent = document.create_element("div").unwrap().unchecked_into::<HtmlElement>();
        document.body().unwrap().append_child(&parent).unwrap();
        let sent = Arc::new(Mutex::new(Vec::new()));
        let recorder = sent.clone();
        let handle = leptos::mount::mount_to(parent.clone(), move || {
            let recorder = recorder.clone();
            provide_context(Publisher::new(move |outgoing| {
                recorder.lock().unwrap().push(outgoing);
                Ok(())
            }));
            match what {
                What::Panel => view! { <Panel tree=tree /> }.into_any(),
                What::Discovered => view! { <DiscoveredDevices tree=tree /> }.into_any(),
                What::Broker => view! { <BrokerView tree=tree /> }.into_any(),
            }
        });
        Self {
            parent,
            sent,
            _handle: handle,
        }
    }

    fn find(&self, selector: &str) -> HtmlElement {
        self.parent
            .query_selector(selector)
            .unwrap()
            .unwrap_or_else(|| panic!("no {selector} in {}", self.parent.inner_html()))
            .unchecked_into()
    }

    fn all(&self, selector: &str) -> Vec<Element> {
        let list = self.parent.query_selector_all(selector).unwrap();
        (0..list.length())
            .map(|i| list.item(i).unwrap().unchecked_into::<Element>())
            .collect()
    }

    fn text(&self) -> String {
        self.parent.text_content().unwrap_or_default()
    }

    fn sent(&self) -> Vec<Outgoing> {
        std::mem::take(&mut *self.sent.lock().unwrap())
    }

    /// Sets `selector`'s value as if typed, firing a bubbling `event` (`input` or `change`).
    fn type_into(&self, selector: &str, value: &str, event: &str) {
        let element = self.find(selector);
        if let Some(input) = element.dyn_ref::<HtmlInputElement>() {
            input.set_value(value);
        } else {
            element.unchecked_ref::<HtmlSelectElement>().set_value(value);
        }
        let init = EventInit::new();
        init.set_bubbles(true);
        element
            .dispatch_event(&Event::new_with_event_init_dict(event, &init).unwrap())
            .unwrap();
    }
}

fn layout_json(cards: &str) -> String {
    format!(r#"{{"roost_panel":1,"cards":[{cards}]}}"#)
}

#[wasm_bindgen_test]
async fn a_switch_sends_its_command_and_shows_the_reported_state() {
    let tree = RwSignal::new(TopicTree::default());
    tree.update(|tree| {
        tree.insert(message(
            "roost/dashboard",
            &layout_json(r#"{"title":"Plug","type":"switch","command_topic":"plug/set","state_topic":"plug/state"}"#),
            1,
        ))
    });
    let shown = Mounted::new(tree, What::Panel);
    leptos::task::tick().await;
    let switch = shown.find(".card-switch");
    assert_eq!(switch.get_attribute("aria-checked").as_deref(), Some("false"));
    assert_eq!(switch.get_attribute("data-state").as_deref(), Some("unknown"));
    assert_eq!(switch.get_attribute("aria-label").as_deref(), Some("Plug"));

    switch.click();
    let sent = shown.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (
            sent[0].topic.as_str(),
            sent[0].payload.as_str(),
            sent[0].qos,
            sent[0].retain
        ),
        ("plug/set", "ON", 1, false)
    );
    leptos::task::tick().await;
    // A click is not a state: the card waits for the device, and says so.
    assert_eq!(
        shown.find(".card-switch").get_attribute("data-state").as_deref(),
        Some("unknown")
    );
    let waiting = shown.find(".card-answer");
    assert_eq!(waiting.get_attribute("data-answer").as_deref(), Some("waiting"));
    assert_eq!(waiting.text_content().unwrap(), "Waiting for the device…");

    tree.update(|tree| tree.insert(message("plug/state", "ON", 2)));
    leptos::task::tick().await;
    leptos::task::tick().await;
    assert!(shown.all(".card-answer").is_empty(), "the device answered");
    let switch = shown.find(".card-switch");
    assert_eq!(switch.get_attribute("aria-checked").as_deref(), Some("true"));
    assert!(switch.text_content().unwrap().contains("On"));
    switch.click();
    assert_eq!(shown.sent()[0].payload, "OFF", "reported on: the click turns it off");

    tree.update(|tree| tree.insert(message("plug/state", "BROKEN", 3)));
    leptos::task::tick().await;
    assert_eq!(
        shown.find(".card-switch").get_attribute("data-state").as_deref(),
        Some("other")
    );
    assert!(shown.find(".card-switch").text_content().unwrap().contains("BROKEN"));
}

#[wasm_bindgen_test]
async fn a_slider_sends_on_release_and_cards_show_values() {
    let tree = RwSignal::new(TopicTree::default());
    let cards = [
        r#"{"title":"Dimmer","type":"slider","topic":"lamp/set","state_topic":"lamp/state","min":0,"max":100,"step":5}"#,
        r#"{"title":"Temp","type":"value","topic":"room/temp","unit":"°C","min":0,"max":40}"#,
        r#"{"title":"Bell","type":"button","topic":"bell","payload":"ring","qos":0}"#,
        r#"{"title":"LCD","type":"text","topic":"lcd"}"#,
        r#"{"title":"Power","type":"chart","topic":"meter","json_field":"W","unit":"W","points":3}"#,
    ];
    tree.update(|tree| {
        tree.insert(message("roost/dashboard", &layout_json(&cards.join(",")), 1));
        tree.insert(message("lamp/state", "40", 1));
        tree.insert(message("room/temp", "20", 1));
    });
    let shown = Mounted::new(tree, What::Panel);
    leptos::task::tick().await;
    let range: HtmlInputElement = shown.find(r#".card-slider input[type="range"]"#).unchecked_into();
    assert_eq!(range.value(), "40");
    shown.type_into(r#".card-slider input[type="range"]"#, "55", "input");
    assert!(shown.sent().is_empty(), "dragging sends nothing");
    shown.type_into(r#".card-slider input[type="range"]"#, "55", "change");
    let sent = shown.sent();
    assert_eq!((sent[0].topic.as_str(), sent[0].payload.as_str()), ("lamp/set", "55"));
    leptos::task::tick().await;
    // The slider shows what the device reports, naming what was sent until the device answers.
    assert_eq!(range.value(), "40", "back to the reported value");
    let readout = shown.find(".card-slider + output").text_content().unwrap();
    assert_eq!(readout, "40 (sent 55)");
    assert!(!shown.all(r#".card-answer[data-answer="waiting"]"#).is_empty());
    tree.update(|tree| tree.insert(message("lamp/state", "55", 2)));
    leptos::task::tick().await;
    leptos::task::tick().await;
    assert_eq!(range.value(), "55", "the device reported the new value");
    assert_eq!(shown.find(".card-slider + output").text_content().unwrap(), "55");

    let text = shown.text();
    assert!(text.contains("20 °C"), "{text}");
    let meter = shown.find("meter.card-gauge");
    assert_eq!(meter.get_attribute("value").as_deref(), Some("20"));

    shown.find(".card-button").click();
    let sent = shown.sent();
    assert_eq!(
        (sent[0].topic.as_str(), sent[0].payload.as_str(), sent[0].qos),
        ("bell", "ring", 0)
    );

    shown.type_into(".card-text input", "hello", "input");
    shown.find(r#".card-text button[type="submit"]"#).click();
    let sent = shown.sent();
    assert_eq!((sent[0].topic.as_str(), sent[0].payload.as_str()), ("lcd", "hello"));

    for (i, watts) in [5, 7, 6, 9].into_iter().enumerate() {
        tree.update(|tree| tree.insert(message("meter", &format!(r#"{{"W":{watts}}}"#), 10 + i as u64)));
        leptos::task::tick().await;
    }
    let points = shown.find(".card-chart polyline").get_attribute("points").unwrap();
    assert_eq!(points.split(' ').count(), 3, "bounded to 3 values: {points}");
    assert!(
        shown.text().contains("9 W (low 6, high 9, 3 values)"),
        "{}",
        shown.text()
    );
}

#[wasm_bindgen_test]
async fn the_editor_publishes_the_layout_retained_at_qos_1() {
    let tree = RwSignal::new(TopicTree::default());
    let shown = Mounted::new(tree, What::Panel);
    leptos::task::tick().await;
    assert!(shown.text().contains("No cards yet"), "{}", shown.text());
    shown.find(".panel-edit").click();
    leptos::task::tick().await;
    shown.find(".panel-add").click();
    leptos::task::tick().await;
    shown.type_into(r#"select[name="kind"]"#, "button", "change");
    leptos::task::tick().await;
    assert!(
        shown.all(r#"input[name="payload_off"]"#).is_empty(),
        "a button has no off payload"
    );
    shown.type_into(r#"input[name="title"]"#, "Bell", "input");
    shown.type_into(r#"input[name="topic"]"#, "bell/#", "input");
    shown.find(r#".editor button[type="submit"]"#).click();
    leptos::task::tick().await;
    assert!(
        shown
            .find(".editor")
            .text_content()
            .unwrap()
            .contains("not a topic name")
    );
    assert!(shown.sent().is_empty(), "nothing published for a bad card");

    // Typing keeps the same input (a re-rendered one would lose the focus after each key).
    let topic_input = shown.find(r#"input[name="topic"]"#);
    shown.type_into(r#"input[name="topic"]"#, "bell", "input");
    leptos::task::tick().await;
    assert!(topic_input.is_same_node(Some(&shown.find(r#"input[name="topic"]"#))));
    shown.type_into(r#"input[name="payload_on"]"#, "ring", "input");
    shown.find(r#".editor button[type="submit"]"#).click();
    leptos::task::tick().await;
    let sent = shown.sent();
    assert_eq!(sent.len(), 1);
    let published = &sent[0];
    assert_eq!(
        (published.topic.as_str(), published.qos, published.retain),
        ("roost/dashboard", 1, true)
    );
    let layout = Layout::from_json(&published.payload).unwrap();
    assert_eq!(layout.cards.len(), 1);
    assert_eq!(layout.cards[0].title, "Bell");
    assert!(shown.all(".editor").is_empty(), "saved: the editor closes");
    assert_eq!(
        shown.all(".cards .card").len(),
        1,
        "shown at once, before the broker echoes it"
    );

    // The broker echoes it; then another browser adds a card: this one follows.
    tree.update(|tree| tree.insert(message("roost/dashboard", &published.payload, 5)));
    leptos::task::tick().await;
    let two = layout_json(
        r#"{"title":"Bell","type":"button","topic":"bell","payload":"ring"},{"title":"Lamp","type":"switch","command_topic":"lamp"}"#,
    );
    tree.update(|tree| tree.insert(message("roost/dashboard", &two, 6)));
    leptos::task::tick().await;
    assert_eq!(shown.all(".cards .card").len(), 2);

    // Move the lamp up, then remove the bell: each publishes the whole layout.
    shown.find(r#"button[aria-label="Move Lamp up"]"#).click();
    leptos::task::tick().await;
    let moved = Layout::from_json(&shown.sent()[0].payload).unwrap();
    assert_eq!(moved.cards[0].title, "Lamp");
    // The echo of the move, so the next change starts from it.
    tree.update(|tree| tree.insert(message("roost/dashboard", &moved.to_json().unwrap(), 7)));
    leptos::task::tick().await;
    // Remove asks first: Cancel sends nothing.
    shown.find(r#"button[aria-label="Remove Bell"]"#).click();
    leptos::task::tick().await;
    shown.find(".card-confirm-no").click();
    leptos::task::tick().await;
    assert!(shown.sent().is_empty(), "cancelled: nothing published");
    shown.find(r#"button[aria-label="Remove Bell"]"#).click();
    leptos::task::tick().await;
    shown.find(".card-confirm-yes").click();
    leptos::task::tick().await;
    let removed = Layout::from_json(&shown.sent()[0].payload).unwrap();
    assert_eq!(removed.cards.len(), 1);
    assert_eq!(removed.cards[0].title, "Lamp");
    // A toast offers to undo it: the card goes back where it was.
    let toast = shown.find(".toast").text_content().unwrap();
    assert!(toast.contains("Removed “Bell”."), "{toast}");
    shown.find(".toast-undo").click();
    leptos::task::tick().await;
    let restored = Layout::from_json(&shown.sent()[0].payload).unwrap();
    let titles: Vec<&str> = restored.cards.iter().map(|card| card.title.as_str()).collect();
    assert_eq!(titles, ["Lamp", "Bell"]);
    assert!(shown.all(".toast").is_empty(), "undone: no toast");
}

#[wasm_bindgen_test]
async fn a_foreign_message_on_the_layout_topic_is_explained() {
    let tree = RwSignal::new(TopicTree::default());
    tree.update(|tree| tree.insert(message("roost/dashboard", r#"{"temperature":21}"#, 1)));
    let shown = Mounted::new(tree, What::Panel);
    leptos::task::tick().await;
    let alert = shown.find(".panel-invalid").text_content().unwrap();
    assert!(alert.contains("not a Roost panel layout"), "{alert}");
    assert!(shown.all(".cards .card").is_empty());
    shown.find(".panel-invalid button").click();
    leptos::task::tick().await;
    assert!(shown.all(".panel-invalid").is_empty());
    assert!(shown.text().contains("No cards yet"));
}

#[wasm_bindgen_test]
async fn discovered_devices_become_cards_with_their_availability() {
    let tree = RwSignal::new(TopicTree::default());
    let shown = Mounted::new(tree, What::Discovered);
    leptos::task::tick().await;
    assert!(shown.all("section").is_empty(), "nothing discovered: no section");
    tree.update(|tree| {
        tree.insert(message(
            "homeassistant/switch/plug/config",
            r#"{"name":"Plug","~":"tasmota/plug","cmd_t":"~/cmnd/POWER","stat_t":"~/stat/POWER","avty_t":"~/LWT","pl_avail":"Online","pl_not_avail":"Offline"}"#,
            1,
        ));
        tree.insert(message("homeassistant/sensor/bad/config", "{", 1));
    });
    leptos::task::tick().await;
    let card = shown.find(r#".card[data-config="homeassistant/switch/plug/config"]"#);
    assert_eq!(card.get_attribute("data-presence").as_deref(), Some("unknown"));
    assert!(
        shown.text().contains("homeassistant/sensor/bad/config"),
        "the bad config is named"
    );

    tree.update(|tree| tree.insert(message("tasmota/plug/LWT", "Online", 2)));
    leptos::task::tick().await;
    assert_eq!(shown.find(".presence").text_content().as_deref(), Some("online"));
    shown.find(".card-switch").click();
    let sent = shown.sent();
    assert_eq!(
        (sent[0].topic.as_str(), sent[0].payload.as_str(), sent[0].qos),
        ("tasmota/plug/cmnd/POWER", "ON", 0)
    );
    tree.update(|tree| tree.insert(message("tasmota/plug/stat/POWER", "ON", 3)));
    leptos::task::tick().await;
    assert_eq!(
        shown.find(".card-switch").get_attribute("data-state").as_deref(),
        Some("on")
    );
    tree.update(|tree| tree.insert(message("tasmota/plug/LWT", "Offline", 4)));
    leptos::task::tick().await;
    assert_eq!(shown.find(".presence").text_content().as_deref(), Some("offline"));

    // An empty config removes it.
    tree.update(|tree| tree.insert(message("homeassistant/switch/plug/config", "", 5)));
    leptos::task::tick().await;
    assert!(shown.all(".card").is_empty());
}

#[wasm_bindgen_test]
async fn the_broker_view_shows_sys_figures() {
    let tree = RwSignal::new(TopicTree::default());
    let shown = Mounted::new(tree, What::Broker);
    leptos::task::tick().await;
    let figure = |name: &str| {
        shown
            .find(&format!(r#"dd[data-figure="{name}"]"#))
            .text_content()
            .unwrap()
    };
    assert_eq!(figure("clients"), "–");
    tree.update(|tree| {
        tree.insert(message("$SYS/broker/clients/connected", "4", 1));
        tree.insert(message("$SYS/broker/uptime", "61 seconds", 1));
        tree.insert(message("$SYS/broker/version", "roost 0.1.0", 1));
        tree.insert(message("$SYS/broker/retained messages/count", "7", 1));
        tree.insert(message("$SYS/broker/load/messages/sent/1min", "30.00", 1));
        tree.insert(message("$SYS/broker/publish/messages/received", "100", 1_000));
    });
    leptos::task::tick().await;
    assert_eq!(figure("clients"), "4");
    assert_eq!(figure("uptime"), "1 min 1 s");
    assert_eq!(figure("version"), "roost 0.1.0");
    assert_eq!(figure("retained"), "7");
    assert_eq!(figure("out"), "0.5");
    assert_eq!(figure("in"), "–");
    tree.update(|tree| tree.insert(message("$SYS/broker/publish/messages/received", "300", 11_000)));
    leptos::task::tick().await;
    assert_eq!(figure("in"), "20", "200 messages in 10 s");
    // Each live update of the counter is a sample on the charts: two so far. The first had no rate in yet (one
    // counter value is no rate), so that line has one point; the rate out came from the one-minute load.
    let points = |chart: &str, series: &str| {
        shown
            .all(&format!(r#"[data-chart="{chart}"] polyline[data-series="{series}"]"#))
            .first()
            .and_then(|line| line.get_attribute("points"))
            .map(|points| points.split(' ').count())
    };
    assert_eq!(points("rates", "in"), Some(1));
    assert_eq!(points("rates", "out"), Some(2));
    assert_eq!(points("connections", "connected"), Some(2));
    assert_eq!(
        shown.all(r#"[data-chart="rates"] .trend-time"#).len(),
        3,
        "start, middle and end times"
    );
}
