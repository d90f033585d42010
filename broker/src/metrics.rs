//! `/metrics`: the broker's figures in Prometheus' text format (version 0.0.4), for the Prometheus and Grafana a
//! household or a team already runs.
//!
//! Nothing is counted twice: the figures are the ones `$SYS` publishes ([`crate::sys::Stats`], the router's
//! drops, the memory budget, the store's counters), read when Prometheus scrapes, by a
//! [`prometheus_client::collector::Collector`]. The crate writes the format (names, `# HELP`/`# TYPE`,
//! `_total` suffixes, label escaping) so no hand-written formatter can get it subtly wrong.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::{Registry, Unit};

use crate::broker::Broker;
use crate::session::Drop;

/// The `Content-Type` of what [`render`] returns.
pub(crate) const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Every metric of `broker`, now, in the Prometheus text format.
pub(crate) fn render(broker: &Arc<Broker>) -> String {
    let mut registry = Registry::with_prefix("roost");
    registry.register_collector(Box::new(BrokerCollector(Arc::clone(broker))));
    let mut text = String::new();
    // Writing into a String cannot fail; a collector error would be ours, and an empty answer says so.
    if prometheus_client::encoding::prometheus_text::encode(&mut text, &registry).is_err() {
        text.clear();
    }
    text
}

/// Reads the broker's figures on each scrape.
#[derive(Debug)]
struct BrokerCollector(Arc<Broker>);

/// A counter or gauge value with its name, help text and unit, written by [`emit`].
fn emit(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    unit: Option<Unit>,
    metric: &impl EncodeMetric,
) -> Result<(), std::fmt::Error> {
    let metric_encoder = encoder.encode_descriptor(name, help, unit.as_ref(), metric.metric_type())?;
    metric.encode(metric_encoder)
}

fn counter(value: u64) -> ConstCounter<u64> {
    ConstCounter::new(value)
}

fn gauge(value: usize) -> ConstGauge<i64> {
    ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX))
}

impl Collector for BrokerCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let broker = &self.0;
        let router = broker.router();
        let figures = broker.stats.figures();
        let e = &mut encoder;

        emit(
            e,
            "clients_connected",
            "MQTT clients connected now",
            None,
            &gauge(to_usize(figures.clients_connected)),
        )?;
        emit(
            e,
            "clients_maximum",
            "The most MQTT clients connected at once since start",
            None,
            &gauge(to_usize(figures.clients_maximum)),
        )?;
        let (sessions, retained_bytes) = router.sessions_and_retained_bytes();
        emit(
            e,
            "sessions",
            "Sessions, connected or kept for a disconnected client",
            None,
            &gauge(sessions),
        )?;
        emit(
            e,
            "sessions_disconnected",
            "Sessions kept for a disconnected client",
            None,
            &gauge(router.disconnected_sessions()),
        )?;
        emit(
            e,
            "subscriptions",
            "Subscriptions of every session",
            None,
            &gauge(router.subscription_count()),
        )?;
        emit(
            e,
            "packets_received",
            "MQTT packets of any type received",
            None,
            &counter(figures.messages_received),
        )?;
        emit(
            e,
            "packets_sent",
            "MQTT packets of any type sent",
            None,
            &counter(figures.messages_sent),
        )?;
        emit(
            e,
            "received",
            "Bytes read from clients",
            Some(Unit::Bytes),
            &counter(figures.bytes_received),
        )?;
        emit(
            e,
            "sent",
            "Bytes written to clients",
            Some(Unit::Bytes),
            &counter(figures.bytes_sent),
        )?;
        for (name, help, values) in [
            (
                "publish_received",
                "PUBLISH packets received, by QoS",
                figures.publish_received,
            ),
            (
                "publish_sent",
                "PUBLISH packets sent, by QoS (first sends, not resends)",
                figures.publish_sent,
            ),
            (
                "publish_received_payload_bytes",
                "Payload bytes of the PUBLISH packets received, by QoS",
                figures.publish_received_payload,
            ),
            (
                "publish_sent_payload_bytes",
                "Payload bytes of the PUBLISH packets sent, by QoS (first sends, not resends)",
                figures.publish_sent_payload,
            ),
        ] {
            let mut metric = e.encode_descriptor(name, help, None, counter(0).metric_type())?;
            for (qos, value) in ["0", "1", "2"].into_iter().zip(values) {
                counter(value).encode(metric.encode_family(&[("qos", qos)])?)?;
            }
        }
        {
            let drops = router.drops();
            let mut metric = e.encode_descriptor(
                "messages_dropped",
                "Messages that matched a subscription and were not delivered to it, by reason",
                None,
                counter(0).metric_type(),
            )?;
            for reason in Drop::ALL {
                counter(drops.get(reason)).encode(metric.encode_family(&[("reason", reason.name())])?)?;
            }
        }
        if !broker.bridges.is_empty() {
            // One series per bridge, labelled with its name (`[[bridge]] name`).
            let mut metric = e.encode_descriptor(
                "bridge_connected",
                "Whether the bridge is connected to its remote broker (1) or not (0)",
                None,
                gauge(0).metric_type(),
            )?;
            for bridge in &broker.bridges {
                gauge(usize::from(bridge.is_connected()))
                    .encode(metric.encode_family(&[("bridge", bridge.name.as_str())])?)?;
            }
            let mut metric = e.encode_descriptor(
                "bridge_queued_messages",
                "Messages waiting for the bridge's remote broker: queued, and sent but not acknowledged",
                None,
                gauge(0).metric_type(),
            )?;
            for bridge in &broker.bridges {
                gauge(bridge.queued(broker)).encode(metric.encode_family(&[("bridge", bridge.name.as_str())])?)?;
            }
        }
        let (queued, queued_max) = router.queue_depths();
        emit(
            e,
            "queued_messages",
            "Messages waiting in every session's queue",
            None,
            &gauge(queued),
        )?;
        emit(
            e,
            "queued_messages_max",
            "Messages waiting in the longest session queue",
            None,
            &gauge(queued_max),
        )?;
        emit(
            e,
            "retained_messages",
            "Retained messages kept",
            None,
            &gauge(router.retained_count()),
        )?;
        emit(
            e,
            "retained",
            "Bytes of the retained messages kept",
            Some(Unit::Bytes),
            &gauge(retained_bytes),
        )?;
        emit(
            e,
            "retained_refused",
            "Retained messages not kept: max_retained_messages or max_retained_bytes reached",
            None,
            &counter(router.retained_refused()),
        )?;
        let memory = router.memory();
        emit(
            e,
            "memory_messages",
            "Bytes of the messages held in memory (queued, in flight, retained), against max_memory",
            Some(Unit::Bytes),
            &gauge(memory.used()),
        )?;
        emit(
            e,
            "memory_limit",
            "max_memory (0: no limit)",
            Some(Unit::Bytes),
            &gauge(memory.limit()),
        )?;
        emit(
            e,
            "publish_refused_memory",
            "PUBLISH packets refused because max_memory was reached",
            None,
            &counter(memory.refused()),
        )?;
        let store = router.store();
        if !store.is_memory() {
            let stats = store.stats();
            emit(
                e,
                "store",
                "Bytes of live state in the data directory, against [storage] max_bytes",
                Some(Unit::Bytes),
                &gauge(to_usize(stats.live_bytes)),
            )?;
            emit(
                e,
                "store_written",
                "Bytes the store wrote (log and snapshots)",
                Some(Unit::Bytes),
                &counter(stats.log_bytes + stats.snapshot_bytes),
            )?;
            emit(
                e,
                "store_syncs",
                "fdatasync calls of the store's log",
                None,
                &counter(stats.syncs),
            )?;
            emit(
                e,
                "store_snapshots",
                "Snapshots written",
                None,
                &counter(stats.snapshots),
            )?;
        }
        if let Some(process) = crate::bench::procstat::sample(std::process::id()) {
            emit(
                e,
                "process_cpu",
                "CPU time used by the roost process",
                Some(Unit::Seconds),
                &ConstCounter::new(process.cpu_seconds()),
            )?;
            emit(
                e,
                "process_resident_memory",
                "Resident memory of the roost process",
                Some(Unit::Bytes),
                &gauge(to_usize(process.rss_kib.saturating_mul(1024))),
            )?;
        }
        Ok(())
    }
}

fn to_usize(value: u64) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}
