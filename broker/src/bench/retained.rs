//! `retained`: publishes `--topics` N retained messages, one per topic `{prefix}/{i}`, keeping at most
//! `--inflight` unacknowledged; once all are acknowledged, a second connection subscribes to `{prefix}/#` and
//! counts what arrives until it has all N, or nothing new came for [`QUIET`]. The payload's sequence number is
//! the topic's index, so lost (N − distinct received) and duplicated are exact.

use std::time::{Duration, Instant};

use roost_codec::client::{ClientOptions, Event, Message};
use roost_codec::{Properties, QoS, SubscriptionOptions, TopicFilter, TopicName};

use super::payload::{self, Header};
use super::report::{Latency, Report, RetainedReport};
use super::tracker::Tracker;
use crate::cli::CliError;
use crate::cli::driver::{Session, Step};
use crate::cli::options::{Target, usage};

/// How long the subscriber waits for a further retained message before it counts the rest as lost; also how
/// long it waits for the first one after SUBACK.
const QUIET: Duration = Duration::from_secs(3);

/// How long the publisher waits for its last acknowledgements.
const ACKS: Duration = Duration::from_secs(30);

/// Messages written per flush.
const BATCH: u64 = 64;

/// What the run is to do.
#[derive(Debug)]
pub(crate) struct Plan {
    /// Topics are `{prefix}/{i}`.
    pub(crate) prefix: String,
    /// Client identifiers are `{id_prefix}p0` and `{id_prefix}s0`.
    pub(crate) id_prefix: String,
    /// Retained topics.
    pub(crate) topics: u32,
    /// Publish and subscribe QoS.
    pub(crate) qos: QoS,
    /// Payload bytes.
    pub(crate) size: usize,
    /// Unacknowledged publications allowed (QoS 1 and 2).
    pub(crate) inflight: usize,
}

/// Runs the scenario and fills in `report`.
pub(crate) async fn run(
    target: &Target,
    options: &ClientOptions,
    plan: Plan,
    report: &mut Report,
) -> Result<(), CliError> {
    let start = Instant::now();
    let nanos = |at: Instant| u64::try_from(at.duration_since(start).as_nanos()).unwrap_or(u64::MAX);
    let mut publisher_options = options.clone();
    publisher_options.client_id = format!("{}p0", plan.id_prefix).into();
    let mut publisher = Session::connect(target, publisher_options, false).await?.0;
    let mut failures = 0u64;
    for i in 0..u64::from(plan.topics) {
        while plan.qos != QoS::AtMostOnce && unacknowledged(&mut publisher) >= plan.inflight {
            publisher.flush().await?;
            step(&mut publisher, None, &mut failures).await?;
        }
        let Ok(topic) = TopicName::new(format!("{}/{i}", plan.prefix).as_str()) else {
            return usage(format!("Invalid topic '{}/{i}'.", plan.prefix));
        };
        let header = Header {
            seq: i,
            publisher: 0,
            sent_nanos: nanos(Instant::now()),
        };
        let message = Message::new(topic, payload::encode(header, plan.size))
            .with_qos(plan.qos)
            .with_retain(true);
        publisher.client().publish(message, Instant::now())?;
        if (i + 1).is_multiple_of(BATCH) {
            publisher.flush().await?;
        }
    }
    publisher.flush().await?;
    let deadline = Instant::now() + ACKS;
    while unacknowledged(&mut publisher) > 0 && Instant::now() < deadline {
        step(&mut publisher, Some(deadline), &mut failures).await?;
    }
    failures += unacknowledged(&mut publisher) as u64;
    let publish_secs = start.elapsed().as_secs_f64();
    publisher.disconnect().await?;

    let mut subscriber_options = options.clone();
    subscriber_options.client_id = format!("{}s0", plan.id_prefix).into();
    let mut subscriber = Session::connect(target, subscriber_options, false).await?.0;
    let Ok(filter) = TopicFilter::new(format!("{}/#", plan.prefix).as_str()) else {
        return usage(format!("Invalid topic filter '{}/#'.", plan.prefix));
    };
    let subscribed = Instant::now();
    subscriber.client().subscribe(
        vec![(filter, SubscriptionOptions::qos(plan.qos))],
        Properties::default(),
        subscribed,
    )?;
    subscriber.flush().await?;
    let mut tracker = Tracker::new(&[0]);
    let mut last = subscribed;
    while tracker.unique() < u64::from(plan.topics) {
        match subscriber.next(None, Some(last + QUIET)).await? {
            Step::Event(event) => match *event {
                Event::Message(publish) => {
                    let received = Instant::now();
                    match payload::decode(&publish.payload) {
                        Some(h) => {
                            tracker.record(h.publisher, h.seq, nanos(subscribed), nanos(received));
                            last = received;
                        }
                        None => tracker.foreign += 1,
                    }
                }
                Event::Subscribed { reason_codes, .. } if reason_codes.iter().any(|c| c.as_u8() >= 0x80) => {
                    return Err(CliError::SubscriptionsDenied);
                }
                other => subscriber.end_on(other)?,
            },
            Step::Deadline | Step::Interrupted => break,
            Step::Input(_) => {}
        }
    }
    subscriber.disconnect().await?;

    let topics = u64::from(plan.topics);
    let subscribe_to_last_secs = last.duration_since(subscribed).as_secs_f64();
    report.publishers = 1;
    report.subscribers = 1;
    report.sent = topics;
    report.expected = topics;
    report.delivered = tracker.received;
    report.duplicated = tracker.duplicated;
    report.out_of_order = tracker.out_of_order;
    report.lost = topics.saturating_sub(tracker.unique());
    report.publish_failures = failures;
    report.elapsed_secs = subscribe_to_last_secs;
    report.msgs_per_sec = if subscribe_to_last_secs > 0.0 {
        tracker.received as f64 / subscribe_to_last_secs
    } else {
        0.0
    };
    report.latency = Latency::of(&mut tracker.latencies);
    report.retained = Some(RetainedReport {
        topics,
        publish_secs,
        subscribe_to_last_secs,
    });
    Ok(())
}

/// Publications sent or queued and not yet acknowledged.
fn unacknowledged(session: &mut Session) -> usize {
    session.client().in_flight() + session.client().queued()
}

/// Handles one step of the publisher's session until `deadline`.
async fn step(session: &mut Session, deadline: Option<Instant>, failures: &mut u64) -> Result<(), CliError> {
    match session.next(None, deadline).await? {
        Step::Event(event) => match *event {
            Event::PublishFailed { .. } => *failures += 1,
            other => session.end_on(other)?,
        },
        Step::Interrupted => return Err(CliError::Interrupted),
        Step::Deadline | Step::Input(_) => {}
    }
    Ok(())
}
