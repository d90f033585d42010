//! Publishing from the page: a form (topic, payload as text or JSON, QoS, retain, MQTT 5 properties) and saved
//! messages that become one-click buttons, kept in the browser's localStorage.
//!
//! - [`draft`]: [`Draft`], the form's fields as typed, and their checking into an [`crate::mqtt::Outgoing`].
//! - [`saved`]: [`SavedMessage`]s and their JSON in localStorage.
//! - [`form`]: the [`PublishForm`] component.

pub mod draft;
pub mod form;
pub mod saved;

pub use draft::{Draft, PayloadFormat};
pub use form::{PublishForm, PublishTarget};
pub use saved::SavedMessage;
