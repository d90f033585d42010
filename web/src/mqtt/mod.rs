//! The MQTT service layer: the only part of the dashboard that touches the WebSocket and MQTT bytes.
//! Components get a [`ConnectionState`] signal and a [`crate::explorer::TopicTree`] signal, and publish through
//! [`MqttService::publish`] with an [`Outgoing`] of plain values; they never see a packet.
//!
//! - `link`: [`Link`], the connection without I/O: a `roost_codec::client::Client` per attempt, the events
//!   turned into [`ConnectionState`], reconnects with backoff.
//! - `service`: [`MqttService`], which runs a [`Link`] with a browser WebSocket and one timer.
//! - `socket`: the WebSocket itself, and the broker's URL.
//! - `message`: a received PUBLISH as the explorer's plain [`crate::explorer::TopicMessage`].
//! - `outgoing`: [`Outgoing`], a message to publish as plain values (what forms and cards hand the service).
//! - `settings`: [`ConnectionSettings`], the connection as a person sets it, checked into the codec's options.

mod backoff;
mod link;
mod message;
mod outgoing;
mod service;
mod settings;
mod socket;
mod state;
mod why;

pub use link::{Action, Link, dashboard_options};
pub use message::topic_message;
pub use outgoing::{Outgoing, Publisher};
pub use service::MqttService;
pub use settings::{ConnectionSettings, MqttVersion, generated_client_id};
pub use socket::{mqtt_url, page_mqtt_url};
pub use state::ConnectionState;
