//! `$SYS/broker/...`: the broker's own status, published as retained messages every [`crate::Config::sys_interval`]
//! under Mosquitto's topic names and formats (`man mosquitto`, "BROKER STATUS"), so existing dashboards and
//! scripts that read Mosquitto's `$SYS` tree read ours.
//!
//! The counters live in [`Stats`]: relaxed atomics bumped where packets and bytes cross a connection, so the
//! publish path takes no lock and awaits nothing for them. Everything else (sessions, subscriptions, retained
//! messages, drops) is read from the router once per interval.
//!
//! Clients cannot publish to `$` topics (section 4.7.2, enforced in `handler/packets.rs`); these messages come
//! from the broker itself. A `#` subscription does not match them ([MQTT-4.7.2-1], the codec's matcher);
//! `$SYS/#` does.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use roost_codec::{Properties, QoS, TopicName};
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use crate::broker::Broker;
use crate::message::Message;
use crate::session::Drop;

/// Traffic counters since the broker started. Every field is only ever added to (or, for the connected-clients
/// gauge, added to and subtracted from) with `Ordering::Relaxed`: they are statistics, and order nothing else.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    /// MQTT packets of any type received (`$SYS/broker/messages/received`).
    messages_received: AtomicU64,
    /// MQTT packets of any type sent (`$SYS/broker/messages/sent`).
    messages_sent: AtomicU64,
    /// PUBLISH packets sent (`$SYS/broker/publish/messages/sent`).
    publish_sent: AtomicU64,
    /// Bytes read from clients (`$SYS/broker/bytes/received`).
    bytes_received: AtomicU64,
    /// Bytes written to clients (`$SYS/broker/bytes/sent`).
    bytes_sent: AtomicU64,
    /// Clients connected now: counted when a session is attached, uncounted when its connection ends.
    clients_connected: AtomicU64,
    /// The most clients connected at once (`$SYS/broker/clients/maximum`).
    clients_maximum: AtomicU64,
    /// PUBLISH packets received, by QoS (`/metrics`); their sum is `$SYS/broker/publish/messages/received`.
    publish_received_qos: [AtomicU64; 3],
    /// PUBLISH packets handed to connections to send, by QoS (`/metrics` only).
    publish_sent_qos: [AtomicU64; 3],
    /// Payload bytes of the PUBLISH packets received, by QoS (`/metrics` only).
    publish_received_payload: [AtomicU64; 3],
    /// Payload bytes of the PUBLISH packets handed to connections to send, by QoS (`/metrics` only).
    publish_sent_payload: [AtomicU64; 3],
}

/// The counters of [`Stats`] read at one moment, for `/metrics`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Figures {
    pub(crate) messages_received: u64,
    pub(crate) messages_sent: u64,
    pub(crate) bytes_received: u64,
    pub(crate) bytes_sent: u64,
    pub(crate) clients_connected: u64,
    pub(crate) clients_maximum: u64,
    /// PUBLISH packets received, indexed by QoS.
    pub(crate) publish_received: [u64; 3],
    /// PUBLISH packets sent, indexed by QoS.
    pub(crate) publish_sent: [u64; 3],
    /// Payload bytes received in PUBLISH packets, indexed by QoS.
    pub(crate) publish_received_payload: [u64; 3],
    /// Payload bytes sent in PUBLISH packets, indexed by QoS.
    pub(crate) publish_sent_payload: [u64; 3],
}

impl Stats {
    /// `bytes` more were read from a client.
    pub(crate) fn bytes_received(&self, bytes: usize) {
        self.bytes_received.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// One packet was received; `publish` is its QoS and payload length if it was a PUBLISH.
    pub(crate) fn packet_received(&self, publish: Option<(QoS, usize)>) {
        self.messages_received.fetch_add(1, Ordering::Relaxed);
        if let Some((qos, payload)) = publish {
            self.publish_received_qos[usize::from(qos as u8)].fetch_add(1, Ordering::Relaxed);
            self.publish_received_payload[usize::from(qos as u8)].fetch_add(payload as u64, Ordering::Relaxed);
        }
    }

    /// `packets` packets, `publishes` of them PUBLISH, totalling `bytes`, were written to a client.
    pub(crate) fn sent(&self, packets: usize, publishes: usize, bytes: usize) {
        self.messages_sent.fetch_add(packets as u64, Ordering::Relaxed);
        if publishes > 0 {
            self.publish_sent.fetch_add(publishes as u64, Ordering::Relaxed);
        }
        self.bytes_sent.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// A client was accepted and is about to attach to its session: counts it, unless `limit` (0: none) clients
    /// are connected already, in which case nothing is counted and `false` says to refuse it. A `takeover`
    /// replaces a connected client rather than adding one, so the limit does not apply: it is counted at once
    /// and the connection it replaces uncounts itself as it closes.
    pub(crate) fn try_client_connected(&self, limit: u64, takeover: bool) -> bool {
        let counted = self
            .clients_connected
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |now| {
                (limit == 0 || now < limit || takeover).then_some(now + 1)
            });
        match counted {
            Ok(before) => {
                self.clients_maximum.fetch_max(before + 1, Ordering::Relaxed);
                true
            }
            Err(_) => false,
        }
    }

    /// A PUBLISH at `qos` with `payload` bytes of payload is about to be written to a client.
    pub(crate) fn publish_sent(&self, qos: QoS, payload: usize) {
        self.publish_sent_qos[usize::from(qos as u8)].fetch_add(1, Ordering::Relaxed);
        self.publish_sent_payload[usize::from(qos as u8)].fetch_add(payload as u64, Ordering::Relaxed);
    }

    /// Every counter now.
    pub(crate) fn figures(&self) -> Figures {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        Figures {
            messages_received: get(&self.messages_received),
            messages_sent: get(&self.messages_sent),
            bytes_received: get(&self.bytes_received),
            bytes_sent: get(&self.bytes_sent),
            clients_connected: get(&self.clients_connected),
            clients_maximum: get(&self.clients_maximum),
            publish_received: self.publish_received_qos.each_ref().map(get),
            publish_sent: self.publish_sent_qos.each_ref().map(get),
            publish_received_payload: self.publish_received_payload.each_ref().map(get),
            publish_sent_payload: self.publish_sent_payload.each_ref().map(get),
        }
    }

    /// The connection of a client counted by [`Stats::client_connected`] ended.
    pub(crate) fn client_disconnected(&self) {
        self.clients_connected.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Mosquitto's load averages: the rate per minute of some counter, exponentially smoothed over 1, 5 and 15
/// minutes, updated once per interval. Pure: time is passed in as the interval's length.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Load {
    /// The counter's value at the last update.
    last: u64,
    /// Smoothed per-minute rates over 1, 5 and 15 minutes.
    averages: [f64; 3],
}

impl Load {
    /// The smoothing windows, in seconds.
    const WINDOWS: [f64; 3] = [60.0, 300.0, 900.0];

    /// Folds in the counter's value `total`, `elapsed` after the last update.
    fn update(&mut self, total: u64, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let delta = total.saturating_sub(self.last) as f64;
        self.last = total;
        if secs <= 0.0 {
            return;
        }
        let per_minute = delta * 60.0 / secs;
        for (average, window) in self.averages.iter_mut().zip(Self::WINDOWS) {
            let decay = (-secs / window).exp();
            *average = *average * decay + per_minute * (1.0 - decay);
        }
    }
}

/// What the `$SYS` task remembers between intervals.
#[derive(Debug)]
struct SysState {
    /// When the broker started, for `$SYS/broker/uptime`.
    started: Instant,
    /// When the load averages were last updated.
    last_update: Instant,
    /// `$SYS/broker/load/messages/received/{1,5,15}min`.
    messages_received: Load,
    /// `$SYS/broker/load/messages/sent/{1,5,15}min`.
    messages_sent: Load,
}

/// The `$SYS` topics whose values do not change, published once at start.
fn static_topics() -> Vec<(&'static str, String)> {
    vec![("$SYS/broker/version", format!("roost {}", env!("CARGO_PKG_VERSION")))]
}

/// Every periodic `$SYS` topic and its payload now, in Mosquitto's names and formats.
fn periodic_topics(broker: &Broker, state: &mut SysState, now: Instant) -> Vec<(String, String)> {
    let stats = &broker.stats;
    let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
    let router = broker.router();
    let (disconnected, subscriptions, retained) = (
        router.disconnected_sessions(),
        router.subscription_count(),
        router.retained_count(),
    );
    let drops = router.drops();
    let connected = get(&stats.clients_connected);
    let messages_received = get(&stats.messages_received);
    let messages_sent = get(&stats.messages_sent);
    state
        .messages_received
        .update(messages_received, now - state.last_update);
    state.messages_sent.update(messages_sent, now - state.last_update);
    state.last_update = now;

    let mut topics = vec![
        (
            "$SYS/broker/uptime".to_owned(),
            format!("{} seconds", (now - state.started).as_secs()),
        ),
        ("$SYS/broker/clients/connected".to_owned(), connected.to_string()),
        ("$SYS/broker/clients/disconnected".to_owned(), disconnected.to_string()),
        (
            "$SYS/broker/clients/total".to_owned(),
            (connected + disconnected as u64).to_string(),
        ),
        (
            "$SYS/broker/clients/maximum".to_owned(),
            get(&stats.clients_maximum).to_string(),
        ),
        (
            "$SYS/broker/messages/received".to_owned(),
            messages_received.to_string(),
        ),
        ("$SYS/broker/messages/sent".to_owned(), messages_sent.to_string()),
        (
            "$SYS/broker/publish/messages/received".to_owned(),
            stats.publish_received_qos.iter().map(get).sum::<u64>().to_string(),
        ),
        (
            "$SYS/broker/publish/messages/sent".to_owned(),
            get(&stats.publish_sent).to_string(),
        ),
        (
            "$SYS/broker/bytes/received".to_owned(),
            get(&stats.bytes_received).to_string(),
        ),
        ("$SYS/broker/bytes/sent".to_owned(), get(&stats.bytes_sent).to_string()),
        ("$SYS/broker/subscriptions/count".to_owned(), subscriptions.to_string()),
        // Mosquitto's name has a space in it.
        ("$SYS/broker/retained messages/count".to_owned(), retained.to_string()),
        // Roost's own: retained messages not kept because max_retained_messages or max_retained_bytes was reached.
        (
            "$SYS/broker/retained messages/refused".to_owned(),
            router.retained_refused().to_string(),
        ),
        // Messages that matched a subscription and were not delivered to it (Roost's own; Mosquitto has no such
        // total), and one topic per reason.
        ("$SYS/broker/messages/dropped".to_owned(), drops.total().to_string()),
    ];
    // Memory (Roost's own): bytes of the messages held (queued, in flight, retained) against `[limits]
    // max_memory`, and the PUBLISH packets refused because they did not fit.
    let memory = router.memory();
    topics.extend([
        ("$SYS/broker/memory/messages".to_owned(), memory.used().to_string()),
        (
            "$SYS/broker/publish/messages/refused/memory-full".to_owned(),
            memory.refused().to_string(),
        ),
    ]);
    // Storage (Roost's own): live bytes against `[storage] max_bytes`, and what reached the disk.
    let store = router.store();
    if !store.is_memory() {
        let figures = store.stats();
        topics.extend([
            ("$SYS/broker/store/bytes".to_owned(), figures.live_bytes.to_string()),
            (
                "$SYS/broker/store/bytes written".to_owned(),
                (figures.log_bytes + figures.snapshot_bytes).to_string(),
            ),
            ("$SYS/broker/store/syncs".to_owned(), figures.syncs.to_string()),
            ("$SYS/broker/store/snapshots".to_owned(), figures.snapshots.to_string()),
        ]);
    }
    for reason in Drop::ALL {
        topics.push((
            format!("$SYS/broker/messages/dropped/{}", reason.name()),
            drops.get(reason).to_string(),
        ));
    }
    for (direction, load) in [("received", &state.messages_received), ("sent", &state.messages_sent)] {
        for (minutes, average) in ["1min", "5min", "15min"].into_iter().zip(load.averages) {
            topics.push((
                format!("$SYS/broker/load/messages/{direction}/{minutes}"),
                format!("{average:.2}"),
            ));
        }
    }
    topics
}

/// A retained QoS 0 message from the broker itself.
fn sys_message(topic: impl Into<bytestring::ByteString>, payload: String) -> Option<Message> {
    let topic = TopicName::new(topic).ok()?;
    Some(Message {
        topic,
        payload: Bytes::from(payload),
        qos: QoS::AtMostOnce,
        retain: true,
        properties: Properties::default(),
        expires_at: None,
        publisher: None,
        charge: Default::default(),
    })
}

/// Publishes `$SYS` every [`crate::Config::sys_interval`] until `shutdown`; returns at once when the interval is 0.
pub(crate) async fn run(broker: Arc<Broker>, shutdown: CancellationToken) {
    let interval = broker.config.sys_interval;
    if interval.is_zero() {
        return;
    }
    for (topic, payload) in static_topics() {
        if let Some(message) = sys_message(topic, payload) {
            broker.publish(message);
        }
    }
    let started = Instant::now();
    let mut state = SysState {
        started,
        last_update: started,
        messages_received: Load::default(),
        messages_sent: Load::default(),
    };
    // Delay, not burst: after a stall (a suspended laptop) one update is enough.
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = ticks.tick() => {}
        }
        for (topic, payload) in periodic_topics(&broker, &mut state, Instant::now()) {
            if let Some(message) = sys_message(topic, payload) {
                broker.publish(message);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn load_is_a_per_minute_rate_smoothed_like_mosquitto() {
        let mut load = Load::default();
        // 10 messages in 10 s is 60 per minute; after one 10 s step the 1 min average moves 1 - e^(-1/6) of the way.
        load.update(10, Duration::from_secs(10));
        let expected = 60.0 * (1.0 - (-10.0f64 / 60.0).exp());
        assert!((load.averages[0] - expected).abs() < 1e-9, "{load:?}");
        assert!(load.averages[1] < load.averages[0] && load.averages[2] < load.averages[1]);
        // A steady rate converges on itself.
        for step in 2..=200 {
            load.update(10 * step, Duration::from_secs(10));
        }
        assert!((load.averages[0] - 60.0).abs() < 0.01, "{load:?}");
        // No time passed: nothing changes, but the counter is remembered.
        let before = load.averages;
        load.update(5000, Duration::ZERO);
        assert_eq!((load.averages, load.last), (before, 5000));
    }

    #[test]
    fn connected_maximum_is_a_high_water_mark() {
        let stats = Stats::default();
        assert!(stats.try_client_connected(0, false));
        assert!(stats.try_client_connected(0, false));
        stats.client_disconnected();
        assert!(stats.try_client_connected(0, false));
        assert_eq!(stats.clients_connected.load(Ordering::Relaxed), 2);
        assert_eq!(stats.clients_maximum.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn the_limit_refuses_new_clients_but_not_takeovers() {
        let stats = Stats::default();
        assert!(stats.try_client_connected(1, false));
        assert!(!stats.try_client_connected(1, false), "a second client is refused");
        assert_eq!(stats.clients_connected.load(Ordering::Relaxed), 1);
        // [MQTT-3.1.4-3] a takeover is counted; the connection it replaces uncounts itself as it closes.
        assert!(stats.try_client_connected(1, true));
        stats.client_disconnected();
        assert_eq!(stats.clients_connected.load(Ordering::Relaxed), 1);
        assert!(!stats.try_client_connected(1, false));
    }

    #[test]
    fn every_topic_name_is_valid_and_mosquittos() {
        let config = Config::default();
        let broker = Broker::new(config, CancellationToken::new());
        let now = Instant::now();
        let mut state = SysState {
            started: now,
            last_update: now,
            messages_received: Load::default(),
            messages_sent: Load::default(),
        };
        let topics = periodic_topics(&broker, &mut state, now + Duration::from_secs(3));
        for (topic, payload) in &topics {
            assert!(sys_message(topic.as_str(), payload.clone()).is_some(), "{topic}");
        }
        let get = |name: &str| &topics.iter().find(|(t, _)| t == name).expect(name).1;
        assert_eq!(get("$SYS/broker/uptime"), "3 seconds");
        assert_eq!(get("$SYS/broker/retained messages/count"), "0");
        assert_eq!(get("$SYS/broker/load/messages/received/15min"), "0.00");
        assert_eq!(static_topics()[0].1, format!("roost {}", env!("CARGO_PKG_VERSION")));
    }
}
