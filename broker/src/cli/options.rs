//! What the shared flags mean together: the protocol version, the client identifier, the will, the MQTT 5
//! properties of `-D`, and where to connect (`-h`/`-p`, or `-L`).

use std::num::{NonZeroU16, NonZeroU32};

use roost_codec::client::ClientOptions;
use roost_codec::{ByteString, Bytes, Properties, ProtocolVersion, QoS, TopicName, Will};

use super::args::ConnectArgs;
use super::error::CliError;

/// Where to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// Host name or address.
    pub(crate) host: String,
    /// TCP port.
    pub(crate) port: u16,
    /// `Some(path)` for MQTT over WebSocket (`-L ws://...`), `None` for plain TCP.
    pub(crate) websocket_path: Option<String>,
    /// TLS settings when the connection uses TLS (`--cafile`, `--capath`, `--cert`, `mqtts://`, `wss://`).
    pub(crate) tls: Option<TlsOptions>,
}

/// The TLS flags, as given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TlsOptions {
    /// `--cafile`.
    pub(crate) cafile: Option<std::path::PathBuf>,
    /// `--capath`.
    pub(crate) capath: Option<std::path::PathBuf>,
    /// `--cert` and `--key`.
    pub(crate) client_cert: Option<(std::path::PathBuf, std::path::PathBuf)>,
    /// `--insecure`.
    pub(crate) insecure: bool,
}

/// The TLS flags; `None` when none of them asks for TLS.
fn tls_options(args: &ConnectArgs) -> Result<Option<TlsOptions>, CliError> {
    let client_cert = match (&args.cert, &args.key) {
        (Some(cert), Some(key)) => Some((cert.clone(), key.clone())),
        (None, None) => None,
        _ => return usage("Both certfile and keyfile must be provided if one of them is set."),
    };
    let wanted = args.cafile.is_some() || args.capath.is_some() || client_cert.is_some();
    Ok(wanted.then(|| TlsOptions {
        cafile: args.cafile.clone(),
        capath: args.capath.clone(),
        client_cert,
        insecure: args.insecure,
    }))
}

/// Everything the shared flags decide.
#[derive(Debug)]
pub(crate) struct Setup {
    /// Where to connect.
    pub(crate) target: Target,
    /// The CONNECT options.
    pub(crate) options: ClientOptions,
    /// `-D publish ...`: properties of every PUBLISH.
    pub(crate) publish_properties: Properties,
    /// `-D subscribe ...`: properties of the SUBSCRIBE.
    pub(crate) subscribe_properties: Properties,
    /// The topic of an `mqtt://host/topic` URL.
    pub(crate) url_topic: Option<String>,
    /// `-d`: print packets on stderr.
    pub(crate) debug: bool,
    /// `--quiet`: print no runtime errors.
    pub(crate) quiet: bool,
}

/// Works out the connection from the shared flags.
pub(crate) fn setup(args: &ConnectArgs) -> Result<Setup, CliError> {
    let version = version(args)?;
    let tls = tls_options(args)?;
    // As mosquitto_pub: TLS flags move the default port to 8883.
    let default_port = if tls.is_some() { 8883 } else { 1883 };
    let mut target = Target {
        host: args.host.clone(),
        port: args.port.unwrap_or(default_port),
        websocket_path: None,
        tls: tls.clone(),
    };
    let mut username = args.username.clone();
    let mut password = args.password.clone();
    let mut url_topic = None;
    if let Some(url) = &args.url {
        let url = parse_url(url)?;
        target = url.target;
        // A secure URL turns TLS on with the flags given (or the system's CA certificates); a plain one with TLS
        // flags still uses TLS, as mosquitto does.
        if target.tls.is_some() || tls.is_some() {
            target.tls = Some(tls.clone().unwrap_or_default());
        }
        username = url.username.or(username);
        password = url.password.or(password);
        url_topic = url.topic;
    }
    let client_id = client_id(args, version)?;
    let mut options = ClientOptions::new(version, client_id);
    options.keep_alive = args.keepalive;
    options.clean_start = !args.disable_clean_session;
    if password.is_some() && username.is_none() && !version.is_v5() {
        return usage("a password needs a user name (-u) in MQTT v3.x.");
    }
    options.username = username.map(ByteString::from);
    options.password = password.map(Bytes::from);
    options.session_expiry_interval = session_expiry(args, version)?;
    let mut props = PropertySets::default();
    let mut words = args.property.as_slice();
    while !words.is_empty() {
        let len = if words.get(1).is_some_and(|i| i.eq_ignore_ascii_case("user-property")) {
            4
        } else {
            3
        };
        let (property, rest) = words.split_at(len.min(words.len()));
        props.apply(property, &mut options)?;
        words = rest;
    }
    options.will = will(args, props.will)?;
    Ok(Setup {
        target,
        options,
        publish_properties: props.publish,
        subscribe_properties: props.subscribe,
        url_topic,
        debug: args.debug,
        quiet: args.quiet,
    })
}

/// A usage error.
pub(crate) fn usage<T>(message: impl Into<String>) -> Result<T, CliError> {
    Err(CliError::Usage(message.into()))
}

/// `-V`, defaulting to 3.1.1 as mosquitto does, or to 5.0 when `-D` asks for properties.
fn version(args: &ConnectArgs) -> Result<ProtocolVersion, CliError> {
    let version = match args.protocol_version.as_deref() {
        None if args.property.is_empty() => ProtocolVersion::V311,
        None => ProtocolVersion::V5,
        Some("mqttv31" | "31") => ProtocolVersion::V31,
        Some("mqttv311" | "311") => ProtocolVersion::V311,
        Some("mqttv5" | "5") => ProtocolVersion::V5,
        Some(other) => {
            return usage(format!(
                "Invalid protocol version '{other}'; use mqttv31, mqttv311 or mqttv5."
            ));
        }
    };
    if !version.is_v5() && !args.property.is_empty() {
        return usage("-D/--property needs MQTT v5 (-V mqttv5).");
    }
    Ok(version)
}

/// `-i`, `-I prefix` + process id, or a generated identifier (3.x) / an empty one the server replaces (5.0).
fn client_id(args: &ConnectArgs, version: ProtocolVersion) -> Result<String, CliError> {
    if let Some(id) = &args.id {
        return Ok(id.clone());
    }
    if let Some(prefix) = &args.id_prefix {
        return Ok(format!("{prefix}{}", std::process::id()));
    }
    if args.disable_clean_session {
        return usage("You must provide a client id if you are using the -c option.");
    }
    if version.is_v5() {
        return Ok(String::new());
    }
    // MQTT 3.1 servers may refuse identifiers longer than 23 characters; this one has at most 20.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    Ok(format!("roost-{:x}-{nanos:x}", std::process::id()))
}

/// `-x`: MQTT 5 session expiry; -1 or ∞ mean never. Defaults to never with `-c`, else absent (0).
fn session_expiry(args: &ConnectArgs, version: ProtocolVersion) -> Result<Option<u32>, CliError> {
    let Some(text) = &args.session_expiry else {
        return Ok((args.disable_clean_session && version.is_v5()).then_some(u32::MAX));
    };
    if !version.is_v5() {
        return usage("-x (session expiry interval) is only valid with MQTT v5.");
    }
    match text.as_str() {
        "-1" | "∞" => Ok(Some(u32::MAX)),
        n => match n.parse() {
            Ok(n) => Ok(Some(n)),
            Err(_) => usage(format!("Invalid session expiry interval '{n}'.")),
        },
    }
}

/// `--will-*`, with the `-D will ...` properties.
fn will(args: &ConnectArgs, properties: Properties) -> Result<Option<Will>, CliError> {
    let Some(topic) = &args.will_topic else {
        if args.will_payload.is_some() || args.will_qos != 0 || args.will_retain {
            return usage("Will payload, QoS or retain given without --will-topic.");
        }
        return Ok(None);
    };
    let Ok(topic) = TopicName::new(topic.as_str()) else {
        return usage(format!("Invalid will topic '{topic}', does it contain '+' or '#'?"));
    };
    Ok(Some(Will {
        topic,
        payload: Bytes::from(args.will_payload.clone().unwrap_or_default()),
        qos: qos(args.will_qos),
        retain: args.will_retain,
        properties,
    }))
}

/// A QoS from a number clap already checked to be 0, 1 or 2.
pub(crate) fn qos(n: u8) -> QoS {
    QoS::from_u8(n).unwrap_or(QoS::AtMostOnce)
}

/// The pieces of `-L`.
#[derive(Debug, PartialEq, Eq)]
struct Url {
    target: Target,
    username: Option<String>,
    password: Option<String>,
    topic: Option<String>,
}

/// `mqtt://[user[:pass]@]host[:port]/topic` or `ws://[user[:pass]@]host[:port]/path`.
fn parse_url(url: &str) -> Result<Url, CliError> {
    let bad = || {
        usage(format!(
            "Unsupported URL scheme in '{url}'; use mqtt://, mqtts://, ws:// or wss://."
        ))
    };
    let Some((scheme, rest)) = url.split_once("://") else {
        return bad();
    };
    let (websocket, secure, default_port) = match scheme.to_ascii_lowercase().as_str() {
        "mqtt" => (false, false, 1883),
        "mqtts" => (false, true, 8883),
        "ws" => (true, false, 80),
        "wss" => (true, true, 443),
        _ => return bad(),
    };
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let (username, password) = match userinfo {
        Some(u) => match u.split_once(':') {
            Some((user, pass)) => (Some(user.to_owned()), Some(pass.to_owned())),
            None => (Some(u.to_owned()), None),
        },
        None => (None, None),
    };
    let (host, port) = match hostport.strip_prefix('[') {
        Some(bracketed) => match bracketed.split_once(']') {
            Some((host, after)) => (host, after.strip_prefix(':')),
            None => return usage(format!("Invalid host in URL '{url}'.")),
        },
        None => match hostport.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (hostport, None),
        },
    };
    let port = match port.map(str::parse) {
        None => default_port,
        Some(Ok(port)) => port,
        Some(Err(_)) => return usage(format!("Invalid port in URL '{url}'.")),
    };
    if host.is_empty() {
        return usage(format!("No host in URL '{url}'."));
    }
    let (websocket_path, topic) = if websocket {
        (Some(format!("/{path}")), None)
    } else {
        (None, (!path.is_empty()).then(|| path.to_owned()))
    };
    Ok(Url {
        target: Target {
            host: host.to_owned(),
            port,
            websocket_path,
            tls: secure.then(TlsOptions::default),
        },
        username,
        password,
        topic,
    })
}

/// The `-D` properties, by the packet they go in.
#[derive(Debug, Default)]
struct PropertySets {
    publish: Properties,
    subscribe: Properties,
    will: Properties,
}

impl PropertySets {
    /// Applies one `-D command identifier value` (or `-D command user-property name value`).
    fn apply(&mut self, words: &[String], options: &mut ClientOptions) -> Result<(), CliError> {
        let (command, identifier, values) = match words {
            [c, i, rest @ ..] => (c.to_ascii_lowercase(), i.to_ascii_lowercase(), rest),
            _ => return usage("-D needs a command, an identifier and a value."),
        };
        let user_property = identifier == "user-property";
        let value = match (values, user_property) {
            ([_, _], true) | ([_], false) => values[values.len() - 1].as_str(),
            _ if user_property => return usage("-D ... user-property needs a name and a value."),
            _ => return usage(format!("-D ... {identifier} takes one value.")),
        };
        let invalid = || usage(format!("Invalid property '{identifier}' for command '{command}'."));
        if user_property {
            let pair = (ByteString::from(values[0].as_str()), ByteString::from(value));
            match command.as_str() {
                "connect" => options.user_properties.push(pair),
                "publish" => self.publish.user_properties.push(pair),
                "subscribe" => self.subscribe.user_properties.push(pair),
                "will" => self.will.user_properties.push(pair),
                _ => return invalid(),
            }
            return Ok(());
        }
        match command.as_str() {
            "connect" => match identifier.as_str() {
                "session-expiry-interval" => options.session_expiry_interval = Some(number(value)?),
                "receive-maximum" => options.receive_maximum = NonZeroU16::new(number(value)?),
                "maximum-packet-size" => options.maximum_packet_size = NonZeroU32::new(number(value)?),
                "topic-alias-maximum" => options.topic_alias_maximum = number(value)?,
                "request-problem-information" => options.request_problem_information = Some(flag(value)?),
                "request-response-information" => options.request_response_information = Some(flag(value)?),
                _ => return invalid(),
            },
            "publish" => {
                if !message_property(&mut self.publish, &identifier, value)? {
                    return invalid();
                }
            }
            "will" => {
                if identifier == "will-delay-interval" {
                    self.will.will_delay_interval = Some(number(value)?);
                } else if !message_property(&mut self.will, &identifier, value)? {
                    return invalid();
                }
            }
            "subscribe" | "unsubscribe" | "disconnect" | "auth" | "puback" | "pubrec" | "pubrel" | "pubcomp" => {
                return invalid();
            }
            _ => return usage(format!("Invalid command '{command}' given in --property argument.")),
        }
        Ok(())
    }
}

/// Sets a PUBLISH or will property; `false` when `identifier` is not one.
fn message_property(p: &mut Properties, identifier: &str, value: &str) -> Result<bool, CliError> {
    match identifier {
        "payload-format-indicator" => p.payload_format_indicator = Some(flag(value)?),
        "message-expiry-interval" => p.message_expiry_interval = Some(number(value)?),
        "content-type" => p.content_type = Some(value.into()),
        "response-topic" => {
            p.response_topic = match TopicName::new(value) {
                Ok(t) => Some(t),
                Err(_) => return usage(format!("Invalid response topic '{value}'.")),
            }
        }
        "correlation-data" => p.correlation_data = Some(Bytes::from(value.to_owned())),
        _ => return Ok(false),
    }
    Ok(true)
}

/// A property's number.
fn number<T: std::str::FromStr>(value: &str) -> Result<T, CliError> {
    value
        .parse()
        .or_else(|_| usage(format!("Invalid property value '{value}'.")))
}

/// A property's byte that must be 0 or 1.
fn flag(value: &str) -> Result<bool, CliError> {
    match value {
        "0" => Ok(false),
        "1" => Ok(true),
        _ => usage(format!("Invalid property value '{value}': 0 or 1 expected.")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(host: &str, port: u16, websocket_path: Option<&str>) -> Target {
        Target {
            host: host.into(),
            port,
            websocket_path: websocket_path.map(Into::into),
            tls: None,
        }
    }

    /// The shared flags as `roost pub` would parse them.
    fn parse(args: &[&str]) -> Result<Setup, CliError> {
        #[derive(Debug, clap::Parser)]
        #[command(disable_help_flag = true)]
        struct Cli {
            #[command(flatten)]
            connect: ConnectArgs,
        }
        let cli = <Cli as clap::Parser>::try_parse_from(std::iter::once("roost").chain(args.iter().copied()))
            .expect("clap accepts the flags");
        setup(&cli.connect)
    }

    #[test]
    fn d_groups_words_into_properties_and_implies_v5() {
        let s = parse(&[
            "-D",
            "publish",
            "user-property",
            "a",
            "b",
            "-D",
            "publish",
            "content-type",
            "text/plain",
            "-D",
            "CONNECT",
            "user-property",
            "c",
            "d",
            "-D",
            "publish",
            "user-property",
            "a",
            "e",
            "-D",
            "will",
            "will-delay-interval",
            "5",
            "-D",
            "connect",
            "receive-maximum",
            "10",
            "--will-topic",
            "w",
        ])
        .unwrap();
        assert_eq!(s.options.version, ProtocolVersion::V5);
        let pairs = |p: &[(ByteString, ByteString)]| -> Vec<(String, String)> {
            p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        };
        assert_eq!(
            pairs(&s.publish_properties.user_properties),
            [("a".into(), "b".into()), ("a".into(), "e".into())]
        );
        assert_eq!(s.publish_properties.content_type.as_deref(), Some("text/plain"));
        assert_eq!(pairs(&s.options.user_properties), [("c".into(), "d".into())]);
        assert_eq!(s.options.receive_maximum, NonZeroU16::new(10));
        assert_eq!(s.options.will.unwrap().properties.will_delay_interval, Some(5));
        assert!(parse(&["-V", "311", "-D", "publish", "content-type", "x"]).is_err());
        assert!(parse(&["-D", "publish", "topic-alias", "1"]).is_err());
        assert!(parse(&["-D", "nonsense", "content-type", "x"]).is_err());
    }

    #[test]
    fn client_ids_and_sessions() {
        let s = parse(&[]).unwrap();
        assert_eq!(s.options.version, ProtocolVersion::V311);
        assert!(s.options.client_id.starts_with("roost-") && s.options.client_id.len() <= 23);
        assert!(s.options.clean_start);
        assert_eq!(s.options.session_expiry_interval, None);
        assert_eq!(parse(&["-V", "mqttv5"]).unwrap().options.client_id, "");
        let id = format!("pre{}", std::process::id());
        assert_eq!(parse(&["-I", "pre"]).unwrap().options.client_id, id.as_str());
        assert!(parse(&["-c"]).unwrap_err().is_usage());
        let s = parse(&["-c", "-V", "5", "-i", "me"]).unwrap();
        assert!(!s.options.clean_start);
        assert_eq!(s.options.session_expiry_interval, Some(u32::MAX));
        let expiry = |x: &str| parse(&["-V", "5", "-x", x]).unwrap().options.session_expiry_interval;
        assert_eq!(expiry("10"), Some(10));
        assert_eq!(expiry("-1"), Some(u32::MAX));
        assert_eq!(expiry("∞"), Some(u32::MAX));
        assert!(parse(&["-x", "10"]).is_err(), "-x needs MQTT 5");
        assert!(
            parse(&["-P", "pw"]).is_err(),
            "3.x sends a password only with a user name"
        );
        assert!(parse(&["-V", "5", "-P", "pw"]).is_ok());
    }

    #[test]
    fn tls_flags_turn_tls_on_and_move_the_default_port() {
        let s = parse(&["--cafile", "ca.pem"]).unwrap();
        assert_eq!(s.target.port, 8883);
        assert_eq!(
            s.target.tls.unwrap().cafile.as_deref(),
            Some(std::path::Path::new("ca.pem"))
        );
        assert_eq!(parse(&["--cafile", "ca.pem", "-p", "1884"]).unwrap().target.port, 1884);
        let s = parse(&["--capath", "/etc/ssl/certs", "--insecure"]).unwrap();
        assert!(s.target.tls.unwrap().insecure);
        assert_eq!(parse(&[]).unwrap().target.tls, None);
        assert!(parse(&["--cert", "c.pem"]).is_err(), "--cert needs --key");
        let s = parse(&["-L", "mqtt://h/t", "--cafile", "ca.pem"]).unwrap();
        assert!(s.target.tls.is_some());
    }

    #[test]
    fn urls() {
        let u = parse_url("mqtt://user:pw@example.org:1884/a/b").unwrap();
        assert_eq!(u.target, target("example.org", 1884, None));
        assert_eq!(u.username.as_deref(), Some("user"));
        assert_eq!(u.password.as_deref(), Some("pw"));
        assert_eq!(u.topic.as_deref(), Some("a/b"));
        let u = parse_url("mqtt://h").unwrap();
        assert_eq!((u.target, u.username, u.topic), (target("h", 1883, None), None, None));
        let u = parse_url("ws://127.0.0.1:8080/mqtt").unwrap();
        assert_eq!(u.target, target("127.0.0.1", 8080, Some("/mqtt")));
        let u = parse_url("ws://[::1]:9001/").unwrap();
        assert_eq!(u.target, target("::1", 9001, Some("/")));
        let u = parse_url("mqtts://h/t").unwrap();
        assert_eq!((u.target.port, u.target.tls), (8883, Some(TlsOptions::default())));
        let u = parse_url("wss://h/mqtt").unwrap();
        assert_eq!((u.target.port, u.target.tls.is_some()), (443, true));
        assert!(parse_url("mqttx://h/").is_err());
        assert!(parse_url("h:1883").is_err());
        assert!(parse_url("mqtt://h:x/").is_err());
        assert!(parse_url("mqtt://:1883/").is_err());
    }
}
