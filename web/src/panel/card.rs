//! [`Card`]: one tile of the control panel, bound to topics, as plain data that serializes to the layout's JSON.
//! Also how a card reads the state its device reports ([`extract`], [`Switch::state`], [`Slider::state`]) and
//! how it checks itself ([`Card::validate`]). Pure: no signals, no DOM.

use roost_codec::TopicName;
use serde::{Deserialize, Serialize};

/// One card: a title and what it does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Card {
    /// What the card is called on the page; the topic when empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub title: String,
    /// The kind of card and its topics, tagged by `"type"` in the JSON.
    #[serde(flatten)]
    pub kind: CardKind,
}

/// The kinds of card, each with its own settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CardKind {
    /// On/off: sends a command, shows the reported state.
    Switch(Switch),
    /// Sends one fixed payload.
    Button(Button),
    /// A number in a range, sent when released.
    Slider(Slider),
    /// Shows a value, as a gauge when given a range.
    Value(Value),
    /// Sends what is typed.
    Text(TextInput),
    /// A line chart of a topic's numeric values.
    Chart(Chart),
}

/// A switch card. With no command topic it only shows the state (a Home Assistant `binary_sensor`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Switch {
    /// Where the on/off commands go; empty for a read-only state.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub command_topic: String,
    /// Where the device reports its state; the command topic when empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub state_topic: String,
    /// The command that turns it on.
    #[serde(default = "on")]
    pub payload_on: String,
    /// The command that turns it off.
    #[serde(default = "off")]
    pub payload_off: String,
    /// The reported state meaning on; `payload_on` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_on: Option<String>,
    /// The reported state meaning off; `payload_off` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_off: Option<String>,
    /// A JSON field of the state payload holding the state (`state`, `a.b`); the whole payload when empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub json_field: String,
    /// The commands' QoS.
    #[serde(default = "qos1")]
    pub qos: u8,
    /// Whether the commands are retained.
    #[serde(default, skip_serializing_if = "is_false")]
    pub retain: bool,
    /// The word for the "on" state ("Open" for a door, from Home Assistant's device class); "On" when empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub on_label: String,
    /// The word for the "off" state ("Closed"); "Off" when empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub off_label: String,
}

/// A button card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Button {
    /// Where the payload goes.
    pub topic: String,
    /// What a press sends.
    #[serde(default)]
    pub payload: String,
    /// Its QoS.
    #[serde(default = "qos1")]
    pub qos: u8,
    /// Whether it is retained.
    #[serde(default, skip_serializing_if = "is_false")]
    pub retain: bool,
}

/// A slider card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Slider {
    /// Where the chosen number goes.
    pub topic: String,
    /// Where the device reports the number; `topic` when empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub state_topic: String,
    /// The lowest value.
    pub min: f64,
    /// The highest value.
    pub max: f64,
    /// The distance between two values; above zero.
    #[serde(default = "one")]
    pub step: f64,
    /// A JSON field of the state payload holding the number; the whole payload when empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub json_field: String,
    /// The unit shown beside the number.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub unit: String,
    /// The QoS of what it sends.
    #[serde(default = "qos1")]
    pub qos: u8,
    /// Whether what it sends is retained.
    #[serde(default, skip_serializing_if = "is_false")]
    pub retain: bool,
}

/// A value card; a gauge when `min` and `max` are both given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Value {
    /// The topic shown.
    pub topic: String,
    /// A JSON field of the payload to show; the whole payload when empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub json_field: String,
    /// The unit shown beside the value.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub unit: String,
    /// The gauge's low end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// The gauge's high end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

/// A text input card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextInput {
    /// Where the text goes.
    pub topic: String,
    /// Where the current value is read; `topic` when empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub state_topic: String,
    /// Its QoS.
    #[serde(default = "qos1")]
    pub qos: u8,
    /// Whether it is retained.
    #[serde(default, skip_serializing_if = "is_false")]
    pub retain: bool,
}

/// A chart card: the last `points` numeric values of a topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chart {
    /// The topic charted.
    pub topic: String,
    /// A JSON field of the payload holding the number; the whole payload when empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub json_field: String,
    /// The unit shown beside the last value.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub unit: String,
    /// How many values the chart keeps, 2 to [`MAX_CHART_POINTS`].
    #[serde(default = "default_points")]
    pub points: usize,
}

/// The most values a chart keeps: its memory is bounded however long the page stays open.
pub const MAX_CHART_POINTS: usize = 1000;

fn on() -> String {
    "ON".to_owned()
}
fn off() -> String {
    "OFF".to_owned()
}
fn qos1() -> u8 {
    1
}
fn one() -> f64 {
    1.0
}
fn default_points() -> usize {
    60
}
fn is_false(value: &bool) -> bool {
    !value
}

impl Switch {
    /// A switch sending `ON`/`OFF` to `command_topic` and reading the state from `state_topic`.
    pub fn new(command_topic: impl Into<String>, state_topic: impl Into<String>) -> Self {
        Self {
            command_topic: command_topic.into(),
            state_topic: state_topic.into(),
            payload_on: on(),
            payload_off: off(),
            state_on: None,
            state_off: None,
            json_field: String::new(),
            qos: 1,
            retain: false,
            on_label: String::new(),
            off_label: String::new(),
        }
    }

    /// The topic the state is read from.
    pub fn state_topic(&self) -> &str {
        if self.state_topic.is_empty() {
            &self.command_topic
        } else {
            &self.state_topic
        }
    }

    /// The word for a state: the card's labels, else "On" and "Off".
    pub fn word(&self, on: bool) -> &str {
        match (on, self.on_label.as_str(), self.off_label.as_str()) {
            (true, "", _) => "On",
            (true, label, _) => label,
            (false, _, "") => "Off",
            (false, _, label) => label,
        }
    }

    /// What a reported `payload` means.
    pub fn state(&self, payload: &str) -> SwitchState {
        let value = match extract(payload, &self.json_field) {
            Ok(value) => value,
            Err(why) => return SwitchState::Unreadable(why),
        };
        let state_on = self.state_on.as_deref().unwrap_or(&self.payload_on);
        let state_off = self.state_off.as_deref().unwrap_or(&self.payload_off);
        if value == state_on {
            SwitchState::On
        } else if value == state_off {
            SwitchState::Off
        } else {
            SwitchState::Other(value)
        }
    }
}

/// What a switch's device reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SwitchState {
    /// The "on" state.
    On,
    /// The "off" state.
    Off,
    /// Some other value, shown as it is.
    Other(String),
    /// The payload is not what the card expects (not JSON, no such field), and why.
    Unreadable(String),
}

impl Slider {
    /// The topic the state is read from.
    pub fn state_topic(&self) -> &str {
        if self.state_topic.is_empty() {
            &self.topic
        } else {
            &self.state_topic
        }
    }

    /// The number a reported `payload` holds.
    pub fn state(&self, payload: &str) -> Result<f64, String> {
        number(&extract(payload, &self.json_field)?)
    }

    /// `value` as sent: with as many decimals as the step has (`0.5` → one), so `20` is sent as `20`, not `20.0`.
    pub fn format(&self, value: f64) -> String {
        format!("{value:.*}", decimals(self.step).max(decimals(self.min)))
    }
}

impl TextInput {
    /// The topic the current value is read from.
    pub fn state_topic(&self) -> &str {
        if self.state_topic.is_empty() {
            &self.topic
        } else {
            &self.state_topic
        }
    }
}

impl Value {
    /// What a `payload` shows: the text, and the gauge's fill from 0 to 1 when this is a gauge and the value is a
    /// number.
    pub fn reading(&self, payload: &str) -> Result<(String, Option<f64>), String> {
        let text = extract(payload, &self.json_field)?;
        let fill = match (self.min, self.max, number(&text)) {
            (Some(min), Some(max), Ok(value)) if max > min => Some(((value - min) / (max - min)).clamp(0.0, 1.0)),
            _ => None,
        };
        Ok((text, fill))
    }
}

impl Chart {
    /// The number a `payload` holds.
    pub fn value(&self, payload: &str) -> Result<f64, String> {
        number(&extract(payload, &self.json_field)?)
    }
}

/// How many decimals `step` is written with (at most 6).
fn decimals(step: f64) -> usize {
    (0..6)
        .find(|&places| {
            let scaled = step * 10f64.powi(places as i32);
            (scaled - scaled.round()).abs() < 1e-9
        })
        .unwrap_or(6)
}

/// `text` as a finite number, or why not.
pub fn number(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(value) if value.is_finite() => Ok(value),
        _ => Err(format!("{text:?} is not a number")),
    }
}

/// The value a card shows from `payload`: the whole payload when `json_field` is empty, else that field of the
/// payload's JSON object (`a.b` for nested objects, `list.0` for an array's first item). Strings are shown without
/// quotes, other JSON values as JSON.
pub fn extract(payload: &str, json_field: &str) -> Result<String, String> {
    if json_field.is_empty() {
        return Ok(payload.to_owned());
    }
    let json: serde_json::Value =
        serde_json::from_str(payload).map_err(|_| format!("not JSON, so no field `{json_field}`"))?;
    let mut value = &json;
    for key in json_field.split('.') {
        let next = match value {
            serde_json::Value::Object(map) => map.get(key),
            serde_json::Value::Array(items) => key.parse::<usize>().ok().and_then(|index| items.get(index)),
            _ => None,
        };
        value = next.ok_or_else(|| format!("no field `{json_field}` in the JSON"))?;
    }
    Ok(match value {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    })
}

impl Card {
    /// A card titled `title`.
    pub fn new(title: impl Into<String>, kind: CardKind) -> Self {
        Self {
            title: title.into(),
            kind,
        }
    }

    /// The title shown: the title, or the card's main topic when it has none.
    pub fn shown_title(&self) -> &str {
        if !self.title.is_empty() {
            return &self.title;
        }
        match &self.kind {
            CardKind::Switch(switch) => switch.state_topic(),
            CardKind::Button(Button { topic, .. })
            | CardKind::Slider(Slider { topic, .. })
            | CardKind::Value(Value { topic, .. })
            | CardKind::Text(TextInput { topic, .. })
            | CardKind::Chart(Chart { topic, .. }) => topic,
        }
    }

    /// The topic whose state the card shows (what the broker's history records for it), `None` for a button.
    pub fn shown_topic(&self) -> Option<&str> {
        match &self.kind {
            CardKind::Switch(switch) => Some(switch.state_topic()),
            CardKind::Slider(slider) => Some(slider.state_topic()),
            CardKind::Text(text) => Some(text.state_topic()),
            CardKind::Value(Value { topic, .. }) | CardKind::Chart(Chart { topic, .. }) => Some(topic.as_str()),
            CardKind::Button(_) => None,
        }
        .filter(|topic| !topic.is_empty())
    }

    /// Whether the card sends anything (a read-only switch, a value and a chart do not).
    pub fn has_controls(&self) -> bool {
        match &self.kind {
            CardKind::Switch(switch) => !switch.command_topic.is_empty(),
            CardKind::Button(_) | CardKind::Slider(_) | CardKind::Text(_) => true,
            CardKind::Value(_) | CardKind::Chart(_) => false,
        }
    }

    /// The kind's name, as in the JSON's `"type"`.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            CardKind::Switch(_) => "switch",
            CardKind::Button(_) => "button",
            CardKind::Slider(_) => "slider",
            CardKind::Value(_) => "value",
            CardKind::Text(_) => "text",
            CardKind::Chart(_) => "chart",
        }
    }

    /// Whether the card can work: topics that are valid topic names, a range that is one, QoS 0 to 2. Says
    /// what is wrong, in words.
    pub fn validate(&self) -> Result<(), String> {
        match &self.kind {
            CardKind::Switch(switch) => {
                if switch.command_topic.is_empty() && switch.state_topic.is_empty() {
                    return Err("A switch needs a command topic, a state topic or both.".to_owned());
                }
                optional_topic("command topic", &switch.command_topic)?;
                optional_topic("state topic", &switch.state_topic)?;
                if switch.payload_on == switch.payload_off {
                    return Err("The on and off payloads must differ.".to_owned());
                }
                if switch.state_on.is_some() && switch.state_on == switch.state_off {
                    return Err("The on and off states must differ.".to_owned());
                }
                qos(switch.qos)
            }
            CardKind::Button(button) => {
                topic("topic", &button.topic)?;
                qos(button.qos)
            }
            CardKind::Slider(slider) => {
                topic("topic", &slider.topic)?;
                optional_topic("state topic", &slider.state_topic)?;
                if !(slider.min.is_finite() && slider.max.is_finite() && slider.min < slider.max) {
                    return Err(format!(
                        "The slider's minimum ({}) must be below its maximum ({}).",
                        slider.min, slider.max
                    ));
                }
                if !(slider.step.is_finite() && slider.step > 0.0 && slider.step <= slider.max - slider.min) {
                    return Err(format!(
                        "The slider's step ({}) must be above 0 and at most its range.",
                        slider.step
                    ));
                }
                qos(slider.qos)
            }
            CardKind::Value(value) => {
                topic("topic", &value.topic)?;
                match (value.min, value.max) {
                    (Some(min), Some(max)) if !(min.is_finite() && max.is_finite() && min < max) => Err(format!(
                        "The gauge's minimum ({min}) must be below its maximum ({max})."
                    )),
                    (Some(_), None) | (None, Some(_)) => {
                        Err("A gauge needs both a minimum and a maximum (or neither, for a plain value).".to_owned())
                    }
                    _ => Ok(()),
                }
            }
            CardKind::Text(text) => {
                topic("topic", &text.topic)?;
                optional_topic("state topic", &text.state_topic)?;
                qos(text.qos)
            }
            CardKind::Chart(chart) => {
                topic("topic", &chart.topic)?;
                if !(2..=MAX_CHART_POINTS).contains(&chart.points) {
                    return Err(format!(
                        "A chart keeps 2 to {MAX_CHART_POINTS} values, not {}.",
                        chart.points
                    ));
                }
                Ok(())
            }
        }
    }
}

/// `name` must be a topic name one can publish to: not empty, no wildcards [MQTT-3.3.2-2].
fn topic(what: &str, name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err(format!("The {what} is missing."));
    }
    TopicName::new(name)
        .map(|_| ())
        .map_err(|error| format!("The {what} {name:?} is not a topic name: {error}."))
}

/// Like [`topic`], but empty is allowed.
fn optional_topic(what: &str, name: &str) -> Result<(), String> {
    if name.is_empty() { Ok(()) } else { topic(what, name) }
}

fn qos(qos: u8) -> Result<(), String> {
    if qos <= 2 {
        Ok(())
    } else {
        Err(format!("QoS {qos} does not exist; pick 0, 1 or 2."))
    }
}
