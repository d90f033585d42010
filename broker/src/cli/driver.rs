//! [`Session`]: drives the sans-IO [`Client`] over a [`Transport`] with tokio. Callers pull [`Step`]s from
//! [`Session::next`]; every input (bytes, a timer, a line of stdin) is handed to the client and what it wants sent
//! is written before `next` returns, so callers never race a half-written packet.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use roost_codec::client::{Client, ClientOptions, Connected, Event, State};
use roost_codec::{MAX_PACKET_SIZE, Packet, ReasonCode};
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::mpsc;

use super::debug::describe;
use super::error::CliError;
use super::options::Target;
use super::transport::Transport;

/// What woke the caller.
#[derive(Debug)]
pub(crate) enum Step {
    /// Something the client reports; boxed, as an event (a message with its properties) is large.
    Event(Box<Event>),
    /// A line from the caller's input channel; `None` once it is closed.
    Input(Option<Bytes>),
    /// The caller's deadline passed.
    Deadline,
    /// SIGINT or SIGTERM: the caller should disconnect cleanly (so the server discards the will) and exit, as
    /// mosquitto_sub does on Ctrl-C.
    Interrupted,
}

/// One MQTT connection: the client state, its transport, and the `-d` log.
#[derive(Debug)]
pub(crate) struct Session {
    /// The protocol state.
    client: Client,
    /// The byte stream.
    transport: Transport,
    /// `-d`: print every packet on stderr.
    debug: bool,
    /// With `-d`, received bytes not yet forming a whole packet, decoded a second time only for the log.
    debug_rx: BytesMut,
    /// SIGINT and SIGTERM, turned into [`Step::Interrupted`] instead of killing the process mid-packet.
    signals: Signals,
}

impl Session {
    /// Connects to `target` and waits for CONNACK.
    pub(crate) async fn connect(
        target: &Target,
        options: ClientOptions,
        debug: bool,
    ) -> Result<(Self, Connected), CliError> {
        let version = options.version;
        let mut signals = Signals::new()?;
        let transport = tokio::select! {
            transport = Transport::connect(target) => transport?,
            () = signals.recv() => return Err(CliError::Interrupted),
        };
        let mut session = Self {
            client: Client::new(options),
            transport,
            debug,
            debug_rx: BytesMut::new(),
            signals,
        };
        session.client.connect(Instant::now())?;
        session.flush().await?;
        loop {
            let event = match session.next(None, None).await? {
                Step::Event(event) => event,
                Step::Interrupted => return Err(CliError::Interrupted),
                Step::Input(_) | Step::Deadline => continue,
            };
            match *event {
                Event::Connected(connected) => return Ok((session, connected)),
                Event::ConnectionRefused(refused) => {
                    return Err(CliError::Refused {
                        version,
                        reason_code: refused.reason_code,
                    });
                }
                event => session.end_on(event)?,
            }
        }
    }

    /// The client state, to publish or subscribe with.
    pub(crate) fn client(&mut self) -> &mut Client {
        &mut self.client
    }

    /// Turns an event that ends the connection into its error; other events are ignored.
    pub(crate) fn end_on(&self, event: Event) -> Result<(), CliError> {
        match event {
            Event::Disconnected(d) => Err(CliError::Disconnected(d.to_string())),
            Event::PingTimeout => Err(CliError::PingTimeout),
            Event::ConnectTimeout => Err(CliError::ConnectTimeout),
            _ => Ok(()),
        }
    }

    /// The next event, input line or deadline. Reads the transport, runs the client's timers, and writes whatever
    /// the client queued, until one of them happens. `input` is only polled when given; `deadline` likewise.
    pub(crate) async fn next(
        &mut self,
        mut input: Option<&mut mpsc::Receiver<Bytes>>,
        deadline: Option<Instant>,
    ) -> Result<Step, CliError> {
        loop {
            if let Some(event) = self.client.poll_event() {
                return Ok(Step::Event(Box::new(event)));
            }
            if let Some(step) = self.wake(input.as_deref_mut(), deadline).await? {
                return Ok(step);
            }
        }
    }

    /// Waits for one thing to happen and handles it: bytes from the transport or the client's timer (then
    /// `None`), or an input line, the deadline or a signal (returned for the caller).
    async fn wake(
        &mut self,
        input: Option<&mut mpsc::Receiver<Bytes>>,
        deadline: Option<Instant>,
    ) -> Result<Option<Step>, CliError> {
        if self.client.state() == State::Disconnected {
            return Err(CliError::ConnectionLost);
        }
        let timer = self.client.poll_timeout();
        // Every branch is cancel safe; the work each one triggers runs after the select.
        let woke = tokio::select! {
            received = self.transport.recv() => Woke::Received(received),
            () = sleep_until(timer) => Woke::Timer,
            line = recv(input) => return Ok(Some(Step::Input(line))),
            () = sleep_until(deadline) => return Ok(Some(Step::Deadline)),
            () = self.signals.recv() => return Ok(Some(Step::Interrupted)),
        };
        match woke {
            Woke::Received(Ok(Some(bytes))) => {
                let handled = self.client.handle_bytes(&bytes, Instant::now());
                // Logged after handling, so a CONNACK line names the identifier an MQTT 5 server assigned.
                self.log_received(&bytes);
                // A protocol error queued a DISCONNECT (MQTT 5): send it before giving up.
                self.flush().await?;
                handled.map_err(CliError::Protocol)?;
            }
            Woke::Received(Ok(None)) => {
                self.client.connection_lost();
                return Err(CliError::ConnectionLost);
            }
            Woke::Received(Err(error)) => {
                self.client.connection_lost();
                return Err(super::transport::lost(&error));
            }
            Woke::Timer => {
                self.client.handle_timeout(Instant::now());
                self.flush().await?;
            }
        }
        Ok(None)
    }

    /// Writes everything the client queued.
    pub(crate) async fn flush(&mut self) -> Result<(), CliError> {
        let mut out = BytesMut::new();
        while self.client.poll_transmit(&mut out) {}
        if out.is_empty() {
            return Ok(());
        }
        if self.debug {
            self.log(&mut out.clone(), "sending");
        }
        self.transport
            .send(out.freeze())
            .await
            .map_err(|_| CliError::ConnectionLost)
    }

    /// Sends DISCONNECT (normal disconnection) and closes the transport.
    /// Before a planned disconnect: lets the server finish the QoS 2 exchanges we answered with PUBREC, so it
    /// does not have to keep them for a session that may never return ([MQTT-4.3.3-12]). Waits at most `limit`;
    /// events that arrive meanwhile (further messages) are not the caller's any more and are dropped.
    pub(crate) async fn settle(&mut self, limit: Duration) -> Result<(), CliError> {
        let deadline = Instant::now() + limit;
        while self.client.awaiting_release() > 0 {
            while self.client.poll_event().is_some() {}
            if let Some(Step::Deadline | Step::Interrupted) = self.wake(None, Some(deadline)).await? {
                break;
            }
        }
        Ok(())
    }

    pub(crate) async fn disconnect(mut self) -> Result<(), CliError> {
        if self.client.disconnect(ReasonCode::NORMAL_DISCONNECTION).is_ok() {
            self.flush().await?;
        }
        self.transport.close().await;
        Ok(())
    }

    /// `-d`: logs the whole packets among received bytes.
    fn log_received(&mut self, bytes: &[u8]) {
        if self.debug {
            let mut buf = std::mem::take(&mut self.debug_rx);
            buf.extend_from_slice(bytes);
            self.log(&mut buf, "received");
            self.debug_rx = buf;
        }
    }

    /// `-d`: logs every whole packet in `buf`, consuming them.
    fn log(&self, buf: &mut BytesMut, verb: &str) {
        let id = self.client.client_id();
        let id = if id.is_empty() { "(null)" } else { id.as_ref() };
        while let Ok(Some(packet)) = Packet::decode(buf, self.client.options().version, MAX_PACKET_SIZE) {
            note!("Client {id} {verb} {}", describe(&packet));
        }
    }
}

/// What `Session::next`'s select saw.
enum Woke {
    Received(std::io::Result<Option<Bytes>>),
    Timer,
}

/// The signals that end a command-line client.
#[derive(Debug)]
struct Signals {
    interrupt: Signal,
    terminate: Signal,
}

impl Signals {
    /// Installs the handlers; from now on SIGINT and SIGTERM no longer kill the process.
    fn new() -> Result<Self, CliError> {
        let install = |kind| {
            signal(kind).map_err(|source| CliError::Io {
                what: "Unable to handle signals".into(),
                source,
            })
        };
        Ok(Self {
            interrupt: install(SignalKind::interrupt())?,
            terminate: install(SignalKind::terminate())?,
        })
    }

    /// Waits for either signal. Cancel safe: a signal that arrives meanwhile is kept for the next call.
    async fn recv(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
}

/// Sleeps until `at`; forever when `None`.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// The next line of `input`; waits forever when there is no input.
async fn recv(input: Option<&mut mpsc::Receiver<Bytes>>) -> Option<Bytes> {
    match input {
        Some(input) => input.recv().await,
        None => std::future::pending().await,
    }
}
