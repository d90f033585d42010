//! The control panel's model in headless Chromium: layout JSON (round trip and every error), card state
//! mapping, the card editor's checks, Home Assistant discovery parsing (abbreviations, `~`, templates,
//! availability), chart history and the broker view's figures.

use roost_web::broker_view::{Figures, Rate, format_rate, format_uptime};
use roost_web::explorer::{Payload, TopicMessage, TopicTree};
use roost_web::panel::card::{MAX_CHART_POINTS, extract};
use roost_web::panel::discovery::{
    Availability, AvailabilityMode, AvailabilityTopic, Presence, config_component, discover, json_field_of,
    parse_config,
};
use roost_web::panel::draft::Draft;
use roost_web::panel::history::History;
use roost_web::panel::layout::MAX_LAYOUT_BYTES;
use roost_web::panel::{
    Button, Card, CardKind, Chart, Layout, LayoutError, LayoutState, Slider, Switch, SwitchState, TextInput, Value,
};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn message(topic: &str, payload: &str) -> TopicMessage {
    TopicMessage {
        topic: topic.into(),
        payload: Payload::from_bytes(payload.as_bytes()),
        size: payload.len(),
        qos: 0,
        retain: true,
        received_ms: 0,
        properties: Default::default(),
    }
}

/// One card of every kind.
fn every_kind() -> Layout {
    let mut layout = Layout::new();
    let mut switch = Switch::new("cmnd/plug/POWER", "stat/plug/POWER");
    switch.json_field = "state".into();
    switch.state_on = Some("1".into());
    switch.state_off = Some("0".into());
    layout.cards = vec![
        Card::new("Plug", CardKind::Switch(switch)),
        Card::new(
            "Doorbell",
            CardKind::Button(Button {
                topic: "door/ring".into(),
                payload: "ring".into(),
                qos: 0,
                retain: false,
            }),
        ),
        Card::new(
            "Dimmer",
            CardKind::Slider(Slider {
                topic: "lamp/set".into(),
                state_topic: "lamp/state".into(),
                min: 0.0,
                max: 1.0,
                step: 0.05,
                json_field: String::new(),
                unit: String::new(),
                qos: 1,
                retain: true,
            }),
        ),
        Card::new(
            "",
            CardKind::Value(Value {
                topic: "kitchen/temp".into(),
                json_field: String::new(),
                unit: "°C".into(),
                min: Some(-10.0),
                max: Some(40.0),
            }),
        ),
        Card::new(
            "Display",
            CardKind::Text(TextInput {
                topic: "lcd/text".into(),
                state_topic: String::new(),
                qos: 2,
                retain: false,
            }),
        ),
        Card::new(
            "Power",
            CardKind::Chart(Chart {
                topic: "meter".into(),
                json_field: "ENERGY.Power".into(),
                unit: "W".into(),
                points: 120,
            }),
        ),
    ];
    layout
}

#[wasm_bindgen_test]
fn a_layout_round_trips_through_json() {
    let layout = every_kind();
    let json = layout.to_json().unwrap();
    assert!(
        json.starts_with(r#"{"roost_panel":1,"cards":[{"title":"Plug","type":"switch""#),
        "{json}"
    );
    assert_eq!(Layout::from_json(&json).unwrap(), layout);
    assert_eq!(Layout::from_json(&layout.to_pretty_json()).unwrap(), layout);
    assert_eq!(layout.cards[3].shown_title(), "kitchen/temp", "no title: the topic");
}

#[wasm_bindgen_test]
fn a_hand_written_layout_gets_the_defaults() {
    let layout = Layout::from_json(r#"{"roost_panel":1,"cards":[{"type":"switch","command_topic":"a/set"}]}"#).unwrap();
    let CardKind::Switch(switch) = &layout.cards[0].kind else {
        panic!("a switch")
    };
    assert_eq!(
        (switch.payload_on.as_str(), switch.payload_off.as_str(), switch.qos),
        ("ON", "OFF", 1)
    );
    assert_eq!(switch.state_topic(), "a/set", "no state topic: the command topic's");
}

/// Whether an error is the one expected.
type Expected = fn(&LayoutError) -> bool;

#[wasm_bindgen_test]
fn bad_layouts_are_refused_in_words() {
    let cases: &[(&str, Expected)] = &[
        ("", |e| matches!(e, LayoutError::NotJson(_))),
        ("{not json", |e| matches!(e, LayoutError::NotJson(_))),
        (r#"{"temperature": 21}"#, |e| *e == LayoutError::Foreign),
        ("[1,2]", |e| *e == LayoutError::Foreign),
        ("42", |e| *e == LayoutError::Foreign),
        (r#"{"roost_panel":2,"cards":[]}"#, |e| *e == LayoutError::Newer(2)),
        (r#"{"roost_panel":"one","cards":[]}"#, |e| {
            matches!(e, LayoutError::Malformed(_))
        }),
        (r#"{"roost_panel":1}"#, |e| matches!(e, LayoutError::Malformed(_))),
        (r#"{"roost_panel":1,"cards":[{"type":"toaster"}]}"#, |e| {
            matches!(e, LayoutError::Malformed(_))
        }),
        (
            r#"{"roost_panel":1,"cards":[{"type":"slider","topic":"a","min":"x","max":1}]}"#,
            |e| matches!(e, LayoutError::Malformed(_)),
        ),
        (
            r#"{"roost_panel":1,"cards":[{"type":"button","topic":"a/#"}]}"#,
            |e| matches!(e, LayoutError::BadCard(1, why) if why.contains("not a topic name")),
        ),
        (
            r#"{"roost_panel":1,"cards":[{"type":"value","topic":"a"},{"type":"slider","topic":"b","min":5,"max":1}]}"#,
            |e| matches!(e, LayoutError::BadCard(2, why) if why.contains("minimum")),
        ),
    ];
    for (json, expected) in cases {
        let error = Layout::from_json(json).unwrap_err();
        assert!(expected(&error), "{json}: {error:?}");
        assert!(!error.to_string().is_empty());
    }
    assert!(
        LayoutError::Newer(2).to_string().contains("newer"),
        "{}",
        LayoutError::Newer(2)
    );
}

#[wasm_bindgen_test]
fn the_layout_topic_s_message_means_a_state() {
    assert_eq!(LayoutState::of(None), LayoutState::Missing);
    assert_eq!(
        LayoutState::of(Some(&message("roost/dashboard", ""))),
        LayoutState::Missing
    );
    let json = every_kind().to_json().unwrap();
    assert_eq!(
        LayoutState::of(Some(&message("roost/dashboard", &json))),
        LayoutState::Ready(every_kind())
    );
    assert_eq!(
        LayoutState::of(Some(&message("roost/dashboard", "hello"))),
        LayoutState::Invalid(LayoutError::NotJson("expected value at line 1 column 1".into()))
    );
    let binary = TopicMessage {
        payload: Payload::from_bytes(&[0xff, 0x00]),
        ..message("roost/dashboard", "")
    };
    assert_eq!(
        LayoutState::of(Some(&binary)),
        LayoutState::Invalid(LayoutError::NotText)
    );
    // Larger than what the tree keeps: the kept text is cut, so it is refused rather than half-read.
    let big = format!(r#"{{"roost_panel":1,"cards":[],"pad":"{}"}}"#, "x".repeat(5000));
    assert_eq!(
        LayoutState::of(Some(&message("roost/dashboard", &big))),
        LayoutState::Invalid(LayoutError::TooLarge(big.len()))
    );
}

#[wasm_bindgen_test]
fn a_layout_too_large_to_read_back_is_not_written() {
    let mut layout = Layout::new();
    let card = Card::new(
        "x".repeat(100),
        CardKind::Button(Button {
            topic: "a".into(),
            payload: "b".into(),
            qos: 1,
            retain: false,
        }),
    );
    layout.cards = vec![card; 60];
    let error = layout.to_json().unwrap_err();
    assert!(
        matches!(error, LayoutError::TooLarge(size) if size > MAX_LAYOUT_BYTES),
        "{error:?}"
    );
    layout.cards.truncate(10);
    assert!(layout.to_json().is_ok());
}

#[wasm_bindgen_test]
fn cards_move_within_the_list_only() {
    let mut layout = every_kind();
    let titles = |layout: &Layout| layout.cards.iter().map(|c| c.title.clone()).collect::<Vec<_>>();
    layout.move_card(0, 1);
    assert_eq!(titles(&layout)[..2], ["Doorbell", "Plug"]);
    layout.move_card(1, -1);
    assert_eq!(titles(&layout)[..2], ["Plug", "Doorbell"]);
    let before = titles(&layout);
    layout.move_card(0, -1);
    layout.move_card(5, 1);
    layout.move_card(99, -1);
    assert_eq!(titles(&layout), before);
}

#[wasm_bindgen_test]
fn a_switch_maps_reported_states() {
    let plain = Switch::new("cmnd/plug/POWER", "stat/plug/POWER");
    assert_eq!(plain.state("ON"), SwitchState::On);
    assert_eq!(plain.state("OFF"), SwitchState::Off);
    assert_eq!(
        plain.state("on"),
        SwitchState::Other("on".into()),
        "payloads are case-sensitive"
    );
    let mut json = Switch::new("z2m/plug/set", "z2m/plug");
    json.json_field = "state".into();
    assert_eq!(json.state(r#"{"state":"ON","linkquality":90}"#), SwitchState::On);
    assert_eq!(json.state(r#"{"state":"OFF"}"#), SwitchState::Off);
    assert!(matches!(json.state("ON"), SwitchState::Unreadable(why) if why.contains("not JSON")));
    assert!(matches!(json.state(r#"{"power":1}"#), SwitchState::Unreadable(why) if why.contains("no field")));
    let mut numeric = Switch::new("relay/set", "relay");
    numeric.payload_on = "1".into();
    numeric.payload_off = "0".into();
    numeric.state_on = Some("true".into());
    numeric.state_off = Some("false".into());
    numeric.json_field = "on".into();
    assert_eq!(
        numeric.state(r#"{"on":true}"#),
        SwitchState::On,
        "JSON true read as text"
    );
    assert_eq!(numeric.state(r#"{"on":false}"#), SwitchState::Off);
}

#[wasm_bindgen_test]
fn fields_are_read_from_nested_json() {
    assert_eq!(extract("21.5", "").unwrap(), "21.5");
    assert_eq!(extract(r#"{"ENERGY":{"Power":42}}"#, "ENERGY.Power").unwrap(), "42");
    assert_eq!(extract(r#"{"list":[{"v":"a"}]}"#, "list.0.v").unwrap(), "a");
    assert_eq!(extract(r#"{"o":{"a":1}}"#, "o").unwrap(), r#"{"a":1}"#);
    assert!(extract(r#"{"a":1}"#, "a.b").is_err());
    assert!(extract(r#"[1]"#, "5").is_err());
}

#[wasm_bindgen_test]
fn a_slider_reads_and_formats_numbers() {
    let mut slider = Slider {
        topic: "t".into(),
        state_topic: String::new(),
        min: 0.0,
        max: 100.0,
        step: 1.0,
        json_field: String::new(),
        unit: String::new(),
        qos: 1,
        retain: false,
    };
    assert_eq!(slider.format(20.0), "20");
    assert_eq!(slider.state(" 42 ").unwrap(), 42.0);
    assert!(slider.state("warm").is_err());
    assert!(slider.state("NaN").is_err());
    slider.step = 0.5;
    assert_eq!(slider.format(20.0), "20.0");
    slider.step = 0.25;
    assert_eq!(slider.format(0.75), "0.75");
    slider.json_field = "brightness".into();
    assert_eq!(slider.state(r#"{"brightness":128}"#).unwrap(), 128.0);
}

#[wasm_bindgen_test]
fn a_gauge_fills_by_its_range() {
    let gauge = Value {
        topic: "t".into(),
        json_field: String::new(),
        unit: "%".into(),
        min: Some(0.0),
        max: Some(200.0),
    };
    assert_eq!(gauge.reading("50").unwrap(), ("50".into(), Some(0.25)));
    assert_eq!(gauge.reading("500").unwrap(), ("500".into(), Some(1.0)), "clamped");
    assert_eq!(
        gauge.reading("n/a").unwrap(),
        ("n/a".into(), None),
        "text is still shown"
    );
}

#[wasm_bindgen_test]
fn the_editor_checks_what_is_typed() {
    let mut draft = Draft {
        kind: "slider".into(),
        title: " Fan ".into(),
        topic: "fan/set".into(),
        min: "0".into(),
        max: "3".into(),
        step: "1".into(),
        ..Draft::default()
    };
    let card = draft.to_card(None).unwrap();
    assert_eq!(card.title, "Fan");
    assert_eq!(
        Draft::of(&card).to_card(None).unwrap(),
        card,
        "a card's draft gives it back"
    );
    draft.max = "many".into();
    assert!(draft.to_card(None).unwrap_err().contains("maximum"));
    draft.max = "3".into();
    draft.step = "0".into();
    assert!(draft.to_card(None).unwrap_err().contains("step"));
    draft.step = "1".into();
    draft.topic = "fan/+".into();
    assert!(draft.to_card(None).unwrap_err().contains("not a topic name"));
    draft.topic = String::new();
    assert!(draft.to_card(None).unwrap_err().contains("missing"));

    let switch = Draft {
        kind: "switch".into(),
        topic: "plug/set".into(),
        payload_on: "X".into(),
        payload_off: "X".into(),
        ..Draft::default()
    };
    assert!(switch.to_card(None).unwrap_err().contains("differ"));
    let gauge = Draft {
        kind: "value".into(),
        topic: "t".into(),
        min: "1".into(),
        max: String::new(),
        ..Draft::default()
    };
    assert!(gauge.to_card(None).unwrap_err().contains("both"));
    let chart = Draft {
        kind: "chart".into(),
        topic: "t".into(),
        step: (MAX_CHART_POINTS + 1).to_string(),
        ..Draft::default()
    };
    assert!(chart.to_card(None).unwrap_err().contains("values"));
    let unknown = Draft {
        kind: "toaster".into(),
        ..Draft::default()
    };
    assert!(unknown.to_card(None).is_err());
}

#[wasm_bindgen_test]
fn editing_keeps_settings_the_editor_does_not_show() {
    let layout = every_kind();
    let plug = &layout.cards[0];
    let mut draft = Draft::of(plug);
    draft.title = "Desk plug".into();
    let edited = draft.to_card(Some(plug)).unwrap();
    let (CardKind::Switch(before), CardKind::Switch(after)) = (&plug.kind, &edited.kind) else {
        panic!("switches")
    };
    assert_eq!(after.state_on.as_deref(), Some("1"));
    assert_eq!(after.qos, before.qos);
    assert_eq!(edited.title, "Desk plug");
}

const PREFIX: &str = "homeassistant";

#[wasm_bindgen_test]
fn discovery_topics_have_three_or_four_levels_below_the_prefix() {
    assert_eq!(
        config_component(PREFIX, "homeassistant/switch/plug/config"),
        Some("switch")
    );
    assert_eq!(
        config_component(PREFIX, "homeassistant/switch/node/plug/config"),
        Some("switch")
    );
    assert_eq!(config_component(PREFIX, "homeassistant/switch/config"), None);
    assert_eq!(config_component(PREFIX, "homeassistant/switch/a/b/c/config"), None);
    assert_eq!(config_component(PREFIX, "homeassistant/switch/plug/state"), None);
    assert_eq!(config_component(PREFIX, "homeassistant/switch//config"), None);
    assert_eq!(config_component(PREFIX, "homeassistantx/switch/plug/config"), None);
}

#[wasm_bindgen_test]
fn a_tasmota_switch_with_abbreviations_and_a_base_topic() {
    let config = r#"{"name":"Relay","~":"tasmota_ABC/","cmd_t":"~cmnd/POWER","stat_t":"~tele/STATE",
        "val_tpl":"{{value_json.POWER}}","pl_off":"OFF","pl_on":"ON","avty_t":"~tele/LWT",
        "pl_avail":"Online","pl_not_avail":"Offline","uniq_id":"ABC_RL_1","dev":{"ids":["ABC"],"name":"Desk"}}"#;
    let found = parse_config(PREFIX, "homeassistant/switch/ABC_RL_1/config", config)
        .unwrap()
        .unwrap();
    assert_eq!(found.component, "switch");
    assert_eq!(found.card.title, "Desk Relay");
    let CardKind::Switch(switch) = &found.card.kind else {
        panic!("a switch")
    };
    assert_eq!(switch.command_topic, "tasmota_ABC/cmnd/POWER");
    assert_eq!(switch.state_topic, "tasmota_ABC/tele/STATE");
    assert_eq!(switch.json_field, "POWER");
    assert_eq!(switch.state(r#"{"Time":"…","POWER":"ON"}"#), SwitchState::On);
    assert_eq!(switch.qos, 0, "Home Assistant's default QoS");
    assert_eq!(
        found.availability,
        Availability {
            topics: vec![AvailabilityTopic {
                topic: "tasmota_ABC/tele/LWT".into(),
                payload_available: "Online".into(),
                payload_not_available: "Offline".into(),
                json_field: String::new(),
            }],
            mode: AvailabilityMode::Latest,
        }
    );
}

#[wasm_bindgen_test]
fn a_base_topic_at_the_end_and_availability_lists() {
    let config = r#"{"~":"esp/relay","name":"Fan","command_topic":"set/~","state_topic":"~/state",
        "availability":[{"t":"~/status"},{"topic":"bridge/state","payload_available":"up","value_template":"{{ value_json.state }}"}],
        "availability_mode":"all"}"#;
    let found = parse_config(PREFIX, "homeassistant/switch/esp/fan/config", config)
        .unwrap()
        .unwrap();
    let CardKind::Switch(switch) = &found.card.kind else {
        panic!("a switch")
    };
    assert_eq!(switch.command_topic, "set/esp/relay");
    assert_eq!(switch.state_topic, "esp/relay/state");
    let availability = &found.availability;
    assert_eq!(availability.mode, AvailabilityMode::All);
    assert_eq!(availability.topics[0].topic, "esp/relay/status");
    assert_eq!(availability.topics[1].json_field, "state");
    let last = |status: &'static str, bridge: &'static str| {
        move |topic: &str| match topic {
            "esp/relay/status" => Some((status.to_owned(), 1)),
            "bridge/state" => Some((bridge.to_owned(), 2)),
            _ => None,
        }
    };
    assert_eq!(
        availability.presence(last("online", r#"{"state":"up"}"#)),
        Presence::Online
    );
    assert_eq!(
        availability.presence(last("offline", r#"{"state":"up"}"#)),
        Presence::Offline
    );
    assert_eq!(availability.presence(|_| None), Presence::Unknown);
}

#[wasm_bindgen_test]
fn availability_modes_combine_topics() {
    let entry = |topic: &str| AvailabilityTopic {
        topic: topic.into(),
        payload_available: "online".into(),
        payload_not_available: "offline".into(),
        json_field: String::new(),
    };
    let mut availability = Availability {
        topics: vec![entry("a"), entry("b")],
        mode: AvailabilityMode::Latest,
    };
    let said = |topic: &str| match topic {
        "a" => Some(("online".to_owned(), 10)),
        "b" => Some(("offline".to_owned(), 20)),
        _ => None,
    };
    assert_eq!(availability.presence(said), Presence::Offline, "b spoke last");
    availability.mode = AvailabilityMode::Any;
    assert_eq!(availability.presence(said), Presence::Online);
    availability.mode = AvailabilityMode::All;
    assert_eq!(availability.presence(said), Presence::Offline);
    availability.topics.clear();
    assert_eq!(
        availability.presence(said),
        Presence::Online,
        "no availability: always available"
    );
}

#[wasm_bindgen_test]
fn sensors_numbers_buttons_and_binary_sensors() {
    let sensor = parse_config(
        PREFIX,
        "homeassistant/sensor/th1/temperature/config",
        r#"{"name":"Temperature","stat_t":"z2m/th1","unit_of_meas":"°C","val_tpl":"{{ value_json['temperature'] }}"}"#,
    )
    .unwrap()
    .unwrap();
    let CardKind::Value(value) = &sensor.card.kind else {
        panic!("a value")
    };
    assert_eq!(
        (value.topic.as_str(), value.unit.as_str(), value.json_field.as_str()),
        ("z2m/th1", "°C", "temperature")
    );

    let number = parse_config(
        PREFIX,
        "homeassistant/number/fan/config",
        r#"{"cmd_t":"fan/set","stat_t":"fan/speed","max":5}"#,
    )
    .unwrap()
    .unwrap();
    let CardKind::Slider(slider) = &number.card.kind else {
        panic!("a slider")
    };
    assert_eq!(
        (slider.min, slider.max, slider.step),
        (1.0, 5.0, 1.0),
        "Home Assistant's defaults: min 1, step 1"
    );
    assert_eq!(number.card.title, "fan", "no name: the object id");

    let button = parse_config(
        PREFIX,
        "homeassistant/button/gate/open/config",
        r#"{"name":"Open","cmd_t":"gate/cmd"}"#,
    )
    .unwrap()
    .unwrap();
    assert_eq!(
        button.card.kind,
        CardKind::Button(Button {
            topic: "gate/cmd".into(),
            payload: "PRESS".into(),
            qos: 0,
            retain: false
        })
    );

    let door = parse_config(
        PREFIX,
        "homeassistant/binary_sensor/door/config",
        r#"{"name":"Door","stat_t":"door/state","pl_on":"open","pl_off":"closed"}"#,
    )
    .unwrap()
    .unwrap();
    let CardKind::Switch(switch) = &door.card.kind else {
        panic!("a read-only switch")
    };
    assert!(switch.command_topic.is_empty());
    assert_eq!(switch.state("open"), SwitchState::On);
}

#[wasm_bindgen_test]
fn lights_of_the_default_and_json_schemas() {
    let basic = parse_config(
        PREFIX,
        "homeassistant/light/lamp/config",
        r#"{"cmd_t":"lamp/set","stat_t":"lamp/state","pl_on":1,"pl_off":0}"#,
    )
    .unwrap()
    .unwrap();
    let CardKind::Switch(switch) = &basic.card.kind else {
        panic!("a switch")
    };
    assert_eq!(
        (switch.payload_on.as_str(), switch.payload_off.as_str()),
        ("1", "0"),
        "numbers as their text"
    );
    let json = parse_config(
        PREFIX,
        "homeassistant/light/0x1234/light/config",
        r#"{"name":null,"schema":"json","command_topic":"zigbee2mqtt/bulb/set","state_topic":"zigbee2mqtt/bulb","device":{"name":"Bulb"}}"#,
    )
    .unwrap()
    .unwrap();
    assert_eq!(json.card.title, "Bulb", "a null name: the device's");
    let CardKind::Switch(switch) = &json.card.kind else {
        panic!("a switch")
    };
    assert_eq!(switch.payload_on, r#"{"state":"ON"}"#);
    assert_eq!(switch.state(r#"{"state":"ON","brightness":254}"#), SwitchState::On);
    let error = parse_config(
        PREFIX,
        "homeassistant/light/x/config",
        r#"{"cmd_t":"x","schema":"template"}"#,
    )
    .unwrap_err();
    assert!(error.contains("schema"), "{error}");
}

#[wasm_bindgen_test]
fn discovery_configs_that_are_removed_ignored_or_wrong() {
    let topic = "homeassistant/switch/plug/config";
    assert_eq!(
        parse_config(PREFIX, topic, ""),
        Ok(None),
        "an empty config removes the entity"
    );
    assert_eq!(
        parse_config(PREFIX, "homeassistant/vacuum/robot/config", r#"{"name":"Robot"}"#),
        Ok(None),
        "components without a card are left out"
    );
    for (config, words) in [
        ("{", "not JSON"),
        ("[]", "not a JSON object"),
        (r#"{"stat_t":"plug/state"}"#, "command_topic"),
        (r#"{"cmd_t":"plug/#"}"#, "not a topic name"),
        (
            r#"{"cmd_t":"p","val_tpl":"{{ value_json.x | float }}"}"#,
            "not supported",
        ),
        (r#"{"cmd_t":"p","qos":3}"#, "qos"),
        (r#"{"cmd_t":"p","name":{"a":1},"pl_on":[1]}"#, "payload_on"),
        (r#"{"cmd_t":"p","avty":"x"}"#, "availability"),
        (r#"{"cmd_t":"p","avty":[{"pl_avail":"x"}]}"#, "topic"),
        (r#"{"cmd_t":"p","avty_mode":"most"}"#, "availability_mode"),
    ] {
        let error = parse_config(PREFIX, topic, config).unwrap_err();
        assert!(error.contains(words), "{config}: {error}");
    }
}

#[wasm_bindgen_test]
fn templates_of_the_simple_form_name_a_field() {
    assert_eq!(json_field_of("{{ value }}").unwrap(), "");
    assert_eq!(json_field_of("{{value_json.POWER}}").unwrap(), "POWER");
    assert_eq!(json_field_of("{{ value_json.ENERGY.Power }}").unwrap(), "ENERGY.Power");
    assert_eq!(json_field_of(r#"{{ value_json["a"]['b'] }}"#).unwrap(), "a.b");
    for bad in [
        "value_json.x",
        "{{ value_json.x | int }}",
        "{{ 1 + 1 }}",
        "{{ value_json[x }}",
        "{{ value_json. }}",
    ] {
        assert!(json_field_of(bad).is_err(), "{bad}");
    }
}

#[wasm_bindgen_test]
fn discover_walks_the_prefix_and_reports_problems() {
    let mut tree = TopicTree::default();
    tree.insert(message(
        "homeassistant/switch/a/config",
        r#"{"name":"A","cmd_t":"a/set"}"#,
    ));
    tree.insert(message(
        "homeassistant/sensor/node/b/config",
        r#"{"name":"B","stat_t":"b"}"#,
    ));
    tree.insert(message(
        "homeassistant/switch/c/config",
        r#"{"name":"C","cmd_t":"c/set"}"#,
    ));
    tree.insert(message("homeassistant/switch/c/config", ""));
    tree.insert(message("homeassistant/switch/d/config", "{oops"));
    tree.insert(message("homeassistant/switch/a/state", "ON"));
    tree.insert(message("elsewhere/switch/e/config", r#"{"cmd_t":"e"}"#));
    let (found, failed) = discover(&tree, PREFIX);
    let titles: Vec<&str> = found.iter().map(|d| d.card.title.as_str()).collect();
    assert_eq!(titles, ["B", "A"], "topic order: sensor/node/b before switch/a");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].topic, "homeassistant/switch/d/config");
    assert!(discover(&TopicTree::default(), PREFIX).0.is_empty());
}

#[wasm_bindgen_test]
fn a_chart_keeps_a_bounded_history_once_per_message() {
    let mut history = History::new(3);
    assert!(history.observe(1, Ok(1.0)));
    assert!(!history.observe(1, Ok(1.0)), "the same message again");
    assert!(!history.observe(2, Err("warm".into())), "not a number: skipped");
    for (count, value) in [(3, 2.0), (4, 3.0), (5, 4.0)] {
        assert!(history.observe(count, Ok(value)));
    }
    assert_eq!(history.values().collect::<Vec<_>>(), [2.0, 3.0, 4.0]);
    assert_eq!(history.range(), Some((2.0, 4.0)));
    assert_eq!(history.polyline(100.0, 10.0), "0.0,10.0 50.0,5.0 100.0,0.0");
    let mut flat = History::new(5);
    flat.observe(1, Ok(7.0));
    assert_eq!(flat.polyline(100.0, 10.0), "", "one value draws nothing");
    flat.observe(2, Ok(7.0));
    assert_eq!(flat.polyline(100.0, 10.0), "0.0,5.0 100.0,5.0");
}

#[wasm_bindgen_test]
fn broker_figures_come_from_sys_topics() {
    let mut tree = TopicTree::default();
    for (topic, payload) in [
        ("$SYS/broker/clients/connected", "3"),
        ("$SYS/broker/retained messages/count", "12"),
        ("$SYS/broker/uptime", "3725 seconds"),
        ("$SYS/broker/version", "roost 0.1.0"),
        ("$SYS/broker/load/messages/received/1min", "120.00"),
        ("$SYS/broker/publish/messages/received", "500"),
    ] {
        tree.insert(message(topic, payload));
    }
    let figures = Figures::of(&tree);
    assert_eq!(figures.clients, Some(3));
    assert_eq!(figures.retained, Some(12));
    assert_eq!(figures.uptime, Some(3725));
    assert_eq!(figures.version.as_deref(), Some("roost 0.1.0"));
    assert_eq!(figures.load_in, Some(120.0));
    assert_eq!(figures.published_in, Some((500, 0, true)));
    assert_eq!(figures.load_out, None);
    assert_eq!(Figures::of(&TopicTree::default()), Figures::default());

    assert_eq!(format_uptime(42), "42 s");
    assert_eq!(format_uptime(3725), "1 h 2 min");
    assert_eq!(format_uptime(90_061), "1 d 1 h");
    assert_eq!(format_rate(None, Some(120.0)), "2.0", "the load is per minute");
    assert_eq!(format_rate(Some(250.0), Some(120.0)), "250", "computed beats the load");
    assert_eq!(format_rate(None, None), "–");
}

#[wasm_bindgen_test]
fn rates_come_from_live_samples_only() {
    let mut rate = Rate::default();
    rate.observe(100, 0, true);
    rate.observe(150, 1_000, false);
    assert_eq!(rate.per_second(), None, "a retained sample says nothing about time");
    rate.observe(250, 11_000, false);
    assert_eq!(rate.per_second(), Some(10.0));
    rate.observe(250, 11_000, false);
    assert_eq!(rate.per_second(), Some(10.0), "the same sample again changes nothing");
    rate.observe(5, 21_000, false);
    assert_eq!(rate.per_second(), None, "the broker restarted");
    // The dashboard subscribes with Retain As Published, so live `$SYS` updates arrive retained too: only the
    // first one, from the retained store, says nothing about time.
    let mut rate = Rate::default();
    rate.observe(100, 0, true);
    rate.observe(100, 0, true);
    rate.observe(110, 1_000, true);
    assert_eq!(rate.per_second(), None);
    rate.observe(130, 2_000, true);
    assert_eq!(rate.per_second(), Some(20.0));
}

#[wasm_bindgen_test]
fn the_editor_shows_the_fields_of_each_kind() {
    use roost_web::panel::draft::{FIELDS, KINDS};
    let shown = |kind: &str| -> Vec<&str> {
        FIELDS
            .iter()
            .filter_map(|(name, label)| label(kind).map(|_| *name))
            .collect()
    };
    assert_eq!(
        shown("switch"),
        [
            "title",
            "topic",
            "state_topic",
            "payload_on",
            "payload_off",
            "json_field"
        ]
    );
    assert_eq!(shown("button"), ["title", "topic", "payload_on"]);
    assert_eq!(shown("chart"), ["title", "topic", "json_field", "step", "unit"]);
    let label = |kind: &str, name: &str| {
        FIELDS
            .iter()
            .find(|(field, _)| *field == name)
            .and_then(|(_, label)| label(kind))
    };
    assert_eq!(label("switch", "topic"), Some("Command topic"));
    assert_eq!(label("button", "payload_on"), Some("Payload"));
    assert_eq!(label("chart", "step"), Some("Values kept"));
    let mut draft = Draft::default();
    for (kind, _) in KINDS {
        assert!(shown(kind).len() >= 2, "{kind}");
    }
    for (name, _) in FIELDS {
        *draft.field_mut(name).unwrap() = format!("{name}!");
        assert_eq!(draft.field(name).unwrap(), &format!("{name}!"));
    }
    assert!(draft.field("kind").is_none() && draft.field_mut("nope").is_none());
}

#[wasm_bindgen_test]
fn a_command_waits_for_the_device_then_says_there_was_no_answer() {
    use roost_web::panel::answer::{Answer, Command};
    let mut command = Command::default();
    assert_eq!(command.answer(), Answer::Settled);
    let first = command.sent(Some(3));
    assert_eq!(command.answer(), Answer::Waiting);
    command.reported(Some(3));
    assert_eq!(
        command.answer(),
        Answer::Waiting,
        "the message seen before the command is no answer"
    );
    command.timed_out(first);
    assert_eq!(command.answer(), Answer::NoAnswer);
    command.reported(Some(4));
    assert_eq!(
        command.answer(),
        Answer::Settled,
        "a late answer is still the device's state"
    );
    // A second command: the first one's timer does not judge it.
    let first = command.sent(Some(4));
    let second = command.sent(Some(4));
    command.timed_out(first);
    assert_eq!(command.answer(), Answer::Waiting);
    command.timed_out(second);
    assert_eq!(command.answer(), Answer::NoAnswer);
    // A state topic with nothing on it yet: its first message answers.
    let mut command = Command::default();
    command.sent(None);
    command.reported(None);
    assert_eq!(command.answer(), Answer::Waiting);
    command.reported(Some(1));
    assert_eq!(command.answer(), Answer::Settled);
}

#[wasm_bindgen_test]
fn a_chart_starts_from_remembered_values_only_before_a_live_one() {
    let mut history = History::new(3);
    // The remembered last value comes first through the card's fallback (count 0), then the series.
    assert!(history.observe(0, Ok(4.0)));
    history.seed([1.0, 2.0, 3.0, 4.0]);
    assert_eq!(
        history.values().collect::<Vec<_>>(),
        [2.0, 3.0, 4.0],
        "the last `capacity` values"
    );
    assert!(
        !history.observe(0, Ok(4.0)),
        "the remembered last value is not taken twice"
    );
    assert!(history.observe(1, Ok(5.0)));
    history.seed([9.0]);
    assert_eq!(
        history.values().collect::<Vec<_>>(),
        [3.0, 4.0, 5.0],
        "a live value was taken: no seeding"
    );
}

#[wasm_bindgen_test]
fn the_brokers_remembered_topic_is_read() {
    use roost_web::panel::remembered::RememberedTopic;
    let answer = r#"{"topic":"meter/SENSOR","last":{"time":1700000000123,"payload":"{\"Power\":150}"},
        "series":{"Power":{"recent":[[1700000000000,120.0],[1700000000123,150.5]],"buckets":[[1699999200000,120,135.25,150.5,2]]}}}"#;
    let remembered = RememberedTopic::from_json(answer).unwrap();
    assert_eq!(remembered.last, Some(("{\"Power\":150}".to_owned(), 1_700_000_000_123)));
    assert_eq!(
        remembered.series["Power"],
        [(1_700_000_000_000, 120.0), (1_700_000_000_123, 150.5)]
    );
    let binary = RememberedTopic::from_json(r#"{"topic":"t","last":{"time":1,"payload":null},"series":{}}"#).unwrap();
    assert_eq!(binary.last, None, "no payload kept: nothing stale shown");
    assert_eq!(RememberedTopic::from_json("not json"), None);
}

#[wasm_bindgen_test]
fn device_classes_covers_and_thermostats() {
    // Zigbee2MQTT's contact sensor: a door that is open when `contact` is false.
    let door = parse_config(
        PREFIX,
        "homeassistant/binary_sensor/0xabc/contact/config",
        r#"{"name":"Front door","stat_t":"zigbee2mqtt/front","dev_cla":"door","pl_on":false,"pl_off":true,
            "val_tpl":"{{ value_json.contact }}"}"#,
    )
    .unwrap()
    .unwrap();
    let CardKind::Switch(switch) = &door.card.kind else {
        panic!("a read-only switch")
    };
    assert_eq!(switch.state(r#"{"contact":false}"#), SwitchState::On);
    assert_eq!((switch.word(true), switch.word(false)), ("Open", "Closed"));
    let plain = parse_config(
        PREFIX,
        "homeassistant/binary_sensor/b/config",
        r#"{"stat_t":"b","dev_cla":"new"}"#,
    )
    .unwrap()
    .unwrap();
    let CardKind::Switch(switch) = &plain.card.kind else {
        panic!("a read-only switch")
    };
    assert_eq!(
        (switch.word(true), switch.word(false)),
        ("On", "Off"),
        "an unknown class"
    );

    let cover = parse_config(
        PREFIX,
        "homeassistant/cover/garage/config",
        r#"{"name":"Garage","cmd_t":"garage/set","stat_t":"garage/state","stat_clsd":"shut"}"#,
    )
    .unwrap()
    .unwrap();
    let CardKind::Switch(switch) = &cover.card.kind else {
        panic!("a cover is opened and closed as a switch")
    };
    assert_eq!(
        (switch.payload_on.as_str(), switch.payload_off.as_str()),
        ("OPEN", "CLOSE")
    );
    assert_eq!(
        switch.state("open"),
        SwitchState::On,
        "Home Assistant's default state_open"
    );
    assert_eq!(switch.state("shut"), SwitchState::Off);
    assert_eq!((switch.word(true), switch.word(false)), ("Open", "Closed"));

    let thermostat = parse_config(
        PREFIX,
        "homeassistant/climate/living/config",
        r#"{"name":"Living room","temp_cmd_t":"trv/set","temp_stat_t":"trv/state",
            "temp_stat_tpl":"{{ value_json.target }}","min_temp":5,"max_temp":30,"temp_step":0.5}"#,
    )
    .unwrap()
    .unwrap();
    let CardKind::Slider(slider) = &thermostat.card.kind else {
        panic!("the target temperature as a slider")
    };
    assert_eq!(
        (
            slider.topic.as_str(),
            slider.state_topic.as_str(),
            slider.json_field.as_str()
        ),
        ("trv/set", "trv/state", "target")
    );
    assert_eq!(
        (slider.min, slider.max, slider.step, slider.unit.as_str()),
        (5.0, 30.0, 0.5, "°C")
    );
    assert_eq!(slider.format(21.5), "21.5");
    let refused = parse_config(PREFIX, "homeassistant/climate/x/config", r#"{"name":"no topic"}"#).unwrap_err();
    assert!(refused.contains("temperature_command_topic"), "{refused}");
}
