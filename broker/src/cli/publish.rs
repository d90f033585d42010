//! `roost pub`: publishes a message (`-m`, `-f`, `-s`, `-n`, `--repeat`) or every line of stdin (`-l`), waits
//! until each is acknowledged as its QoS requires, then disconnects.

use std::collections::HashSet;
use std::io::{BufRead as _, Read as _};
use std::time::{Duration, Instant};

use bytes::Bytes;
use roost_codec::client::{Event, Message, PublishFailure};
use roost_codec::{PacketId, TopicName};
use tokio::sync::mpsc;

use super::args::PubArgs;
use super::driver::{Session, Step};
use super::error::CliError;
use super::options::{qos, setup, usage};

/// Lines of stdin read ahead of the network. The reader thread blocks when the channel is full: back-pressure
/// reaches the pipe, and memory stays bounded however fast stdin is.
const LINES_AHEAD: usize = 64;

/// With `-l`, how many QoS 1/2 publications may wait for the server's Receive Maximum before stdin is left
/// unread; well under the client's own bound (`max_queued_publications`), so `publish` never reports it full.
const MAX_WAITING: usize = 256;

/// Runs `roost pub`.
pub(crate) async fn run(args: PubArgs) -> Result<(), CliError> {
    let setup = setup(&args.connect)?;
    let Some(topic) = args.topic.clone().or(setup.url_topic.clone()) else {
        return usage("No topic specified (-t).");
    };
    let Ok(topic) = TopicName::new(topic.as_str()) else {
        return usage(format!("Invalid publish topic '{topic}', does it contain '+' or '#'?"));
    };
    let delay = Duration::try_from_secs_f64(args.repeat_delay);
    let (true, Ok(delay)) = (args.repeat > 0, delay) else {
        return usage("--repeat must be at least 1 and --repeat-delay a number of seconds.");
    };
    // mosquitto_pub reads the message before it connects: a missing file is a usage error, not a lost session.
    let payload = payload(&args)?;
    let mut publisher = Publisher {
        template: Message {
            topic,
            qos: qos(args.connect.qos),
            retain: args.retain,
            payload: Bytes::new(),
            properties: setup.publish_properties.clone(),
        },
        pending: HashSet::new(),
        failures: Vec::new(),
        quiet: setup.quiet,
    };
    let (mut session, _connected) = Session::connect(&setup.target, setup.options, setup.debug).await?;
    match payload {
        Some(payload) => {
            for i in 0..args.repeat {
                if i > 0 && !delay.is_zero() {
                    // A delay past the end of time is no deadline at all: wait until interrupted.
                    let deadline = Instant::now().checked_add(delay);
                    publisher.wait(&mut session, deadline, true).await?;
                }
                publisher.publish(&mut session, payload.clone()).await?;
            }
        }
        None => publisher.publish_lines(&mut session).await?,
    }
    publisher.wait(&mut session, None, false).await?;
    session.disconnect().await?;
    let failed = publisher.failures.len();
    match publisher.failures.into_iter().next() {
        None => Ok(()),
        Some(first) => Err(CliError::PublishFailed { failed, first }),
    }
}

/// The one message of `-m`, `-f`, `-s` or `-n`; `None` for `-l`.
fn payload(args: &PubArgs) -> Result<Option<Bytes>, CliError> {
    if let Some(m) = &args.message {
        return Ok(Some(Bytes::from(m.clone())));
    }
    if let Some(path) = &args.file {
        return match std::fs::read(path) {
            Ok(data) => Ok(Some(Bytes::from(data))),
            Err(source) => Err(CliError::Io {
                what: format!("Unable to read file \"{path}\""),
                source,
            }),
        };
    }
    if args.stdin_file {
        let mut data = Vec::new();
        return match std::io::stdin().lock().read_to_end(&mut data) {
            Ok(_) => Ok(Some(Bytes::from(data))),
            Err(source) => Err(CliError::Io {
                what: "Unable to read stdin".into(),
                source,
            }),
        };
    }
    if args.null_message {
        return Ok(Some(Bytes::new()));
    }
    if args.stdin_line {
        return Ok(None);
    }
    usage("Both topic and message must be supplied (-m, -f, -l, -s or -n).")
}

/// Publications in progress.
#[derive(Debug)]
struct Publisher {
    /// Topic, QoS, retain and properties of every message.
    template: Message,
    /// QoS 1 and 2 publications not yet completed.
    pending: HashSet<PacketId>,
    /// Why publications failed, in order.
    failures: Vec<PublishFailure>,
    /// `--quiet`.
    quiet: bool,
}

impl Publisher {
    /// Publishes one message and writes it out.
    async fn publish(&mut self, session: &mut Session, payload: Bytes) -> Result<(), CliError> {
        let message = Message {
            payload,
            ..self.template.clone()
        };
        if let Some(id) = session.client().publish(message, Instant::now())? {
            self.pending.insert(id);
        }
        session.flush().await
    }

    /// `-l`: publishes each line of stdin (without its "\n"; empty lines are empty messages, as mosquitto_pub).
    async fn publish_lines(&mut self, session: &mut Session) -> Result<(), CliError> {
        let (tx, mut rx) = mpsc::channel(LINES_AHEAD);
        // Blocking stdin on its own thread; it ends when stdin does or when the receiver is gone.
        std::thread::spawn(move || {
            for line in std::io::stdin().lock().split(b'\n') {
                let Ok(line) = line else { break };
                if tx.blocking_send(Bytes::from(line)).is_err() {
                    break;
                }
            }
        });
        loop {
            let input = (session.client().queued() < MAX_WAITING).then_some(&mut rx);
            match session.next(input, None).await? {
                Step::Input(Some(line)) => self.publish(session, line).await?,
                // Ctrl-C ends the input like end of file; what was sent is still seen through.
                Step::Input(None) | Step::Interrupted => return Ok(()),
                Step::Event(event) => self.on_event(session, *event)?,
                Step::Deadline => {}
            }
        }
    }

    /// Handles events until `deadline` with `until_deadline`, else until every publication is complete.
    async fn wait(
        &mut self,
        session: &mut Session,
        deadline: Option<Instant>,
        until_deadline: bool,
    ) -> Result<(), CliError> {
        while until_deadline || !self.pending.is_empty() {
            match session.next(None, deadline).await? {
                Step::Event(event) => self.on_event(session, *event)?,
                Step::Deadline => return Ok(()),
                Step::Interrupted => return Err(CliError::Interrupted),
                Step::Input(_) => {}
            }
        }
        Ok(())
    }

    /// Records completions and failures; an event that ends the connection is an error.
    fn on_event(&mut self, session: &Session, event: Event) -> Result<(), CliError> {
        match event {
            Event::Published { packet_id, .. } => {
                self.pending.remove(&packet_id);
            }
            Event::PublishFailed { packet_id, reason } => {
                self.pending.remove(&packet_id);
                if !self.quiet {
                    note!("Warning: publish {packet_id} failed: {reason}");
                }
                self.failures.push(reason);
            }
            other => session.end_on(other)?,
        }
        Ok(())
    }
}
