//! A payload shown three ways (text, pretty JSON, hex), and the numbers a chart draws from payloads. Pure
//! functions over the explorer's [`Payload`], tested directly.

use serde_json::Value;

use super::model::Payload;

/// How the person wants payloads shown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum PayloadView {
    /// As received: UTF-8 text, or hex when it is not text.
    #[default]
    Text,
    /// Parsed as JSON and indented (object keys sorted); text that is not JSON says so and shows as text.
    Json,
    /// Every byte as two hex digits.
    Hex,
}

impl PayloadView {
    /// Every view, in the order the toggle shows them.
    pub const ALL: [Self; 3] = [Self::Text, Self::Json, Self::Hex];

    /// The toggle's label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Text => "Text",
            Self::Json => "JSON",
            Self::Hex => "Hex",
        }
    }
}

/// `payload` as `view` shows it: `Ok(text)`, or `Err` with the text shown instead and why (not JSON).
pub fn render(payload: &Payload, view: PayloadView) -> Result<String, (String, String)> {
    match (view, payload) {
        (PayloadView::Text, payload) => Ok(payload.as_str().to_owned()),
        (PayloadView::Hex, Payload::Text(text)) => Ok(hex(text.as_bytes())),
        (PayloadView::Hex, Payload::Hex(hex)) => Ok(hex.clone()),
        // An empty payload (a retained message being deleted, say) is nothing to parse.
        (PayloadView::Json, Payload::Text(text)) if text.is_empty() => Ok(String::new()),
        (PayloadView::Json, Payload::Text(text)) => {
            pretty_json(text).map_err(|why| (text.clone(), format!("Not JSON: {why}.")))
        }
        (PayloadView::Json, Payload::Hex(hex)) => Err((hex.clone(), "Not JSON: the payload is not UTF-8.".to_owned())),
    }
}

/// `bytes` as space-separated pairs of lowercase hex digits.
pub fn hex(bytes: &[u8]) -> String {
    let pairs: Vec<String> = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    pairs.join(" ")
}

/// `text` parsed as JSON and indented by two spaces, or the parser's complaint (with line and column).
pub fn pretty_json(text: &str) -> Result<String, String> {
    let value: Value = serde_json::from_str(text).map_err(|error| error.to_string())?;
    serde_json::to_string_pretty(&value).map_err(|error| error.to_string())
}

/// Where a chart finds its number in a payload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub enum ChartSource {
    /// The whole payload is a number (`21.5`, ` 40 `).
    #[default]
    Whole,
    /// A field of a JSON payload, as a JSON Pointer (RFC 6901: `/sensor/temperature`, `/values/0`).
    Field(String),
}

/// The number `source` finds in `payload`: a finite number, or a JSON number (or numeric string) at the field.
/// `true`/`false` count as 1 and 0, so a switch's state charts as a step line.
pub fn number(payload: &Payload, source: &ChartSource) -> Option<f64> {
    let Payload::Text(text) = payload else {
        return None;
    };
    match source {
        ChartSource::Whole => parse_number(text),
        ChartSource::Field(pointer) => {
            let value: Value = serde_json::from_str(text).ok()?;
            match value.pointer(pointer)? {
                Value::Number(number) => number.as_f64().filter(|number| number.is_finite()),
                Value::Bool(on) => Some(if *on { 1.0 } else { 0.0 }),
                Value::String(text) => parse_number(text),
                _ => None,
            }
        }
    }
}

/// A finite number written in `text` (surrounding whitespace allowed); `NaN`, `inf` and empty text are not.
fn parse_number(text: &str) -> Option<f64> {
    text.trim().parse::<f64>().ok().filter(|number| number.is_finite())
}

/// The most fields [`numeric_fields`] lists, and how deep it looks.
const MAX_FIELDS: usize = 32;
const MAX_DEPTH: usize = 4;

/// The JSON Pointers of the numeric (or boolean) fields of a JSON object payload, in document order (keys as the
/// payload orders them), at most 32 and at most four levels deep: what the chart's field picker offers. Empty for
/// a payload that is not a JSON object or array.
pub fn numeric_fields(payload: &Payload) -> Vec<String> {
    let Payload::Text(text) = payload else {
        return Vec::new();
    };
    let Ok(value) = serde_json::from_str::<Value>(text) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    if value.is_object() || value.is_array() {
        collect_fields(&value, &mut String::new(), 0, &mut found);
    }
    found
}

/// Depth first: the numeric leaves below `value`, whose pointer is `path`.
fn collect_fields(value: &Value, path: &mut String, depth: usize, found: &mut Vec<String>) {
    if found.len() >= MAX_FIELDS {
        return;
    }
    let children: Vec<(String, &Value)> = match value {
        Value::Number(_) | Value::Bool(_) => {
            found.push(path.clone());
            return;
        }
        _ if depth >= MAX_DEPTH => return,
        Value::Object(map) => map.iter().map(|(key, value)| (escape_pointer(key), value)).collect(),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, value)| (i.to_string(), value))
            .collect(),
        _ => return,
    };
    for (key, child) in children {
        let len = path.len();
        path.push('/');
        path.push_str(&key);
        collect_fields(child, path, depth + 1, found);
        path.truncate(len);
    }
}

/// A key as a JSON Pointer reference token: `~` as `~0`, `/` as `~1` (RFC 6901, section 3).
fn escape_pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}
