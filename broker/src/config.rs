//! Broker configuration.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

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
    /// How long shutdown waits for open connections to close before giving up on them.
    pub drain_timeout: Duration,
}

impl Config {
    /// The IANA port for MQTT over TCP, on every interface.
    pub const DEFAULT_MQTT_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 1883);
    /// HTTP on every interface; 8080 rather than 80 so the broker needs no privileges.
    pub const DEFAULT_HTTP_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 8080);
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
        }
    }
}
