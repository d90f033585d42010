//! [`ClientOptions`]: everything the CONNECT packet says about the client, and the client's own limits.

use std::fmt;
use std::num::{NonZeroU16, NonZeroU32};
use std::time::Duration;

use bytes::Bytes;
use bytestring::ByteString;

use crate::packet::{Connect, Will};
use crate::types::ProtocolVersion;

/// How a [`super::Client`] connects. Build with [`ClientOptions::new`], then set fields. `Debug` never prints the
/// password.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientOptions {
    /// The protocol version every packet of the connection uses.
    pub version: ProtocolVersion,
    /// The client identifier. May be empty: an MQTT 5 server then assigns one in CONNACK ([MQTT-3.2.2-16]), which
    /// the client adopts for later connections so that `clean_start = false` can resume the session.
    pub client_id: ByteString,
    /// Seconds between control packets we promise the server; the client sends PINGREQ when it has sent nothing
    /// for this long ([MQTT-3.1.2-22]). If then no packet at all arrives within **half** the keep alive, the
    /// connection is lost ([`super::Event::PingTimeout`]): a silent connection is given up 1.5 × keep alive after
    /// our last packet, the bound the server applies to us ([MQTT-3.1.2-24]). 0 disables keep alive. A Server
    /// Keep Alive in CONNACK overrides it ([MQTT-3.1.2-23]).
    pub keep_alive: u16,
    /// Clean Start (5.0) / Clean Session (3.x): ask the server to discard any session, and discard ours
    /// ([MQTT-3.1.2-4]). `false` resumes a session: unacknowledged publications are resent ([MQTT-4.4.0-1]).
    pub clean_start: bool,
    /// MQTT 5: seconds the server keeps the session after the connection closes; absent means 0, the session
    /// ends with the connection.
    pub session_expiry_interval: Option<u32>,
    /// The user name.
    pub username: Option<ByteString>,
    /// The password. MQTT 3.x sends it only with a user name.
    pub password: Option<Bytes>,
    /// The message the server publishes if this client vanishes without a DISCONNECT.
    pub will: Option<Will>,
    /// MQTT 5: how many QoS 1 and 2 publications the server may have unacknowledged towards us at once; absent
    /// means 65,535. A server that sends more is disconnected with 0x93 ([MQTT-3.3.4-9]).
    pub receive_maximum: Option<NonZeroU16>,
    /// The largest packet we accept; larger ones are refused from their fixed header, before the body is
    /// buffered. Absent means the protocol's maximum. Sent to MQTT 5 servers ([MQTT-3.1.2-27]).
    pub maximum_packet_size: Option<NonZeroU32>,
    /// MQTT 5: the highest topic alias the server may use towards us; 0 (the default) allows none
    /// ([MQTT-3.1.2-30]).
    pub topic_alias_maximum: u16,
    /// MQTT 5: whether the server may send reason strings and user properties on failures other than CONNACK
    /// and DISCONNECT ([MQTT-3.1.2-32]); absent means yes.
    pub request_problem_information: Option<bool>,
    /// MQTT 5: ask the server for Response Information in CONNACK.
    pub request_response_information: Option<bool>,
    /// MQTT 5: user properties of the CONNECT packet.
    pub user_properties: Vec<(ByteString, ByteString)>,
    /// How long to wait for CONNACK after `connect`; then the attempt is abandoned with
    /// [`super::Event::ConnectTimeout`]. MQTT sets no bound; 30 s by default.
    pub connect_timeout: Duration,
    /// How many QoS 1 and 2 publications may wait for the server's Receive Maximum (or for a connection) on top
    /// of those in flight; `publish` returns [`super::ClientError::QueueFull`] beyond it. 1,000 by default,
    /// which bounds the memory a slow server can make the client hold.
    pub max_queued_publications: usize,
    /// Subscribe again to every active subscription when a connection starts without a session (the server
    /// forgot them). `true` by default, so a dashboard keeps receiving what it showed before a reconnect.
    pub resubscribe: bool,
    /// Connect as a bridge (Mosquitto's `try_private`): MQTT 3.x CONNECTs carry the bridge mark (see
    /// [`Connect::bridge`]), so a broker that knows it does not send our own messages back. `false` by default.
    pub bridge: bool,
    /// The application acknowledges the server's QoS 1 and 2 messages itself, with
    /// [`super::Client::acknowledge`], once it has done what it must with them (a bridge: once the other broker
    /// has them). `false` by default: PUBACK/PUBREC leave as each message is delivered ([MQTT-4.3.2-4]).
    pub manual_acks: bool,
}

impl ClientOptions {
    /// Options with the given version and client identifier: keep alive 60 s, clean start, nothing else.
    pub fn new(version: ProtocolVersion, client_id: impl Into<ByteString>) -> Self {
        Self {
            version,
            client_id: client_id.into(),
            keep_alive: 60,
            clean_start: true,
            session_expiry_interval: None,
            username: None,
            password: None,
            will: None,
            receive_maximum: None,
            maximum_packet_size: None,
            topic_alias_maximum: 0,
            request_problem_information: None,
            request_response_information: None,
            user_properties: Vec::new(),
            connect_timeout: Duration::from_secs(30),
            max_queued_publications: 1000,
            resubscribe: true,
            bridge: false,
            manual_acks: false,
        }
    }

    /// Our Receive Maximum as a number (absent means 65,535, section 3.1.2.11.3).
    pub(crate) fn receive_maximum_value(&self) -> u16 {
        self.receive_maximum.map_or(u16::MAX, NonZeroU16::get)
    }

    /// The CONNECT packet for these options, with `client_id` (ours, or the one the server assigned earlier).
    pub(crate) fn connect_packet(&self, client_id: &ByteString) -> Connect {
        let mut connect = Connect::new(self.version, client_id.clone());
        connect.clean_start = self.clean_start;
        connect.keep_alive = self.keep_alive;
        connect.will = self.will.clone();
        connect.username = self.username.clone();
        connect.password = self.password.clone();
        connect.bridge = self.bridge;
        if self.version.is_v5() {
            let p = &mut connect.properties;
            p.session_expiry_interval = self.session_expiry_interval;
            p.receive_maximum = self.receive_maximum;
            p.maximum_packet_size = self.maximum_packet_size;
            p.topic_alias_maximum = (self.topic_alias_maximum > 0).then_some(self.topic_alias_maximum);
            p.request_problem_information = self.request_problem_information;
            p.request_response_information = self.request_response_information;
            p.user_properties = self.user_properties.clone();
        }
        connect
    }
}

impl fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientOptions")
            .field("version", &self.version)
            .field("client_id", &self.client_id)
            .field("keep_alive", &self.keep_alive)
            .field("clean_start", &self.clean_start)
            .field("session_expiry_interval", &self.session_expiry_interval)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("will", &self.will)
            .field("receive_maximum", &self.receive_maximum)
            .field("maximum_packet_size", &self.maximum_packet_size)
            .field("topic_alias_maximum", &self.topic_alias_maximum)
            .field("request_problem_information", &self.request_problem_information)
            .field("request_response_information", &self.request_response_information)
            .field("user_properties", &self.user_properties)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_queued_publications", &self.max_queued_publications)
            .field("resubscribe", &self.resubscribe)
            .field("bridge", &self.bridge)
            .field("manual_acks", &self.manual_acks)
            .finish()
    }
}
