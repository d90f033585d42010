//! Bridges (`[[bridge]]`): connections to other brokers that carry chosen topics out, in, or both ways, as
//! Mosquitto's bridges do.
//!
//! Each bridge is one task ([`link`]) holding two MQTT clients of the codec's sans-IO [`roost_codec::client`]:
//! one to the remote broker (TCP, TLS or WebSocket, through the command-line tools' transport) and one to this
//! broker, over an in-process byte stream handed to [`crate::broker::Broker::connection`] like any socket. The
//! local one is an MQTT 5 persistent session, `$bridge/<name>`, subscribed to the topics the bridge carries out:
//! while the remote broker is away that session is offline and queues, bounded by `[limits]` like every session,
//! and it is kept in the store across a restart. Both clients acknowledge by hand, so a message is acknowledged to
//! the broker it came from only once the other broker has acknowledged it (PUBACK, or PUBCOMP for QoS 2).
//!
//! Loops: the local session subscribes with No Local ([MQTT-3.8.3-3]), so what the bridge brings in does not go
//! back out; towards an MQTT 5 remote broker it does the same; towards 3.1.1 it sends Mosquitto's bridge mark
//! (`try_private`). Roost, as the remote side, honours that mark (see `handler/packets.rs`).

pub mod config;
mod link;

use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use bytestring::ByteString;
use roost_codec::{Properties, QoS, TopicName};
use tokio_util::sync::CancellationToken;

pub use config::{BridgeConfig, Direction, Target, TopicRule};

use crate::broker::Broker;
use crate::message::Message;

/// The client id prefix of the bridges' local sessions. Reserved: the handshake refuses it from anyone else, and
/// the ACL does not apply to it (`auth::is_bridge`).
pub(crate) const LOCAL_CLIENT_PREFIX: &str = "$bridge/";

/// Starts one task per configured bridge; each stops when `shutdown` is cancelled.
pub(crate) fn start(broker: &Arc<Broker>, shutdown: &CancellationToken) {
    for (config, status) in broker.config.bridges.iter().zip(&broker.bridges) {
        status.publish_state(broker);
        broker.spawn_tracked(link::run(
            Arc::clone(broker),
            config.clone(),
            Arc::clone(status),
            shutdown.clone(),
        ));
    }
}

/// What a bridge reports about itself: the admin API, `/metrics` and `$SYS` read it.
#[derive(Debug)]
pub(crate) struct Status {
    /// The bridge's name.
    pub(crate) name: String,
    /// The remote broker's address, as configured.
    pub(crate) address: String,
    /// The client id of the local session (`$bridge/<name>`), whose queue holds what waits for the remote broker.
    pub(crate) local_client_id: ByteString,
    /// Connection state. A std mutex: held for a copy or an assignment, never across an await.
    state: Mutex<State>,
}

/// The part of [`Status`] that changes.
#[derive(Debug, Default, Clone)]
struct State {
    /// Unix seconds of the connection in use, `None` while disconnected.
    connected_since: Option<u64>,
    /// Why the last connection ended or the last attempt failed, in words.
    last_error: Option<String>,
}

/// A bridge's state, as the admin API shows it (the dashboard reads exactly these names).
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Snapshot {
    pub(crate) name: String,
    pub(crate) address: String,
    pub(crate) connected: bool,
    /// Messages waiting for the remote broker: queued in the local session, and sent but not yet acknowledged.
    pub(crate) queued: usize,
    pub(crate) last_error: Option<String>,
    /// Unix seconds.
    pub(crate) connected_since: Option<u64>,
}

impl Status {
    /// The status of `config`'s bridge before its first attempt.
    pub(crate) fn new(config: &BridgeConfig) -> Self {
        Status {
            name: config.name.clone(),
            address: config.address.clone(),
            local_client_id: ByteString::from(format!("{LOCAL_CLIENT_PREFIX}{}", config.name)),
            state: Mutex::default(),
        }
    }

    fn state(&self) -> State {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn set(&self, state: State) {
        *self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = state;
    }

    /// The remote broker accepted the connection.
    pub(crate) fn connected(&self, broker: &Broker) {
        let mut state = self.state();
        state.connected_since = Some(crate::store::now_ms() / 1000);
        self.set(state);
        self.publish_state(broker);
    }

    /// The connection ended, or an attempt failed, because of `why`.
    pub(crate) fn disconnected(&self, broker: &Broker, why: String) {
        self.set(State {
            connected_since: None,
            last_error: Some(why),
        });
        self.publish_state(broker);
    }

    /// Whether the bridge is connected now.
    pub(crate) fn is_connected(&self) -> bool {
        self.state().connected_since.is_some()
    }

    /// Everything, with the queue read from the local session now.
    pub(crate) fn snapshot(&self, broker: &Broker) -> Snapshot {
        let state = self.state();
        Snapshot {
            name: self.name.clone(),
            address: self.address.clone(),
            connected: state.connected_since.is_some(),
            queued: self.queued(broker),
            last_error: state.last_error,
            connected_since: state.connected_since,
        }
    }

    /// Messages waiting for the remote broker.
    pub(crate) fn queued(&self, broker: &Broker) -> usize {
        broker.router().backlog(&self.local_client_id)
    }

    /// `$SYS/broker/connection/<name>/state`: retained "1" while connected, "0" otherwise (Mosquitto's topic and
    /// values).
    fn publish_state(&self, broker: &Broker) {
        let topic = format!("$SYS/broker/connection/{}/state", self.name);
        let Ok(topic) = TopicName::new(topic) else { return };
        let payload = if self.is_connected() { "1" } else { "0" };
        broker.router().publish(
            Arc::new(Message {
                topic,
                payload: Bytes::from_static(payload.as_bytes()),
                qos: QoS::AtMostOnce,
                retain: true,
                properties: Properties::default(),
                expires_at: None,
                publisher: None,
                charge: Default::default(),
            }),
            Instant::now(),
        );
    }
}
