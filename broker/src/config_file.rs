//! The TOML configuration file (`roost serve --config FILE`). Every key is optional: what the file leaves out keeps
//! its default from [`Config::default`], and command-line flags override the file. Unknown keys are errors, so a
//! typo never silently falls back to a default. README.md documents every key.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use roost_codec::{MAX_PACKET_SIZE, QoS};
use serde::Deserialize;

use crate::config::Config;

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
    storage: Storage,
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
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Limits {
    max_packet_size: Option<u32>,
    max_connections: Option<u64>,
    max_keep_alive: Option<u16>,
    max_queued_messages: Option<usize>,
    max_queued_bytes: Option<usize>,
    max_inflight: Option<u16>,
    receive_maximum: Option<u16>,
    topic_alias_maximum: Option<u16>,
    maximum_qos: Option<u8>,
    max_topic_levels: Option<usize>,
    max_retained_messages: Option<usize>,
    max_retained_bytes: Option<usize>,
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
    /// Reads a TOML configuration file over the defaults.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let mut config = Self::from_toml(&text).map_err(|message| ConfigError::Invalid {
            path: path.display().to_string(),
            message,
        })?;
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
        storage(&mut config.storage, &file.storage)?;
        Ok(config)
    }
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
    fn sys_interval_is_seconds() {
        let config = Config::from_toml("[sys]\ninterval = 30\n").unwrap();
        assert_eq!(config.sys_interval, Duration::from_secs(30));
        let error = Config::from_toml("[sys]\ninterval = -1\n").unwrap_err();
        assert!(error.starts_with("line 2,"), "{error}");
        let error = Config::from_toml("[sys]\nintervall = 1\n").unwrap_err();
        assert!(error.contains("unknown field `intervall`"), "{error}");
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
            maximum_qos = 1
            max_topic_levels = 4
            max_retained_messages = 3
            max_retained_bytes = 1000
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
        assert_eq!((config.maximum_qos, config.max_topic_levels), (QoS::AtLeastOnce, 4));
        assert_eq!((config.max_connections, config.max_keep_alive), (2, 30));
        assert_eq!((config.max_retained_messages, config.max_retained_bytes), (3, 1000));
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
}
