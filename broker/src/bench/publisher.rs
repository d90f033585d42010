//! One publisher: publishes numbered, timestamped payloads until the end of the run, keeping at most `--inflight`
//! messages outstanding, then waits for its QoS 1/2 acknowledgements and disconnects.
//!
//! The in-flight window is what makes a QoS 0 run measure sustainable throughput rather than how fast a flood
//! can be dropped: a publisher waits while its sequence number is `inflight` ahead of the highest one its slowest
//! subscriber has received (the subscribers record it in [`Shared`]), and at QoS 1 and 2 also while `inflight`
//! publications are unacknowledged. A window that does not move for [`STALL`] (the newest messages lost) is
//! given up on, counted in `stalls`, and publishing resumes.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use roost_codec::client::{Event, Message};
use roost_codec::{QoS, TopicName};

use super::payload::{self, Header};
use super::shared::Shared;
use crate::cli::CliError;
use crate::cli::driver::{Session, Step};

/// How long a publisher waits for a window that does not move before it publishes anyway.
const STALL: Duration = Duration::from_secs(2);

/// How often a waiting publisher looks at its subscribers' counters again (tokio's timer resolution), with few
/// publishers; see [`poll_interval`].
const POLL: Duration = Duration::from_millis(1);

/// Added to [`POLL`] per publisher: 10,000 waiting publishers polling every millisecond would be 10⁷ timer wake-ups
/// a second, the load generator's own CPU rather than the broker's work; this keeps them near 10⁵.
const POLL_PER_PUBLISHER: Duration = Duration::from_micros(10);

/// How often each of `publishers` waiting publishers polls.
pub(crate) fn poll_interval(publishers: usize) -> Duration {
    POLL.max(POLL_PER_PUBLISHER * u32::try_from(publishers).unwrap_or(u32::MAX))
}

/// Messages written per flush when publishing flat out: fewer system calls, as a real client batches.
const BATCH: u64 = 16;

/// How long a publisher waits for its last acknowledgements after publishing ends.
const DRAIN: Duration = Duration::from_secs(5);

/// What one publisher is to do.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// Its index: the payload's publisher field and its counters in [`Shared`].
    pub(crate) index: usize,
    /// Where it publishes.
    pub(crate) topic: TopicName,
    /// At which QoS.
    pub(crate) qos: QoS,
    /// Payload bytes.
    pub(crate) size: usize,
    /// The in-flight window.
    pub(crate) inflight: u64,
    /// Messages per second; `None` for as fast as the window allows.
    pub(crate) interval: Option<Duration>,
    /// When to stop publishing.
    pub(crate) end: Instant,
    /// How often to look at the window again while it is full ([`poll_interval`]).
    pub(crate) poll: Duration,
}

/// What one publisher reports.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Outcome {
    /// Publications the server refused or that were never completed.
    pub(crate) failures: u64,
    /// Times the window was given up on.
    pub(crate) stalls: u64,
}

/// Runs one publisher over a connected `session`.
pub(crate) async fn run(mut session: Session, shared: Arc<Shared>, plan: Plan) -> Result<Outcome, CliError> {
    let mut outcome = Outcome::default();
    let started = Instant::now();
    let mut seq = 0u64;
    'publishing: while Instant::now() < plan.end {
        let mut waiting_since = None;
        while window_full(&mut session, &shared, &plan, seq) {
            let now = Instant::now();
            let since = *waiting_since.get_or_insert(now);
            if now >= plan.end {
                break 'publishing;
            }
            if now.duration_since(since) >= STALL {
                outcome.stalls += 1;
                break;
            }
            session.flush().await?;
            if !step(&mut session, Some(now + plan.poll), &mut outcome).await? {
                break 'publishing;
            }
        }
        if let Some(interval) = plan.interval {
            let due = started + interval.mul_f64(seq as f64);
            while Instant::now() < due.min(plan.end) {
                if !step(&mut session, Some(due.min(plan.end)), &mut outcome).await? {
                    break 'publishing;
                }
            }
            if Instant::now() >= plan.end {
                break;
            }
        }
        let header = Header {
            seq,
            publisher: plan.index as u32,
            sent_nanos: shared.now_nanos(),
        };
        let message = Message::new(plan.topic.clone(), payload::encode(header, plan.size)).with_qos(plan.qos);
        session.client().publish(message, Instant::now())?;
        seq += 1;
        shared.sent[plan.index].store(seq, Relaxed);
        if plan.interval.is_some() || seq.is_multiple_of(BATCH) {
            session.flush().await?;
        }
    }
    session.flush().await?;
    let deadline = Instant::now() + DRAIN;
    while session.client().in_flight() + session.client().queued() > 0 && Instant::now() < deadline {
        if !step(&mut session, Some(deadline), &mut outcome).await? {
            break;
        }
    }
    session.disconnect().await?;
    Ok(outcome)
}

/// Whether `seq` messages leave no room in the window.
fn window_full(session: &mut Session, shared: &Shared, plan: &Plan, seq: u64) -> bool {
    let unreceived = seq.saturating_sub(shared.slowest(plan.index));
    let client = session.client();
    let unacknowledged = (client.in_flight() + client.queued()) as u64;
    unreceived >= plan.inflight || (plan.qos != QoS::AtMostOnce && unacknowledged >= plan.inflight)
}

/// Handles one step of the session until `deadline`; `false` on SIGINT/SIGTERM, which ends publishing.
async fn step(session: &mut Session, deadline: Option<Instant>, outcome: &mut Outcome) -> Result<bool, CliError> {
    match session.next(None, deadline).await? {
        Step::Event(event) => match *event {
            Event::Published { .. } => {}
            Event::PublishFailed { .. } => outcome.failures += 1,
            other => session.end_on(other)?,
        },
        Step::Interrupted => return Ok(false),
        Step::Deadline | Step::Input(_) => {}
    }
    Ok(true)
}
