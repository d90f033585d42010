//! The control panel: cards bound to topics, laid out by the person and shared by every browser through a
//! retained message, and the cards Home Assistant discovery announces.
//!
//! - [`card`]: [`Card`], one tile (switch, button, slider, value/gauge, text input, chart), and how it reads
//!   the state its device reports.
//! - [`layout`]: [`Layout`], the cards in order as JSON, and what the layout topic holds ([`LayoutState`]).
//! - [`discovery`]: Home Assistant MQTT discovery configs as cards.
//! - [`history`]: a chart card's bounded history; [`remembered`]: what the broker remembers of the cards' topics.
//! - [`answer`]: whether a card's command was answered by its device (waiting, no answer).
//! - [`draft`]: the card editor's form values, checked into a [`Card`].
//! - [`view`]: the panel and the discovered devices; [`cards`]: one card's view; [`add`]: "Add to panel".

pub mod add;
pub mod answer;
pub mod card;
pub mod cards;
pub mod discovery;
pub mod draft;
pub mod history;
pub mod layout;
pub mod remembered;
pub mod view;

pub use add::{AddToPanel, AddToPanelButton};
pub use card::{Button, Card, CardKind, Chart, Slider, Switch, SwitchState, TextInput, Value};
pub use discovery::{Discovered, Presence};
pub use layout::{DEFAULT_LAYOUT_TOPIC, Layout, LayoutError, LayoutState};
pub use view::{DiscoveredDevices, Panel};
