//! The broker view: the broker's own `$SYS/broker/...` figures (Mosquitto's names, which `roost` publishes
//! retained every `[sys] interval`) as live numbers and as charts over time, then what the admin API
//! (`/api/v1/`) says: the connected clients (each can be disconnected) and the bridges. [`Figures`] reads the
//! figures from the topic tree; [`Rate`] turns a growing counter into a rate per second; [`trend`] keeps and
//! draws them over time; [`admin`] reads the admin API; [`clients`] shows it.

pub mod admin;
pub mod clients;
pub mod trend;

use leptos::prelude::*;

use self::clients::{BridgesView, ClientsView};
use self::trend::{CONNECTIONS, RATES, Sample, Trend, TrendChart};
use crate::explorer::TopicTree;

/// The figures shown, each `None` until the broker has published it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Figures {
    /// `$SYS/broker/clients/connected`.
    pub clients: Option<u64>,
    /// `$SYS/broker/publish/messages/received`: application messages received since start, with when it arrived
    /// and whether it came from the retained store (then its time says nothing about when it was counted).
    pub published_in: Option<(u64, u64, bool)>,
    /// `$SYS/broker/publish/messages/sent`, likewise.
    pub published_out: Option<(u64, u64, bool)>,
    /// `$SYS/broker/load/messages/received/1min`: MQTT packets received per minute, smoothed over a minute.
    pub load_in: Option<f64>,
    /// `$SYS/broker/load/messages/sent/1min`.
    pub load_out: Option<f64>,
    /// `$SYS/broker/retained messages/count`.
    pub retained: Option<u64>,
    /// `$SYS/broker/uptime`, in seconds (published as `N seconds`).
    pub uptime: Option<u64>,
    /// `$SYS/broker/version`.
    pub version: Option<String>,
}

impl Figures {
    /// The figures in `tree`.
    pub fn of(tree: &TopicTree) -> Self {
        let text = |topic: &str| {
            tree.get(topic)
                .and_then(|node| node.last())
                .map(|message| message.payload.as_str().trim().to_owned())
        };
        let counter = |topic: &str| {
            let message = tree.get(topic)?.last()?;
            let value = message.payload.as_str().trim().parse().ok()?;
            Some((value, message.received_ms, message.retain))
        };
        Self {
            clients: text("$SYS/broker/clients/connected").and_then(|text| text.parse().ok()),
            published_in: counter("$SYS/broker/publish/messages/received"),
            published_out: counter("$SYS/broker/publish/messages/sent"),
            load_in: text("$SYS/broker/load/messages/received/1min").and_then(|text| text.parse().ok()),
            load_out: text("$SYS/broker/load/messages/sent/1min").and_then(|text| text.parse().ok()),
            retained: text("$SYS/broker/retained messages/count").and_then(|text| text.parse().ok()),
            uptime: text("$SYS/broker/uptime")
                .and_then(|text| text.strip_suffix("seconds").and_then(|n| n.trim().parse().ok())),
            version: text("$SYS/broker/version"),
        }
    }
}

/// A rate per second computed from successive samples of a counter.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Rate {
    /// The last sample: value and when it arrived (ms).
    last: Option<(u64, u64)>,
    /// Whether that sample came from the retained store on subscribing: its arrival says nothing about when
    /// it was counted.
    stale: bool,
    /// The rate between the last two live samples.
    per_second: Option<f64>,
}

impl Rate {
    /// Takes a sample `value` that arrived at `at_ms`. The first sample, when `retained`, only starts the count:
    /// it was counted some time before it arrived. Later ones count even when `retained`, since the dashboard
    /// subscribes with Retain As Published and the broker publishes `$SYS` retained ([MQTT-3.3.1-12]). The same
    /// sample again changes nothing; a counter that went down (the broker restarted) starts afresh.
    pub fn observe(&mut self, value: u64, at_ms: u64, retained: bool) {
        if self.last == Some((value, at_ms)) {
            return;
        }
        if retained && self.last.is_none() {
            self.last = Some((value, at_ms));
            self.stale = true;
            return;
        }
        match self.last {
            Some((before, then)) if !self.stale && at_ms > then && value >= before => {
                self.per_second = Some((value - before) as f64 * 1000.0 / (at_ms - then) as f64);
            }
            Some((before, _)) if value < before => self.per_second = None,
            _ => {}
        }
        self.last = Some((value, at_ms));
        self.stale = false;
    }

    /// The rate, once two live samples arrived.
    pub fn per_second(&self) -> Option<f64> {
        self.per_second
    }
}

/// `seconds` as a person reads an uptime: `3 d 4 h`, `5 h 2 min`, `7 min 3 s`, `42 s`.
pub fn format_uptime(seconds: u64) -> String {
    let (days, hours, minutes, secs) = (seconds / 86_400, seconds / 3600 % 24, seconds / 60 % 60, seconds % 60);
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{secs} s"),
        (0, 0, _) => format!("{minutes} min {secs} s"),
        (0, _, _) => format!("{hours} h {minutes} min"),
        _ => format!("{days} d {hours} h"),
    }
}

/// A rate: from the counters when known, else the broker's one-minute load (per minute) over 60.
pub fn best_rate(computed: Option<f64>, load_per_minute: Option<f64>) -> Option<f64> {
    computed.or(load_per_minute.map(|load| load / 60.0))
}

/// A rate for display: from the counters when known, else the broker's one-minute load (per minute) over 60.
pub fn format_rate(computed: Option<f64>, load_per_minute: Option<f64>) -> String {
    match best_rate(computed, load_per_minute) {
        Some(rate) if rate < 10.0 => format!("{rate:.1}"),
        Some(rate) => format!("{rate:.0}"),
        None => "–".to_owned(),
    }
}

/// The broker's figures, live.
#[component]
pub fn BrokerView(
    /// Every topic seen, `$SYS/broker/#` included.
    #[prop(into)]
    tree: Signal<TopicTree>,
) -> impl IntoView {
    let figures = Memo::new(move |_| tree.with(Figures::of));
    let rate_in = RwSignal::new(Rate::default());
    let rate_out = RwSignal::new(Rate::default());
    let trend = RwSignal::new(Trend::default());
    Effect::new(move |_| {
        let (published_in, published_out) = figures.with(|figures| (figures.published_in, figures.published_out));
        if let Some((value, at, retained)) = published_in {
            rate_in.update(|rate| rate.observe(value, at, retained));
        }
        if let Some((value, at, retained)) = published_out {
            rate_out.update(|rate| rate.observe(value, at, retained));
        }
        // One sample per `$SYS` update of the received counter (the broker publishes them all together; a
        // later batch of the same update corrects its sample in place).
        if let Some((_, at, _)) = published_in {
            let sample = figures.with_untracked(|figures| Sample {
                at_ms: at as f64,
                rate_in: best_rate(rate_in.get_untracked().per_second(), figures.load_in),
                rate_out: best_rate(rate_out.get_untracked().per_second(), figures.load_out),
                clients: figures.clients.map(|clients| clients as f64),
            });
            trend.update(|trend| trend.push(sample));
        }
    });
    let number = |value: Option<u64>| value.map_or("–".to_owned(), |value| value.to_string());
    view! {
        <section class="broker" aria-label="Broker">
            <h2>"Broker"</h2>
            <dl class="figures">
                <div>
                    <dt>"Clients connected"</dt>
                    <dd data-figure="clients">{move || number(figures.with(|f| f.clients))}</dd>
                </div>
                <div>
                    <dt>"Messages in /s"</dt>
                    <dd data-figure="in">{move || format_rate(rate_in.get().per_second(), figures.with(|f| f.load_in))}</dd>
                </div>
                <div>
                    <dt>"Messages out /s"</dt>
                    <dd data-figure="out">{move || format_rate(rate_out.get().per_second(), figures.with(|f| f.load_out))}</dd>
                </div>
                <div>
                    <dt>"Retained"</dt>
                    <dd data-figure="retained">{move || number(figures.with(|f| f.retained))}</dd>
                </div>
                <div>
                    <dt>"Uptime"</dt>
                    <dd data-figure="uptime">{move || figures.with(|f| f.uptime.map_or("–".to_owned(), format_uptime))}</dd>
                </div>
                <div>
                    <dt>"Version"</dt>
                    <dd data-figure="version">{move || figures.with(|f| f.version.clone().unwrap_or_else(|| "–".to_owned()))}</dd>
                </div>
            </dl>
            <div class="trends">
                <TrendChart trend=trend title="Messages per second" series=RATES name="rates" />
                <TrendChart trend=trend title="Clients connected" series=CONNECTIONS name="connections" />
            </div>
            <ClientsView />
            <BridgesView />
        </section>
    }
}
