//! The Roost MQTT broker as a library: bind the MQTT and HTTP listeners, serve connections, shut down on request.
//!
//! The `roost` binary is a thin wrapper around [`Server`]; tests start the same [`Server`] in-process on port 0.
//!
//! Layout, one job per file:
//! - [`config`]: what can be configured, with defaults.
//! - `server`: binds both listeners, runs them, drains connections on shutdown.
//! - `transport`: the only code that knows TCP, HTTP, WebSocket and axum. It turns each accepted socket into a byte
//!   stream and hands it to the broker.
//! - `broker`: state shared by every connection (today only limits and ids; sessions and routing later).
//! - `connection`: reads and writes whole MQTT packets over any byte stream.
//! - `handler`: what the broker does with one connection's packets.
//! - [`cli`]: `roost pub` and `roost sub`, MQTT clients compatible with mosquitto_pub and mosquitto_sub.

#![warn(missing_docs)]

mod broker;
pub mod cli;
pub mod config;
mod connection;
mod handler;
mod server;
mod transport;

pub use config::Config;
pub use server::{BindError, Server};
