//! [`Draft`]: the card editor's fields as typed (all text), turned into a checked [`Card`] or an error in words.
//! One flat set of fields serves every kind of card; each kind reads the ones it needs.

use super::card::{Button, Card, CardKind, Chart, Slider, Switch, TextInput, Value, number};

/// The kinds a person can pick in the editor, as `(value, label)`.
pub const KINDS: [(&str, &str); 6] = [
    ("switch", "Switch"),
    ("button", "Button"),
    ("slider", "Slider"),
    ("value", "Value or gauge"),
    ("text", "Text input"),
    ("chart", "Chart"),
];

/// A label for each kind of card, `None` for kinds without the field.
pub type Label = fn(&str) -> Option<&'static str>;

/// The editor's text fields, in order: the name (as in [`Draft::field`]) and the label for a kind.
pub const FIELDS: [(&str, Label); 10] = [
    ("title", |_| Some("Title")),
    ("topic", |kind| {
        Some(if kind == "switch" { "Command topic" } else { "Topic" })
    }),
    ("state_topic", |kind| {
        matches!(kind, "switch" | "slider" | "text").then_some("State topic (empty: the same)")
    }),
    ("payload_on", |kind| match kind {
        "switch" => Some("On payload"),
        "button" => Some("Payload"),
        _ => None,
    }),
    ("payload_off", |kind| (kind == "switch").then_some("Off payload")),
    ("json_field", |kind| {
        matches!(kind, "switch" | "slider" | "value" | "chart")
            .then_some("JSON field of the state (empty: whole payload)")
    }),
    ("min", |kind| matches!(kind, "slider" | "value").then_some("Minimum")),
    ("max", |kind| matches!(kind, "slider" | "value").then_some("Maximum")),
    ("step", |kind| match kind {
        "slider" => Some("Step"),
        "chart" => Some("Values kept"),
        _ => None,
    }),
    ("unit", |kind| {
        matches!(kind, "slider" | "value" | "chart").then_some("Unit")
    }),
];

/// The editor's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    /// One of [`KINDS`]' values.
    pub kind: String,
    /// The title.
    pub title: String,
    /// The command topic (switch), or the topic (every other kind).
    pub topic: String,
    /// The state topic (switch, slider, text input).
    pub state_topic: String,
    /// The on payload (switch), or the payload (button).
    pub payload_on: String,
    /// The off payload (switch).
    pub payload_off: String,
    /// The JSON field of the state (switch, slider, value, chart).
    pub json_field: String,
    /// Minimum (slider, gauge).
    pub min: String,
    /// Maximum (slider, gauge).
    pub max: String,
    /// Step (slider), or the number of values kept (chart).
    pub step: String,
    /// Unit (slider, value, chart).
    pub unit: String,
}

impl Default for Draft {
    fn default() -> Self {
        Self {
            kind: "switch".to_owned(),
            title: String::new(),
            topic: String::new(),
            state_topic: String::new(),
            payload_on: "ON".to_owned(),
            payload_off: "OFF".to_owned(),
            json_field: String::new(),
            min: "0".to_owned(),
            max: "100".to_owned(),
            step: "1".to_owned(),
            unit: String::new(),
        }
    }
}

impl Draft {
    /// The text field called `name` (one of [`FIELDS`]), if it is one.
    pub fn field(&self, name: &str) -> Option<&String> {
        Some(match name {
            "title" => &self.title,
            "topic" => &self.topic,
            "state_topic" => &self.state_topic,
            "payload_on" => &self.payload_on,
            "payload_off" => &self.payload_off,
            "json_field" => &self.json_field,
            "min" => &self.min,
            "max" => &self.max,
            "step" => &self.step,
            "unit" => &self.unit,
            _ => return None,
        })
    }

    /// The text field called `name` (one of [`FIELDS`]), to change it.
    pub fn field_mut(&mut self, name: &str) -> Option<&mut String> {
        Some(match name {
            "title" => &mut self.title,
            "topic" => &mut self.topic,
            "state_topic" => &mut self.state_topic,
            "payload_on" => &mut self.payload_on,
            "payload_off" => &mut self.payload_off,
            "json_field" => &mut self.json_field,
            "min" => &mut self.min,
            "max" => &mut self.max,
            "step" => &mut self.step,
            "unit" => &mut self.unit,
            _ => return None,
        })
    }

    /// The fields showing `card`, for editing it.
    pub fn of(card: &Card) -> Self {
        let mut draft = Self {
            kind: card.type_name().to_owned(),
            title: card.title.clone(),
            ..Self::default()
        };
        match &card.kind {
            CardKind::Switch(switch) => {
                draft.topic = switch.command_topic.clone();
                draft.state_topic = switch.state_topic.clone();
                draft.payload_on = switch.payload_on.clone();
                draft.payload_off = switch.payload_off.clone();
                draft.json_field = switch.json_field.clone();
            }
            CardKind::Button(button) => {
                draft.topic = button.topic.clone();
                draft.payload_on = button.payload.clone();
            }
            CardKind::Slider(slider) => {
                draft.topic = slider.topic.clone();
                draft.state_topic = slider.state_topic.clone();
                draft.json_field = slider.json_field.clone();
                draft.min = slider.min.to_string();
                draft.max = slider.max.to_string();
                draft.step = slider.step.to_string();
                draft.unit = slider.unit.clone();
            }
            CardKind::Value(value) => {
                draft.topic = value.topic.clone();
                draft.json_field = value.json_field.clone();
                draft.unit = value.unit.clone();
                draft.min = value.min.map(|min| min.to_string()).unwrap_or_default();
                draft.max = value.max.map(|max| max.to_string()).unwrap_or_default();
            }
            CardKind::Text(text) => {
                draft.topic = text.topic.clone();
                draft.state_topic = text.state_topic.clone();
            }
            CardKind::Chart(chart) => {
                draft.topic = chart.topic.clone();
                draft.json_field = chart.json_field.clone();
                draft.unit = chart.unit.clone();
                draft.step = chart.points.to_string();
            }
        }
        draft
    }

    /// The card these fields describe, checked ([`Card::validate`]), or what is wrong. `previous` is the card
    /// being edited, whose settings the editor does not show (QoS, retain, state payloads) are kept.
    pub fn to_card(&self, previous: Option<&Card>) -> Result<Card, String> {
        let trim = |text: &str| text.trim().to_owned();
        let field = |what: &str, text: &str| number(text).map_err(|_| format!("The {what} {text:?} is not a number."));
        let optional = |what: &str, text: &str| {
            if text.trim().is_empty() {
                Ok(None)
            } else {
                field(what, text).map(Some)
            }
        };
        let kind = match self.kind.as_str() {
            "switch" => {
                let mut switch = match previous.map(|card| &card.kind) {
                    Some(CardKind::Switch(switch)) => switch.clone(),
                    _ => Switch::new("", ""),
                };
                switch.command_topic = trim(&self.topic);
                switch.state_topic = trim(&self.state_topic);
                switch.payload_on = self.payload_on.clone();
                switch.payload_off = self.payload_off.clone();
                switch.json_field = trim(&self.json_field);
                CardKind::Switch(switch)
            }
            "button" => {
                let (qos, retain) = match previous.map(|card| &card.kind) {
                    Some(CardKind::Button(button)) => (button.qos, button.retain),
                    _ => (1, false),
                };
                CardKind::Button(Button {
                    topic: trim(&self.topic),
                    payload: self.payload_on.clone(),
                    qos,
                    retain,
                })
            }
            "slider" => {
                let (qos, retain) = match previous.map(|card| &card.kind) {
                    Some(CardKind::Slider(slider)) => (slider.qos, slider.retain),
                    _ => (1, false),
                };
                CardKind::Slider(Slider {
                    topic: trim(&self.topic),
                    state_topic: trim(&self.state_topic),
                    min: field("minimum", &self.min)?,
                    max: field("maximum", &self.max)?,
                    step: field("step", &self.step)?,
                    json_field: trim(&self.json_field),
                    unit: trim(&self.unit),
                    qos,
                    retain,
                })
            }
            "value" => CardKind::Value(Value {
                topic: trim(&self.topic),
                json_field: trim(&self.json_field),
                unit: trim(&self.unit),
                min: optional("minimum", &self.min)?,
                max: optional("maximum", &self.max)?,
            }),
            "text" => {
                let (qos, retain) = match previous.map(|card| &card.kind) {
                    Some(CardKind::Text(text)) => (text.qos, text.retain),
                    _ => (1, false),
                };
                CardKind::Text(TextInput {
                    topic: trim(&self.topic),
                    state_topic: trim(&self.state_topic),
                    qos,
                    retain,
                })
            }
            "chart" => CardKind::Chart(Chart {
                topic: trim(&self.topic),
                json_field: trim(&self.json_field),
                unit: trim(&self.unit),
                points: self
                    .step
                    .trim()
                    .parse()
                    .map_err(|_| format!("The number of values {:?} is not a whole number.", self.step))?,
            }),
            other => return Err(format!("There is no {other:?} card.")),
        };
        let card = Card::new(self.title.trim(), kind);
        card.validate()?;
        Ok(card)
    }
}
