//! Saved messages: a named [`Draft`] the page shows as a one-click button, kept as JSON in the browser's
//! localStorage so it is there after a reload.

use serde_json::{Map, Value, json};

use super::draft::{Draft, PayloadFormat};

/// The localStorage key saved messages are kept under.
pub const STORAGE_KEY: &str = "roost.saved-messages";

/// The most saved messages kept; saving one more drops the oldest.
pub const MAX_SAVED: usize = 50;

/// A message saved under a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedMessage {
    /// The button's label; saving again under the same name replaces it.
    pub name: String,
    /// The form's fields.
    pub draft: Draft,
}

/// `saved` as JSON text.
pub fn to_json(saved: &[SavedMessage]) -> String {
    let list: Vec<Value> = saved
        .iter()
        .map(|saved| {
            let draft = &saved.draft;
            json!({
                "name": saved.name,
                "topic": draft.topic,
                "payload": draft.payload,
                "format": draft.format.name(),
                "qos": draft.qos,
                "retain": draft.retain,
                "content_type": draft.content_type,
                "response_topic": draft.response_topic,
                "correlation_data": draft.correlation_data,
                "message_expiry": draft.message_expiry,
                "user_properties": draft.user_properties,
            })
        })
        .collect();
    Value::Array(list).to_string()
}

/// The saved messages in `text`, or why it cannot be read (another version's data, or a hand-edited value).
/// Missing fields take their defaults; entries without a name or topic are skipped; at most [`MAX_SAVED`].
pub fn from_json(text: &str) -> Result<Vec<SavedMessage>, String> {
    let value: Value = serde_json::from_str(text).map_err(|error| error.to_string())?;
    let Value::Array(list) = value else {
        return Err("not a list".to_owned());
    };
    let saved = list
        .iter()
        .filter_map(Value::as_object)
        .filter_map(|entry| {
            let text = |key: &str| field(entry, key).as_str().unwrap_or_default().to_owned();
            let draft = Draft {
                topic: text("topic"),
                payload: text("payload"),
                format: PayloadFormat::from_name(&text("format")),
                qos: field(entry, "qos").as_u64().filter(|qos| *qos <= 2).unwrap_or(0) as u8,
                retain: field(entry, "retain").as_bool().unwrap_or(false),
                content_type: text("content_type"),
                response_topic: text("response_topic"),
                correlation_data: text("correlation_data"),
                message_expiry: text("message_expiry"),
                user_properties: text("user_properties"),
            };
            let name = text("name");
            (!name.is_empty() && !draft.topic.is_empty()).then_some(SavedMessage { name, draft })
        })
        .take(MAX_SAVED)
        .collect();
    Ok(saved)
}

/// `entry[key]`, or null.
fn field<'a>(entry: &'a Map<String, Value>, key: &str) -> &'a Value {
    entry.get(key).unwrap_or(&Value::Null)
}

/// `saved` with `new` added: replacing one of the same name in place, else at the end, dropping the oldest
/// beyond [`MAX_SAVED`].
pub fn with_saved(mut saved: Vec<SavedMessage>, new: SavedMessage) -> Vec<SavedMessage> {
    match saved.iter_mut().find(|old| old.name == new.name) {
        Some(old) => *old = new,
        None => {
            saved.push(new);
            if saved.len() > MAX_SAVED {
                saved.remove(0);
            }
        }
    }
    saved
}

/// The text stored under `key` in localStorage, if any. `Err` when the browser offers no storage (private
/// modes, disabled cookies).
pub fn load(key: &str) -> Result<Option<String>, String> {
    storage()?
        .get_item(key)
        .map_err(|error| format!("The browser refused to read its storage: {error:?}."))
}

/// Stores `value` under `key` in localStorage, or says why it could not (full, or not offered).
pub fn store(key: &str, value: &str) -> Result<(), String> {
    storage()?
        .set_item(key, value)
        .map_err(|error| format!("The browser refused to save (storage full or disabled): {error:?}."))
}

/// The page's localStorage.
fn storage() -> Result<web_sys::Storage, String> {
    leptos::prelude::window()
        .local_storage()
        .ok()
        .flatten()
        .ok_or_else(|| "This browser offers no local storage, so nothing can be saved.".to_owned())
}
