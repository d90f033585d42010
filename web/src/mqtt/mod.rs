//! The MQTT service layer: the only part of the dashboard that touches the WebSocket and MQTT bytes.
//! Components get a [`ConnectionState`] signal and nothing else.

mod session;
mod socket;
mod state;

pub use session::Session;
pub use socket::{MqttConnection, mqtt_url, page_mqtt_url};
pub use state::ConnectionState;
