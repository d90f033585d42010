//! [`Layout`]: the panel's ordered cards, as the JSON every browser shares through one retained message, and
//! what a message on the layout topic means ([`LayoutState`]).

use serde::{Deserialize, Serialize};

use super::card::Card;
use crate::explorer::model::MAX_TEXT_BYTES;
use crate::explorer::{Payload, TopicMessage};

/// Where the layout is kept unless the person picks another topic.
pub const DEFAULT_LAYOUT_TOPIC: &str = "roost/dashboard";

/// The layout format this dashboard writes and reads. A newer one is refused, never half-read.
pub const LAYOUT_FORMAT: u32 = 1;

/// The largest layout, in bytes of JSON, that every dashboard can read back: received payloads are kept up to
/// this size (see [`MAX_TEXT_BYTES`]), so a bigger layout is refused before it is published.
pub const MAX_LAYOUT_BYTES: usize = MAX_TEXT_BYTES;

/// The panel: cards in order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Layout {
    /// Marks the JSON as a Roost panel and says which format: [`LAYOUT_FORMAT`].
    #[serde(rename = "roost_panel")]
    pub format: u32,
    /// The cards, first shown first.
    pub cards: Vec<Card>,
}

/// Why a payload is not a layout this dashboard can show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayoutError {
    /// Not UTF-8 text.
    NotText,
    /// Not JSON at all; serde_json's words.
    NotJson(String),
    /// JSON, but not a Roost panel (no `roost_panel` format number): another program's message.
    Foreign,
    /// A Roost panel of a newer format.
    Newer(u32),
    /// A Roost panel whose cards do not fit the format; serde_json's words.
    Malformed(String),
    /// Card `index` (from 1) cannot work, and why.
    BadCard(usize, String),
    /// Larger than [`MAX_LAYOUT_BYTES`]: `size` bytes.
    TooLarge(usize),
}

impl std::fmt::Display for LayoutError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotText => write!(f, "The layout is not text (not UTF-8)."),
            Self::NotJson(why) => write!(f, "The layout is not JSON: {why}."),
            Self::Foreign => write!(
                f,
                "This JSON is not a Roost panel layout (it has no \"roost_panel\" format)."
            ),
            Self::Newer(format) => write!(
                f,
                "This panel layout has format {format}, newer than this dashboard's {LAYOUT_FORMAT}: update Roost."
            ),
            Self::Malformed(why) => write!(f, "The panel layout is malformed: {why}."),
            Self::BadCard(index, why) => write!(f, "Card {index} of the layout cannot work: {why}"),
            Self::TooLarge(size) => write!(
                f,
                "The layout is {size} bytes; dashboards read at most {MAX_LAYOUT_BYTES}. Remove a card or two."
            ),
        }
    }
}

impl std::error::Error for LayoutError {}

impl Layout {
    /// An empty layout of the current format.
    pub fn new() -> Self {
        Self {
            format: LAYOUT_FORMAT,
            cards: Vec::new(),
        }
    }

    /// A layout from its JSON: checked to be a Roost panel of a format this dashboard knows, with cards that can
    /// work. Never panics on any input.
    pub fn from_json(json: &str) -> Result<Self, LayoutError> {
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|error| LayoutError::NotJson(error.to_string()))?;
        let format = value
            .get("roost_panel")
            .ok_or(LayoutError::Foreign)?
            .as_u64()
            .ok_or_else(|| LayoutError::Malformed("\"roost_panel\" is not a format number".to_owned()))?;
        if format > u64::from(LAYOUT_FORMAT) {
            return Err(LayoutError::Newer(u32::try_from(format).unwrap_or(u32::MAX)));
        }
        let layout: Self = serde_json::from_value(value).map_err(|error| LayoutError::Malformed(error.to_string()))?;
        for (index, card) in layout.cards.iter().enumerate() {
            card.validate().map_err(|why| LayoutError::BadCard(index + 1, why))?;
        }
        Ok(layout)
    }

    /// The compact JSON published on the layout topic, or why it cannot be (too large for other dashboards to
    /// read back whole).
    pub fn to_json(&self) -> Result<String, LayoutError> {
        // Serializing plain structs of strings and numbers cannot fail; a non-finite number would become null
        // and be refused when read back, and `Card::validate` keeps them out.
        let json = serde_json::to_string(self).unwrap_or_default();
        if json.len() > MAX_LAYOUT_BYTES {
            return Err(LayoutError::TooLarge(json.len()));
        }
        Ok(json)
    }

    /// Indented JSON, for exporting to a file.
    pub fn to_pretty_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Moves card `index` one place up (`-1`) or down (`1`); nothing when it would leave the list.
    pub fn move_card(&mut self, index: usize, by: isize) {
        let Some(to) = index.checked_add_signed(by) else {
            return;
        };
        if index < self.cards.len() && to < self.cards.len() {
            self.cards.swap(index, to);
        }
    }
}

/// What the layout topic holds, as the panel shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum LayoutState {
    /// Nothing published there (or the retained layout was deleted): an empty panel.
    Missing,
    /// A layout.
    Ready(Layout),
    /// Something that is not a usable layout, and why; the panel says so and offers to start afresh.
    Invalid(LayoutError),
}

impl LayoutState {
    /// What `message` (the layout topic's last message, if any) means.
    pub fn of(message: Option<&TopicMessage>) -> Self {
        let Some(message) = message else {
            return Self::Missing;
        };
        match &message.payload {
            // An empty retained message deletes the retained layout [MQTT-3.3.1-6]; as a live message it says
            // the same thing.
            Payload::Text(text) if text.is_empty() => Self::Missing,
            Payload::Text(_) if message.size > MAX_LAYOUT_BYTES => Self::Invalid(LayoutError::TooLarge(message.size)),
            Payload::Text(text) => match Layout::from_json(text) {
                Ok(layout) => Self::Ready(layout),
                Err(error) => Self::Invalid(error),
            },
            Payload::Hex(_) => Self::Invalid(LayoutError::NotText),
        }
    }
}
