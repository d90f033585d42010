//! The Roost dashboard: a leptos client-side app served by the broker, speaking MQTT over WebSocket.
//!
//! - [`mqtt`]: the MQTT service layer, the only code that touches the WebSocket and bytes.
//! - [`components`]: views; they see connection state, never bytes.
//! - [`connection`]: the connection form and profiles.
//! - [`explorer`]: the topic explorer's model and view.
//! - [`publish`]: the publish form and saved messages.
//! - [`app`]: the page, [`App`].

#![warn(missing_docs)]

pub mod app;
pub mod components;
pub mod connection;
pub mod explorer;
pub mod mqtt;
pub mod publish;

pub use app::App;
