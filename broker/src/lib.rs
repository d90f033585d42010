//! The Roost MQTT broker as a library: bind the MQTT and HTTP listeners, serve connections, shut down on request.
//!
//! The `roost` binary is a thin wrapper around [`Server`]; tests start the same [`Server`] in-process on port 0.
//!
//! Layout, one job per file:
//! - [`auth`]: users (Mosquitto password files), ACLs and anonymous access, checked on CONNECT, PUBLISH,
//!   SUBSCRIBE, wills and deliveries.
//! - [`config`]: what can be configured, with defaults; `config_file`: the TOML file over those defaults.
//! - `server`: binds both listeners, runs them, drains connections on shutdown.
//! - `transport`: the only code that knows TCP, HTTP, WebSocket and axum. It turns each accepted socket into a byte
//!   stream and hands it to the broker.
//! - `broker`: state shared by every connection: limits, auth, the routing state, timers.
//! - `router`: sessions, subscriptions and retained messages, and the publish path (no I/O, no awaits).
//! - `session`, `subscriptions`, `retained`, `message`: the parts the router is made of.
//! - `connection`: reads and writes whole MQTT packets over any byte stream; `outgoing_aliases`: the topic aliases
//!   it gives the PUBLISHes it sends.
//! - [`store`]: the storage engine (issue 11): a log with group commit and snapshots, written by the router.
//! - `sys`: the `$SYS/broker/...` status topics and the traffic counters behind them.
//! - `handler`: one connection's life (CONNECT, the session loop, the will); `handler/packets` handles each packet
//!   a connected client sends.
//! - [`bridge`]: `[[bridge]]`, connections to other brokers that carry chosen topics both ways.
//! - [`bench`]: `roost bench`, a load generator over the same client as `cli`.
//! - [`cli`]: `roost pub` and `roost sub`, MQTT clients compatible with mosquitto_pub and mosquitto_sub.
//! - [`cert`]: `roost cert`, a self-signed certificate for the machine's LAN names.
//! - `log_text`: peer-supplied strings shortened, and repeated warnings thinned, before they reach the log.

#![warn(missing_docs)]

pub mod auth;
pub mod bench;
pub mod bridge;
mod broker;
pub mod cert;
pub mod cli;
pub mod config;
mod config_file;
mod connection;
mod handler;
pub mod history;
mod log_text;
mod memory;
mod message;
mod metrics;
mod outgoing_aliases;
mod retained;
mod router;
#[doc(hidden)]
pub mod router_bench;
mod server;
mod session;
pub mod store;
mod subscriptions;
mod sys;
pub(crate) mod transport;

pub use config::Config;
pub use config_file::ConfigError;
pub use server::{BindError, Server, StartError};
pub use transport::tls::TlsError;
