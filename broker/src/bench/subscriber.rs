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

/// How long after publishing ends a subscriber still waits for missing messages (lost ones, at QoS 0).
const DRAIN: Duration = Duration::from_secs(2);

/// How often an idle subscriber looks at whether the run is over.
const TICK: Duration = Duration::from_millis(50);

/// Subscribes `session` to `filter` and waits for SUBACK.
pub(crate) async fn subscribe(session: &mut Session, filter: TopicFilter, qos: QoS) -> Result<(), CliError> {
    let options = SubscriptionOptions::qos(qos);
    session
        .client()
        .subscribe(vec![(filter, options)], Properties::default(), Instant::now())?;
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

/// Receives until the run is over, then disconnects. `index` is this subscriber's place in [`Shared`].
pub(crate) async fn run(mut session: Session, shared: Arc<Shared>, index: usize) -> Result<Tracker, CliError> {
    let mut tracker = Tracker::new(shared.sent.len());
    let mut drain_until = None;
    loop {
        match session.next(None, Some(Instant::now() + TICK)).await? {
            Step::Event(event) => match *event {
                Event::Message(publish) => {
                    let received = shared.now_nanos();
                    shared.received.fetch_add(1, Relaxed);
                    match payload::decode(&publish.payload) {
                        Some(h) => {
                            if tracker.record(h.publisher, h.seq, h.sent_nanos, received) {
                                shared
                                    .delivered(index, h.publisher as usize)
                                    .fetch_max(h.seq + 1, Relaxed);
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
