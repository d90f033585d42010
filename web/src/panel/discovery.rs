//! Home Assistant MQTT discovery: a device announces each of its entities with a retained JSON config on
//! `<prefix>/<component>/[<node_id>/]<object_id>/config`; [`parse_config`] turns one into a [`Discovered`] card,
//! and [`discover`] finds them all in the topic tree. Understood: the components `switch`, `light` (on/off, the
//! default and the `json` schema), `sensor`, `binary_sensor` (with its device class's words: a door is Open or
//! Closed), `number`, `button`, `cover` (open and close) and `climate` (the target temperature); the abbreviated keys
//! Tasmota and ESPHome send (`stat_t`, `cmd_t`, `avty_t`, `pl_on`, …) and the `~` base topic; value templates
//! of the form `{{ value_json.a.b }}`; availability (one topic or a list, with `availability_mode`).
//! An empty config removes the entity, as in Home Assistant.

use serde_json::{Map, Value as Json};

use super::card::{Button, Card, CardKind, Slider, Switch, Value};
use crate::explorer::model::Node;
use crate::explorer::{Payload, TopicTree};

/// Where Home Assistant looks for discovery configs unless configured otherwise.
pub const DEFAULT_DISCOVERY_PREFIX: &str = "homeassistant";

/// One entity announced by a device, as a card.
#[derive(Debug, Clone, PartialEq)]
pub struct Discovered {
    /// The config's topic: the entity's identity (a new config on it replaces the entity).
    pub config_topic: String,
    /// The Home Assistant component (`switch`, `sensor`, …).
    pub component: String,
    /// The card that shows and controls it.
    pub card: Card,
    /// How to tell whether it is online.
    pub availability: Availability,
}

/// One availability topic.
#[derive(Debug, Clone, PartialEq)]
pub struct AvailabilityTopic {
    /// Where the device says whether it is online.
    pub topic: String,
    /// The payload meaning online (default `online`).
    pub payload_available: String,
    /// The payload meaning offline (default `offline`).
    pub payload_not_available: String,
    /// A JSON field read from the payload first (from `value_template`), or empty.
    pub json_field: String,
}

/// How several availability topics combine (`availability_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AvailabilityMode {
    /// Online when every topic says so.
    All,
    /// Online when any topic says so.
    Any,
    /// The most recently received message decides (Home Assistant's default).
    Latest,
}

/// An entity's availability topics; none means always available.
#[derive(Debug, Clone, PartialEq)]
pub struct Availability {
    /// The topics.
    pub topics: Vec<AvailabilityTopic>,
    /// How they combine.
    pub mode: AvailabilityMode,
}

/// Whether an entity is online.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// Online, or no availability topic to say otherwise.
    Online,
    /// Offline.
    Offline,
    /// An availability topic is known but has said nothing (yet), or nothing it said is understood.
    Unknown,
}

impl Availability {
    /// The entity's presence, given `last`: an availability topic's last payload and when it arrived.
    pub fn presence(&self, last: impl Fn(&str) -> Option<(String, u64)>) -> Presence {
        if self.topics.is_empty() {
            return Presence::Online;
        }
        let said: Vec<(Presence, u64)> = self
            .topics
            .iter()
            .map(|entry| match last(&entry.topic) {
                Some((payload, at)) => (entry.read(&payload), at),
                None => (Presence::Unknown, 0),
            })
            .collect();
        let all = |wanted: Presence| said.iter().all(|(presence, _)| *presence == wanted);
        let any = |wanted: Presence| said.iter().any(|(presence, _)| *presence == wanted);
        match self.mode {
            AvailabilityMode::All if all(Presence::Online) => Presence::Online,
            AvailabilityMode::All if any(Presence::Offline) => Presence::Offline,
            AvailabilityMode::Any if any(Presence::Online) => Presence::Online,
            AvailabilityMode::Any if all(Presence::Offline) => Presence::Offline,
            AvailabilityMode::All | AvailabilityMode::Any => Presence::Unknown,
            AvailabilityMode::Latest => said
                .iter()
                .filter(|(presence, _)| *presence != Presence::Unknown)
                .max_by_key(|(_, at)| *at)
                .map_or(Presence::Unknown, |(presence, _)| *presence),
        }
    }
}

impl AvailabilityTopic {
    fn read(&self, payload: &str) -> Presence {
        match super::card::extract(payload, &self.json_field) {
            Ok(value) if value == self.payload_available => Presence::Online,
            Ok(value) if value == self.payload_not_available => Presence::Offline,
            _ => Presence::Unknown,
        }
    }
}

/// The components this dashboard shows.
pub const COMPONENTS: [&str; 8] = [
    "switch",
    "light",
    "sensor",
    "binary_sensor",
    "number",
    "button",
    "cover",
    "climate",
];

/// Home Assistant's abbreviations of the keys read here (its list is longer; the rest are not used).
const ABBREVIATIONS: &[(&str, &str)] = &[
    ("avty", "availability"),
    ("avty_mode", "availability_mode"),
    ("avty_t", "availability_topic"),
    ("avty_tpl", "availability_template"),
    ("cmd_t", "command_topic"),
    ("dev", "device"),
    ("dev_cla", "device_class"),
    ("pl_avail", "payload_available"),
    ("pl_cls", "payload_close"),
    ("pl_not_avail", "payload_not_available"),
    ("pl_off", "payload_off"),
    ("pl_on", "payload_on"),
    ("pl_open", "payload_open"),
    ("pl_prs", "payload_press"),
    ("ret", "retain"),
    ("stat_clsd", "state_closed"),
    ("stat_off", "state_off"),
    ("stat_on", "state_on"),
    ("stat_open", "state_open"),
    ("stat_t", "state_topic"),
    ("stat_val_tpl", "state_value_template"),
    ("unit_of_meas", "unit_of_measurement"),
    ("uniq_id", "unique_id"),
    ("val_tpl", "value_template"),
    ("t", "topic"),
    ("temp_cmd_t", "temperature_command_topic"),
    ("temp_stat_t", "temperature_state_topic"),
    ("temp_stat_tpl", "temperature_state_template"),
    ("temp_unit", "temperature_unit"),
];

/// Abbreviations inside `device`.
const DEVICE_ABBREVIATIONS: &[(&str, &str)] = &[
    ("ids", "identifiers"),
    ("mf", "manufacturer"),
    ("mdl", "model"),
    ("sw", "sw_version"),
];

/// The component of a discovery config topic under `prefix`, if it is one:
/// `<prefix>/<component>/[<node_id>/]<object_id>/config`.
pub fn config_component<'a>(prefix: &str, topic: &'a str) -> Option<&'a str> {
    let rest = topic.strip_prefix(prefix)?.strip_prefix('/')?;
    let levels: Vec<&str> = rest.split('/').collect();
    match levels.as_slice() {
        [component, .., "config"] if (3..=4).contains(&levels.len()) && levels.iter().all(|l| !l.is_empty()) => {
            Some(component)
        }
        _ => None,
    }
}

/// The entity a discovery `payload` on `topic` announces: `Ok(None)` when the payload is empty (the entity is
/// removed) or its component is not one of [`COMPONENTS`]; an error in words when it cannot be understood.
pub fn parse_config(prefix: &str, topic: &str, payload: &str) -> Result<Option<Discovered>, String> {
    let Some(component) = config_component(prefix, topic) else {
        return Err("not a discovery topic (<prefix>/<component>/[<node_id>/]<object_id>/config)".to_owned());
    };
    if payload.is_empty() || !COMPONENTS.contains(&component) {
        return Ok(None);
    }
    let json: Json = serde_json::from_str(payload).map_err(|error| format!("not JSON: {error}"))?;
    let Json::Object(raw) = json else {
        return Err("not a JSON object".to_owned());
    };
    let config = expand(raw);
    let text = |key: &str| -> Result<Option<String>, String> {
        match config.get(key) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::String(text)) => Ok(Some(text.clone())),
            // Payloads may be given as numbers or booleans (`"pl_on": 1`); they are sent as their JSON text.
            Some(Json::Number(number)) => Ok(Some(number.to_string())),
            Some(Json::Bool(flag)) => Ok(Some(flag.to_string())),
            Some(_) => Err(format!("`{key}` is not a string")),
        }
    };
    let required = |key: &str| text(key)?.ok_or_else(|| format!("no `{key}`"));
    let float = |key: &str, default: f64| -> Result<f64, String> {
        match config.get(key) {
            None | Some(Json::Null) => Ok(default),
            Some(value) => value.as_f64().ok_or_else(|| format!("`{key}` is not a number")),
        }
    };
    let template_field = |key: &str| -> Result<String, String> {
        match text(key)? {
            None => Ok(String::new()),
            Some(template) => json_field_of(&template).map_err(|why| format!("`{key}`: {why}")),
        }
    };
    let qos = match config.get("qos") {
        None | Some(Json::Null) => 0,
        Some(value) => match value.as_u64() {
            Some(qos @ 0..=2) => qos as u8,
            _ => return Err("`qos` is not 0, 1 or 2".to_owned()),
        },
    };
    let retain = match config.get("retain") {
        None | Some(Json::Null) => false,
        Some(Json::Bool(retain)) => *retain,
        Some(_) => return Err("`retain` is not true or false".to_owned()),
    };
    let on_off = |state_field: String| -> Result<Switch, String> {
        let payload_on = text("payload_on")?.unwrap_or_else(|| "ON".to_owned());
        let payload_off = text("payload_off")?.unwrap_or_else(|| "OFF".to_owned());
        Ok(Switch {
            command_topic: text("command_topic")?.unwrap_or_default(),
            state_topic: text("state_topic")?.unwrap_or_default(),
            state_on: text("state_on")?,
            state_off: text("state_off")?,
            payload_on,
            payload_off,
            json_field: state_field,
            qos,
            retain,
            on_label: String::new(),
            off_label: String::new(),
        })
    };
    let kind = match component {
        "switch" => {
            required("command_topic")?;
            CardKind::Switch(on_off(template_field("value_template")?)?)
        }
        "light" => {
            required("command_topic")?;
            match text("schema")?.as_deref() {
                None | Some("default") | Some("basic") => {
                    CardKind::Switch(on_off(template_field("state_value_template")?)?)
                }
                // The JSON schema (Zigbee2MQTT's lights): commands and states are `{"state": "ON"}` objects.
                Some("json") => CardKind::Switch(Switch {
                    payload_on: r#"{"state":"ON"}"#.to_owned(),
                    payload_off: r#"{"state":"OFF"}"#.to_owned(),
                    state_on: Some("ON".to_owned()),
                    state_off: Some("OFF".to_owned()),
                    json_field: "state".to_owned(),
                    ..on_off(String::new())?
                }),
                Some(other) => return Err(format!("light schema `{other}` is not supported")),
            }
        }
        "binary_sensor" => {
            required("state_topic")?;
            let (on_label, off_label) = text("device_class")?
                .as_deref()
                .and_then(binary_sensor_words)
                .unwrap_or(("", ""));
            CardKind::Switch(Switch {
                command_topic: String::new(),
                on_label: on_label.to_owned(),
                off_label: off_label.to_owned(),
                ..on_off(template_field("value_template")?)?
            })
        }
        // Opened and closed as a switch would be: OPEN and CLOSE sent, `open` and `closed` reported (Home
        // Assistant's defaults). Stop and the position are not offered.
        "cover" => {
            required("command_topic")?;
            CardKind::Switch(Switch {
                payload_on: text("payload_open")?.unwrap_or_else(|| "OPEN".to_owned()),
                payload_off: text("payload_close")?.unwrap_or_else(|| "CLOSE".to_owned()),
                state_on: Some(text("state_open")?.unwrap_or_else(|| "open".to_owned())),
                state_off: Some(text("state_closed")?.unwrap_or_else(|| "closed".to_owned())),
                on_label: "Open".to_owned(),
                off_label: "Closed".to_owned(),
                ..on_off(template_field("value_template")?)?
            })
        }
        // The target temperature, as a slider within the thermostat's range (Home Assistant's defaults: 7 to
        // 35 degrees in steps of the precision, else 1; whole degrees sent as such).
        "climate" => CardKind::Slider(Slider {
            topic: required("temperature_command_topic")?,
            state_topic: text("temperature_state_topic")?.unwrap_or_default(),
            min: float("min_temp", 7.0)?,
            max: float("max_temp", 35.0)?,
            step: float("temp_step", float("precision", 1.0)?)?,
            json_field: template_field("temperature_state_template")?,
            unit: match text("temperature_unit")?.as_deref() {
                Some("F") => "°F".to_owned(),
                _ => "°C".to_owned(),
            },
            qos,
            retain,
        }),
        "sensor" => CardKind::Value(Value {
            topic: required("state_topic")?,
            json_field: template_field("value_template")?,
            unit: text("unit_of_measurement")?.unwrap_or_default(),
            min: None,
            max: None,
        }),
        "number" => CardKind::Slider(Slider {
            topic: required("command_topic")?,
            state_topic: text("state_topic")?.unwrap_or_default(),
            min: float("min", 1.0)?,
            max: float("max", 100.0)?,
            step: float("step", 1.0)?,
            json_field: template_field("value_template")?,
            unit: text("unit_of_measurement")?.unwrap_or_default(),
            qos,
            retain,
        }),
        "button" => CardKind::Button(Button {
            topic: required("command_topic")?,
            payload: text("payload_press")?.unwrap_or_else(|| "PRESS".to_owned()),
            qos,
            retain,
        }),
        _ => return Ok(None),
    };
    let card = Card::new(title(&config, topic), kind);
    card.validate()?;
    Ok(Some(Discovered {
        config_topic: topic.to_owned(),
        component: component.to_owned(),
        card,
        availability: availability(&config)?,
    }))
}

/// The words Home Assistant shows for a `binary_sensor` of `device_class` that is on and off, for the classes whose
/// words are not "On" and "Off".
fn binary_sensor_words(device_class: &str) -> Option<(&'static str, &'static str)> {
    Some(match device_class {
        "door" | "garage_door" | "opening" | "window" => ("Open", "Closed"),
        "motion" | "occupancy" | "gas" | "smoke" | "sound" | "vibration" | "carbon_monoxide" | "tamper" => {
            ("Detected", "Clear")
        }
        "moisture" => ("Wet", "Dry"),
        "battery" => ("Low", "Normal"),
        "battery_charging" => ("Charging", "Not charging"),
        "cold" => ("Cold", "Normal"),
        "heat" => ("Hot", "Normal"),
        "connectivity" => ("Connected", "Disconnected"),
        "lock" => ("Unlocked", "Locked"),
        "plug" => ("Plugged in", "Unplugged"),
        "presence" => ("Home", "Away"),
        "problem" => ("Problem", "OK"),
        "running" => ("Running", "Not running"),
        "safety" => ("Unsafe", "Safe"),
        "light" => ("Light detected", "No light"),
        "moving" => ("Moving", "Not moving"),
        "power" => ("Power detected", "No power"),
        "update" => ("Update available", "Up-to-date"),
        _ => return None,
    })
}

/// The card's title: the device's name and the entity's, as Home Assistant shows them; else the object id.
fn title(config: &Map<String, Json>, topic: &str) -> String {
    let name = config
        .get("name")
        .and_then(Json::as_str)
        .filter(|name| !name.is_empty());
    let device = config
        .get("device")
        .and_then(|device| device.get("name"))
        .and_then(Json::as_str)
        .filter(|name| !name.is_empty());
    match (device, name) {
        (Some(device), Some(name)) if !name.starts_with(device) => format!("{device} {name}"),
        (_, Some(name)) => name.to_owned(),
        (Some(device), None) => device.to_owned(),
        (None, None) => topic.rsplit('/').nth(1).unwrap_or(topic).to_owned(),
    }
}

fn availability(config: &Map<String, Json>) -> Result<Availability, String> {
    let default_available = config
        .get("payload_available")
        .and_then(Json::as_str)
        .unwrap_or("online");
    let default_not = config
        .get("payload_not_available")
        .and_then(Json::as_str)
        .unwrap_or("offline");
    let mut topics = Vec::new();
    if let Some(topic) = config.get("availability_topic").and_then(Json::as_str) {
        let template = config.get("availability_template").and_then(Json::as_str);
        topics.push(AvailabilityTopic {
            topic: topic.to_owned(),
            payload_available: default_available.to_owned(),
            payload_not_available: default_not.to_owned(),
            json_field: template.map(json_field_of).transpose()?.unwrap_or_default(),
        });
    }
    match config.get("availability") {
        None | Some(Json::Null) => {}
        Some(Json::Array(entries)) => {
            for entry in entries {
                let Json::Object(entry) = entry else {
                    return Err("an `availability` entry is not an object".to_owned());
                };
                let get = |key: &str| entry.get(key).and_then(Json::as_str);
                let topic = get("topic").ok_or("an `availability` entry has no `topic`")?;
                topics.push(AvailabilityTopic {
                    topic: topic.to_owned(),
                    payload_available: get("payload_available").unwrap_or("online").to_owned(),
                    payload_not_available: get("payload_not_available").unwrap_or("offline").to_owned(),
                    json_field: get("value_template")
                        .map(json_field_of)
                        .transpose()?
                        .unwrap_or_default(),
                });
            }
        }
        Some(_) => return Err("`availability` is not a list".to_owned()),
    }
    let mode = match config.get("availability_mode").and_then(Json::as_str) {
        None | Some("latest") => AvailabilityMode::Latest,
        Some("all") => AvailabilityMode::All,
        Some("any") => AvailabilityMode::Any,
        Some(other) => return Err(format!("`availability_mode` `{other}` is not all, any or latest")),
    };
    Ok(Availability { topics, mode })
}

/// The config with abbreviated keys written out (also in `device` and `availability` entries) and the `~` base
/// topic put into every `…_topic` value (and availability `topic`) that starts or ends with `~`.
fn expand(raw: Map<String, Json>) -> Map<String, Json> {
    let base = raw.get("~").and_then(Json::as_str).map(str::to_owned);
    let mut config = Map::new();
    for (key, mut value) in raw {
        let key = full_key(ABBREVIATIONS, key);
        match (key.as_str(), &mut value) {
            ("device", Json::Object(device)) => {
                let entries = std::mem::take(device);
                *device = entries
                    .into_iter()
                    .map(|(key, value)| (full_key(DEVICE_ABBREVIATIONS, key), value))
                    .collect();
            }
            ("availability", Json::Array(entries)) => {
                for entry in entries {
                    if let Json::Object(entry) = entry {
                        let fields = std::mem::take(entry);
                        *entry = fields
                            .into_iter()
                            .map(|(key, mut value)| {
                                let key = full_key(ABBREVIATIONS, key);
                                if key == "topic" {
                                    with_base(&mut value, base.as_deref());
                                }
                                (key, value)
                            })
                            .collect();
                    }
                }
            }
            (key, value) if key.ends_with("_topic") => with_base(value, base.as_deref()),
            _ => {}
        }
        config.insert(key, value);
    }
    config
}

fn full_key(table: &[(&str, &str)], key: String) -> String {
    table
        .iter()
        .find(|(short, _)| *short == key)
        .map_or(key, |(_, full)| (*full).to_owned())
}

/// `~/state` → `<base>/state`, `state/~` → `state/<base>`.
fn with_base(value: &mut Json, base: Option<&str>) {
    let (Json::String(topic), Some(base)) = (&*value, base) else {
        return;
    };
    let expanded = if let Some(rest) = topic.strip_prefix('~') {
        format!("{base}{rest}")
    } else if let Some(rest) = topic.strip_suffix('~') {
        format!("{rest}{base}")
    } else {
        return;
    };
    *value = Json::String(expanded);
}

/// The JSON field a simple template reads: `{{ value }}` → the whole payload (empty), `{{ value_json.a.b }}`
/// or `{{ value_json['a'] }}` → `a.b` / `a`. Anything else (filters, conditions) is refused in words rather than
/// shown wrong.
pub fn json_field_of(template: &str) -> Result<String, String> {
    let inner = template
        .trim()
        .strip_prefix("{{")
        .and_then(|rest| rest.strip_suffix("}}"))
        .map(str::trim)
        .ok_or_else(|| format!("template {template:?} is not of the form {{{{ value_json.field }}}}"))?;
    if inner == "value" || inner == "value_json" {
        return Ok(String::new());
    }
    let mut rest = inner
        .strip_prefix("value_json")
        .ok_or_else(|| format!("template {template:?} is not supported (only value_json fields)"))?;
    let mut path = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            path.push(&after[..end]);
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after
                .find(']')
                .ok_or_else(|| format!("template {template:?} has an unclosed ["))?;
            path.push(after[..end].trim().trim_matches(['\'', '"']));
            rest = &after[end + 1..];
        } else {
            return Err(format!(
                "template {template:?} is not supported (only value_json fields)"
            ));
        }
    }
    let valid = |part: &&str| !part.is_empty() && part.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-');
    if path.iter().all(valid) {
        Ok(path.join("."))
    } else {
        Err(format!(
            "template {template:?} is not supported (only value_json fields)"
        ))
    }
}

/// A discovery config that could not be understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotUnderstood {
    /// Its topic.
    pub topic: String,
    /// Why, in words.
    pub why: String,
}

/// Every entity announced under `prefix` in `tree`, in topic order, and the configs that could not be read.
pub fn discover(tree: &TopicTree, prefix: &str) -> (Vec<Discovered>, Vec<NotUnderstood>) {
    let mut found = Vec::new();
    let mut failed = Vec::new();
    let Some(root) = tree.get(prefix) else {
        return (found, failed);
    };
    let mut stack: Vec<(String, &Node)> = vec![(prefix.to_owned(), root)];
    while let Some((topic, node)) = stack.pop() {
        if let Some(message) = node.last()
            && config_component(prefix, &topic).is_some()
        {
            let parsed = match &message.payload {
                Payload::Text(text) if text.len() < message.size => Err(format!(
                    "the config is {} bytes, more than the dashboard keeps",
                    message.size
                )),
                Payload::Text(text) => parse_config(prefix, &topic, text),
                Payload::Hex(_) => Err("the config is not UTF-8 text".to_owned()),
            };
            match parsed {
                Ok(Some(entity)) => found.push(entity),
                Ok(None) => {}
                Err(why) => failed.push(NotUnderstood {
                    topic: topic.clone(),
                    why,
                }),
            }
        }
        let children: Vec<_> = node.children().collect();
        for (name, child) in children.into_iter().rev() {
            stack.push((format!("{topic}/{name}"), child));
        }
    }
    (found, failed)
}
