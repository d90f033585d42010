//! The TOML configuration file (`roost serve --config FILE`). Every key is optional: what the file leaves out keeps
//! its default from [`Config::default`], and command-line flags override the file. Unknown keys are errors, so a
//! typo never silently falls back to a default. README.md documents every key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use roost_codec::{MAX_PACKET_SIZE, QoS};
use serde::Deserialize;

use crate::config::{Anonymous, Config, TlsFiles};

/// Why a configuration file could not be used. Displays as one line naming the file and the problem.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The file is not valid TOML, has an unknown key, or a value of the wrong type or out of range.
    #[error("config file {path}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// Where and what, on one line.
        message: String,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    listeners: Listeners,
    #[serde(default)]
    limits: Limits,
    #[serde(default)]
    sessions: Sessions,
    #[serde(default)]
    timeouts: Timeouts,
    #[serde(default)]
    sys: Sys,
    #[serde(default)]
    auth: Auth,
    #[serde(default)]
    http: Http,
    tls: Option<Tls>,
    #[serde(default)]
    storage: Storage,
    #[serde(default)]
    retained: Retained,
    #[serde(default)]
    history: HistoryFile,
    #[serde(default)]
    bridge: Vec<crate::bridge::config::RawBridge>,
}

/// `[history]`: what the dashboard's panel remembers (see `history.rs`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryFile {
    enabled: Option<bool>,
    panel_topics: Option<Vec<String>>,
    max_topics: Option<usize>,
    /// Hours.
    recent_hours: Option<u64>,
    max_points: Option<usize>,
    /// Minutes.
    bucket_minutes: Option<u64>,
    /// Days.
    keep_days: Option<u64>,
    max_payload: Option<usize>,
    /// Seconds.
    save_interval: Option<u64>,
}

/// `[retained]`: so far only its `[[retained.expiry]]` rules.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Retained {
    #[serde(default)]
    expiry: Vec<RetainedExpiryRule>,
}

/// `[[retained.expiry]] filter = "tele/#" seconds = 86400`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RetainedExpiryRule {
    filter: String,
    seconds: u64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Auth {
    allow_anonymous: Option<AllowAnonymous>,
    password_file: Option<PathBuf>,
    acl_file: Option<PathBuf>,
    admins: Option<Vec<String>>,
}

/// `allow_anonymous = true | false | "loopback"`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum AllowAnonymous {
    Bool(bool),
    Word(String),
}

impl AllowAnonymous {
    /// What the value says, or the error naming `key`.
    fn read(self, key: &str) -> Result<Anonymous, String> {
        match self {
            AllowAnonymous::Bool(false) => Ok(Anonymous::Deny),
            AllowAnonymous::Bool(true) => Ok(Anonymous::Allow),
            AllowAnonymous::Word(word) if word == "loopback" => Ok(Anonymous::Loopback),
            AllowAnonymous::Word(word) => Err(format!("{key} must be true, false or \"loopback\", not {word:?}")),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Http {
    /// Seconds.
    header_timeout: Option<u64>,
    /// Seconds.
    idle_timeout: Option<u64>,
    max_connections: Option<usize>,
    max_connections_per_address: Option<usize>,
    allowed_origins: Option<Vec<String>>,
    session_hours: Option<u64>,
    remember_days: Option<u64>,
    metrics_without_login: Option<AllowAnonymous>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Tls {
    cert: PathBuf,
    key: PathBuf,
    client_ca: Option<PathBuf>,
    #[serde(default)]
    require_client_cert: bool,
    #[serde(default)]
    use_identity_as_username: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Storage {
    /// "" keeps everything in memory.
    dir: Option<String>,
    sync: Option<String>,
    sync_interval_ms: Option<u64>,
    max_bytes: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Listeners {
    mqtt: Option<SocketAddr>,
    http: Option<SocketAddr>,
    mqtts: Option<SocketAddr>,
    https: Option<SocketAddr>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Limits {
    max_packet_size: Option<u32>,
    max_connections: Option<u64>,
    max_connections_per_address: Option<usize>,
    max_client_id_length: Option<usize>,
    max_topic_length: Option<usize>,
    max_keep_alive: Option<u16>,
    max_queued_messages: Option<usize>,
    max_queued_bytes: Option<usize>,
    max_inflight: Option<u16>,
    receive_maximum: Option<u16>,
    topic_alias_maximum: Option<u16>,
    outgoing_topic_aliases: Option<bool>,
    maximum_qos: Option<u8>,
    max_topic_levels: Option<usize>,
    max_retained_messages: Option<usize>,
    max_retained_bytes: Option<usize>,
    max_memory: Option<usize>,
    /// Seconds.
    slow_subscriber_timeout: Option<u64>,
    max_subscriptions_per_client: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sessions {
    queue_qos0_offline: Option<bool>,
    /// Seconds.
    v3_session_expiry: Option<u64>,
    /// Seconds.
    max_session_expiry: Option<u32>,
}

/// Sets `target` from `value` if given, refusing 0 where 0 would switch a feature the broker promises off.
fn at_least_one<T: Copy + PartialOrd + From<u8>>(target: &mut T, value: Option<T>, key: &str) -> Result<(), String> {
    match value {
        Some(v) if v < T::from(1) => Err(format!("{key} must be at least 1")),
        Some(v) => {
            *target = v;
            Ok(())
        }
        None => Ok(()),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Timeouts {
    /// Seconds.
    connect: Option<u64>,
    /// Seconds.
    drain: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sys {
    /// Seconds; 0 turns `$SYS` off.
    interval: Option<u64>,
}

impl Config {
    /// Reads a TOML configuration file over the defaults. Relative paths in it (`[auth] password_file`,
    /// `acl_file`) are taken from the file's own directory, so the broker finds them whatever its working
    /// directory.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let mut config = Self::from_toml(&text).map_err(|message| ConfigError::Invalid {
            path: path.display().to_string(),
            message,
        })?;
        let dir = path.parent().unwrap_or(Path::new(""));
        for file in [&mut config.auth.password_file, &mut config.auth.acl_file]
            .into_iter()
            .flatten()
        {
            *file = dir.join(&*file);
        }
        for bridge in &mut config.bridges {
            if let Some(Some(cafile)) = &mut bridge.target.tls {
                *cafile = dir.join(&*cafile);
            }
        }
        config.config_file = Some(path.to_path_buf());
        // The data directory (the default `data` too) lives beside the configuration file, not wherever roost
        // happens to be started from.
        if let Some(dir) = &mut config.storage.dir
            && dir.is_relative()
            && let Some(parent) = path.parent()
        {
            *dir = parent.join(&*dir);
        }
        Ok(config)
    }

    /// Parses TOML configuration text over the defaults; the error is one line saying where and what.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        let file: File = toml::from_str(text).map_err(|e| one_line(&e, text))?;
        let mut config = Config::default();
        if let Some(addr) = file.listeners.mqtt {
            config.mqtt_addr = addr;
        }
        if let Some(addr) = file.listeners.http {
            config.http_addr = addr;
        }
        if let Some(size) = file.limits.max_packet_size {
            // 0 means "no packet at all"; above MAX_PACKET_SIZE the wire format cannot go.
            if !(2..=MAX_PACKET_SIZE).contains(&size) {
                return Err(format!(
                    "limits.max_packet_size must be between 2 and {MAX_PACKET_SIZE}, not {size}"
                ));
            }
            config.max_packet_size = size;
        }
        let limits = &file.limits;
        if let Some(v) = limits.max_connections {
            config.max_connections = v;
        }
        at_least_one(
            &mut config.max_keep_alive,
            limits.max_keep_alive,
            "limits.max_keep_alive",
        )?;
        at_least_one(
            &mut config.max_queued_messages,
            limits.max_queued_messages,
            "limits.max_queued_messages",
        )?;
        at_least_one(
            &mut config.max_queued_bytes,
            limits.max_queued_bytes,
            "limits.max_queued_bytes",
        )?;
        at_least_one(&mut config.max_inflight, limits.max_inflight, "limits.max_inflight")?;
        at_least_one(
            &mut config.receive_maximum,
            limits.receive_maximum,
            "limits.receive_maximum",
        )?;
        if let Some(v) = limits.topic_alias_maximum {
            config.topic_alias_maximum = v;
        }
        if let Some(v) = limits.outgoing_topic_aliases {
            config.outgoing_topic_aliases = v;
        }
        if let Some(v) = limits.maximum_qos {
            config.maximum_qos = QoS::from_u8(v).ok_or(format!("limits.maximum_qos must be 0, 1 or 2, not {v}"))?;
        }
        if let Some(v) = limits.max_topic_levels {
            config.max_topic_levels = v;
        }
        at_least_one(
            &mut config.max_retained_messages,
            limits.max_retained_messages,
            "limits.max_retained_messages",
        )?;
        at_least_one(
            &mut config.max_retained_bytes,
            limits.max_retained_bytes,
            "limits.max_retained_bytes",
        )?;
        if let Some(v) = limits.max_memory {
            config.max_memory = v;
        }
        if let Some(secs) = limits.slow_subscriber_timeout {
            if secs == 0 {
                return Err("limits.slow_subscriber_timeout must be at least 1 second".into());
            }
            config.slow_subscriber_timeout = Duration::from_secs(secs);
        }
        if let Some(v) = limits.max_subscriptions_per_client {
            config.max_subscriptions_per_client = v;
        }
        if let Some(v) = file.sessions.queue_qos0_offline {
            config.queue_qos0_offline = v;
        }
        if let Some(secs) = file.sessions.v3_session_expiry {
            config.v3_session_expiry = Duration::from_secs(secs);
        }
        if let Some(secs) = file.sessions.max_session_expiry {
            config.max_session_expiry = secs;
        }
        if let Some(secs) = file.timeouts.connect {
            if secs == 0 {
                return Err("timeouts.connect must be at least 1 second".into());
            }
            config.connect_timeout = Duration::from_secs(secs);
        }
        if let Some(secs) = file.timeouts.drain {
            config.drain_timeout = Duration::from_secs(secs);
        }
        if let Some(secs) = file.sys.interval {
            config.sys_interval = Duration::from_secs(secs);
        }
        read_history(file.history, &mut config.history)?;
        let auth = file.auth;
        if let Some(value) = auth.allow_anonymous {
            config.auth.allow_anonymous = value.read("auth.allow_anonymous")?;
        }
        for (target, value) in [
            (&mut config.auth.password_file, auth.password_file),
            (&mut config.auth.acl_file, auth.acl_file),
        ] {
            if value.is_some() {
                *target = value;
            }
        }
        if let Some(admins) = auth.admins {
            config.auth.admins = admins;
        }
        read_limits(&file.limits, &mut config)?;
        read_http(file.http, &mut config)?;
        read_tls(file.listeners.mqtts, file.listeners.https, file.tls, &mut config)?;
        storage(&mut config.storage, &file.storage)?;
        for rule in file.retained.expiry {
            let filter = roost_codec::TopicFilter::new(rule.filter.clone())
                .map_err(|_| format!("retained.expiry: {:?} is not a topic filter", rule.filter))?;
            if rule.seconds == 0 {
                return Err(format!(
                    "retained.expiry: seconds for {:?} must be at least 1",
                    rule.filter
                ));
            }
            config.retained_expiry.push(crate::config::RetainedExpiry {
                filter,
                after: Duration::from_secs(rule.seconds),
            });
        }
        config.bridges = crate::bridge::config::read(file.bridge)?;
        Ok(config)
    }
}

/// The per-client limits of `[limits]` added with the security settings.
fn read_limits(limits: &Limits, config: &mut Config) -> Result<(), String> {
    if let Some(v) = limits.max_connections_per_address {
        config.max_connections_per_address = v;
    }
    at_least_one(
        &mut config.max_client_id_length,
        limits.max_client_id_length,
        "limits.max_client_id_length",
    )?;
    if let Some(v) = limits.max_topic_length {
        // A topic is a UTF-8 string with a two-byte length: the wire format cannot go beyond 65,535.
        if !(1..=65_535).contains(&v) {
            return Err(format!("limits.max_topic_length must be between 1 and 65535, not {v}"));
        }
        config.max_topic_length = v;
    }
    Ok(())
}

/// `[http]`: timeouts, connection caps and allowed origins of the HTTP listeners.
fn read_http(http: Http, config: &mut Config) -> Result<(), String> {
    let limits = &mut config.http;
    if let Some(secs) = http.header_timeout {
        if secs == 0 {
            return Err("http.header_timeout must be at least 1 second".into());
        }
        limits.header_timeout = Duration::from_secs(secs);
    }
    if let Some(secs) = http.idle_timeout {
        if secs == 0 {
            return Err("http.idle_timeout must be at least 1 second".into());
        }
        limits.idle_timeout = Duration::from_secs(secs);
    }
    if let Some(v) = http.max_connections {
        limits.max_connections = v;
    }
    if let Some(v) = http.max_connections_per_address {
        limits.max_connections_per_address = v;
    }
    if let Some(origins) = http.allowed_origins {
        for origin in &origins {
            crate::transport::check_origin_setting(origin).map_err(|why| format!("http.allowed_origins: {why}"))?;
        }
        limits.allowed_origins = origins;
    }
    if let Some(hours) = http.session_hours {
        if !(1..=24 * 366).contains(&hours) {
            return Err("http.session_hours must be from 1 to 8784 (a year)".into());
        }
        limits.session_lifetime = Duration::from_secs(hours * 3600);
    }
    if let Some(days) = http.remember_days {
        if days > 366 {
            return Err("http.remember_days must be from 0 to 366".into());
        }
        limits.remember_lifetime = Duration::from_secs(days * 24 * 3600);
    }
    if let Some(value) = http.metrics_without_login {
        limits.metrics_without_login = value.read("http.metrics_without_login")?;
    }
    Ok(())
}

/// The TLS listeners and `[tls]`: a TLS listener without a certificate is an error, not a silent no-op.
fn read_tls(
    mqtts: Option<SocketAddr>,
    https: Option<SocketAddr>,
    tls: Option<Tls>,
    config: &mut Config,
) -> Result<(), String> {
    if let Some(tls) = tls {
        if tls.require_client_cert && tls.client_ca.is_none() {
            return Err("tls.require_client_cert needs tls.client_ca".into());
        }
        if tls.use_identity_as_username && tls.client_ca.is_none() {
            return Err("tls.use_identity_as_username needs tls.client_ca".into());
        }
        config.tls = Some(TlsFiles {
            cert: tls.cert,
            key: tls.key,
            client_ca: tls.client_ca,
            require_client_cert: tls.require_client_cert,
            use_identity_as_username: tls.use_identity_as_username,
        });
    }
    if (mqtts.is_some() || https.is_some()) && config.tls.is_none() {
        return Err("listeners.mqtts and listeners.https need a [tls] section with cert and key".into());
    }
    config.mqtts_addr = mqtts;
    config.https_addr = https;
    Ok(())
}

/// Reads `[storage]` over the defaults.
fn storage(config: &mut crate::config::StorageConfig, file: &Storage) -> Result<(), String> {
    use crate::store::SyncMode;
    if let Some(dir) = &file.dir {
        config.dir = (!dir.is_empty()).then(|| dir.into());
    }
    let interval = match file.sync_interval_ms {
        Some(0) => return Err("storage.sync_interval_ms must be at least 1".into()),
        Some(ms) => Some(Duration::from_millis(ms)),
        None => None,
    };
    match (file.sync.as_deref(), interval) {
        (None | Some("always"), None) => config.sync = SyncMode::Always,
        (Some("interval"), interval) => {
            config.sync = SyncMode::Interval(interval.unwrap_or(Duration::from_secs(1)));
        }
        (Some("never"), None) => config.sync = SyncMode::Never,
        (Some("always" | "never") | None, Some(_)) => {
            return Err("storage.sync_interval_ms applies only with sync = \"interval\"".into());
        }
        (Some(other), _) => {
            return Err(format!(
                "storage.sync must be \"always\", \"interval\" or \"never\", not {other:?}"
            ));
        }
    }
    at_least_one(&mut config.max_bytes, file.max_bytes, "storage.max_bytes")
}

/// toml's errors span several lines with a source excerpt; an operator wants "line L, column C: message".
fn one_line(error: &toml::de::Error, text: &str) -> String {
    let message = error.message().trim().replace('\n', " ");
    match error.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message,
    }
}

/// `[history]` over the defaults; a zero where it would make no sense is an error naming the key.
fn read_history(file: HistoryFile, history: &mut crate::history::HistoryConfig) -> Result<(), String> {
    let positive = |key: &str, value: u64| {
        if value == 0 {
            Err(format!("history.{key} must be at least 1"))
        } else {
            Ok(value)
        }
    };
    if let Some(enabled) = file.enabled {
        history.enabled = enabled;
    }
    if let Some(topics) = file.panel_topics {
        if let Some(bad) = topics
            .iter()
            .find(|topic| roost_codec::TopicName::new(topic.as_str()).is_err())
        {
            return Err(format!("history.panel_topics: {bad:?} is not a topic name"));
        }
        history.panel_topics = topics;
    }
    if let Some(max) = file.max_topics {
        history.max_topics = max;
    }
    if let Some(hours) = file.recent_hours {
        history.recent = Duration::from_secs(positive("recent_hours", hours)?.saturating_mul(3600));
    }
    if let Some(max) = file.max_points {
        history.max_points = usize::try_from(positive("max_points", max as u64)?).unwrap_or(usize::MAX);
    }
    if let Some(minutes) = file.bucket_minutes {
        history.bucket = Duration::from_secs(positive("bucket_minutes", minutes)?.saturating_mul(60));
    }
    if let Some(days) = file.keep_days {
        history.keep = Duration::from_secs(days.saturating_mul(24 * 3600));
    }
    if let Some(max) = file.max_payload {
        history.max_payload = max;
    }
    if let Some(secs) = file.save_interval {
        history.save_interval = Duration::from_secs(positive("save_interval", secs)?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_the_defaults() {
        let config = Config::from_toml("").unwrap();
        let default = Config::default();
        assert_eq!(config.mqtt_addr, default.mqtt_addr);
        assert_eq!(config.http_addr, default.http_addr);
        assert_eq!(config.max_packet_size, default.max_packet_size);
        assert_eq!(config.sys_interval, Duration::from_secs(10));
    }

    #[test]
    fn history_settings_are_read_and_checked() {
        let config = Config::from_toml(
            "[history]\nmax_topics = 10\nrecent_hours = 2\nbucket_minutes = 5\nkeep_days = 7\npanel_topics = [\"home/panel\"]\n",
        )
        .unwrap();
        assert_eq!(config.history.max_topics, 10);
        assert_eq!(config.history.recent, Duration::from_secs(7200));
        assert_eq!(config.history.bucket, Duration::from_secs(300));
        assert_eq!(config.history.keep, Duration::from_secs(7 * 86400));
        assert_eq!(config.history.panel_topics, ["home/panel"]);
        let error = Config::from_toml("[history]\nbucket_minutes = 0\n").unwrap_err();
        assert!(error.contains("history.bucket_minutes must be at least 1"), "{error}");
        let error = Config::from_toml("[history]\npanel_topics = [\"a/#\"]\n").unwrap_err();
        assert!(error.contains("\"a/#\" is not a topic name"), "{error}");
        let error = Config::from_toml("[history]\nkeep = 3\n").unwrap_err();
        assert!(error.contains("unknown field `keep`"), "{error}");
    }

    #[test]
    fn sys_interval_is_seconds() {
        let config = Config::from_toml("[sys]\ninterval = 30\n").unwrap();
        assert_eq!(config.sys_interval, Duration::from_secs(30));
        let error = Config::from_toml("[sys]\ninterval = -1\n").unwrap_err();
        assert!(error.starts_with("line 2,"), "{error}");
        let error = Config::from_toml("[sys]\nintervall = 1\n").unwrap_err();
        assert!(error.contains("unknown field `intervall`"), "{error}");
    }

    #[test]
    fn retained_expiry_rules_are_read_in_order_and_checked() {
        let config = Config::from_toml(
            "[[retained.expiry]]\nfilter = \"tele/#\"\nseconds = 86400\n\
             [[retained.expiry]]\nfilter = \"+/lwt\"\nseconds = 60\n",
        )
        .unwrap();
        let rules: Vec<(&str, u64)> = config
            .retained_expiry
            .iter()
            .map(|rule| (rule.filter.as_str(), rule.after.as_secs()))
            .collect();
        assert_eq!(rules, [("tele/#", 86_400), ("+/lwt", 60)]);
        let error = Config::from_toml("[[retained.expiry]]\nfilter = \"a/#/b\"\nseconds = 1\n").unwrap_err();
        assert_eq!(error, "retained.expiry: \"a/#/b\" is not a topic filter");
        let error = Config::from_toml("[[retained.expiry]]\nfilter = \"a\"\nseconds = 0\n").unwrap_err();
        assert_eq!(error, "retained.expiry: seconds for \"a\" must be at least 1");
    }

    #[test]
    fn every_key_is_read() {
        let config = Config::from_toml(
            r#"
            [listeners]
            mqtt = "127.0.0.1:1884"
            http = "[::1]:8081"
            [limits]
            max_packet_size = 65536
            max_connections = 2
            max_keep_alive = 30
            max_queued_messages = 10
            max_queued_bytes = 4096
            max_inflight = 5
            receive_maximum = 7
            topic_alias_maximum = 0
            outgoing_topic_aliases = false
            maximum_qos = 1
            max_topic_levels = 4
            max_retained_messages = 3
            max_retained_bytes = 1000
            max_memory = 5000000
            slow_subscriber_timeout = 9
            max_subscriptions_per_client = 11
            [sessions]
            queue_qos0_offline = true
            v3_session_expiry = 60
            max_session_expiry = 4294967295
            [timeouts]
            connect = 3
            drain = 0
            [sys]
            interval = 0
            [storage]
            dir = "/var/lib/roost"
            sync = "interval"
            sync_interval_ms = 250
            max_bytes = 1000000
            "#,
        )
        .unwrap();
        assert_eq!(config.mqtt_addr, "127.0.0.1:1884".parse().unwrap());
        assert_eq!(config.http_addr, "[::1]:8081".parse().unwrap());
        assert_eq!(config.max_packet_size, 65536);
        assert_eq!(config.connect_timeout, Duration::from_secs(3));
        assert_eq!(config.drain_timeout, Duration::ZERO);
        assert_eq!(config.sys_interval, Duration::ZERO);
        assert_eq!(
            (
                config.max_queued_messages,
                config.max_queued_bytes,
                config.max_inflight,
                config.receive_maximum
            ),
            (10, 4096, 5, 7)
        );
        assert_eq!(config.topic_alias_maximum, 0);
        assert_eq!(config.slow_subscriber_timeout, Duration::from_secs(9));
        assert_eq!(config.max_subscriptions_per_client, 11);
        assert!(!config.outgoing_topic_aliases);
        assert_eq!((config.maximum_qos, config.max_topic_levels), (QoS::AtLeastOnce, 4));
        assert_eq!((config.max_connections, config.max_keep_alive), (2, 30));
        assert_eq!((config.max_retained_messages, config.max_retained_bytes), (3, 1000));
        assert_eq!(config.max_memory, 5_000_000);
        assert!(config.queue_qos0_offline);
        assert_eq!(config.v3_session_expiry, Duration::from_secs(60));
        assert_eq!(config.max_session_expiry, u32::MAX);
        assert_eq!(
            config.storage,
            crate::config::StorageConfig {
                dir: Some("/var/lib/roost".into()),
                sync: crate::store::SyncMode::Interval(Duration::from_millis(250)),
                max_bytes: 1_000_000,
            }
        );
    }

    #[test]
    fn storage_defaults_to_data_synced_always_and_checks_its_values() {
        use crate::store::SyncMode;
        let config = Config::from_toml("").unwrap();
        assert_eq!(config.storage.dir, Some("data".into()));
        assert_eq!(config.storage.sync, SyncMode::Always);
        let memory = Config::from_toml("[storage]\ndir = \"\"\n").unwrap();
        assert_eq!(memory.storage.dir, None);
        let never = Config::from_toml("[storage]\nsync = \"never\"\n").unwrap();
        assert_eq!(never.storage.sync, SyncMode::Never);
        let interval = Config::from_toml("[storage]\nsync = \"interval\"\n").unwrap();
        assert_eq!(interval.storage.sync, SyncMode::Interval(Duration::from_secs(1)));
        let error = Config::from_toml("[storage]\nsync = \"sometimes\"\n").unwrap_err();
        assert_eq!(
            error,
            "storage.sync must be \"always\", \"interval\" or \"never\", not \"sometimes\""
        );
        let error = Config::from_toml("[storage]\nsync_interval_ms = 5\n").unwrap_err();
        assert_eq!(error, "storage.sync_interval_ms applies only with sync = \"interval\"");
        let error = Config::from_toml("[storage]\nsync = \"interval\"\nsync_interval_ms = 0\n").unwrap_err();
        assert_eq!(error, "storage.sync_interval_ms must be at least 1");
        let error = Config::from_toml("[storage]\nmax_bytes = 0\n").unwrap_err();
        assert_eq!(error, "storage.max_bytes must be at least 1");
    }

    #[test]
    fn a_relative_data_directory_is_beside_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("roost.toml");
        std::fs::write(&path, "").unwrap();
        assert_eq!(
            Config::from_file(&path).unwrap().storage.dir,
            Some(dir.path().join("data"))
        );
        std::fs::write(&path, "[storage]\ndir = \"/abs\"\n").unwrap();
        assert_eq!(Config::from_file(&path).unwrap().storage.dir, Some("/abs".into()));
    }

    #[test]
    fn security_keys_are_read() {
        let config = Config::from_toml(
            r#"
            [listeners]
            mqtts = "0.0.0.0:8883"
            https = "0.0.0.0:8443"
            [limits]
            max_connections_per_address = 5
            max_client_id_length = 23
            max_topic_length = 100
            [http]
            header_timeout = 2
            idle_timeout = 3
            max_connections = 10
            max_connections_per_address = 4
            allowed_origins = ["https://home.example:8443", "http://pi.local:8080"]
            session_hours = 8
            remember_days = 7
            [tls]
            cert = "/etc/roost/cert.pem"
            key = "/etc/roost/key.pem"
            client_ca = "/etc/roost/ca.pem"
            require_client_cert = true
            use_identity_as_username = true
            "#,
        )
        .unwrap();
        assert_eq!(config.mqtts_addr, Some("0.0.0.0:8883".parse().unwrap()));
        assert_eq!(config.https_addr, Some("0.0.0.0:8443".parse().unwrap()));
        assert_eq!(
            (
                config.max_connections_per_address,
                config.max_client_id_length,
                config.max_topic_length
            ),
            (5, 23, 100)
        );
        let http = &config.http;
        assert_eq!(
            (http.header_timeout, http.idle_timeout),
            (Duration::from_secs(2), Duration::from_secs(3))
        );
        assert_eq!((http.max_connections, http.max_connections_per_address), (10, 4));
        assert_eq!(
            http.allowed_origins,
            ["https://home.example:8443", "http://pi.local:8080"]
        );
        assert_eq!(
            (http.session_lifetime, http.remember_lifetime),
            (Duration::from_secs(8 * 3600), Duration::from_secs(7 * 24 * 3600))
        );
        let tls = config.tls.unwrap();
        assert_eq!(tls.cert, Path::new("/etc/roost/cert.pem"));
        assert_eq!(tls.client_ca.as_deref(), Some(Path::new("/etc/roost/ca.pem")));
        assert!(tls.require_client_cert && tls.use_identity_as_username);
    }

    #[test]
    fn bad_security_settings_are_errors() {
        let error = Config::from_toml("[listeners]\nmqtts = \"0.0.0.0:8883\"\n").unwrap_err();
        assert_eq!(
            error,
            "listeners.mqtts and listeners.https need a [tls] section with cert and key"
        );
        let error = Config::from_toml("[tls]\ncert = \"c.pem\"\n").unwrap_err();
        assert!(error.contains("missing field `key`"), "{error}");
        let error = Config::from_toml("[tls]\ncert = \"c\"\nkey = \"k\"\nrequire_client_cert = true\n").unwrap_err();
        assert_eq!(error, "tls.require_client_cert needs tls.client_ca");
        let error = Config::from_toml("[http]\nallowed_origins = [\"pi.local\"]\n").unwrap_err();
        assert!(error.starts_with("http.allowed_origins: "), "{error}");
        let error = Config::from_toml("[http]\nsession_hours = 0\n").unwrap_err();
        assert!(error.starts_with("http.session_hours must be"), "{error}");
        let error = Config::from_toml("[http]\nheader_timeout = 0\n").unwrap_err();
        assert_eq!(error, "http.header_timeout must be at least 1 second");
        let error = Config::from_toml("[limits]\nmax_topic_length = 70000\n").unwrap_err();
        assert_eq!(error, "limits.max_topic_length must be between 1 and 65535, not 70000");
        let error = Config::from_toml("[limits]\nmax_client_id_length = 0\n").unwrap_err();
        assert_eq!(error, "limits.max_client_id_length must be at least 1");
    }

    #[test]
    fn unknown_key_is_an_error_naming_it_and_its_line() {
        let error = Config::from_toml("[limits]\nmax_packet_sise = 5\n").unwrap_err();
        assert!(
            error.starts_with("line 2, column 1: unknown field `max_packet_sise`"),
            "{error}"
        );
        assert!(!error.contains('\n'));
    }

    #[test]
    fn bad_values_are_errors() {
        let error = Config::from_toml("[listeners]\nmqtt = \"localhost\"\n").unwrap_err();
        assert!(error.starts_with("line 2, column 8:"), "{error}");
        let error = Config::from_toml("[limits]\nmax_packet_size = 0\n").unwrap_err();
        assert!(error.contains("limits.max_packet_size must be between 2"), "{error}");
        let error = Config::from_toml("[limits]\nmax_packet_size = -1\n").unwrap_err();
        assert!(error.starts_with("line 2,"), "{error}");
        let error = Config::from_toml("[limits]\nmaximum_qos = 3\n").unwrap_err();
        assert_eq!(error, "limits.maximum_qos must be 0, 1 or 2, not 3");
        let error = Config::from_toml("[timeouts]\nconnect = 0\n").unwrap_err();
        assert_eq!(error, "timeouts.connect must be at least 1 second");
        let error = Config::from_toml("[limits]\nreceive_maximum = 0\n").unwrap_err();
        assert_eq!(error, "limits.receive_maximum must be at least 1");
        let error = Config::from_toml("[limits]\nreceive_maximum = 65536\n").unwrap_err();
        assert!(error.starts_with("line 2,"), "{error}");
        let error = Config::from_toml("[sessions]\nqueue_qos0_offline = \"yes\"\n").unwrap_err();
        assert!(error.starts_with("line 2,"), "{error}");
        assert!(Config::from_toml("listeners = 5").is_err());
    }

    #[test]
    fn auth_keys_are_read() {
        let config = Config::from_toml(
            "[auth]\nallow_anonymous = \"loopback\"\npassword_file = \"/etc/roost/passwd\"\n\
             acl_file = \"acl\"\nadmins = [\"root\", \"ops\"]\n",
        )
        .unwrap();
        assert_eq!(config.auth.allow_anonymous, Anonymous::Loopback);
        assert_eq!(
            config.auth.password_file.as_deref(),
            Some(Path::new("/etc/roost/passwd"))
        );
        assert_eq!(config.auth.acl_file.as_deref(), Some(Path::new("acl")));
        assert_eq!(config.auth.admins, ["root", "ops"]);
        for (text, expected) in [("true", Anonymous::Allow), ("false", Anonymous::Deny)] {
            let config = Config::from_toml(&format!("[auth]\nallow_anonymous = {text}\n")).unwrap();
            assert_eq!(config.auth.allow_anonymous, expected);
        }
        let error = Config::from_toml("[auth]\nallow_anonymous = \"yes\"\n").unwrap_err();
        assert_eq!(
            error,
            "auth.allow_anonymous must be true, false or \"loopback\", not \"yes\""
        );
        let error = Config::from_toml("[auth]\npasword_file = \"x\"\n").unwrap_err();
        assert!(
            error.starts_with("line 2, column 1: unknown field `pasword_file`"),
            "{error}"
        );
    }

    #[test]
    fn relative_auth_paths_are_beside_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("roost.toml");
        std::fs::write(&path, "[auth]\npassword_file = \"passwd\"\nacl_file = \"/abs/acl\"\n").unwrap();
        let config = Config::from_file(&path).unwrap();
        assert_eq!(config.auth.password_file, Some(dir.path().join("passwd")));
        assert_eq!(config.auth.acl_file.as_deref(), Some(Path::new("/abs/acl")));
        assert_eq!(config.config_file.as_deref(), Some(path.as_path()));
    }
}
