//! `roost sub`: subscribes to `-t` filters and prints each message as `-v`/`-F`/`-N` say, until `-C` messages,
//! `-W` seconds, `--retained-only`'s first fresh message, or `-E`.

use std::io::Write as _;
use std::time::{Duration, Instant, SystemTime};

use roost_codec::client::{Event, Message};
use roost_codec::{Bytes, Publish, RetainHandling, SubscriptionOptions, TopicFilter};

use super::args::SubArgs;
use super::driver::{Session, Step};
use super::error::CliError;
use super::options::{qos, setup, usage};
use super::output::{Format, write_message};

/// What ends a subscription, and how messages are chosen and printed.
#[derive(Debug)]
struct Printer {
    /// How each message is printed.
    format: Format,
    /// Not `-N`.
    newline: bool,
    /// `-T`: topics not printed.
    filter_out: Vec<TopicFilter>,
    /// `-R`: retained messages are not printed.
    no_retained: bool,
    /// `--retained-only`: print retained messages, stop at the first fresh one.
    retained_only: bool,
    /// `-C`: stop after this many printed messages.
    count: Option<u64>,
    /// Messages printed so far.
    printed: u64,
}

/// What to do after a message.
#[derive(Debug, PartialEq, Eq)]
enum Next {
    Continue,
    Stop,
}

/// Runs `roost sub`.
pub(crate) async fn run(args: SubArgs) -> Result<(), CliError> {
    let setup = setup(&args.connect)?;
    let version = setup.options.version;
    let mut topics = args.topic.clone();
    topics.extend(setup.url_topic.clone());
    if topics.is_empty() {
        return usage("You must specify a topic to subscribe to (-t).");
    }
    let mut filters = Vec::with_capacity(topics.len());
    for topic in &topics {
        match TopicFilter::new(topic.as_str()) {
            Ok(filter) => filters.push(filter),
            Err(_) => {
                return usage(format!(
                    "Invalid subscription topic '{topic}', are all '+' and '#' wildcards correct?"
                ));
            }
        }
    }
    let mut filter_out = Vec::with_capacity(args.filter_out.len());
    for topic in &args.filter_out {
        match TopicFilter::new(topic.as_str()) {
            Ok(filter) => filter_out.push(filter),
            Err(_) => {
                return usage(format!(
                    "Invalid filter topic '{topic}', are all '+' and '#' wildcards correct?"
                ));
            }
        }
    }
    if !version.is_v5() && (args.no_local || args.retain_as_published || args.retain_handling.is_some()) {
        return usage("--nl, --rap and --rh are MQTT v5 subscription options (-V mqttv5).");
    }
    let options = SubscriptionOptions {
        qos: qos(args.connect.qos),
        no_local: args.no_local,
        retain_as_published: args.retain_as_published,
        retain_handling: match args.retain_handling {
            Some(1) => RetainHandling::SendIfNew,
            Some(2) => RetainHandling::DoNotSend,
            _ => RetainHandling::SendAtSubscribe,
        },
    };
    let mut printer = Printer {
        format: match (&args.format, args.verbose) {
            (Some(f), _) => Format::Custom(f.clone()),
            (None, true) => Format::Verbose,
            (None, false) => Format::Payload,
        },
        newline: !args.no_newline,
        filter_out,
        no_retained: args.no_retained,
        retained_only: args.retained_only,
        count: args.count,
        printed: 0,
    };
    let (mut session, _connected) = Session::connect(&setup.target, setup.options, setup.debug).await?;
    // As mosquitto_sub's, the -W timer starts once the connection is accepted.
    // A timeout past the end of time is no timeout.
    let deadline = args
        .timeout
        .and_then(|secs| Instant::now().checked_add(Duration::from_secs(secs)));
    let subscriptions = filters.into_iter().map(|f| (f, options)).collect();
    session
        .client()
        .subscribe(subscriptions, setup.subscribe_properties, Instant::now())?;
    session.flush().await?;
    loop {
        let event = match session.next(None, deadline).await? {
            Step::Event(event) => *event,
            Step::Deadline => {
                session.disconnect().await?;
                return Err(CliError::TimedOut);
            }
            // Ctrl-C: a clean DISCONNECT (the server discards the will) and exit 0, as mosquitto_sub.
            Step::Interrupted => return session.disconnect().await,
            Step::Input(_) => continue,
        };
        match event {
            Event::Subscribed {
                packet_id,
                filters,
                reason_codes,
                ..
            } => {
                if setup.debug {
                    let codes: Vec<String> = reason_codes.iter().map(|c| c.as_u8().to_string()).collect();
                    note!("Subscribed (mid: {packet_id}): {}", codes.join(", "));
                }
                for (filter, code) in filters.iter().zip(&reason_codes) {
                    if code.is_error() && !setup.quiet {
                        note!("Warning: subscription to '{filter}' denied: {code}");
                    }
                }
                if reason_codes.iter().all(|c| c.is_error()) {
                    session.disconnect().await?;
                    return Err(CliError::SubscriptionsDenied);
                }
                if args.exit_after_subscribe {
                    return session.disconnect().await;
                }
            }
            Event::Message(publish) => {
                if printer.filtered_out(&publish) {
                    continue;
                }
                if args.remove_retained && publish.retain {
                    // An empty retained message deletes the topic's retained message ([MQTT-3.3.1-6]).
                    let clear = Message::new(publish.topic.clone(), Bytes::new()).with_retain(true);
                    session.client().publish(clear, Instant::now())?;
                    session.flush().await?;
                }
                if printer.on_message(&publish)? == Next::Stop {
                    // `-C`: the last message may still await its PUBREL; bounded, like mosquitto_sub's wait for
                    // its outgoing queue.
                    session.settle(Duration::from_secs(2)).await?;
                    return session.disconnect().await;
                }
            }
            other => session.end_on(other)?,
        }
    }
}

impl Printer {
    /// `-T`: whether `publish` is ignored altogether.
    fn filtered_out(&self, publish: &Publish) -> bool {
        self.filter_out.iter().any(|f| f.matches(&publish.topic))
    }

    /// Prints `publish` unless `-R` or `--retained-only` skip it; says whether to stop.
    fn on_message(&mut self, publish: &Publish) -> Result<Next, CliError> {
        if self.retained_only && !publish.retain {
            return Ok(Next::Stop);
        }
        if self.no_retained && publish.retain {
            return Ok(Next::Continue);
        }
        let mut out = Vec::with_capacity(publish.payload.len() + 64);
        write_message(&self.format, publish, SystemTime::now(), self.newline, &mut out);
        let mut stdout = std::io::stdout().lock();
        stdout
            .write_all(&out)
            .and_then(|()| stdout.flush())
            .map_err(|source| CliError::Io {
                what: "Unable to write to stdout".into(),
                source,
            })?;
        self.printed += 1;
        Ok(match self.count {
            Some(count) if self.printed >= count => Next::Stop,
            _ => Next::Continue,
        })
    }
}
