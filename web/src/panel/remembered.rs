//! What the broker remembers of the panel's topics (`GET /api/history`, see the broker's `history.rs`): a card's
//! last value and a chart's values from before the page was opened, so a reload does not start empty while a
//! sensor that does not retain its readings has not spoken again.
//!
//! [`Remembered`] is provided by the panel as context; [`reported`](super::cards) falls back to it for a topic
//! the page has not received anything on, and a chart card starts from its series. Read with the browser's own
//! `JSON.parse` (as the login API is), so no deserializer is added to the wasm.

use std::collections::HashMap;

use js_sys::{Array, JSON, Reflect};
use leptos::prelude::*;
use wasm_bindgen::{JsCast, JsValue};

/// One topic as the broker remembers it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RememberedTopic {
    /// The last payload and when it arrived (Unix ms); `None` when the broker kept none (binary or too long).
    pub last: Option<(String, u64)>,
    /// By JSON field (`""`: the payload itself): every recent value, oldest first, as `(Unix ms, value)`.
    pub series: HashMap<String, Vec<(u64, f64)>>,
}

impl RememberedTopic {
    /// Parses the broker's answer to `GET /api/history?topic=T`; `None` if it is not one.
    pub fn from_json(text: &str) -> Option<Self> {
        let answer = JSON::parse(text).ok().filter(JsValue::is_object)?;
        let last = get(&answer, "last");
        let last = if last.is_object() {
            let payload = get(&last, "payload").as_string();
            let time = get(&last, "time").as_f64().unwrap_or(0.0) as u64;
            payload.map(|payload| (payload, time))
        } else {
            None
        };
        let mut series = HashMap::new();
        let fields = get(&answer, "series");
        if let Some(object) = fields.dyn_ref::<js_sys::Object>() {
            for name in js_sys::Object::keys(object).iter().filter_map(|name| name.as_string()) {
                let points = Array::from(&get(&get(&fields, &name), "recent"))
                    .iter()
                    .filter_map(|point| {
                        let point = Array::from(&point);
                        Some((point.get(0).as_f64()? as u64, point.get(1).as_f64()?))
                    })
                    .collect();
                series.insert(name, points);
            }
        }
        Some(RememberedTopic { last, series })
    }
}

fn get(object: &JsValue, name: &str) -> JsValue {
    Reflect::get(object, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

/// The remembered topics, filled in as the broker answers. Context provided by the panel.
#[derive(Debug, Clone, Copy)]
pub struct Remembered(pub RwSignal<HashMap<String, RememberedTopic>>);

impl Remembered {
    /// An empty one.
    pub fn new() -> Self {
        Remembered(RwSignal::new(HashMap::new()))
    }

    /// Asks the broker for each of `topics` not asked for yet. A topic the broker does not record, or that this
    /// login may not read, or a broker without the API (`trunk serve`), just has nothing remembered.
    pub fn load(self, topics: Vec<String>) {
        let wanted: Vec<String> = self
            .0
            .with_untracked(|known| topics.into_iter().filter(|topic| !known.contains_key(topic)).collect());
        if wanted.is_empty() {
            return;
        }
        // Marked at once, so a panel that changes while the answers travel does not ask twice.
        self.0.update(|known| {
            for topic in &wanted {
                known.entry(topic.clone()).or_default();
            }
        });
        leptos::task::spawn_local(async move {
            for topic in wanted {
                let path = format!(
                    "/api/history?topic={}",
                    String::from(js_sys::encode_uri_component(&topic))
                );
                let Ok((200, text)) = crate::account::api::request("GET", &path, None).await else {
                    continue;
                };
                if let Some(remembered) = RememberedTopic::from_json(&text) {
                    self.0.update(|known| {
                        known.insert(topic, remembered);
                    });
                }
            }
        });
    }

    /// The remembered last payload of `topic`, tracked.
    pub fn last(self, topic: &str) -> Option<String> {
        self.0
            .with(|known| known.get(topic)?.last.as_ref().map(|(payload, _)| payload.clone()))
    }

    /// The remembered values of `topic`'s `field`, tracked.
    pub fn series(self, topic: &str, field: &str) -> Option<Vec<(u64, f64)>> {
        self.0.with(|known| known.get(topic)?.series.get(field).cloned())
    }
}

impl Default for Remembered {
    fn default() -> Self {
        Self::new()
    }
}
