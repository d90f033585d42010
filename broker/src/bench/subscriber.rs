//! One subscriber: subscribes, then tallies what arrives in a [`Tracker`] until publishing is over and it has
//! received the last message published to it, or [`DRAIN`] has passed since.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use roost_codec::client::Event;
use roost_codec::{Properties, QoS, SubscriptionOptions, TopicFilter};

use super::payload;
use super::shared::Shared;
use super::tracker::Tracker;
use crate::cli::CliError;
use crate::cli::driver::{Session, Step};

/// How long after publishing ends, and after its last message, a subscriber still waits for missing messages
/// (lost ones, at QoS 0). Counted from the last message, so a broker seconds behind (10,000 pairs) is slow, not lossy.
const DRAIN: Duration = Duration::from_secs(2);

/// How often an idle subscriber looks at whether the run is over.
const TICK: Duration = Duration::from_millis(50);

/// Filters per SUBSCRIBE packet when subscribing idle filters: big enough to take few round trips, small enough
/// for any broker's packet size limit.
const FILTERS_PER_SUBSCRIBE: usize = 100;

/// Subscribes `session` to `filters` in one SUBSCRIBE and waits for SUBACK.
pub(crate) async fn subscribe(session: &mut Session, filters: Vec<TopicFilter>, qos: QoS) -> Result<(), CliError> {
    let options = SubscriptionOptions::qos(qos);
    let filters = filters.into_iter().map(|f| (f, options)).collect();
    session
        .client()
        .subscribe(filters, Properties::default(), Instant::now())?;
    session.flush().await?;
    loop {
        match session.next(None, None).await? {
            Step::Event(event) => match *event {
                Event::Subscribed { reason_codes, .. } => {
                    return if reason_codes.iter().all(|c| c.as_u8() < 0x80) {
                        Ok(())
                    } else {
                        Err(CliError::SubscriptionsDenied)
                    };
                }
                other => session.end_on(other)?,
            },
            Step::Interrupted => return Err(CliError::Interrupted),
            Step::Deadline | Step::Input(_) => {}
        }
    }
}

/// Subscribes `session` to `filters`, [`FILTERS_PER_SUBSCRIBE`] per SUBSCRIBE, each acknowledged before the next.
pub(crate) async fn subscribe_many(session: &mut Session, filters: Vec<TopicFilter>, qos: QoS) -> Result<(), CliError> {
    let mut filters = filters.into_iter().peekable();
    while filters.peek().is_some() {
        subscribe(session, filters.by_ref().take(FILTERS_PER_SUBSCRIBE).collect(), qos).await?;
    }
    Ok(())
}

/// Keeps `session` connected (answering its keep alive) until publishing is over, then disconnects. Returns
/// the messages that arrived, which for idle filters should be none.
pub(crate) async fn hold(mut session: Session, shared: Arc<Shared>) -> Result<u64, CliError> {
    let mut arrived = 0;
    while !shared.publishing_done.load(Relaxed) {
        match session.next(None, Some(Instant::now() + TICK)).await? {
            Step::Event(event) => match *event {
                Event::Message(_) => arrived += 1,
                other => session.end_on(other)?,
            },
            Step::Interrupted | Step::Deadline | Step::Input(_) => {}
        }
    }
    session.disconnect().await?;
    Ok(arrived)
}

/// Receives until the run is over, then disconnects. `index` is this subscriber's place in [`Shared`].
pub(crate) async fn run(mut session: Session, shared: Arc<Shared>, index: usize) -> Result<Tracker, CliError> {
    let mut tracker = Tracker::new(shared.hears(index)).settle_at(shared.settle_nanos.load(Relaxed));
    let mut drain_until = None;
    loop {
        match session.next(None, Some(Instant::now() + TICK)).await? {
            Step::Event(event) => match *event {
                Event::Message(publish) => {
                    if drain_until.is_some() {
                        drain_until = Some(Instant::now() + DRAIN);
                    }
                    let received = shared.now_nanos();
                    shared.received.fetch_add(1, Relaxed);
                    match payload::decode(&publish.payload) {
                        Some(h) => {
                            if let Some(slot) = tracker.record(h.publisher, h.seq, h.sent_nanos, received) {
                                shared.record(index, slot, h.seq);
                            }
                        }
                        None => tracker.foreign += 1,
                    }
                }
                other => session.end_on(other)?,
            },
            // Ctrl-C ends publishing; subscribers still drain.
            Step::Interrupted | Step::Deadline | Step::Input(_) => {}
        }
        if shared.publishing_done.load(Relaxed) {
            let until = *drain_until.get_or_insert_with(|| Instant::now() + DRAIN);
            if shared.caught_up(index) || Instant::now() >= until {
                break;
            }
        }
    }
    session.disconnect().await?;
    Ok(tracker)
}
