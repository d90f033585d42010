//! The command lines of `roost pub` and `roost sub`, flag for flag those of mosquitto_pub and mosquitto_sub 2.0.
//!
//! clap only splits the words; what the flags mean together (the protocol version, the client identifier, the
//! MQTT 5 properties) is worked out in [`super::options`].

use clap::{ArgAction, Args};

/// The flags `roost pub` and `roost sub` share: where to connect and how.
#[derive(Debug, Clone, Args)]
pub struct ConnectArgs {
    /// Host to connect to.
    #[arg(short = 'h', long = "host", default_value = "localhost")]
    pub host: String,
    /// Port to connect to [default: 1883, or 8883 with --cafile, --capath or --cert].
    #[arg(short = 'p', long = "port")]
    pub port: Option<u16>,
    /// Host, port, user, password and topic at once: mqtt://[user[:pass]@]host[:port]/topic (mqtts:// for TLS),
    /// or ws://[user[:pass]@]host[:port]/path for MQTT over WebSocket (subprotocol "mqtt"; wss:// for TLS).
    #[arg(short = 'L', long = "url", value_name = "URL")]
    pub url: Option<String>,
    /// CA certificates (PEM) to trust for the server's certificate; turns TLS on.
    #[arg(long = "cafile", value_name = "FILE")]
    pub cafile: Option<std::path::PathBuf>,
    /// A directory of CA certificates (PEM files) to trust; turns TLS on.
    #[arg(long = "capath", value_name = "DIR")]
    pub capath: Option<std::path::PathBuf>,
    /// Client certificate (PEM) for TLS client authentication; needs --key.
    #[arg(long = "cert", value_name = "FILE")]
    pub cert: Option<std::path::PathBuf>,
    /// Private key (PEM) of --cert.
    #[arg(long = "key", value_name = "FILE")]
    pub key: Option<std::path::PathBuf>,
    /// Do not check that the server certificate's name matches the host (the chain is still verified).
    #[arg(long = "insecure")]
    pub insecure: bool,
    /// Client identifier. Without it: a generated one for MQTT 3.x, an empty one (the server assigns) for 5.0.
    #[arg(short = 'i', long = "id", conflicts_with = "id_prefix")]
    pub id: Option<String>,
    /// Client identifier prefix; the process id is appended.
    #[arg(short = 'I', long = "id-prefix")]
    pub id_prefix: Option<String>,
    /// Keep alive in seconds.
    #[arg(short = 'k', long = "keepalive", default_value_t = 60)]
    pub keepalive: u16,
    /// User name.
    #[arg(short = 'u', long = "username")]
    pub username: Option<String>,
    /// Password.
    #[arg(short = 'P', long = "pw")]
    pub password: Option<String>,
    /// Quality of service: 0, 1 or 2.
    #[arg(short = 'q', long = "qos", default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=2))]
    pub qos: u8,
    /// Disable clean session: keep the session on the broker after disconnecting (needs -i).
    #[arg(short = 'c', long = "disable-clean-session")]
    pub disable_clean_session: bool,
    /// MQTT 5 session expiry interval in seconds; -1 or ∞ for never.
    #[arg(short = 'x', long = "session-expiry-interval", allow_hyphen_values = true)]
    pub session_expiry: Option<String>,
    /// Protocol version: mqttv31, mqttv311 or mqttv5 (or 31, 311, 5). Default mqttv311, or mqttv5 with -D.
    #[arg(short = 'V', long = "protocol-version")]
    pub protocol_version: Option<String>,
    /// Print the packets sent and received on stderr.
    #[arg(short = 'd', long = "debug")]
    pub debug: bool,
    /// Print no runtime errors.
    #[arg(long = "quiet")]
    pub quiet: bool,
    /// An MQTT 5 property: -D command identifier value, or -D command user-property name value. Commands:
    /// connect, publish, subscribe, will. The words of every -D are kept in one list; `user-property` is the only
    /// identifier followed by two words, which is how the list splits back into properties.
    #[arg(short = 'D', long = "property", num_args = 3..=4, action = ArgAction::Append,
          value_names = ["COMMAND", "IDENTIFIER", "VALUE"])]
    pub property: Vec<String>,
    /// Topic of the will, published if this client disappears without DISCONNECT.
    #[arg(long = "will-topic")]
    pub will_topic: Option<String>,
    /// Payload of the will.
    #[arg(long = "will-payload")]
    pub will_payload: Option<String>,
    /// QoS of the will.
    #[arg(long = "will-qos", default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=2))]
    pub will_qos: u8,
    /// Retain the will.
    #[arg(long = "will-retain")]
    pub will_retain: bool,
    /// Print help.
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
}

/// `roost pub`: publish one message, a file, stdin, or stdin line by line, like mosquitto_pub.
#[derive(Debug, Clone, Args)]
#[command(disable_help_flag = true)]
pub struct PubArgs {
    /// Connection flags.
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Topic to publish to.
    #[arg(short = 't', long = "topic")]
    pub topic: Option<String>,
    /// Message payload.
    #[arg(short = 'm', long = "message", group = "source", allow_hyphen_values = true)]
    pub message: Option<String>,
    /// Send the contents of a file as the message.
    #[arg(short = 'f', long = "file", group = "source")]
    pub file: Option<String>,
    /// Send each line of stdin as a message.
    #[arg(short = 'l', long = "stdin-line", group = "source")]
    pub stdin_line: bool,
    /// Send all of stdin as one message.
    #[arg(short = 's', long = "stdin-file", group = "source")]
    pub stdin_file: bool,
    /// Send an empty (null) message.
    #[arg(short = 'n', long = "null-message", group = "source")]
    pub null_message: bool,
    /// Retain the message.
    #[arg(short = 'r', long = "retain")]
    pub retain: bool,
    /// Publish the message this many times.
    #[arg(long = "repeat", default_value_t = 1)]
    pub repeat: u32,
    /// Seconds between repeats (may be fractional).
    #[arg(long = "repeat-delay", default_value_t = 0.0)]
    pub repeat_delay: f64,
}

/// `roost sub`: subscribe and print what arrives, like mosquitto_sub.
#[derive(Debug, Clone, Args)]
#[command(disable_help_flag = true)]
pub struct SubArgs {
    /// Connection flags.
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Topic filter to subscribe to; repeatable.
    #[arg(short = 't', long = "topic")]
    pub topic: Vec<String>,
    /// Do not print messages whose topic matches this filter; repeatable.
    #[arg(short = 'T', long = "filter-out")]
    pub filter_out: Vec<String>,
    /// Print "topic payload".
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,
    /// Do not append a newline to each message.
    #[arg(short = 'N')]
    pub no_newline: bool,
    /// Exit after this many messages.
    #[arg(short = 'C', value_name = "COUNT")]
    pub count: Option<u64>,
    /// Exit with code 27 after this many seconds.
    #[arg(short = 'W', value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// Do not print stale (retained) messages.
    #[arg(short = 'R')]
    pub no_retained: bool,
    /// Print only retained messages; exit at the first fresh one.
    #[arg(long = "retained-only")]
    pub retained_only: bool,
    /// Output format: %t topic, %p payload, %q qos, %r retain, %l length, %m message id, %x/%X hex payload,
    /// %I ISO 8601 time, %U Unix time, %j JSON, %C %D %E %F %P %R %S MQTT 5 properties, %% a percent sign;
    /// @X strftime fields, @N nanoseconds; \n \t \0 ... escapes.
    #[arg(short = 'F', value_name = "FORMAT")]
    pub format: Option<String>,
    /// Clear each retained message received (publish an empty retained message to its topic), except those
    /// filtered out by -T; also with -R.
    #[arg(long = "remove-retained")]
    pub remove_retained: bool,
    /// Exit once the subscriptions are acknowledged.
    #[arg(short = 'E')]
    pub exit_after_subscribe: bool,
    /// MQTT 5 no local: do not receive our own publications.
    #[arg(long = "nl", alias = "no-local")]
    pub no_local: bool,
    /// MQTT 5 retain as published.
    #[arg(long = "rap", alias = "retain-as-published")]
    pub retain_as_published: bool,
    /// MQTT 5 retain handling: 0 always send retained messages, 1 only for new subscriptions, 2 never.
    #[arg(long = "rh", alias = "retain-handling", value_parser = clap::value_parser!(u8).range(0..=2))]
    pub retain_handling: Option<u8>,
}
