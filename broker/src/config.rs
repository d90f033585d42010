//! Broker configuration.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use roost_codec::QoS;

/// Everything the broker can be told at start-up. [`Config::default`] is what `roost serve` uses without flags.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where MQTT over TCP listens. Port 0 asks the OS for a free port; [`crate::Server::mqtt_addr`] says which.
    pub mqtt_addr: SocketAddr,
    /// Where HTTP listens: the dashboard at `/` and MQTT over WebSocket at `/mqtt`. Port 0 picks a free port.
    pub http_addr: SocketAddr,
    /// How long a new connection may take to send CONNECT before it is closed, so idle sockets cannot pile up.
    pub connect_timeout: Duration,
    /// The largest MQTT packet accepted, in bytes. Checked from the fixed header before the payload is buffered, so
    /// one client cannot make the broker allocate more than this.
    pub max_packet_size: u32,
    /// The most MQTT clients connected at once (accepted CONNECTs; sockets still owing their CONNECT are bounded by
    /// `connect_timeout` instead). Beyond it a CONNECT gets CONNACK Server busy (0x89; 3.x: 0x03). 0: no limit.
    pub max_connections: u64,
    /// The longest keep alive (seconds) a client may use. An MQTT 5 client asking for more, or for none, is told
    /// this value as Server Keep Alive; an MQTT 3.x client asking for more is refused, as Mosquitto does. 65535 (the
    /// most a client can ask for) sets no bound.
    pub max_keep_alive: u16,
    /// How long shutdown waits for open connections to close before giving up on them.
    pub drain_timeout: Duration,
    /// The most messages waiting in one session's outbound queue (not yet sent; in-flight messages are bounded by
    /// [`Config::max_inflight`] instead). A slow or offline client fills only its own queue; see
    /// `session::Queue` for what happens when it is full (oldest QoS 0 dropped first, then new messages refused).
    pub max_queued_messages: usize,
    /// The most bytes (topic plus payload) waiting in one session's outbound queue; the same overflow policy as
    /// [`Config::max_queued_messages`] applies.
    pub max_queued_bytes: usize,
    /// The most QoS 1 and 2 messages sent to one client and not yet acknowledged. The client's own Receive Maximum
    /// lowers it further ([MQTT-3.3.4-9]).
    pub max_inflight: u16,
    /// Our Receive Maximum, sent in CONNACK: how many QoS 2 messages a client may have awaiting PUBREL at once
    /// (QoS 1 is acknowledged at once). More is a protocol error, DISCONNECT 0x93 ([MQTT-3.3.4-7]).
    pub receive_maximum: u16,
    /// Our Topic Alias Maximum, sent in CONNACK: how many topic aliases a client may set up towards us. 0 turns
    /// incoming aliases off.
    pub topic_alias_maximum: u16,
    /// The highest QoS a client may publish at, and the highest granted to a subscription. Below 2, MQTT 5
    /// CONNACK says so in Maximum QoS ([MQTT-3.2.2-9]); a PUBLISH above it is a protocol error (DISCONNECT 0x9B;
    /// 3.x: closed), a will above it refuses the CONNECT (0x9B; 3.x: 3) ([MQTT-3.2.2-12]), and a subscription
    /// asking for more is still accepted, granted this ([MQTT-3.2.2-10]).
    pub maximum_qos: QoS,
    /// The most levels (`/`-separated parts) a topic name or filter may have, so one client cannot make matching
    /// costly for all. A PUBLISH to a deeper topic is not routed (MQTT 5: 0x90 Topic Name invalid), a deeper filter
    /// is refused in its SUBACK (0x8F; 3.x: 0x80), a deeper will topic refuses the CONNECT. 0: no limit.
    pub max_topic_levels: usize,
    /// Whether an offline persistent session also queues QoS 0 messages (the standard allows either,
    /// section 3.1.2.4). Off by default: QoS 0 is "at most once", and offline queues are for what was promised.
    pub queue_qos0_offline: bool,
    /// How long an MQTT 3.x persistent session (clean session 0) lives after its connection ends. MQTT 3.x has no
    /// Session Expiry Interval, so without a bound abandoned sessions would pile up.
    pub v3_session_expiry: Duration,
    /// The longest Session Expiry Interval (seconds) an MQTT 5 client may ask for; longer requests are lowered
    /// and the CONNACK says so (section 3.2.2.3.2). `u32::MAX` means "never expires".
    pub max_session_expiry: u32,
    /// The most retained messages kept. When full, a retained message for a new topic is routed but not kept;
    /// replacing or deleting an existing topic's retained message always works.
    pub max_retained_messages: usize,
    /// The most bytes (topic plus payload) of retained messages kept; the same policy as
    /// [`Config::max_retained_messages`].
    pub max_retained_bytes: usize,
    /// How often the broker publishes its status under `$SYS/broker/...` (Mosquitto's `sys_interval`), so
    /// dashboards and monitoring read it with a subscription. `Duration::ZERO` turns `$SYS` off.
    pub sys_interval: Duration,
    /// Where and how durably retained messages and persistent sessions are stored (`[storage]`). Read and
    /// checked, but not yet used: the engine in [`crate::store`] is wired into the router separately.
    pub storage: StorageConfig,
}

/// The `[storage]` section: the data directory, when acknowledgements are durable, and the size cap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageConfig {
    /// The data directory; `None` keeps everything in memory (`dir = ""` or `--memory`). A relative path in a
    /// configuration file is relative to that file's directory; the default, `data`, is beside the
    /// configuration file, or in the working directory without one.
    pub dir: Option<PathBuf>,
    /// When an acknowledged change is on stable storage (README: what each mode survives).
    pub sync: crate::store::SyncMode,
    /// The most bytes of stored state; beyond it new retained and queued messages are refused (MQTT 5 reason
    /// 0x97 Quota exceeded) and nothing already stored is touched.
    pub max_bytes: u64,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            dir: Some(PathBuf::from("data")),
            sync: crate::store::SyncMode::Always,
            max_bytes: crate::store::StoreOptions::default().max_bytes,
        }
    }
}

impl StorageConfig {
    /// The engine's options for this configuration.
    pub fn store_options(&self) -> crate::store::StoreOptions {
        crate::store::StoreOptions {
            sync: self.sync,
            max_bytes: self.max_bytes,
            ..crate::store::StoreOptions::default()
        }
    }
}

impl Config {
    /// Whether `topic` (a topic name, or the matching part of a filter) has more levels than
    /// [`Config::max_topic_levels`] allows.
    pub(crate) fn too_many_levels(&self, topic: &str) -> bool {
        too_many_levels(self.max_topic_levels, topic)
    }

    /// The IANA port for MQTT over TCP, on every interface.
    pub const DEFAULT_MQTT_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 1883);
    /// HTTP on every interface; 8080 rather than 80 so the broker needs no privileges.
    pub const DEFAULT_HTTP_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 8080);
}

/// Whether `topic` has more than `max` levels (0: no limit), without counting past the limit.
pub(crate) fn too_many_levels(max: usize, topic: &str) -> bool {
    max > 0 && topic.split('/').nth(max).is_some()
}

impl Default for Config {
    fn default() -> Self {
        Config {
            mqtt_addr: Self::DEFAULT_MQTT_ADDR,
            http_addr: Self::DEFAULT_HTTP_ADDR,
            connect_timeout: Duration::from_secs(10),
            // 1 MiB: plenty for telemetry and dashboards, small enough for a Raspberry Pi with many clients.
            max_packet_size: 1024 * 1024,
            drain_timeout: Duration::from_secs(5),
            max_connections: 0,
            max_keep_alive: u16::MAX,
            // 1000 messages or 16 MiB per session: a dashboard or device that falls behind for a while catches up,
            // and a thousand dead sessions still fit in a Raspberry Pi's memory.
            max_queued_messages: 1000,
            max_queued_bytes: 16 * 1024 * 1024,
            max_inflight: 32,
            receive_maximum: 64,
            topic_alias_maximum: 16,
            maximum_qos: QoS::ExactlyOnce,
            // Far deeper than any real topic tree, shallow enough that a hostile topic cannot cost much.
            max_topic_levels: 128,
            queue_qos0_offline: false,
            v3_session_expiry: Duration::from_secs(24 * 60 * 60),
            // One week.
            max_session_expiry: 7 * 24 * 60 * 60,
            max_retained_messages: 10_000,
            max_retained_bytes: 64 * 1024 * 1024,
            // Mosquitto's default.
            sys_interval: Duration::from_secs(10),
            storage: StorageConfig::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_levels_are_counted_by_separators() {
        let config = Config {
            max_topic_levels: 3,
            ..Config::default()
        };
        for ok in ["a", "a/b/c", "/b/c", "+/+/#", ""] {
            assert!(!config.too_many_levels(ok), "{ok:?}");
        }
        for deep in ["a/b/c/d", "///", "a/b/c/"] {
            assert!(config.too_many_levels(deep), "{deep:?}");
        }
        let unlimited = Config {
            max_topic_levels: 0,
            ..Config::default()
        };
        assert!(!unlimited.too_many_levels(&"a/".repeat(10_000)));
    }
}
