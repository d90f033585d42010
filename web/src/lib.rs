//! The Roost dashboard: a leptos client-side app served by the broker, speaking MQTT over WebSocket.
//!
//! - [`account`]: logging in to the broker that serves the page (login form, session, logout, reload).
//! - [`mqtt`]: the MQTT service layer, the only code that touches the WebSocket and bytes.
//! - [`components`]: views; they see connection state, never bytes.
//! - [`connection`]: the connection form and profiles.
//! - [`explorer`]: the topic explorer's model and view.
//! - [`panel`]: the control panel's cards, shared layout and Home Assistant discovery.
//! - [`broker_view`]: the broker's `$SYS` figures.
//! - [`publish`]: the publish form and saved messages.
//! - [`app`]: the page, [`App`].

#![warn(missing_docs)]

pub mod account;
pub mod app;
pub mod broker_view;
pub mod components;
pub mod connection;
pub mod explorer;
pub mod mqtt;
pub mod panel;
pub mod publish;

pub use app::App;
