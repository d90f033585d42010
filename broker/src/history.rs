//! Remembered values and history of the topics the dashboard's panel shows, so a card has its value and its chart
//! right after a page reload, also for devices that do not retain their readings (most sensors do not) — what Home
//! Assistant's recorder does, inside Roost and bounded.
//!
//! Which topics: those the panel's cards display, read from the panel layout itself (the retained JSON message on
//! `[history] panel_topics`, `roost/dashboard` by default). Nothing else is recorded, so the cost of a publish to
//! any other topic is one lookup in a small table behind a read lock, and none at all while no panel exists.
//!
//! What is kept per topic: the last payload (up to `max_payload` bytes of UTF-8) with its time, and for every
//! number a card shows (the payload, or one JSON field of it) two series: every value of the last `recent` hours
//! (at most `max_points`), and min/mean/max per `bucket` for `keep` days.
//!
//! Where: in memory, saved to `history.json` in the data directory every `save_interval` when it changed and when
//! the broker stops. History is not acknowledged data: a crash loses at most the last `save_interval` of it, and an
//! unreadable file is set aside (renamed) with a warning, never a reason not to start.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

/// The file in the data directory.
pub(crate) const FILE_NAME: &str = "history.json";

/// The version of `history.json`'s layout.
const FORMAT: u32 = 1;

/// The card types whose topic shows a number worth charting (the web crate's `CardKind`).
const NUMERIC_CARDS: [&str; 3] = ["chart", "value", "slider"];
/// The card types that show a state (last value only).
const STATE_CARDS: [&str; 2] = ["switch", "text"];

/// The `[history]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryConfig {
    /// Whether anything is recorded.
    pub enabled: bool,
    /// The retained topics holding panel layouts; their cards' topics are recorded.
    pub panel_topics: Vec<String>,
    /// The most topics recorded; cards beyond it show only what MQTT brings.
    pub max_topics: usize,
    /// How long every value is kept.
    pub recent: Duration,
    /// The most values kept per series within `recent`.
    pub max_points: usize,
    /// The width of one downsampled bucket.
    pub bucket: Duration,
    /// How long downsampled buckets are kept.
    pub keep: Duration,
    /// The longest last payload kept, in bytes.
    pub max_payload: usize,
    /// How often the history is saved when it changed.
    pub save_interval: Duration,
}

impl Default for HistoryConfig {
    fn default() -> Self {
        HistoryConfig {
            enabled: true,
            panel_topics: vec!["roost/dashboard".to_owned()],
            max_topics: 100,
            recent: Duration::from_secs(24 * 3600),
            max_points: 2_880,
            bucket: Duration::from_secs(15 * 60),
            keep: Duration::from_secs(30 * 24 * 3600),
            max_payload: 4_096,
            save_interval: Duration::from_secs(120),
        }
    }
}

/// A topic's last payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Last {
    /// Unix milliseconds.
    pub(crate) time: u64,
    /// The payload, or `None` when it was not UTF-8 or longer than `max_payload` (so no stale value is shown).
    pub(crate) payload: Option<String>,
}

/// Min, mean and max of the values of one bucket.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct Bucket {
    /// Its start, Unix milliseconds.
    pub(crate) start: u64,
    pub(crate) count: u32,
    pub(crate) min: f64,
    pub(crate) max: f64,
    pub(crate) sum: f64,
}

/// The numbers of one field of one topic.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Series {
    /// Every value of the last `recent`, oldest first: `(Unix ms, value)`.
    pub(crate) recent: VecDeque<(u64, f64)>,
    /// Per `bucket`, oldest first.
    pub(crate) buckets: VecDeque<Bucket>,
}

impl Series {
    fn push(&mut self, time: u64, value: f64, config: &HistoryConfig) {
        self.recent.push_back((time, value));
        let recent_ms = millis(config.recent);
        while self.recent.len() > config.max_points
            || self
                .recent
                .front()
                .is_some_and(|(t, _)| t.saturating_add(recent_ms) < time)
        {
            self.recent.pop_front();
        }
        let width = millis(config.bucket).max(1);
        let start = time - time % width;
        match self.buckets.back_mut() {
            // A clock set back lands in the newest bucket rather than out of order.
            Some(last) if last.start >= start => {
                last.count += 1;
                last.min = last.min.min(value);
                last.max = last.max.max(value);
                last.sum += value;
            }
            _ => self.buckets.push_back(Bucket {
                start,
                count: 1,
                min: value,
                max: value,
                sum: value,
            }),
        }
        let keep_ms = millis(config.keep);
        let max_buckets = usize::try_from(keep_ms / width).unwrap_or(usize::MAX).saturating_add(1);
        while self.buckets.len() > max_buckets
            || self
                .buckets
                .front()
                .is_some_and(|b| b.start.saturating_add(keep_ms) < time)
        {
            self.buckets.pop_front();
        }
    }
}

/// What is kept of one topic.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct TopicHistory {
    pub(crate) last: Option<Last>,
    /// By JSON field (`""`: the whole payload).
    pub(crate) series: BTreeMap<String, Series>,
}

impl TopicHistory {
    fn record(&mut self, time: u64, payload: &[u8], config: &HistoryConfig) {
        let text = std::str::from_utf8(payload).ok();
        self.last = Some(Last {
            time,
            payload: text.filter(|_| payload.len() <= config.max_payload).map(str::to_owned),
        });
        let Some(text) = text else { return };
        // Parsed once for all fields, and only when a field asks for JSON.
        let mut json = None;
        for (field, series) in &mut self.series {
            let value = if field.is_empty() {
                number(text)
            } else {
                let json = json.get_or_insert_with(|| serde_json::from_str::<Json>(text).ok());
                json.as_ref().and_then(|json| field_number(json, field))
            };
            if let Some(value) = value {
                series.push(time, value, config);
            }
        }
    }
}

/// The topics to record and, for each, the JSON fields holding numbers (`""`: the payload itself).
pub(crate) type Watched = BTreeMap<String, Vec<String>>;

/// The history of the panel's topics. Shared by the router (which records) and the HTTP API (which reads).
#[derive(Debug)]
pub struct History {
    config: HistoryConfig,
    /// The panel layouts seen, by panel topic, and what each asks to record.
    panels: Mutex<HashMap<String, Watched>>,
    /// Recorded topics. Read-locked by every publish while a panel exists; write-locked when a panel changes.
    topics: RwLock<HashMap<String, Arc<Mutex<TopicHistory>>>>,
    /// Whether `topics` is empty, so publishes skip the lock while no panel exists.
    idle: AtomicBool,
    /// Whether something changed since the last save.
    dirty: AtomicBool,
    /// `history.json`, or `None` in memory.
    file: Option<PathBuf>,
    /// What the file held at start, until a panel claims it.
    loaded: Mutex<HashMap<String, TopicHistory>>,
    /// Held while saving, so two saves never interleave.
    saving: Mutex<()>,
}

/// `history.json`.
#[derive(Debug, Serialize, Deserialize)]
struct Saved {
    format: u32,
    topics: HashMap<String, TopicHistory>,
}

impl History {
    /// An empty history kept in memory only.
    pub fn memory(config: HistoryConfig) -> Self {
        History {
            config,
            panels: Mutex::default(),
            topics: RwLock::default(),
            idle: AtomicBool::new(true),
            dirty: AtomicBool::new(false),
            file: None,
            loaded: Mutex::default(),
            saving: Mutex::default(),
        }
    }

    /// The history saved in `dir`, if any. An unreadable file is renamed `history.json.bad` and the history
    /// starts empty: it is not acknowledged data, and must not keep the broker from starting.
    pub fn open(config: HistoryConfig, dir: &Path) -> Self {
        let file = dir.join(FILE_NAME);
        let mut history = History::memory(config);
        match std::fs::read(&file) {
            Ok(bytes) => match serde_json::from_slice::<Saved>(&bytes) {
                Ok(saved) if saved.format == FORMAT => {
                    tracing::info!(topics = saved.topics.len(), "history: loaded {}", file.display());
                    *history.loaded.get_mut().unwrap_or_else(PoisonError::into_inner) = saved.topics;
                }
                Ok(saved) => set_aside(&file, &format!("format {} is not {FORMAT}", saved.format)),
                Err(error) => set_aside(&file, &error.to_string()),
            },
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => tracing::warn!(%error, "history: cannot read {}; starting empty", file.display()),
        }
        history.file = Some(file);
        history
    }

    /// The configuration in force.
    pub fn config(&self) -> &HistoryConfig {
        &self.config
    }

    /// A message was published now: see [`History::record_at`]. The clock is read only for a watched topic.
    pub(crate) fn record(&self, topic: &str, payload: &[u8], retain: bool) {
        self.record_at(topic, payload, retain, now_ms);
    }

    /// A message was published at `now` (Unix milliseconds): records it if its topic is watched, and follows the
    /// panel if it is a panel layout (retained only: an empty retained payload deletes the panel).
    pub(crate) fn record_at(&self, topic: &str, payload: &[u8], retain: bool, now: impl FnOnce() -> u64) {
        if !self.config.enabled {
            return;
        }
        if retain && self.config.panel_topics.iter().any(|panel| panel == topic) {
            self.set_panel(topic, payload);
        }
        if self.idle.load(Ordering::Relaxed) {
            return;
        }
        let Some(entry) = self.read_topics().get(topic).cloned() else {
            return;
        };
        entry
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .record(now(), payload, &self.config);
        self.dirty.store(true, Ordering::Relaxed);
    }

    /// The panel on `panel_topic` is now `payload`: records what its cards show, and only that.
    fn set_panel(&self, panel_topic: &str, payload: &[u8]) {
        let watched = if payload.is_empty() {
            None
        } else {
            match watched_by_panel(payload) {
                Some(watched) => Some(watched),
                // Not a panel layout (another program's message): it changes nothing.
                None => return,
            }
        };
        let mut panels = self.panels.lock().unwrap_or_else(PoisonError::into_inner);
        match watched {
            Some(watched) => panels.insert(panel_topic.to_owned(), watched),
            None => panels.remove(panel_topic),
        };
        let mut wanted: Watched = BTreeMap::new();
        for watched in panels.values() {
            for (topic, fields) in watched {
                let entry = wanted.entry(topic.clone()).or_default();
                entry.extend(fields.iter().cloned());
                entry.sort();
                entry.dedup();
            }
        }
        drop(panels);
        if wanted.len() > self.config.max_topics {
            tracing::warn!(
                topics = wanted.len(),
                max_topics = self.config.max_topics,
                "history: the panel shows more topics than [history] max_topics; only the first are recorded"
            );
            wanted = wanted.into_iter().take(self.config.max_topics).collect();
        }
        let mut loaded = self.loaded.lock().unwrap_or_else(PoisonError::into_inner);
        let mut topics = self.topics.write().unwrap_or_else(PoisonError::into_inner);
        topics.retain(|topic, _| wanted.contains_key(topic));
        for (topic, fields) in wanted {
            let entry = topics
                .entry(topic.clone())
                .or_insert_with(|| Arc::new(Mutex::new(loaded.remove(&topic).unwrap_or_default())));
            let mut history = entry.lock().unwrap_or_else(PoisonError::into_inner);
            history.series.retain(|field, _| fields.contains(field));
            for field in fields {
                history.series.entry(field).or_default();
            }
        }
        self.idle.store(topics.is_empty(), Ordering::Relaxed);
        self.dirty.store(true, Ordering::Relaxed);
    }

    /// What is kept of `topic`, or `None` when it is not recorded.
    pub(crate) fn get(&self, topic: &str) -> Option<TopicHistory> {
        let entry = self.read_topics().get(topic).cloned()?;
        let history = entry.lock().unwrap_or_else(PoisonError::into_inner).clone();
        Some(history)
    }

    /// The topics recorded now.
    pub(crate) fn topics(&self) -> Vec<String> {
        let mut topics: Vec<String> = self.read_topics().keys().cloned().collect();
        topics.sort();
        topics
    }

    /// Writes `history.json` if something changed since the last save (in memory: nothing to do).
    pub fn save(&self) -> std::io::Result<()> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        let _saving = self.saving.lock().unwrap_or_else(PoisonError::into_inner);
        if !self.dirty.swap(false, Ordering::Relaxed) {
            return Ok(());
        }
        let mut saved = Saved {
            format: FORMAT,
            // Topics of the file that no panel claimed (yet) are kept: the panel may come back.
            topics: self.loaded.lock().unwrap_or_else(PoisonError::into_inner).clone(),
        };
        for (topic, entry) in self.read_topics().iter() {
            let history = entry.lock().unwrap_or_else(PoisonError::into_inner).clone();
            saved.topics.insert(topic.clone(), history);
        }
        let text = serde_json::to_string(&saved).map_err(std::io::Error::other)?;
        let written = crate::auth::passwd::write_private(file, &text);
        if written.is_err() {
            // Try again next time.
            self.dirty.store(true, Ordering::Relaxed);
        }
        written
    }

    /// Saves every `save_interval` until `shutdown` (the server saves a last time once connections are closed).
    pub(crate) async fn run(self: Arc<Self>, shutdown: tokio_util::sync::CancellationToken) {
        if self.file.is_none() || !self.config.enabled {
            return;
        }
        let mut tick = tokio::time::interval(self.config.save_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = shutdown.cancelled() => return,
            }
            let history = Arc::clone(&self);
            match tokio::task::spawn_blocking(move || history.save()).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => tracing::warn!(%error, "history: cannot save; trying again later"),
                Err(error) => tracing::warn!(%error, "history: saving failed"),
            }
        }
    }

    fn read_topics(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<Mutex<TopicHistory>>>> {
        self.topics.read().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Renames an unreadable history file out of the way, so it can be looked at and is not overwritten.
fn set_aside(file: &Path, why: &str) {
    let bad = file.with_extension("json.bad");
    match std::fs::rename(file, &bad) {
        Ok(()) => tracing::warn!(
            why,
            "history: {} unreadable, moved to {}; starting empty",
            file.display(),
            bad.display()
        ),
        Err(error) => tracing::warn!(why, %error, "history: {} unreadable; starting empty", file.display()),
    }
}

/// What a panel layout's cards show: for each topic, the JSON fields holding a number (`""` for the payload). A
/// card is any object with a known `"type"` (wherever it is in the layout, so rooms or groups of cards work too);
/// its topic is `state_topic` when set, else `topic`, else `command_topic`, as the dashboard reads it. `None` when
/// the payload is not a Roost panel (no `roost_panel` format number).
pub(crate) fn watched_by_panel(payload: &[u8]) -> Option<Watched> {
    let layout: Json = serde_json::from_slice(payload).ok()?;
    layout.get("roost_panel")?.as_u64()?;
    let mut watched = Watched::new();
    collect_cards(&layout, &mut watched, 0);
    Some(watched)
}

fn collect_cards(value: &Json, watched: &mut Watched, depth: usize) {
    // Layouts are shallow; a hostile one must not exhaust the stack.
    if depth > 16 {
        return;
    }
    match value {
        Json::Array(items) => {
            for item in items {
                collect_cards(item, watched, depth + 1);
            }
        }
        Json::Object(object) => {
            let kind = object.get("type").and_then(Json::as_str).unwrap_or("");
            let numeric = NUMERIC_CARDS.contains(&kind);
            if numeric || STATE_CARDS.contains(&kind) {
                let text = |key: &str| object.get(key).and_then(Json::as_str).filter(|s| !s.is_empty());
                if let Some(topic) = text("state_topic")
                    .or_else(|| text("topic"))
                    .or_else(|| text("command_topic"))
                {
                    let fields = watched.entry(topic.to_owned()).or_default();
                    if numeric {
                        let field = text("json_field").unwrap_or("").to_owned();
                        if !fields.contains(&field) {
                            fields.push(field);
                        }
                    }
                }
                return;
            }
            for item in object.values() {
                collect_cards(item, watched, depth + 1);
            }
        }
        _ => {}
    }
}

/// A payload that is a number (surrounding white space allowed), as the dashboard reads one.
fn number(text: &str) -> Option<f64> {
    text.trim().parse::<f64>().ok().filter(|value| value.is_finite())
}

/// The number at `field` (`a.b` for nested objects) of a JSON payload: a JSON number, a numeric string, or a
/// boolean as 1/0 (a door contact charts as steps).
fn field_number(json: &Json, field: &str) -> Option<f64> {
    let mut value = json;
    for key in field.split('.') {
        value = value.get(key)?;
    }
    match value {
        Json::Number(number) => number.as_f64().filter(|value| value.is_finite()),
        Json::String(text) => number(text),
        Json::Bool(flag) => Some(f64::from(u8::from(*flag))),
        _ => None,
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Unix milliseconds now.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PANEL: &str = r#"{"roost_panel": 1, "cards": [
        {"type": "chart", "topic": "tele/sensor/SENSOR", "json_field": "AM2301.Temperature"},
        {"type": "value", "topic": "tele/sensor/SENSOR", "json_field": "AM2301.Humidity", "unit": "%"},
        {"type": "switch", "command_topic": "cmnd/lamp/POWER", "state_topic": "stat/lamp/POWER"},
        {"type": "switch", "command_topic": "cmnd/fan/POWER"},
        {"type": "slider", "topic": "cmnd/dimmer", "state_topic": "stat/dimmer", "min": 0, "max": 100},
        {"type": "button", "topic": "cmnd/door/open", "payload": "1"},
        {"title": "Kitchen", "cards": [{"type": "value", "topic": "kitchen/temp"}]}
    ]}"#;

    fn config() -> HistoryConfig {
        HistoryConfig {
            recent: Duration::from_secs(60),
            max_points: 5,
            bucket: Duration::from_secs(10),
            keep: Duration::from_secs(100),
            ..HistoryConfig::default()
        }
    }

    #[test]
    fn a_panel_names_the_topics_its_cards_show() {
        let watched = watched_by_panel(PANEL.as_bytes()).unwrap();
        let expected: Watched = [
            ("cmnd/fan/POWER", vec![]),
            ("kitchen/temp", vec![""]),
            ("stat/dimmer", vec![""]),
            ("stat/lamp/POWER", vec![]),
            ("tele/sensor/SENSOR", vec!["AM2301.Temperature", "AM2301.Humidity"]),
        ]
        .into_iter()
        .map(|(topic, fields)| (topic.to_owned(), fields.into_iter().map(str::to_owned).collect()))
        .collect();
        assert_eq!(watched, expected, "buttons show nothing; groups of cards are searched");
        assert_eq!(watched_by_panel(br#"{"cards": []}"#), None, "not a Roost panel");
        assert_eq!(watched_by_panel(b"not json"), None);
    }

    #[test]
    fn only_the_panels_topics_are_recorded() {
        let history = History::memory(config());
        history.record_at("tele/sensor/SENSOR", b"{}", false, || 1_000);
        assert_eq!(history.get("tele/sensor/SENSOR"), None, "no panel yet");
        history.record_at("roost/dashboard", PANEL.as_bytes(), true, || 1_000);
        history.record_at(
            "tele/sensor/SENSOR",
            br#"{"AM2301": {"Temperature": 21.5, "Humidity": "40"}}"#,
            false,
            || 2_000,
        );
        history.record_at("elsewhere", b"1", false, || 2_000);
        let sensor = history.get("tele/sensor/SENSOR").unwrap();
        assert_eq!(sensor.last.as_ref().unwrap().time, 2_000);
        assert_eq!(sensor.series["AM2301.Temperature"].recent, [(2_000, 21.5)]);
        assert_eq!(
            sensor.series["AM2301.Humidity"].recent,
            [(2_000, 40.0)],
            "numeric strings count"
        );
        assert_eq!(history.get("elsewhere"), None);
        history.record_at("stat/lamp/POWER", b"ON", false, || 3_000);
        let lamp = history.get("stat/lamp/POWER").unwrap();
        assert_eq!(lamp.last.unwrap().payload.as_deref(), Some("ON"));
        assert!(lamp.series.is_empty(), "a switch keeps its last state, no chart");
    }

    #[test]
    fn a_panel_changed_or_deleted_changes_what_is_recorded() {
        let history = History::memory(config());
        history.record_at("roost/dashboard", PANEL.as_bytes(), true, || 0);
        history.record_at("kitchen/temp", b"20", false, || 1_000);
        let smaller = br#"{"roost_panel": 1, "cards": [{"type": "chart", "topic": "kitchen/temp"}]}"#;
        history.record_at("roost/dashboard", smaller, true, || 2_000);
        assert_eq!(history.topics(), ["kitchen/temp"]);
        assert_eq!(
            history.get("kitchen/temp").unwrap().series[""].recent,
            [(1_000, 20.0)],
            "kept across the change"
        );
        history.record_at("roost/dashboard", b"[1, 2]", true, || 3_000);
        assert_eq!(
            history.topics(),
            ["kitchen/temp"],
            "another program's JSON is not a panel"
        );
        history.record_at("roost/dashboard", b"", true, || 4_000);
        assert!(history.topics().is_empty(), "the panel was deleted");
        history.record_at("kitchen/temp", b"21", false, || 5_000);
        assert_eq!(history.get("kitchen/temp"), None);
    }

    #[test]
    fn series_are_bounded_by_count_age_and_buckets() {
        let config = config();
        let mut series = Series::default();
        for second in 0..200_u64 {
            series.push(second * 1_000, second as f64, &config);
        }
        // 5 points at most, none older than 60 s.
        assert_eq!(
            series.recent.iter().map(|p| p.0).collect::<Vec<_>>(),
            [195_000, 196_000, 197_000, 198_000, 199_000]
        );
        let mut old = Series::default();
        old.push(0, 1.0, &config);
        old.push(61_001, 2.0, &config);
        assert_eq!(old.recent, [(61_001, 2.0)], "older than `recent`");
        // Buckets of 10 s starting within the last 100 s (100 s to 190 s at 199 s), the newest holding 190..=199.
        assert_eq!(series.buckets.len(), 10);
        let last = series.buckets.back().unwrap();
        assert_eq!(
            (last.start, last.count, last.min, last.max, last.sum),
            (190_000, 10, 190.0, 199.0, 1_945.0)
        );
        assert!(series.buckets.front().unwrap().start + 100_000 >= 199_000);
    }

    #[test]
    fn payloads_that_are_not_numbers_or_text_are_handled() {
        let history = History::memory(HistoryConfig {
            max_payload: 4,
            ..config()
        });
        history.record_at("roost/dashboard", PANEL.as_bytes(), true, || 0);
        history.record_at("kitchen/temp", b"warm", false, || 1_000);
        let kitchen = history.get("kitchen/temp").unwrap();
        assert_eq!(kitchen.last.unwrap().payload.as_deref(), Some("warm"));
        assert!(kitchen.series[""].recent.is_empty(), "not a number");
        history.record_at("kitchen/temp", b"21.25", false, || 2_000);
        let kitchen = history.get("kitchen/temp").unwrap();
        assert_eq!(
            kitchen.last.unwrap().payload,
            None,
            "longer than max_payload: no stale value either"
        );
        assert_eq!(kitchen.series[""].recent, [(2_000, 21.25)]);
        history.record_at("kitchen/temp", &[0xff, 0xfe], false, || 3_000);
        assert_eq!(
            history.get("kitchen/temp").unwrap().last.unwrap().payload,
            None,
            "not UTF-8"
        );
        history.record_at("kitchen/temp", b"NaN", false, || 4_000);
        history.record_at("kitchen/temp", b"inf", false, || 4_000);
        assert_eq!(
            history.get("kitchen/temp").unwrap().series[""].recent.len(),
            1,
            "not finite"
        );
    }

    #[test]
    fn max_topics_bounds_what_is_recorded() {
        let history = History::memory(HistoryConfig {
            max_topics: 2,
            ..config()
        });
        history.record_at("roost/dashboard", PANEL.as_bytes(), true, || 0);
        assert_eq!(history.topics().len(), 2);
    }

    #[test]
    fn the_history_survives_a_restart_and_a_bad_file_is_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let history = History::open(config(), dir.path());
        history.record_at("roost/dashboard", PANEL.as_bytes(), true, || 0);
        history.record_at("kitchen/temp", b"19.5", false, || 1_000);
        history.save().unwrap();
        let again = History::open(config(), dir.path());
        assert_eq!(again.get("kitchen/temp"), None, "waits for the panel");
        again.record_at("roost/dashboard", PANEL.as_bytes(), true, || 2_000);
        assert_eq!(again.get("kitchen/temp").unwrap().series[""].recent, [(1_000, 19.5)]);

        std::fs::write(dir.path().join(FILE_NAME), b"{ truncated").unwrap();
        let fresh = History::open(config(), dir.path());
        fresh.record_at("roost/dashboard", PANEL.as_bytes(), true, || 0);
        assert_eq!(fresh.get("kitchen/temp"), Some(TopicHistory::default().with_field("")));
        assert!(
            dir.path().join("history.json.bad").exists(),
            "kept for a look, not overwritten"
        );
    }

    impl TopicHistory {
        fn with_field(mut self, field: &str) -> Self {
            self.series.insert(field.to_owned(), Series::default());
            self
        }
    }
}
