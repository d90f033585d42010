//! `[[bridge]]` in the configuration file: one table per bridge, read into a [`BridgeConfig`]. Every mistake is
//! an error naming the bridge (or its position, before a name is known) and the key, so the broker does not start
//! with a bridge that cannot work.

use std::path::PathBuf;
use std::time::Duration;

use bytestring::ByteString;
use roost_codec::{ProtocolVersion, QoS, TopicFilter, TopicName};
use serde::Deserialize;

/// One `[[bridge]]` table as written. Unknown keys are errors (serde names them with their line).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBridge {
    name: Option<String>,
    address: Option<String>,
    client_id: Option<String>,
    username: Option<String>,
    password: Option<String>,
    cafile: Option<PathBuf>,
    version: Option<String>,
    keep_alive: Option<u16>,
    clean_start: Option<bool>,
    try_private: Option<bool>,
    topics: Option<Vec<String>>,
    max_queued_messages: Option<usize>,
    max_queued_bytes: Option<usize>,
}

/// A bridge to another broker: where it is, how to log in, and which topics cross in which direction.
#[derive(Clone, PartialEq, Eq)]
pub struct BridgeConfig {
    /// The bridge's name: in logs, `$SYS/broker/connection/<name>/state`, `/metrics` and the admin API, and in the
    /// client id of its local session (`$bridge/<name>`). Unique among the bridges.
    pub name: String,
    /// The remote broker as written (`mqtt://host:port`, `mqtts://…`, `ws://host:port/path`, `wss://…`).
    pub address: String,
    /// Host, port, WebSocket path and TLS, as the command-line clients' transport takes them.
    pub target: Target,
    /// The client id on the remote broker. Default: `<hostname>.<name>`, as Mosquitto's bridges use.
    pub client_id: String,
    /// The user name on the remote broker.
    pub username: Option<String>,
    /// The password on the remote broker; never logged (`Debug` prints `<redacted>`).
    pub password: Option<String>,
    /// MQTT 3.1.1 or 5 (default 5: No Local keeps a bridge in each direction from looping).
    pub version: ProtocolVersion,
    /// Keep alive towards the remote broker, seconds (default 60).
    pub keep_alive: u16,
    /// Start a new session on the remote broker at each connection (default `false`: what the remote broker
    /// queued for the bridge while it was away arrives when it is back).
    pub clean_start: bool,
    /// MQTT 3.1.1: send Mosquitto's bridge mark (protocol level 0x84) so the remote broker does not send our own
    /// messages back (default `true`; dropped for the next attempt if the remote broker refuses the level).
    pub try_private: bool,
    /// Which topics cross, in order: the first rule matching a message maps its topic.
    pub topics: Vec<TopicRule>,
    /// The most messages waiting for the remote broker (in the local session's queue); `None`: `[limits]
    /// max_queued_messages`, as for every session. Beyond it, what `[limits]` says for a full queue applies.
    pub max_queued_messages: Option<usize>,
    /// The most bytes waiting for the remote broker; `None`: `[limits] max_queued_bytes`.
    pub max_queued_bytes: Option<usize>,
}

impl std::fmt::Debug for BridgeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BridgeConfig")
            .field("name", &self.name)
            .field("address", &self.address)
            .field("client_id", &self.client_id)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("version", &self.version)
            .field("keep_alive", &self.keep_alive)
            .field("clean_start", &self.clean_start)
            .field("try_private", &self.try_private)
            .field("topics", &self.topics)
            .field("max_queued_messages", &self.max_queued_messages)
            .field("max_queued_bytes", &self.max_queued_bytes)
            .finish_non_exhaustive()
    }
}

/// Where the remote broker is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// `Some(path)` for MQTT over WebSocket.
    pub websocket_path: Option<String>,
    /// `Some` for TLS (`mqtts`, `wss`): the CA file, or `None` for the system's CAs.
    pub tls: Option<Option<PathBuf>>,
}

/// Which way a topic rule carries messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the remote broker to this one.
    In,
    /// From this broker to the remote one (Mosquitto's default).
    Out,
    /// Both ways.
    Both,
}

impl Direction {
    /// Whether the rule carries local messages out.
    pub fn out(self) -> bool {
        matches!(self, Direction::Out | Direction::Both)
    }

    /// Whether the rule carries remote messages in.
    pub fn in_(self) -> bool {
        matches!(self, Direction::In | Direction::Both)
    }
}

/// One `topics` entry, Mosquitto's `topic pattern [[[out|in|both] qos-level] local-prefix remote-prefix]`: the
/// local broker sees `local_prefix + pattern`, the remote one `remote_prefix + pattern`; `""` is an empty prefix
/// (or pattern: then the two prefixes are whole topics).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicRule {
    /// The pattern, possibly empty.
    pub pattern: String,
    /// Which way.
    pub direction: Direction,
    /// The QoS of the subscription that picks the messages up: each crosses at the lower of its own and this.
    pub qos: QoS,
    /// Prefix on this broker.
    pub local_prefix: String,
    /// Prefix on the remote broker.
    pub remote_prefix: String,
    /// `local_prefix + pattern`, the filter this broker's side subscribes to (rules carrying messages out).
    pub local_filter: TopicFilter,
    /// `remote_prefix + pattern`, the filter the remote side subscribes to (rules carrying messages in).
    pub remote_filter: TopicFilter,
}

impl TopicRule {
    /// Parses one rule; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<TopicRule, String> {
        let words: Vec<&str> = text
            .split_whitespace()
            .map(|w| if w == "\"\"" { "" } else { w })
            .collect();
        let (pattern, direction, qos, local_prefix, remote_prefix) = match words[..] {
            [] => return Err("is empty".into()),
            [p] => (p, "out", "0", "", ""),
            [p, d] => (p, d, "0", "", ""),
            [p, d, q] => (p, d, q, "", ""),
            [p, d, q, l, r] => (p, d, q, l, r),
            [_, _, _, _] => return Err("gives a local prefix without a remote prefix (use \"\" for none)".into()),
            _ => return Err("has more than 5 words: pattern, direction, QoS, local prefix, remote prefix".into()),
        };
        let direction = match direction {
            "out" => Direction::Out,
            "in" => Direction::In,
            "both" => Direction::Both,
            other => return Err(format!("has unknown direction {other:?} (in, out or both)")),
        };
        let qos = match qos {
            "0" => QoS::AtMostOnce,
            "1" => QoS::AtLeastOnce,
            "2" => QoS::ExactlyOnce,
            other => return Err(format!("has QoS {other:?} (0, 1 or 2)")),
        };
        for (what, prefix) in [("local prefix", local_prefix), ("remote prefix", remote_prefix)] {
            if prefix.contains(['+', '#']) {
                return Err(format!("has a wildcard in its {what} {prefix:?}"));
            }
        }
        if pattern.is_empty() && (local_prefix.is_empty() || remote_prefix.is_empty()) {
            // Mosquitto's table: an empty pattern needs both prefixes, which are then the whole topics.
            return Err("has an empty pattern, which needs a local and a remote prefix".into());
        }
        let filter = |prefix: &str| {
            let full = format!("{prefix}{pattern}");
            if is_sys(&full) {
                return Err(format!("bridges {full:?}: $SYS topics are each broker's own"));
            }
            TopicFilter::new(full.clone()).map_err(|_| format!("makes {full:?}, which is not a topic filter"))
        };
        Ok(TopicRule {
            local_filter: filter(local_prefix)?,
            remote_filter: filter(remote_prefix)?,
            pattern: pattern.to_owned(),
            direction,
            qos,
            local_prefix: local_prefix.to_owned(),
            remote_prefix: remote_prefix.to_owned(),
        })
    }

    /// The remote topic for a local message on `topic`, if this rule carries it out.
    pub fn to_remote(&self, topic: &str) -> Option<TopicName> {
        self.map(
            topic,
            &self.local_filter,
            &self.local_prefix,
            &self.remote_prefix,
            Direction::out,
        )
    }

    /// The local topic for a remote message on `topic`, if this rule carries it in.
    pub fn to_local(&self, topic: &str) -> Option<TopicName> {
        self.map(
            topic,
            &self.remote_filter,
            &self.remote_prefix,
            &self.local_prefix,
            Direction::in_,
        )
    }

    fn map(
        &self,
        topic: &str,
        filter: &TopicFilter,
        from: &str,
        to: &str,
        carries: fn(Direction) -> bool,
    ) -> Option<TopicName> {
        if !carries(self.direction) || !roost_codec::matches(filter.as_str(), topic) {
            return None;
        }
        let rest = topic.strip_prefix(from)?;
        TopicName::new(ByteString::from(format!("{to}{rest}"))).ok()
    }
}

/// Whether `topic` is a `$SYS` topic (or filter), which no bridge carries.
fn is_sys(topic: &str) -> bool {
    topic
        .strip_prefix("$SYS")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Reads every `[[bridge]]` table. `config_dir` is where relative `cafile` paths start.
pub(crate) fn read(raw: Vec<RawBridge>) -> Result<Vec<BridgeConfig>, String> {
    let mut bridges: Vec<BridgeConfig> = Vec::with_capacity(raw.len());
    for (index, raw) in raw.into_iter().enumerate() {
        let bridge = read_one(raw).map_err(|(name, why)| match name {
            Some(name) => format!("bridge {name:?}: {why}"),
            None => format!("bridge #{}: {why}", index + 1),
        })?;
        if bridges.iter().any(|b| b.name == bridge.name) {
            return Err(format!("bridge {:?}: name: two bridges have this name", bridge.name));
        }
        bridges.push(bridge);
    }
    Ok(bridges)
}

/// One bridge, or its name (if known) and what is wrong.
fn read_one(raw: RawBridge) -> Result<BridgeConfig, (Option<String>, String)> {
    let Some(name) = raw.name.filter(|n| !n.is_empty()) else {
        return Err((None, "name: missing (every [[bridge]] needs a name)".into()));
    };
    let fail = |why: String| (Some(name.clone()), why);
    if name.contains(['/', '+', '#', '\0']) || name.chars().any(char::is_whitespace) {
        return Err(fail(format!(
            "name: {name:?} may not hold '/', '+', '#' or spaces (it is part of topics)"
        )));
    }
    let address = raw
        .address
        .ok_or_else(|| fail("address: missing (e.g. \"mqtt://host:1883\")".into()))?;
    let target = parse_address(&address, raw.cafile).map_err(|why| fail(format!("address: {why}")))?;
    let version = match raw.version.as_deref() {
        None | Some("5" | "5.0") => ProtocolVersion::V5,
        Some("3.1.1") => ProtocolVersion::V311,
        Some(other) => return Err(fail(format!("version: {other:?} is not \"3.1.1\" or \"5\""))),
    };
    let client_id = match raw.client_id {
        Some(id) if id.is_empty() => return Err(fail("client_id: may not be empty".into())),
        Some(id) => id,
        None => format!("{}.{name}", hostname()),
    };
    let topics = raw.topics.unwrap_or_default();
    if topics.is_empty() {
        return Err(fail("topics: missing (e.g. topics = [\"sensors/# out 1\"])".into()));
    }
    let topics = topics
        .iter()
        .map(|text| TopicRule::parse(text).map_err(|why| fail(format!("topics: {text:?} {why}"))))
        .collect::<Result<Vec<_>, _>>()?;
    for (key, value) in [
        ("max_queued_messages", raw.max_queued_messages),
        ("max_queued_bytes", raw.max_queued_bytes),
    ] {
        if value == Some(0) {
            return Err(fail(format!("{key}: must be at least 1")));
        }
    }
    if raw.password.is_some() && raw.username.is_none() && version != ProtocolVersion::V5 {
        return Err(fail("password: MQTT 3.1.1 needs a username with a password".into()));
    }
    Ok(BridgeConfig {
        address,
        target,
        client_id,
        username: raw.username,
        password: raw.password,
        version,
        keep_alive: raw.keep_alive.unwrap_or(60),
        clean_start: raw.clean_start.unwrap_or(false),
        try_private: raw.try_private.unwrap_or(true),
        topics,
        max_queued_messages: raw.max_queued_messages,
        max_queued_bytes: raw.max_queued_bytes,
        name,
    })
}

/// `mqtt://host[:port]`, `mqtts://…`, `ws://host[:port][/path]`, `wss://…`. Default ports: 1883, 8883, 80, 443;
/// default WebSocket path `/mqtt`.
fn parse_address(address: &str, cafile: Option<PathBuf>) -> Result<Target, String> {
    let Some((scheme, rest)) = address.split_once("://") else {
        return Err(format!("{address:?} is not a URL (mqtt://, mqtts://, ws:// or wss://)"));
    };
    let (tls, websocket, default_port) = match scheme {
        "mqtt" => (false, false, 1883),
        "mqtts" => (true, false, 8883),
        "ws" => (false, true, 80),
        "wss" => (true, true, 443),
        other => return Err(format!("unknown scheme {other:?} (mqtt, mqtts, ws or wss)")),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if !websocket && !path.is_empty() && path != "/" {
        return Err(format!("{scheme}:// takes no path ({path:?})"));
    }
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (host, after) = bracketed
            .split_once(']')
            .ok_or("an IPv6 address needs its closing ']'")?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(format!("{address:?} names no host"));
    }
    let port = match port {
        None => default_port,
        Some(port) => port
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or(format!("bad port {port:?}"))?,
    };
    if cafile.is_some() && !tls {
        return Err(format!(
            "cafile is set but {scheme}:// does not use TLS (mqtts:// or wss://)"
        ));
    }
    Ok(Target {
        host: host.to_owned(),
        port,
        websocket_path: websocket.then(|| {
            if path.is_empty() {
                "/mqtt".to_owned()
            } else {
                path.to_owned()
            }
        }),
        tls: tls.then_some(cafile),
    })
}

/// This machine's name, for the default client id.
fn hostname() -> String {
    // Linux's own answer; anywhere else (or if it fails) a plain default.
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let name = name.trim();
    if name.is_empty() {
        "roost".to_owned()
    } else {
        name.to_owned()
    }
}

/// How long to wait before the next attempt: exponential from 1 s to 30 s, each with up to half of it taken off
/// at random (jitter), so bridges of many brokers to one cluster do not retry in step.
#[derive(Debug)]
pub(crate) struct Backoff {
    next: Duration,
}

impl Backoff {
    /// The first wait.
    pub(crate) const MIN: Duration = Duration::from_secs(1);
    /// The longest wait.
    pub(crate) const MAX: Duration = Duration::from_secs(30);

    pub(crate) fn new() -> Self {
        Backoff { next: Self::MIN }
    }

    /// After a connection that worked: start from the shortest wait again.
    pub(crate) fn reset(&mut self) {
        self.next = Self::MIN;
    }

    /// The wait before the next attempt; `random` is a number in [0, 1).
    pub(crate) fn next(&mut self, random: f64) -> Duration {
        let base = self.next;
        self.next = (self.next * 2).min(Self::MAX);
        base.mul_f64(1.0 - random.clamp(0.0, 1.0) / 2.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(text: &str) -> TopicRule {
        TopicRule::parse(text).unwrap()
    }

    #[test]
    fn rules_read_like_mosquittos_topic_lines() {
        let r = rule("sensors/#");
        assert_eq!((r.direction, r.qos), (Direction::Out, QoS::AtMostOnce));
        assert_eq!(r.local_filter.as_str(), "sensors/#");
        let r = rule("sensors/# out 1 home/ site1/");
        assert_eq!((r.direction, r.qos), (Direction::Out, QoS::AtLeastOnce));
        assert_eq!(r.local_filter.as_str(), "home/sensors/#");
        assert_eq!(r.remote_filter.as_str(), "site1/sensors/#");
        assert_eq!(r.to_remote("home/sensors/t1").unwrap().as_str(), "site1/sensors/t1");
        assert_eq!(r.to_remote("home/other"), None);
        assert_eq!(r.to_local("site1/sensors/t1"), None, "an out rule carries nothing in");
        let r = rule("cmnd/# in 2");
        assert_eq!(r.to_local("cmnd/x").unwrap().as_str(), "cmnd/x");
        assert_eq!(r.to_remote("cmnd/x"), None);
        // Mosquitto's table of empty prefixes and patterns.
        let r = rule("t/# both 1 \"\" r/");
        assert_eq!(r.to_remote("t/a").unwrap().as_str(), "r/t/a");
        assert_eq!(r.to_local("r/t/a").unwrap().as_str(), "t/a");
        let r = rule("t/# both 1 l/ \"\"");
        assert_eq!(r.to_remote("l/t/a").unwrap().as_str(), "t/a");
        let r = rule("\"\" in 0 local/state remote/state");
        assert_eq!(r.to_local("remote/state").unwrap().as_str(), "local/state");
        assert_eq!(r.to_local("remote/state/x"), None);
        // `$` topics other than $SYS cross when named ([MQTT-4.7.2-1]: `#` alone does not match them).
        let r = rule("$aws/things/# both 1");
        assert_eq!(r.to_remote("$aws/things/x").unwrap().as_str(), "$aws/things/x");
        assert_eq!(rule("# out").to_remote("$aws/x"), None);
    }

    #[test]
    fn bad_rules_say_what_is_wrong() {
        let error = |text: &str| TopicRule::parse(text).unwrap_err();
        assert_eq!(
            error("a/# sideways 1"),
            "has unknown direction \"sideways\" (in, out or both)"
        );
        assert_eq!(error("a/# out 3"), "has QoS \"3\" (0, 1 or 2)");
        assert!(error("a/# out 1 l/").contains("without a remote prefix"));
        assert!(error("\"\" out 1 \"\" r/").contains("empty pattern"));
        assert!(error("a/# out 1 l/+/ r/").contains("wildcard in its local prefix"));
        assert!(error("$SYS/# out").contains("$SYS"));
        assert!(error("# out 0 $SYS/ x/").contains("$SYS"));
        assert!(error("a/#/b").contains("not a topic filter"));
        assert_eq!(error("   "), "is empty");
    }

    fn bridges(toml: &str) -> Result<Vec<BridgeConfig>, String> {
        crate::Config::from_toml(toml).map(|c| c.bridges)
    }

    #[test]
    fn bridges_are_read_with_defaults() {
        let read = bridges(
            r#"
            [[bridge]]
            name = "cloud"
            address = "mqtts://broker.example.com"
            username = "site1"
            password = "secret"
            topics = ["sensors/# out 1 home/ site1/", "cmnd/# in 1"]

            [[bridge]]
            name = "ws"
            address = "ws://[::1]:8080"
            client_id = "me"
            version = "3.1.1"
            keep_alive = 30
            clean_start = true
            try_private = false
            topics = ["a/#"]
            max_queued_messages = 100000
            "#,
        )
        .unwrap();
        assert_eq!(read.len(), 2);
        let cloud = &read[0];
        assert_eq!(cloud.target.host, "broker.example.com");
        assert_eq!((cloud.target.port, cloud.target.tls.clone()), (8883, Some(None)));
        assert_eq!(cloud.version, ProtocolVersion::V5);
        assert_eq!(
            (cloud.keep_alive, cloud.clean_start, cloud.try_private),
            (60, false, true)
        );
        assert!(cloud.client_id.ends_with(".cloud"), "{}", cloud.client_id);
        assert_eq!(cloud.topics.len(), 2);
        assert!(!format!("{cloud:?}").contains("secret"));
        let ws = &read[1];
        assert_eq!(ws.target.host, "::1");
        assert_eq!(
            (ws.target.port, ws.target.websocket_path.as_deref()),
            (8080, Some("/mqtt"))
        );
        assert_eq!(
            (ws.version, ws.keep_alive, ws.clean_start, ws.try_private),
            (ProtocolVersion::V311, 30, true, false)
        );
        assert_eq!(ws.client_id, "me");
        assert_eq!((ws.max_queued_messages, ws.max_queued_bytes), (Some(100_000), None));
        assert_eq!(cloud.max_queued_messages, None);
    }

    #[test]
    fn bad_bridges_are_errors_naming_the_bridge_and_key() {
        let one = |body: &str| bridges(&format!("[[bridge]]\n{body}\n")).unwrap_err();
        let ok = "name = \"b\"\naddress = \"mqtt://h:1\"\ntopics = [\"#\"]";
        assert!(bridges(&format!("[[bridge]]\n{ok}\n")).is_ok());
        assert_eq!(
            one("address = \"mqtt://h\"\ntopics = [\"#\"]"),
            "bridge #1: name: missing (every [[bridge]] needs a name)"
        );
        assert_eq!(
            one("name = \"b\"\naddress = \"http://h\"\ntopics = [\"#\"]"),
            "bridge \"b\": address: unknown scheme \"http\" (mqtt, mqtts, ws or wss)"
        );
        assert_eq!(
            one("name = \"b\"\naddress = \"h:1883\"\ntopics = [\"#\"]"),
            "bridge \"b\": address: \"h:1883\" is not a URL (mqtt://, mqtts://, ws:// or wss://)"
        );
        assert_eq!(
            one("name = \"b\"\naddress = \"mqtt://h:99999\"\ntopics = [\"#\"]"),
            "bridge \"b\": address: bad port \"99999\""
        );
        assert_eq!(
            one("name = \"b\"\naddress = \"mqtt://h\"\ntopics = [\"a/# up 1\"]"),
            "bridge \"b\": topics: \"a/# up 1\" has unknown direction \"up\" (in, out or both)"
        );
        assert_eq!(
            one("name = \"b\"\naddress = \"mqtt://h\"\ntopics = [\"a/# in 3\"]"),
            "bridge \"b\": topics: \"a/# in 3\" has QoS \"3\" (0, 1 or 2)"
        );
        assert_eq!(
            one("name = \"b\"\naddress = \"mqtt://h\""),
            "bridge \"b\": topics: missing (e.g. topics = [\"sensors/# out 1\"])"
        );
        assert_eq!(
            one("name = \"b\"\naddress = \"mqtt://h\"\ntopics = [\"#\"]\nversion = \"4\""),
            "bridge \"b\": version: \"4\" is not \"3.1.1\" or \"5\""
        );
        assert_eq!(
            one("name = \"b\"\naddress = \"mqtt://h\"\ntopics = [\"#\"]\ncafile = \"ca.pem\""),
            "bridge \"b\": address: cafile is set but mqtt:// does not use TLS (mqtts:// or wss://)"
        );
        assert_eq!(
            one("name = \"a/b\"\naddress = \"mqtt://h\"\ntopics = [\"#\"]"),
            "bridge \"a/b\": name: \"a/b\" may not hold '/', '+', '#' or spaces (it is part of topics)"
        );
        assert_eq!(
            one("name = \"b\"\naddress = \"mqtt://h\"\ntopics = [\"#\"]\nmax_queued_messages = 0"),
            "bridge \"b\": max_queued_messages: must be at least 1"
        );
        let unknown = one("name = \"b\"\nadress = \"mqtt://h\"");
        assert!(
            unknown.starts_with("line 3, column 1: unknown field `adress`"),
            "{unknown}"
        );
        let twice = bridges(&format!("[[bridge]]\n{ok}\n[[bridge]]\n{ok}\n")).unwrap_err();
        assert_eq!(twice, "bridge \"b\": name: two bridges have this name");
    }

    #[test]
    fn backoff_doubles_to_its_cap_with_jitter_and_resets() {
        let mut backoff = Backoff::new();
        assert_eq!(backoff.next(0.0), Duration::from_secs(1));
        assert_eq!(backoff.next(0.0), Duration::from_secs(2));
        assert_eq!(backoff.next(0.5), Duration::from_secs(3));
        for _ in 0..10 {
            backoff.next(0.0);
        }
        assert_eq!(backoff.next(0.0), Backoff::MAX);
        assert_eq!(backoff.next(0.999).as_millis(), 15_015);
        backoff.reset();
        assert_eq!(backoff.next(0.0), Backoff::MIN);
    }
}
