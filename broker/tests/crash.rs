//! The whole broker killed with SIGKILL at random moments (issue 11): `roost serve --data DIR` is started again and
//! again on the same directory while publishers and persistent subscribers are in the middle of their exchanges,
//! and nothing the broker acknowledged may be lost, invented or (at QoS 2) delivered twice.
//!
//! Each cycle starts the real binary on the same data directory; two persistent subscribers (MQTT 5 with a Session
//! Expiry Interval, MQTT 3.1.1 with clean session 0) reconnect without subscribing again, a QoS 1 publisher
//! (3.1.1) and a QoS 2 publisher (5.0) send numbered messages (payload: the sequence number) to the subscribed
//! topics, and a third publisher updates retained messages on `retained/N` with increasing counters. After a random
//! 50–400 ms of traffic, roost gets SIGKILL. What the broker acknowledged is what it owns: a PUBACK for QoS 1
//! ([MQTT-4.3.2-4]) and a PUBREC for QoS 2 ([MQTT-4.3.3-8]) with a reason code below 0x80. Publishers start each
//! cycle clean and only count what was acknowledged; what was sent but not acknowledged may or may not arrive.
//!
//! At the end roost is started once more, each subscriber drains its session until nothing arrives for
//! [`QUIET`], a fresh client reads `retained/#`, and then:
//! - every acknowledged QoS 1 and QoS 2 message reached each subscriber at least once;
//! - nothing arrived that was never published;
//! - no QoS 2 message arrived twice (the subscribers implement the receiving side of QoS 2 and keep its state
//!   across reconnects, as a persistent client does: a PUBLISH whose packet id awaits PUBREL is not a new message,
//!   [MQTT-4.3.3-10]);
//! - every retained topic holds a value at least as recent as the last acknowledged update of it.
//!
//! Three tests: the default `sync = "always"`, and `"interval"` and `"never"`, whose kill -9 promise is the same.
//! `ROOST_CRASH_CYCLES` sets the number of cycles (default 20; 8 for the other two modes), `ROOST_CRASH_SEED` the
//! seed of the random kill moments (printed, so a failing run can be repeated). Each test prints a summary on
//! stderr (`--nocapture`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use roost_codec::{
    Ack, BytesMut, ConnAck, Connect, Disconnect, Packet, PacketId, ProtocolVersion, Publish, QoS, QoSPid, ReasonCode,
    Subscribe, SubscriptionOptions, TopicFilter, TopicName,
};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::sync::watch;

/// How long one step (starting roost, a connection, a task ending after the kill) may take on a busy machine.
const STEP: Duration = Duration::from_secs(20);
/// The whole test's bound: [`LIMIT_BASE`] plus [`LIMIT_PER_CYCLE`] for each cycle (90 s for the default 20; a
/// run takes about 10 s on an idle 2-core machine).
const LIMIT_BASE: Duration = Duration::from_secs(30);
const LIMIT_PER_CYCLE: Duration = Duration::from_secs(3);
/// The final drain ends when nothing has arrived for this long.
const QUIET: Duration = Duration::from_secs(1);
/// The random moment of the kill, after the traffic of a cycle started.
const KILL_AFTER_MS: std::ops::RangeInclusive<u64> = 50..=400;
/// QoS 1/2 PUBLISHes a publisher has unacknowledged at once (the broker's Receive Maximum is 64).
const WINDOW: usize = 8;
/// Each publisher may send [`BURST`] more messages every [`BURST_EVERY`]: bursts over the whole cycle instead of
/// everything in its first milliseconds, so the kill lands in the middle of exchanges.
const BURST: u64 = 4;
const BURST_EVERY: Duration = Duration::from_millis(5);
/// The most messages a publisher sends in one cycle (a bound; at the rate above a cycle sends fewer). While a
/// subscriber is connected, roost holds publishers back at its per-session queue limit (1000 messages) instead of
/// dropping, so what is lost is lost to the kill, not to a full queue.
const PER_CYCLE: u64 = 1000;
/// The topics the QoS 1 and QoS 2 publishers send to; the subscribers' one filter covers both.
const TOPIC_QOS1: &str = "crash/qos1";
const TOPIC_QOS2: &str = "crash/qos2";
const FILTER: &str = "crash/+";
/// How many `retained/N` topics the retained publisher cycles through.
const RETAINED_TOPICS: u64 = 4;
/// The subscribers' MQTT 5 Session Expiry Interval: a day, far longer than the test.
const SESSION_EXPIRY: u32 = 86_400;

/// A `roost serve` process on the test's data directory, SIGKILLed when dropped, with its log collected.
struct Roost {
    child: Child,
    log: watch::Receiver<Vec<String>>,
    mqtt: SocketAddr,
}

impl Roost {
    /// Starts roost on `data` with OS-chosen ports and waits for the log line naming the MQTT port; `config`, if
    /// any, is its configuration file (the sync mode).
    async fn start(data: &Path, config: Option<&Path>) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_roost"));
        command.arg("serve");
        if let Some(config) = config {
            command.arg("--config").arg(config);
        }
        let mut child = command
            .arg("--data")
            .arg(data)
            .args([
                "--mqtt",
                "127.0.0.1:0",
                "--http",
                "127.0.0.1:0",
                "--allow-anonymous",
                "true",
            ])
            .env("RUST_LOG", "info")
            .env_remove("RUST_BACKTRACE")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start roost");
        let (tx, log) = watch::channel(Vec::new());
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        // Reads the log to its end, so a full pipe never stops roost.
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                tx.send_modify(|all| all.push(line));
            }
        });
        let mut watching = log.clone();
        let listening = tokio::time::timeout(
            STEP,
            watching.wait_for(|lines| lines.iter().any(|l| l.contains("MQTT listening on "))),
        )
        .await
        .is_ok_and(|seen| seen.is_ok());
        drop(watching);
        assert!(
            listening,
            "roost did not log its MQTT port within {STEP:?}; its log:\n{}",
            log.borrow().join("\n")
        );
        let mqtt = log
            .borrow()
            .iter()
            .find_map(|l| l.split("MQTT listening on ").nth(1))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|addr| addr.parse().ok())
            .expect("an address follows \"MQTT listening on\"");
        Roost { child, log, mqtt }
    }

    /// The last lines roost logged, for failure messages.
    fn log_tail(&self) -> String {
        let log = self.log.borrow();
        log[log.len().saturating_sub(20)..].join("\n")
    }

    /// SIGKILL, after checking roost was still running (it must not have ended by itself).
    async fn kill(mut self) {
        let early = self.child.try_wait().expect("roost's status");
        assert!(
            early.is_none(),
            "roost exited by itself ({early:?}); its log:\n{}",
            self.log_tail()
        );
        self.child.start_kill().expect("SIGKILL roost");
        let status = tokio::time::timeout(STEP, self.child.wait())
            .await
            .expect("roost did not die within a step of SIGKILL")
            .expect("roost's status");
        assert!(!status.success(), "roost exited 0 instead of being killed");
    }

    /// SIGTERM, then exit code 0.
    async fn stop(mut self) {
        let pid = self.child.id().expect("roost running").to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .expect("run kill");
        assert!(sent.success());
        let status = tokio::time::timeout(STEP, self.child.wait())
            .await
            .expect("roost did not stop within a step of SIGTERM")
            .expect("roost's status");
        assert_eq!(status.code(), Some(0), "roost's log:\n{}", self.log_tail());
    }
}

/// What a connection read next.
#[expect(
    clippy::large_enum_variant,
    reason = "one value at a time, returned and matched at once: boxing each packet would buy nothing"
)]
enum Next {
    Packet(Packet),
    /// EOF or a reset: roost was killed (or closed the connection).
    Closed,
    /// Nothing arrived within the wait.
    Quiet,
}

/// One MQTT connection, packets encoded and decoded with roost-codec; writes are batched in `out`.
struct Conn {
    stream: TcpStream,
    version: ProtocolVersion,
    input: BytesMut,
    out: BytesMut,
}

impl Conn {
    /// Connects and returns the CONNACK, which must accept the connection.
    async fn open(addr: SocketAddr, connect: Connect) -> (Self, ConnAck) {
        let who = connect.client_id.to_string();
        let stream = tokio::time::timeout(STEP, TcpStream::connect(addr))
            .await
            .unwrap_or_else(|_| panic!("{who}: TCP connect timed out"))
            .unwrap_or_else(|e| panic!("{who}: TCP connect: {e}"));
        let mut conn = Conn {
            stream,
            version: connect.protocol,
            input: BytesMut::new(),
            out: BytesMut::new(),
        };
        conn.queue(Packet::Connect(Box::new(connect)));
        conn.flush()
            .await
            .unwrap_or_else(|e| panic!("{who}: sending CONNECT: {e}"));
        match conn.next(STEP).await {
            Next::Packet(Packet::ConnAck(connack)) if !connack.reason_code.is_error() => (conn, connack),
            Next::Packet(other) => panic!("{who}: expected a successful CONNACK, got {other:?}"),
            Next::Closed => panic!("{who}: closed before CONNACK"),
            Next::Quiet => panic!("{who}: no CONNACK within {STEP:?}"),
        }
    }

    fn queue(&mut self, packet: Packet) {
        packet.encode(self.version, &mut self.out, u32::MAX).expect("encode");
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        if !self.out.is_empty() {
            self.stream.write_all(&self.out).await?;
            self.out.clear();
        }
        Ok(())
    }

    /// The next packet from the broker, waiting at most `wait`.
    async fn next(&mut self, wait: Duration) -> Next {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match Packet::decode(&mut self.input, self.version, u32::MAX) {
                Ok(Some(packet)) => return Next::Packet(packet),
                Ok(None) => {}
                Err(e) => panic!("the broker sent an invalid packet: {e}"),
            }
            match tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.input)).await {
                Err(_) => return Next::Quiet,
                Ok(Ok(0) | Err(_)) => return Next::Closed,
                Ok(Ok(_)) => {}
            }
        }
    }
}

fn pid(id: u16) -> PacketId {
    PacketId::new(id).expect("non-zero")
}

/// A publisher: a clean session each cycle; the sequence numbers go on across cycles, so each message is unique.
struct Publisher {
    client_id: &'static str,
    version: ProtocolVersion,
    qos: QoS,
    /// Retained updates on `retained/N` instead of messages on `topic`.
    retained: bool,
    topic: &'static str,
    next: u64,
    /// Every message handed to the connection (it may or may not have reached the broker), by topic.
    sent: BTreeMap<String, BTreeSet<u64>>,
    /// PUBACK / PUBREC with a reason code below 0x80: the broker owns these.
    acked: BTreeMap<String, BTreeSet<u64>>,
    /// PUBACK / PUBREC with a reason code of 0x80 or more.
    refused: u64,
    /// QoS 2 messages whose PUBREL was sent but whose PUBCOMP never came: the connection broke between. A broker
    /// that routes a QoS 2 message only at PUBREL (the standard's "method B") loses these when the publisher
    /// starts clean; roost routes at PUBLISH, before its PUBREC, so for roost they are owned like the others.
    released_unfinished: BTreeSet<u64>,
}

impl Publisher {
    fn new(client_id: &'static str, version: ProtocolVersion, qos: QoS, topic: &'static str) -> Self {
        Publisher {
            client_id,
            version,
            qos,
            retained: false,
            topic,
            next: 1,
            sent: BTreeMap::new(),
            acked: BTreeMap::new(),
            refused: 0,
            released_unfinished: BTreeSet::new(),
        }
    }

    fn topic_of(&self, seq: u64) -> String {
        if self.retained {
            format!("retained/{}", seq % RETAINED_TOPICS)
        } else {
            self.topic.to_owned()
        }
    }

    fn count(map: &BTreeMap<String, BTreeSet<u64>>) -> usize {
        map.values().map(BTreeSet::len).sum()
    }

    /// Connects with a clean start (nothing of an earlier cycle is resent: what was not acknowledged is simply not
    /// counted), then publishes until the connection breaks.
    async fn connect(self, addr: SocketAddr) -> (Self, Conn) {
        let mut connect = Connect::new(self.version, self.client_id);
        connect.clean_start = true;
        let (conn, connack) = Conn::open(addr, connect).await;
        // [MQTT-3.2.2-2]: a clean start never resumes a session.
        assert!(
            !connack.session_present,
            "{}: session present after a clean start",
            self.client_id
        );
        (self, conn)
    }

    async fn run(mut self, conn: Conn) -> Self {
        // Packet id -> (sequence number, PUBREL sent, when the PUBLISH went out).
        let mut inflight = HashMap::new();
        self.exchange(conn, &mut inflight).await;
        self.released_unfinished.extend(
            inflight
                .values()
                .filter(|(_, released, _)| *released)
                .map(|(seq, _, _)| *seq),
        );
        self
    }

    async fn exchange(&mut self, mut conn: Conn, inflight: &mut HashMap<u16, (u64, bool, Instant)>) {
        let mut next_id: u16 = 0;
        let mut this_cycle = 0;
        // The traffic comes in bursts spread over the cycle, so the kill finds exchanges at every stage.
        let mut allowed = 0;
        let mut ticker = tokio::time::interval(BURST_EVERY);
        loop {
            while inflight.len() < WINDOW && this_cycle < allowed.min(PER_CYCLE) {
                let seq = self.next;
                self.next += 1;
                this_cycle += 1;
                let id = loop {
                    next_id = next_id.checked_add(1).unwrap_or(1);
                    if !inflight.contains_key(&next_id) {
                        break next_id;
                    }
                };
                let topic = self.topic_of(seq);
                let mut publish = Publish::new(TopicName::new(topic.clone()).unwrap(), seq.to_string().into_bytes());
                publish.qos_pid = QoSPid::new(self.qos, pid(id));
                publish.retain = self.retained;
                conn.queue(Packet::Publish(publish));
                self.sent.entry(topic).or_default().insert(seq);
                inflight.insert(id, (seq, false, Instant::now()));
            }
            if conn.flush().await.is_err() {
                return;
            }
            let next = tokio::select! {
                next = conn.next(STEP) => next,
                _ = ticker.tick() => {
                    allowed += BURST;
                    let oldest = inflight.values().map(|(_, _, at)| at.elapsed()).max();
                    assert!(
                        oldest.is_none_or(|age| age < STEP),
                        "{}: roost left a PUBLISH unacknowledged for {STEP:?}",
                        self.client_id
                    );
                    continue;
                }
            };
            let packet = match next {
                Next::Packet(packet) => packet,
                Next::Closed => return,
                Next::Quiet => continue,
            };
            match packet {
                Packet::PubAck(ack) if self.qos == QoS::AtLeastOnce => {
                    let Some((seq, _, _)) = inflight.remove(&ack.packet_id.get()) else {
                        panic!(
                            "{}: PUBACK for packet id {} not in flight",
                            self.client_id, ack.packet_id
                        );
                    };
                    self.acknowledged(seq, ack.reason_code);
                }
                Packet::PubRec(ack) if self.qos == QoS::ExactlyOnce => {
                    let id = ack.packet_id.get();
                    let Some((seq, released, _)) = inflight.get_mut(&id) else {
                        panic!("{}: PUBREC for packet id {id} not in flight", self.client_id);
                    };
                    assert!(!*released, "{}: a second PUBREC for packet id {id}", self.client_id);
                    let seq = *seq;
                    if ack.reason_code.is_error() {
                        // [MQTT-4.4.0-2]: a failure code ends the exchange; no PUBREL.
                        inflight.remove(&id);
                    } else {
                        // [MQTT-4.3.3-4]: release it; the id stays in use until PUBCOMP ([MQTT-4.3.3-5]).
                        *released = true;
                        conn.queue(Packet::PubRel(Ack::new(ack.packet_id)));
                    }
                    self.acknowledged(seq, ack.reason_code);
                }
                Packet::PubComp(ack) if self.qos == QoS::ExactlyOnce => {
                    let id = ack.packet_id.get();
                    let released = inflight.remove(&id).is_some_and(|(_, released, _)| released);
                    assert!(released, "{}: PUBCOMP for packet id {id} not released", self.client_id);
                }
                // Roost says it is going away (it is not asked to here, but that is not a loss).
                Packet::Disconnect(_) => return,
                other => panic!("{}: unexpected {other:?}", self.client_id),
            }
        }
    }

    fn acknowledged(&mut self, seq: u64, reason: ReasonCode) {
        if reason.is_error() {
            self.refused += 1;
        } else {
            self.acked.entry(self.topic_of(seq)).or_default().insert(seq);
        }
    }
}

/// A persistent subscriber: subscribes in the first cycle only, then resumes its session on each reconnect.
struct Subscriber {
    client_id: &'static str,
    version: ProtocolVersion,
    /// How often each (topic, sequence number) was delivered to the application.
    receipts: BTreeMap<(String, u64), u32>,
    /// The receiving side of QoS 2, kept across reconnects: packet id -> the (topic, sequence number) it carried,
    /// PUBREC sent and PUBREL not yet received ([MQTT-4.3.3-8], [MQTT-4.3.3-10]).
    awaiting_pubrel: HashMap<u16, (String, u64)>,
    /// PUBLISHes for a packet id awaiting PUBREL: resends, not delivered again.
    redeliveries: u64,
    /// Cycles whose CONNACK said no session although one was expected.
    sessions_lost: Vec<usize>,
    /// Things that must not happen, each described.
    violations: Vec<String>,
}

impl Subscriber {
    fn new(client_id: &'static str, version: ProtocolVersion) -> Self {
        Subscriber {
            client_id,
            version,
            receipts: BTreeMap::new(),
            awaiting_pubrel: HashMap::new(),
            redeliveries: 0,
            sessions_lost: Vec::new(),
            violations: Vec::new(),
        }
    }

    /// Connects; in `cycle` 0 starts the session and subscribes, later resumes it.
    async fn connect(mut self, addr: SocketAddr, cycle: usize) -> (Self, Conn) {
        let mut connect = Connect::new(self.version, self.client_id);
        if self.version == ProtocolVersion::V5 {
            // [MQTT-3.1.2-4]: clean start once; afterwards the session must be resumed. The Session Expiry Interval
            // keeps it after the connection ends ([MQTT-4.1.0-2]).
            connect.clean_start = cycle == 0;
            connect.properties.session_expiry_interval = Some(SESSION_EXPIRY);
        } else {
            // MQTT 3.1.1: clean session 0 from the start, or the session would end with the first connection.
            connect.clean_start = false;
        }
        let (mut conn, connack) = Conn::open(addr, connect).await;
        if cycle > 0 && !connack.session_present {
            // [MQTT-3.2.2-3]: a stored session is resumed and CONNACK says so.
            self.sessions_lost.push(cycle);
            // Section 3.2.2.1.1: a client told there is no session discards its own session state.
            self.awaiting_pubrel.clear();
        }
        if cycle == 0 {
            assert!(
                !connack.session_present,
                "{}: a session in a new data directory",
                self.client_id
            );
            conn.queue(Packet::Subscribe(Subscribe {
                packet_id: pid(1),
                properties: Default::default(),
                filters: vec![(
                    Ok(TopicFilter::new(FILTER).unwrap()),
                    SubscriptionOptions::qos(QoS::ExactlyOnce),
                )],
            }));
            conn.flush().await.expect("send SUBSCRIBE");
            match conn.next(STEP).await {
                Next::Packet(Packet::SubAck(suback)) => {
                    assert_eq!(suback.reason_codes, [ReasonCode::GrantedQoS2], "{}", self.client_id)
                }
                _ => panic!("{}: no SUBACK", self.client_id),
            }
        }
        (self, conn)
    }

    /// Receives and acknowledges until the connection breaks or, with `quiet`, until the session is drained; then
    /// disconnects normally (the session stays: its expiry interval is a day).
    ///
    /// Drained: nothing arrived for `quiet`, and then a PINGREQ was answered with nothing before its PINGRESP (roost
    /// answers in order, so a stalled but not empty queue on a busy machine does not pass for an empty one).
    async fn run(mut self, mut conn: Conn, quiet: Option<Duration>) -> Self {
        // When the drain's PINGREQ went out, and whether anything arrived since.
        let mut ping: Option<(Instant, bool)> = None;
        loop {
            if conn.flush().await.is_err() {
                return self;
            }
            let packet = match conn.next(quiet.unwrap_or(STEP)).await {
                Next::Packet(packet) => packet,
                Next::Closed => return self,
                Next::Quiet if quiet.is_some() => {
                    match ping {
                        None => {
                            conn.queue(Packet::PingReq);
                            ping = Some((Instant::now(), false));
                        }
                        Some((sent, _)) => {
                            assert!(sent.elapsed() < STEP, "{}: no PINGRESP within {STEP:?}", self.client_id)
                        }
                    }
                    continue;
                }
                // During a cycle the publishers may be done before the kill.
                Next::Quiet => continue,
            };
            if let Packet::PingResp = packet {
                match ping.take() {
                    Some((_, false)) => {
                        conn.queue(Packet::Disconnect(Disconnect::new(ReasonCode::NORMAL_DISCONNECTION)));
                        let _ = conn.flush().await;
                        return self;
                    }
                    // Something came in before the PINGRESP: wait for quiet again.
                    Some((_, true)) => continue,
                    None => panic!("{}: PINGRESP without PINGREQ", self.client_id),
                }
            }
            if let Some((_, arrived)) = &mut ping {
                *arrived = true;
            }
            match packet {
                Packet::Publish(publish) => self.receive(&mut conn, publish),
                Packet::PubRel(ack) => {
                    let id = ack.packet_id.get();
                    // [MQTT-4.3.3-11]: PUBCOMP with the same id; after it the id names a new message
                    // ([MQTT-4.3.3-12]). An id not awaiting PUBREL gets 0x92 in MQTT 5.
                    let mut comp = Ack::new(ack.packet_id);
                    if self.awaiting_pubrel.remove(&id).is_none() && self.version == ProtocolVersion::V5 {
                        comp.reason_code = ReasonCode::PacketIdentifierNotFound;
                    }
                    conn.queue(Packet::PubComp(comp));
                }
                Packet::Disconnect(_) => return self,
                other => panic!("{}: unexpected {other:?}", self.client_id),
            }
        }
    }

    fn receive(&mut self, conn: &mut Conn, publish: Publish) {
        let topic = publish.topic.as_str().to_owned();
        let text = String::from_utf8_lossy(&publish.payload).into_owned();
        let Ok(seq) = text.parse::<u64>() else {
            self.violations
                .push(format!("a message nobody published: {topic} {text:?}"));
            return;
        };
        let expected = match topic.as_str() {
            TOPIC_QOS1 => Some(QoS::AtLeastOnce),
            TOPIC_QOS2 => Some(QoS::ExactlyOnce),
            _ => None,
        };
        match expected {
            None => self
                .violations
                .push(format!("a message on a topic not subscribed: {topic} {seq}")),
            // [MQTT-3.8.4-8]: delivered at the lower of the published and the granted QoS (2).
            Some(qos) if qos != publish.qos() => self
                .violations
                .push(format!("{topic} {seq} delivered at {:?}, not {qos:?}", publish.qos())),
            Some(_) => {}
        }
        match publish.qos_pid {
            QoSPid::AtMostOnce => self.deliver(topic, seq),
            QoSPid::AtLeastOnce(id) => {
                // [MQTT-4.3.2-4]: PUBACK once the message is ours.
                self.deliver(topic, seq);
                conn.queue(Packet::PubAck(Ack::new(id)));
            }
            QoSPid::ExactlyOnce(id) => {
                if let Some(first) = self.awaiting_pubrel.get(&id.get()) {
                    // [MQTT-4.3.3-10]: until PUBREL, the same packet id is the same message: PUBREC again, do not
                    // deliver it again. A different message under that id would be lost here: say so.
                    self.redeliveries += 1;
                    if *first != (topic.clone(), seq) {
                        self.violations.push(format!(
                            "packet id {id} awaiting PUBREL (for {first:?}) reused for {topic} {seq}"
                        ));
                    }
                    if !publish.dup {
                        // [MQTT-4.4.0-1], [MQTT-3.3.1-1]: a resend carries DUP 1.
                        self.violations
                            .push(format!("{topic} {seq} sent again under packet id {id} with DUP 0"));
                    }
                } else {
                    // [MQTT-4.3.3-8]: ownership taken with PUBREC.
                    self.deliver(topic.clone(), seq);
                    self.awaiting_pubrel.insert(id.get(), (topic, seq));
                }
                conn.queue(Packet::PubRec(Ack::new(id)));
            }
        }
    }

    fn deliver(&mut self, topic: String, seq: u64) {
        *self.receipts.entry((topic, seq)).or_default() += 1;
    }
}

/// xorshift64*: the random kill moments, repeatable from the printed seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

/// Subscribes a new clean client to `retained/#` and returns the value each retained topic holds.
async fn retained_values(addr: SocketAddr) -> BTreeMap<String, String> {
    let (mut conn, _) = Conn::open(addr, Connect::new(ProtocolVersion::V5, "crash-retained-check")).await;
    conn.queue(Packet::Subscribe(Subscribe {
        packet_id: pid(1),
        properties: Default::default(),
        filters: vec![(
            Ok(TopicFilter::new("retained/#").unwrap()),
            SubscriptionOptions::qos(QoS::AtLeastOnce),
        )],
    }));
    conn.flush().await.expect("send SUBSCRIBE");
    let mut values = BTreeMap::new();
    // [MQTT-3.3.1-9]: the retained messages follow the SUBACK; all topics, or a quiet second, end the wait.
    while values.len() < RETAINED_TOPICS as usize {
        match conn.next(QUIET).await {
            Next::Packet(Packet::SubAck(_)) => {}
            Next::Packet(Packet::Publish(publish)) => {
                if let Some(id) = publish.qos_pid.packet_id() {
                    conn.queue(Packet::PubAck(Ack::new(id)));
                    conn.flush().await.expect("send PUBACK");
                }
                values.insert(
                    publish.topic.as_str().to_owned(),
                    String::from_utf8_lossy(&publish.payload).into_owned(),
                );
            }
            Next::Packet(other) => panic!("retained check: unexpected {other:?}"),
            Next::Closed => panic!("retained check: connection closed"),
            Next::Quiet => break,
        }
    }
    conn.queue(Packet::Disconnect(Disconnect::new(ReasonCode::NORMAL_DISCONNECTION)));
    let _ = conn.flush().await;
    values
}

/// Awaits a client task that ends when roost is killed (or its drain goes quiet).
async fn join<T>(task: tokio::task::JoinHandle<T>, what: &str) -> T {
    tokio::time::timeout(STEP, task)
        .await
        .unwrap_or_else(|_| panic!("{what} did not end within {STEP:?} of the kill"))
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_moments_loses_nothing_acknowledged() {
    crash_test(None, 20).await;
}

/// README: with `sync = "interval"` or `"never"` kill -9 loses nothing acknowledged either (nothing waits in a
/// buffer inside roost when the acknowledgement is sent; only a power cut can lose what the kernel holds). Fewer
/// cycles than the default mode's test, to keep the suite short.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_loses_nothing_acknowledged_with_sync_interval() {
    crash_test(Some("sync = \"interval\"\nsync_interval_ms = 200\n"), 8).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_loses_nothing_acknowledged_with_sync_never() {
    crash_test(Some("sync = \"never\"\n"), 8).await;
}

/// `storage`: the `[storage]` settings other than `dir`, `None` for the defaults; `default_cycles` unless
/// `ROOST_CRASH_CYCLES` says otherwise.
async fn crash_test(storage: Option<&str>, default_cycles: usize) {
    let cycles: usize = std::env::var("ROOST_CRASH_CYCLES")
        .map(|v| v.parse().expect("ROOST_CRASH_CYCLES is a number"))
        .unwrap_or(default_cycles);
    assert!(cycles >= 1, "ROOST_CRASH_CYCLES must be at least 1");
    let limit = LIMIT_BASE + LIMIT_PER_CYCLE * cycles as u32;
    tokio::time::timeout(limit, crash_cycles(cycles, storage))
        .await
        .unwrap_or_else(|_| panic!("{cycles} crash cycles took longer than {limit:?}"));
}

async fn crash_cycles(cycles: usize, storage: Option<&str>) {
    let started = Instant::now();
    let seed: u64 = std::env::var("ROOST_CRASH_SEED")
        .map(|v| v.parse().expect("ROOST_CRASH_SEED is a number"))
        .unwrap_or_else(|_| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("crash: {cycles} cycles, ROOST_CRASH_SEED={seed}");
    let mut rng = Rng(seed | 1);

    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let config = storage.map(|storage| {
        let path = tmp.path().join("roost.toml");
        std::fs::write(&path, format!("[auth]\nallow_anonymous = true\n[storage]\n{storage}")).unwrap();
        path
    });
    eprintln!("crash: [storage] {}", storage.unwrap_or("defaults").replace('\n', " "));
    let mut subscribers = vec![
        Subscriber::new("crash-sub-v5", ProtocolVersion::V5),
        Subscriber::new("crash-sub-v311", ProtocolVersion::V311),
    ];
    let mut retained = Publisher::new("crash-pub-retained", ProtocolVersion::V5, QoS::AtLeastOnce, "");
    retained.retained = true;
    let mut publishers = vec![
        Publisher::new("crash-pub-qos1", ProtocolVersion::V311, QoS::AtLeastOnce, TOPIC_QOS1),
        Publisher::new("crash-pub-qos2", ProtocolVersion::V5, QoS::ExactlyOnce, TOPIC_QOS2),
        retained,
    ];
    let mut kill_delays = Vec::new();

    for cycle in 0..cycles {
        let roost = Roost::start(&data, config.as_deref()).await;
        // The subscribers are back before anything is published, so what is published reaches live sessions.
        let mut sub_tasks = Vec::new();
        for subscriber in subscribers.drain(..) {
            let (subscriber, conn) = subscriber.connect(roost.mqtt, cycle).await;
            sub_tasks.push(tokio::spawn(subscriber.run(conn, None)));
        }
        let mut pub_tasks = Vec::new();
        for publisher in publishers.drain(..) {
            let (publisher, conn) = publisher.connect(roost.mqtt).await;
            pub_tasks.push(tokio::spawn(publisher.run(conn)));
        }
        // The point of the test: a kill at a moment nobody chose, in the middle of the traffic.
        let delay = KILL_AFTER_MS.start() + rng.below(KILL_AFTER_MS.end() - KILL_AFTER_MS.start() + 1);
        kill_delays.push(delay);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        roost.kill().await;
        for task in sub_tasks {
            subscribers.push(join(task, &format!("cycle {cycle}: a subscriber")).await);
        }
        for task in pub_tasks {
            publishers.push(join(task, &format!("cycle {cycle}: a publisher")).await);
        }
    }

    // A clean start after the last kill: the subscribers drain their sessions, a new client reads the retained
    // messages, and roost stops normally.
    let roost = Roost::start(&data, config.as_deref()).await;
    for subscriber in subscribers.iter_mut() {
        let taken = std::mem::replace(subscriber, Subscriber::new("", ProtocolVersion::V5));
        let (taken, conn) = taken.connect(roost.mqtt, cycles).await;
        *subscriber = join(tokio::spawn(taken.run(conn, Some(QUIET))), "the final drain").await;
    }
    let retained_now = retained_values(roost.mqtt).await;
    roost.stop().await;

    // The verdict: every violation at once, so a failure shows all of what was lost.
    let [qos1, qos2, retained] = &publishers[..] else {
        unreachable!()
    };
    let mut violations = Vec::new();
    let mut summary = format!(
        "crash summary: {cycles} cycles in {:.1?} (kills after {}..{} ms)\n",
        started.elapsed(),
        kill_delays.iter().min().unwrap(),
        kill_delays.iter().max().unwrap()
    );
    for publisher in [qos1, qos2, retained] {
        summary += &format!(
            "  {}: published {}, acknowledged {}, refused {}, QoS 2 released but not completed at a kill {}\n",
            publisher.client_id,
            Publisher::count(&publisher.sent),
            Publisher::count(&publisher.acked),
            publisher.refused,
            publisher.released_unfinished.len()
        );
    }
    for subscriber in &subscribers {
        let mut missing = Vec::new();
        for publisher in [qos1, qos2] {
            for (topic, acked) in &publisher.acked {
                let lost: Vec<u64> = acked
                    .iter()
                    .copied()
                    .filter(|seq| !subscriber.receipts.contains_key(&(topic.clone(), *seq)))
                    .collect();
                if !lost.is_empty() {
                    let released = lost
                        .iter()
                        .filter(|seq| publisher.released_unfinished.contains(seq))
                        .count();
                    missing.push(format!(
                        "{} of {} acknowledged messages on {topic} never arrived, {released} of them PUBREL sent \
                         and no PUBCOMP at a kill (first: {:?})",
                        lost.len(),
                        acked.len(),
                        &lost[..lost.len().min(10)]
                    ));
                }
            }
        }
        let invented: Vec<&(String, u64)> = subscriber
            .receipts
            .keys()
            .filter(|(topic, seq)| {
                !publishers
                    .iter()
                    .any(|p| p.sent.get(topic).is_some_and(|s| s.contains(seq)))
            })
            .collect();
        let qos2_twice: Vec<&(String, u64)> = subscriber
            .receipts
            .iter()
            .filter(|((topic, _), n)| topic == TOPIC_QOS2 && **n > 1)
            .map(|(key, _)| key)
            .collect();
        let qos1_duplicates: u32 = subscriber
            .receipts
            .iter()
            .filter(|((topic, _), _)| topic == TOPIC_QOS1)
            .map(|(_, n)| n - 1)
            .sum();
        summary += &format!(
            "  {}: received {} messages ({} deliveries), QoS 1 duplicates {}, QoS 2 resends not delivered again \
             {}, sessions lost {}\n",
            subscriber.client_id,
            subscriber.receipts.len(),
            subscriber.receipts.values().sum::<u32>(),
            qos1_duplicates,
            subscriber.redeliveries,
            subscriber.sessions_lost.len()
        );
        let who = subscriber.client_id;
        if !subscriber.sessions_lost.is_empty() {
            violations.push(format!(
                "{who}: CONNACK said session present 0 for the persistent session after {} of {} restarts \
                 (cycles {:?}; [MQTT-3.2.2-3])",
                subscriber.sessions_lost.len(),
                cycles,
                subscriber.sessions_lost
            ));
        }
        violations.extend(subscriber.violations.iter().map(|v| format!("{who}: {v}")));
        violations.extend(
            missing
                .into_iter()
                .map(|m| format!("{who}: {m} ([MQTT-4.3.2-4], [MQTT-4.3.3-8])")),
        );
        if !invented.is_empty() {
            violations.push(format!(
                "{who}: {} messages never published arrived: {:?}",
                invented.len(),
                &invented[..invented.len().min(10)]
            ));
        }
        if !qos2_twice.is_empty() {
            violations.push(format!(
                "{who}: {} QoS 2 messages delivered more than once (exactly once, section 4.3.3): {:?}",
                qos2_twice.len(),
                &qos2_twice[..qos2_twice.len().min(10)]
            ));
        }
    }
    summary += &format!("  retained now: {retained_now:?}\n");
    for n in 0..RETAINED_TOPICS {
        let topic = format!("retained/{n}");
        let last_acked = retained.acked.get(&topic).and_then(|s| s.last().copied());
        let sent = retained.sent.get(&topic);
        match (retained_now.get(&topic), last_acked) {
            (None, None) => {}
            (None, Some(acked)) => violations.push(format!(
                "{topic}: no retained message, though update {acked} was acknowledged ([MQTT-3.3.1-5])"
            )),
            (Some(value), _) => {
                let value_seq = value.parse::<u64>().ok();
                if !value_seq.is_some_and(|v| sent.is_some_and(|s| s.contains(&v))) {
                    violations.push(format!("{topic}: retained {value:?} was never published there"));
                } else if let (Some(v), Some(acked)) = (value_seq, last_acked)
                    && v < acked
                {
                    violations.push(format!(
                        "{topic}: retained {v} is older than the acknowledged update {acked} ([MQTT-3.3.1-5])"
                    ));
                }
            }
        }
    }
    eprint!("{summary}");
    assert!(
        violations.is_empty(),
        "{} violations after {cycles} SIGKILLs (ROOST_CRASH_SEED={seed}):\n  {}\n{summary}",
        violations.len(),
        violations.join("\n  ")
    );
}
