//! Connection profiles: named [`ConnectionSettings`] kept as one JSON object in localStorage (passwords left
//! out), and the settings last applied, so a reload connects the same way.

use serde_json::{Map, Value};

use crate::mqtt::ConnectionSettings;

/// The localStorage key of the named profiles.
pub const PROFILES_KEY: &str = "roost.profiles";

/// The localStorage key of the settings last applied.
pub const ACTIVE_KEY: &str = "roost.connection";

/// The most profiles kept.
pub const MAX_PROFILES: usize = 20;

/// Profiles (name, settings) in name order, as JSON text.
pub fn profiles_to_json(profiles: &[(String, ConnectionSettings)]) -> String {
    let map: Map<String, Value> = profiles
        .iter()
        .map(|(name, settings)| (name.clone(), settings.to_json()))
        .collect();
    Value::Object(map).to_string()
}

/// The profiles in `text`, in name order, missing fields taken from `defaults`; or why it cannot be read.
pub fn profiles_from_json(
    text: &str,
    defaults: &ConnectionSettings,
) -> Result<Vec<(String, ConnectionSettings)>, String> {
    let value: Value = serde_json::from_str(text).map_err(|error| error.to_string())?;
    let Value::Object(map) = value else {
        return Err("not an object of profiles".to_owned());
    };
    Ok(map
        .iter()
        .filter_map(|(name, settings)| {
            let settings = settings.as_object()?;
            Some((name.clone(), ConnectionSettings::from_json(settings, defaults)))
        })
        .take(MAX_PROFILES)
        .collect())
}

/// Settings stored as one JSON object (the active ones), missing fields from `defaults`; `None` if unreadable.
pub fn settings_from_json(text: &str, defaults: &ConnectionSettings) -> Option<ConnectionSettings> {
    match serde_json::from_str::<Value>(text).ok()? {
        Value::Object(map) => Some(ConnectionSettings::from_json(&map, defaults)),
        _ => None,
    }
}

/// `profiles` with `settings` saved as `name` (replacing one of that name), in name order; `Err` when that would
/// exceed [`MAX_PROFILES`].
pub fn with_profile(
    mut profiles: Vec<(String, ConnectionSettings)>,
    name: &str,
    settings: ConnectionSettings,
) -> Result<Vec<(String, ConnectionSettings)>, String> {
    let full = profiles.len() >= MAX_PROFILES;
    match profiles.iter_mut().find(|(old, _)| old == name) {
        Some((_, old)) => *old = settings,
        None if full => return Err(format!("At most {MAX_PROFILES} profiles are kept; delete one first.")),
        None => profiles.push((name.to_owned(), settings)),
    }
    profiles.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(profiles)
}
