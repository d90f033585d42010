//! Broker configuration.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use roost_codec::QoS;

/// Everything the broker can be told at start-up. [`Config::default`] is what `roost serve` uses without flags.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where MQTT over TCP listens. Port 0 asks the OS for a free port; [`crate::Server::mqtt_addr`] says which.
    pub mqtt_addr: SocketAddr,
    /// Where HTTP listens: the dashboard at `/` and MQTT over WebSocket at `/mqtt`. Port 0 picks a free port.
    pub http_addr: SocketAddr,
    /// Where MQTT over TLS listens (usually port 8883); `None`, the default, leaves it off. Needs [`Config::tls`].
    pub mqtts_addr: Option<SocketAddr>,
    /// Where HTTPS listens: the dashboard and MQTT over secure WebSocket (`wss://…/mqtt`); `None` leaves it off.
    /// Needs [`Config::tls`].
    pub https_addr: Option<SocketAddr>,
    /// The certificate and key of the TLS listeners, and how client certificates are checked.
    pub tls: Option<TlsFiles>,
    /// How the HTTP listeners protect themselves: timeouts, connection caps, allowed WebSocket origins.
    pub http: HttpLimits,
    /// How long a new connection may take to send CONNECT before it is closed, so idle sockets cannot pile up.
    pub connect_timeout: Duration,
    /// The largest MQTT packet accepted, in bytes. Checked from the fixed header before the payload is buffered, so
    /// one client cannot make the broker allocate more than this.
    pub max_packet_size: u32,
    /// The most MQTT clients connected at once (accepted CONNECTs; sockets still owing their CONNECT are bounded by
    /// `connect_timeout` instead). Beyond it a CONNECT gets CONNACK Server busy (0x89; 3.x: 0x03). 0: no limit.
    pub max_connections: u64,
    /// The most MQTT connections (TCP, TLS or WebSocket) from one IP address at once, so one host cannot use up the
    /// broker's file descriptors. A connection beyond it is closed at once, before CONNECT. 0: no limit.
    pub max_connections_per_address: usize,
    /// The longest client identifier accepted, in bytes. Longer ones are refused: MQTT 5 CONNACK 0x85 Client
    /// Identifier not valid, 3.x return code 0x02 ("identifier rejected").
    pub max_client_id_length: usize,
    /// The longest topic name or filter accepted, in bytes. A longer PUBLISH topic is not routed (MQTT 5: PUBACK/
    /// PUBREC 0x90), a longer filter is refused in SUBACK (0x8F; 3.x 0x80), a longer will topic refuses CONNECT.
    pub max_topic_length: usize,
    /// The longest keep alive (seconds) a client may use. An MQTT 5 client asking for more, or for none, is told
    /// this value as Server Keep Alive; an MQTT 3.x client asking for more is refused, as Mosquitto does. 65535 (the
    /// most a client can ask for) sets no bound.
    pub max_keep_alive: u16,
    /// How long shutdown waits for open connections to close before giving up on them.
    pub drain_timeout: Duration,
    /// The high-water mark of one session's outbound queue, in messages (not yet sent; in-flight messages are
    /// bounded by [`Config::max_inflight`] instead). A connected subscriber at the mark holds its publishers back
    /// until it has room (see [`Config::slow_subscriber_timeout`]); an offline or stuck one stops taking messages
    /// there: its oldest QoS 0 message is dropped first, then new messages are refused, each counted.
    pub max_queued_messages: usize,
    /// The most bytes (topic plus payload) waiting in one session's outbound queue; the same overflow policy as
    /// [`Config::max_queued_messages`] applies.
    pub max_queued_bytes: usize,
    /// How long a connected subscriber's full queue may go without progress (no message taken off it) before it
    /// stops holding publishers back. Until then a publisher routing to a session at its high-water mark
    /// ([`Config::max_queued_messages`]) stops reading (and so acknowledging) until the session has room: nothing
    /// is lost. After it, the session is "stuck": what does not fit its queue is dropped and counted
    /// (`$SYS/broker/messages/dropped/...`), an MQTT 5 client gets DISCONNECT 0x97 Quota exceeded, and this is the
    /// longest one stuck client can delay anyone else's messages.
    pub slow_subscriber_timeout: Duration,
    /// The most subscriptions one client may hold; a SUBSCRIBE beyond it is refused per filter (MQTT 5 SUBACK 0x97
    /// Quota exceeded, 3.x 0x80). 0: no limit.
    pub max_subscriptions_per_client: usize,
    /// The most QoS 1 and 2 messages sent to one client and not yet acknowledged. The client's own Receive Maximum
    /// lowers it further ([MQTT-3.3.4-9]).
    pub max_inflight: u16,
    /// Our Receive Maximum, sent in CONNACK: how many QoS 2 messages a client may have awaiting PUBREL at once
    /// (QoS 1 is acknowledged at once). More is a protocol error, DISCONNECT 0x93 ([MQTT-3.3.4-7]).
    pub receive_maximum: u16,
    /// Our Topic Alias Maximum, sent in CONNACK: how many topic aliases a client may set up towards us. 0 turns
    /// incoming aliases off.
    pub topic_alias_maximum: u16,
    /// Whether the broker sets up topic aliases for the PUBLISHes it sends to MQTT 5 clients that allow them
    /// (Topic Alias Maximum above 0 in CONNECT, section 3.3.2.3.4): the full topic goes once, then only a 2-byte
    /// alias, which saves most of each packet's topic on long topic names (Home Assistant's, over phone Wi-Fi). Each
    /// connection keeps its most recently used topics, at most [`MAX_OUTGOING_TOPIC_ALIASES`] of them.
    pub outgoing_topic_aliases: bool,
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
    /// The most bytes of application messages held in memory at once, wherever they are (queued, in flight,
    /// retained), each counted once however many queues share it; a PUBLISH that would pass it is refused
    /// (MQTT 5 PUBACK/PUBREC 0x97; MQTT 3.x QoS 1/2: the connection is closed unacknowledged, so the client sends
    /// it again later; QoS 0: dropped). 0: no limit.
    pub max_memory: usize,
    /// `[[retained.expiry]]`: how long retained messages on some topics are kept (for publishers that never
    /// clean up, such as telemetry of devices long gone), in file order; the first matching rule applies. A
    /// message's own Message Expiry Interval still applies when it is sooner.
    pub retained_expiry: Vec<RetainedExpiry>,
    /// `[[bridge]]`: connections to other brokers and the topics they carry (see `bridge/`).
    pub bridges: Vec<crate::bridge::BridgeConfig>,
    /// How often the broker publishes its status under `$SYS/broker/...` (Mosquitto's `sys_interval`), so
    /// dashboards and monitoring read it with a subscription. `Duration::ZERO` turns `$SYS` off.
    pub sys_interval: Duration,
    /// Who may connect and what they may do: users, ACLs, anonymous access (`[auth]`).
    pub auth: AuthConfig,
    /// The configuration file this was read from, if any: relative paths in it and the data directory are
    /// beside it (see [`data_dir`]).
    pub config_file: Option<PathBuf>,
    /// Where and how durably retained messages and persistent sessions are stored (`[storage]`).
    pub storage: StorageConfig,
    /// The dashboard's remembered values and history of the panel's topics (`[history]`).
    pub history: crate::history::HistoryConfig,
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

/// The `[auth]` settings. The default is safe: nobody connects without a user name and password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// Whether clients without a user name are accepted.
    pub allow_anonymous: Anonymous,
    /// A Mosquitto-format password file (`user:hash` lines). `None`: `roost serve` uses `passwd` in the data
    /// directory, creating it with an `admin` user on first start unless anonymous access is fully allowed.
    pub password_file: Option<PathBuf>,
    /// A Mosquitto-format ACL file. `None`: every connected client may publish and subscribe to anything.
    pub acl_file: Option<PathBuf>,
    /// The users who administer Roost (the dashboard's management pages and the HTTP API).
    pub admins: Vec<String>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            allow_anonymous: Anonymous::Deny,
            password_file: None,
            acl_file: None,
            admins: vec!["admin".to_owned()],
        }
    }
}

/// The PEM files of the TLS listeners. They are re-read when they change (or on SIGHUP), so a renewed certificate
/// is used by new connections without a restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The server certificate chain, PEM, leaf first.
    pub cert: PathBuf,
    /// The server's private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// CA certificates (PEM) that client certificates are checked against; `None` asks for no client certificate.
    pub client_ca: Option<PathBuf>,
    /// Whether a client without a certificate signed by `client_ca` is refused in the TLS handshake. When false,
    /// a certificate is asked for but optional (a given one must still be valid).
    pub require_client_cert: bool,
    /// Whether the client certificate's subject Common Name becomes the connection's user name (Mosquitto's
    /// `use_identity_as_username`).
    pub use_identity_as_username: bool,
}

/// How the HTTP listeners (dashboard and WebSocket) defend their file descriptors against slow or many clients.
/// The counts cover connections while they speak HTTP; a connection upgraded to a WebSocket becomes an MQTT
/// connection and counts against the MQTT limits instead.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// How long a client has to send a complete request header, counted from when the connection starts waiting
    /// for a request: at accept, and after each response on a keep-alive connection (so this also closes idle
    /// keep-alive connections). Mosquitto's WebSocket listener closes such connections after 12–15 s.
    pub header_timeout: Duration,
    /// How long an HTTP connection may go without a byte in either direction (a stalled upload or download).
    pub idle_timeout: Duration,
    /// The most HTTP connections at once; one beyond it gets `503 Service Unavailable` and is closed. 0: no limit.
    pub max_connections: usize,
    /// The most HTTP connections from one IP address at once; the same answer beyond it. 0: no limit.
    pub max_connections_per_address: usize,
    /// Origins (`scheme://host[:port]`) besides the dashboard's own whose pages may open `/mqtt`. A browser
    /// WebSocket from any other origin is refused with 403, so a web page elsewhere cannot use a visitor's browser
    /// to reach the broker on their network.
    pub allowed_origins: Vec<String>,
    /// How long a dashboard login lasts without "stay signed in": the cookie ends with the browser session, and
    /// the broker forgets the session after this anyway (a browser left open for days, or restoring its tabs).
    pub session_lifetime: Duration,
    /// How long "stay signed in on this device" lasts (the cookie's `Max-Age`); zero turns the choice off.
    pub remember_lifetime: Duration,
    /// Who may read `/metrics` without logging in: `Loopback` (the default: a Prometheus on the same machine),
    /// `Allow` (anyone who reaches the port), or `Deny` (nobody; an administrator's dashboard login still can).
    pub metrics_without_login: Anonymous,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            // Under Mosquitto's 12–15 s, and long enough for a phone on a bad link to send a few hundred bytes.
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            // A quarter of the usual 1,024 file descriptors, so a flood of HTTP cannot lock MQTT clients out; a
            // browser opens about six connections, so 32 per address leaves room for a few tabs behind one NAT.
            max_connections: 256,
            max_connections_per_address: 32,
            allowed_origins: Vec::new(),
            // A working day and evening: a morning's login lasts until the night.
            session_lifetime: Duration::from_secs(12 * 3600),
            // A month, then the password again: a lost phone stops being a key to the house by itself.
            remember_lifetime: Duration::from_secs(30 * 24 * 3600),
            metrics_without_login: Anonymous::Loopback,
        }
    }
}

/// One `[[retained.expiry]]` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetainedExpiry {
    /// The topics it covers.
    pub filter: roost_codec::TopicFilter,
    /// How long their retained messages are kept.
    pub after: Duration,
}

/// Whether a client may connect without a user name (`[auth] allow_anonymous`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anonymous {
    /// `false`: every client must log in (the default).
    Deny,
    /// `true`: anyone may connect without a user name.
    Allow,
    /// `"loopback"`: only clients on this machine (127.0.0.0/8, ::1) may connect without a user name.
    Loopback,
}

impl Anonymous {
    /// Whether a client connecting from `peer` may do so without a user name.
    pub fn allows(self, peer: IpAddr) -> bool {
        match self {
            Anonymous::Deny => false,
            Anonymous::Allow => true,
            // An IPv4 client on a dual-stack socket shows up as ::ffff:127.x.y.z.
            Anonymous::Loopback => peer.to_canonical().is_loopback(),
        }
    }
}

/// Where Roost keeps its files: `[storage] dir` when set, else `data/` beside the configuration file, else
/// `data/` in the working directory. The one place this rule lives, so the password file and stored sessions
/// agree on it.
pub fn data_dir(storage_dir: Option<&Path>, config_file: Option<&Path>) -> PathBuf {
    if let Some(dir) = storage_dir {
        return dir.to_path_buf();
    }
    match config_file.and_then(Path::parent) {
        Some(parent) => parent.join("data"),
        None => PathBuf::from("data"),
    }
}

/// The most topic aliases one connection uses for what it sends, whatever the client's Topic Alias Maximum: each
/// costs a copy of its topic and about 100 bytes of table, so a connection costs at most ~200 KiB more with long
/// topics. 1024 covers a dashboard's `#` over a thousand-topic Home Assistant install.
pub const MAX_OUTGOING_TOPIC_ALIASES: u16 = 1024;

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
            mqtts_addr: None,
            https_addr: None,
            tls: None,
            http: HttpLimits::default(),
            max_connections_per_address: 0,
            // Generated ids (UUIDs: 36, Tasmota, ESPHome, Home Assistant: under 40) and even a full DNS name (253)
            // fit; 65,535-byte ids would be kept in every session, log line and $SYS count for no one's benefit.
            max_client_id_length: 256,
            // The protocol's own maximum: topics are bounded by max_topic_levels and max_packet_size already.
            max_topic_length: 65_535,
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
            // Long enough for a phone on a bad link or a busy Raspberry Pi to catch up, short enough that a frozen
            // client delays a light switch by seconds, not minutes.
            slow_subscriber_timeout: Duration::from_secs(2),
            // Home Assistant subscribes once per entity topic; thousands are normal, hundreds of thousands are not.
            max_subscriptions_per_client: 100_000,
            max_inflight: 32,
            receive_maximum: 64,
            topic_alias_maximum: 16,
            outgoing_topic_aliases: true,
            maximum_qos: QoS::ExactlyOnce,
            // Far deeper than any real topic tree, shallow enough that a hostile topic cannot cost much.
            max_topic_levels: 128,
            queue_qos0_offline: false,
            v3_session_expiry: Duration::from_secs(24 * 60 * 60),
            // One week.
            max_session_expiry: 7 * 24 * 60 * 60,
            max_retained_messages: 10_000,
            max_retained_bytes: 64 * 1024 * 1024,
            // A quarter of a 1 GB Raspberry Pi: room for the retained store's own bound four times over.
            max_memory: 256 * 1024 * 1024,
            retained_expiry: Vec::new(),
            bridges: Vec::new(),
            // Mosquitto's default.
            sys_interval: Duration::from_secs(10),
            auth: AuthConfig::default(),
            config_file: None,
            storage: StorageConfig::default(),
            history: crate::history::HistoryConfig::default(),
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

    #[test]
    fn the_default_refuses_anonymous_clients() {
        let auth = Config::default().auth;
        assert_eq!(auth.allow_anonymous, Anonymous::Deny);
        assert_eq!(auth.admins, ["admin"]);
        let local: IpAddr = Ipv4Addr::LOCALHOST.into();
        assert!(!Anonymous::Deny.allows(local));
        assert!(Anonymous::Allow.allows("192.0.2.1".parse().unwrap()));
        assert!(Anonymous::Loopback.allows(local));
        assert!(Anonymous::Loopback.allows("127.3.2.1".parse().unwrap()));
        assert!(Anonymous::Loopback.allows("::1".parse().unwrap()));
        assert!(Anonymous::Loopback.allows("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!Anonymous::Loopback.allows("192.0.2.1".parse().unwrap()));
        assert!(!Anonymous::Loopback.allows("::ffff:192.0.2.1".parse().unwrap()));
    }

    #[test]
    fn the_data_directory_is_beside_the_config_file() {
        assert_eq!(
            data_dir(Some(Path::new("/var/lib/roost")), None),
            Path::new("/var/lib/roost")
        );
        assert_eq!(
            data_dir(None, Some(Path::new("/etc/roost/roost.toml"))),
            Path::new("/etc/roost/data")
        );
        assert_eq!(data_dir(None, Some(Path::new("roost.toml"))), Path::new("data"));
        assert_eq!(data_dir(None, None), Path::new("data"));
    }
}
