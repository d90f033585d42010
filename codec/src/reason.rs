//! MQTT 5 reason codes (section 2.4) and the MQTT 3.x return codes they map onto.

use std::fmt;

use crate::packet::PacketType;

macro_rules! reason_codes {
    ($($(#[doc = $doc:literal])* $name:ident = $value:literal, $text:literal;)*) => {
        /// A reason code: the outcome of an operation, carried by CONNACK, the publish acknowledgements, SUBACK,
        /// UNSUBACK, DISCONNECT and AUTH. The value `0x00` has several names in the standard (Success, Normal
        /// disconnection, Granted QoS 0); here it is [`ReasonCode::Success`] with aliases as constants.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ReasonCode {
            $($(#[doc = $doc])* $name = $value,)*
        }

        impl ReasonCode {
            /// Parses a reason code byte, `None` for a value the standard does not define.
            pub const fn from_u8(v: u8) -> Option<Self> {
                match v {
                    $($value => Some(Self::$name),)*
                    _ => None,
                }
            }

            /// The standard's words for this code.
            pub const fn description(self) -> &'static str {
                match self {
                    $(Self::$name => $text,)*
                }
            }
        }
    };
}

reason_codes! {
    /// 0x00: Success, Normal disconnection, Granted QoS 0.
    Success = 0x00, "Success";
    /// 0x01: Granted QoS 1.
    GrantedQoS1 = 0x01, "Granted QoS 1";
    /// 0x02: Granted QoS 2.
    GrantedQoS2 = 0x02, "Granted QoS 2";
    /// 0x04: Disconnect with Will Message.
    DisconnectWithWillMessage = 0x04, "Disconnect with Will Message";
    /// 0x10: No matching subscribers.
    NoMatchingSubscribers = 0x10, "No matching subscribers";
    /// 0x11: No subscription existed.
    NoSubscriptionExisted = 0x11, "No subscription existed";
    /// 0x18: Continue authentication.
    ContinueAuthentication = 0x18, "Continue authentication";
    /// 0x19: Re-authenticate.
    ReAuthenticate = 0x19, "Re-authenticate";
    /// 0x80: Unspecified error.
    UnspecifiedError = 0x80, "Unspecified error";
    /// 0x81: Malformed Packet.
    MalformedPacket = 0x81, "Malformed Packet";
    /// 0x82: Protocol Error.
    ProtocolError = 0x82, "Protocol Error";
    /// 0x83: Implementation specific error.
    ImplementationSpecificError = 0x83, "Implementation specific error";
    /// 0x84: Unsupported Protocol Version.
    UnsupportedProtocolVersion = 0x84, "Unsupported Protocol Version";
    /// 0x85: Client Identifier not valid.
    ClientIdentifierNotValid = 0x85, "Client Identifier not valid";
    /// 0x86: Bad User Name or Password.
    BadUserNameOrPassword = 0x86, "Bad User Name or Password";
    /// 0x87: Not authorized.
    NotAuthorized = 0x87, "Not authorized";
    /// 0x88: Server unavailable.
    ServerUnavailable = 0x88, "Server unavailable";
    /// 0x89: Server busy.
    ServerBusy = 0x89, "Server busy";
    /// 0x8A: Banned.
    Banned = 0x8A, "Banned";
    /// 0x8B: Server shutting down.
    ServerShuttingDown = 0x8B, "Server shutting down";
    /// 0x8C: Bad authentication method.
    BadAuthenticationMethod = 0x8C, "Bad authentication method";
    /// 0x8D: Keep Alive timeout.
    KeepAliveTimeout = 0x8D, "Keep Alive timeout";
    /// 0x8E: Session taken over.
    SessionTakenOver = 0x8E, "Session taken over";
    /// 0x8F: Topic Filter invalid.
    TopicFilterInvalid = 0x8F, "Topic Filter invalid";
    /// 0x90: Topic Name invalid.
    TopicNameInvalid = 0x90, "Topic Name invalid";
    /// 0x91: Packet Identifier in use.
    PacketIdentifierInUse = 0x91, "Packet Identifier in use";
    /// 0x92: Packet Identifier not found.
    PacketIdentifierNotFound = 0x92, "Packet Identifier not found";
    /// 0x93: Receive Maximum exceeded.
    ReceiveMaximumExceeded = 0x93, "Receive Maximum exceeded";
    /// 0x94: Topic Alias invalid.
    TopicAliasInvalid = 0x94, "Topic Alias invalid";
    /// 0x95: Packet too large.
    PacketTooLarge = 0x95, "Packet too large";
    /// 0x96: Message rate too high.
    MessageRateTooHigh = 0x96, "Message rate too high";
    /// 0x97: Quota exceeded.
    QuotaExceeded = 0x97, "Quota exceeded";
    /// 0x98: Administrative action.
    AdministrativeAction = 0x98, "Administrative action";
    /// 0x99: Payload format invalid.
    PayloadFormatInvalid = 0x99, "Payload format invalid";
    /// 0x9A: Retain not supported.
    RetainNotSupported = 0x9A, "Retain not supported";
    /// 0x9B: QoS not supported.
    QoSNotSupported = 0x9B, "QoS not supported";
    /// 0x9C: Use another server.
    UseAnotherServer = 0x9C, "Use another server";
    /// 0x9D: Server moved.
    ServerMoved = 0x9D, "Server moved";
    /// 0x9E: Shared Subscriptions not supported.
    SharedSubscriptionsNotSupported = 0x9E, "Shared Subscriptions not supported";
    /// 0x9F: Connection rate exceeded.
    ConnectionRateExceeded = 0x9F, "Connection rate exceeded";
    /// 0xA0: Maximum connect time.
    MaximumConnectTime = 0xA0, "Maximum connect time";
    /// 0xA1: Subscription Identifiers not supported.
    SubscriptionIdentifiersNotSupported = 0xA1, "Subscription Identifiers not supported";
    /// 0xA2: Wildcard Subscriptions not supported.
    WildcardSubscriptionsNotSupported = 0xA2, "Wildcard Subscriptions not supported";
}

impl ReasonCode {
    /// 0x00 in DISCONNECT.
    pub const NORMAL_DISCONNECTION: Self = Self::Success;
    /// 0x00 in SUBACK.
    pub const GRANTED_QOS0: Self = Self::Success;

    /// The byte on the wire.
    pub const fn as_u8(self) -> u8 {
        self as u8
    }

    /// Codes 0x80 and above report a failure.
    pub const fn is_error(self) -> bool {
        self.as_u8() >= 0x80
    }

    /// Whether the standard allows this code in a packet of type `packet` (sections 3.2.2.2, 3.4.2.1, 3.5.2.1,
    /// 3.6.2.1, 3.7.2.1, 3.9.3, 3.11.3, 3.14.2.1, 3.15.2.1).
    pub fn is_valid_for(self, packet: PacketType) -> bool {
        use ReasonCode::*;
        let allowed: &[ReasonCode] = match packet {
            PacketType::ConnAck => &[
                Success,
                UnspecifiedError,
                MalformedPacket,
                ProtocolError,
                ImplementationSpecificError,
                UnsupportedProtocolVersion,
                ClientIdentifierNotValid,
                BadUserNameOrPassword,
                NotAuthorized,
                ServerUnavailable,
                ServerBusy,
                Banned,
                BadAuthenticationMethod,
                TopicNameInvalid,
                PacketTooLarge,
                QuotaExceeded,
                PayloadFormatInvalid,
                RetainNotSupported,
                QoSNotSupported,
                UseAnotherServer,
                ServerMoved,
                ConnectionRateExceeded,
            ],
            PacketType::PubAck | PacketType::PubRec => &[
                Success,
                NoMatchingSubscribers,
                UnspecifiedError,
                ImplementationSpecificError,
                NotAuthorized,
                TopicNameInvalid,
                PacketIdentifierInUse,
                QuotaExceeded,
                PayloadFormatInvalid,
            ],
            PacketType::PubRel | PacketType::PubComp => &[Success, PacketIdentifierNotFound],
            PacketType::SubAck => &[
                Success,
                GrantedQoS1,
                GrantedQoS2,
                UnspecifiedError,
                ImplementationSpecificError,
                NotAuthorized,
                TopicFilterInvalid,
                PacketIdentifierInUse,
                QuotaExceeded,
                SharedSubscriptionsNotSupported,
                SubscriptionIdentifiersNotSupported,
                WildcardSubscriptionsNotSupported,
            ],
            PacketType::UnsubAck => &[
                Success,
                NoSubscriptionExisted,
                UnspecifiedError,
                ImplementationSpecificError,
                NotAuthorized,
                TopicFilterInvalid,
                PacketIdentifierInUse,
            ],
            PacketType::Disconnect => &[
                Success,
                DisconnectWithWillMessage,
                UnspecifiedError,
                MalformedPacket,
                ProtocolError,
                ImplementationSpecificError,
                NotAuthorized,
                ServerBusy,
                ServerShuttingDown,
                KeepAliveTimeout,
                SessionTakenOver,
                TopicFilterInvalid,
                TopicNameInvalid,
                ReceiveMaximumExceeded,
                TopicAliasInvalid,
                PacketTooLarge,
                MessageRateTooHigh,
                QuotaExceeded,
                AdministrativeAction,
                PayloadFormatInvalid,
                RetainNotSupported,
                QoSNotSupported,
                UseAnotherServer,
                ServerMoved,
                SharedSubscriptionsNotSupported,
                ConnectionRateExceeded,
                MaximumConnectTime,
                SubscriptionIdentifiersNotSupported,
                WildcardSubscriptionsNotSupported,
            ],
            PacketType::Auth => &[Success, ContinueAuthentication, ReAuthenticate],
            _ => &[],
        };
        allowed.contains(&self)
    }

    /// The MQTT 3.x CONNACK return code for this reason ([MQTT-3.2.2-4]..[MQTT-3.2.2-5], table 3.1). Refusals with
    /// no 3.x equivalent map to the nearest one: authentication failures to 4 or 5, everything else to 3.
    pub const fn v3_connack_code(self) -> u8 {
        match self {
            Self::Success => 0,
            Self::UnsupportedProtocolVersion => 1,
            Self::ClientIdentifierNotValid => 2,
            Self::BadUserNameOrPassword | Self::BadAuthenticationMethod => 4,
            Self::NotAuthorized | Self::Banned => 5,
            _ => 3,
        }
    }

    /// The reason for an MQTT 3.x CONNACK return code, `None` for codes above 5.
    pub const fn from_v3_connack_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(Self::Success),
            1 => Some(Self::UnsupportedProtocolVersion),
            2 => Some(Self::ClientIdentifierNotValid),
            3 => Some(Self::ServerUnavailable),
            4 => Some(Self::BadUserNameOrPassword),
            5 => Some(Self::NotAuthorized),
            _ => None,
        }
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (0x{:02X})", self.description(), self.as_u8())
    }
}
