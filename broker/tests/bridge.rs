//! Bridges (`[[bridge]]`) between two Roosts, and between Roost and a real Mosquitto (Debian's
//! `/usr/sbin/mosquitto`, started here on loopback ports) in both directions: topic mapping with prefixes, QoS 1
//! and 2 through restarts of either side with nothing lost, loop prevention with a bridge each way, Mosquitto's
//! own bridge into Roost, and the state in `$SYS`, `/metrics` and `GET /api/v1/bridges`.
//!
//! No sleeps stand in for a condition: a bridge is known to be up when its retained
//! `$SYS/broker/connection/<name>/state` reads "1" (set once both sides have answered its subscriptions), and
//! Mosquitto when it logs what it did; each wait is bounded and fails with what it saw.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::*;
use roost_broker::Config;
use roost_codec::{Ack, Bytes, Packet, ProtocolVersion, QoS, QoSPid};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::sync::watch;

/// How long a bridge may take to (re)connect: its back-off after a few failed attempts is up to 8 s.
const RECONNECT: Duration = Duration::from_secs(40);

/// A Mosquitto broker on a loopback port, with persistence in its own directory, so a restart keeps its
/// sessions. Killed on drop.
struct Mosquitto {
    port: u16,
    dir: tempfile::TempDir,
    /// Extra configuration lines (a bridge).
    extra: String,
    child: Option<Child>,
    log: watch::Receiver<Vec<String>>,
}

impl Mosquitto {
    /// Starts one on a port found free; Mosquitto cannot pick its own, so when the port is taken before it binds
    /// it, it exits and the start is tried again with another, at most 5 times.
    async fn start(extra: &str) -> Self {
        let mut dir = tempfile::tempdir().unwrap();
        let mut failures = Vec::new();
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let mut mosquitto = Mosquitto {
                port,
                dir,
                extra: extra.to_owned(),
                child: None,
                log: watch::channel(Vec::new()).1,
            };
            match mosquitto.run().await {
                Ok(()) => return mosquitto,
                Err(log) => failures.push(log),
            }
            dir = mosquitto.take_dir();
        }
        panic!("mosquitto did not start in 5 attempts: {failures:#?}");
    }

    fn take_dir(self) -> tempfile::TempDir {
        let Mosquitto { dir, .. } = self;
        dir
    }

    /// Starts the process on `self.port`; `Err` with its log when it exits instead of running.
    async fn run(&mut self) -> Result<(), Vec<String>> {
        // Mosquitto started as root drops to the `mosquitto` user, which must be able to write its database here.
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(self.dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let conf = self.dir.path().join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location {}/\n\
                 log_dest stderr\nlog_type all\n{}",
                self.port,
                self.dir.path().display(),
                self.extra
            ),
        )
        .unwrap();
        let mut child = Command::new("/usr/sbin/mosquitto")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start /usr/sbin/mosquitto");
        let (tx, log) = watch::channel(Vec::new());
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                tx.send_modify(|log| log.push(line));
            }
        });
        self.log = log;
        let mut watching = self.log.clone();
        // " running" once its listener is open; its stderr closes (the watch's sender is dropped) when it exits,
        // e.g. because the port was taken.
        let outcome = tokio::time::timeout(
            STEP,
            watching.wait_for(|lines| lines.iter().any(|l| l.ends_with(" running"))),
        )
        .await;
        let running = matches!(&outcome, Ok(Ok(_)));
        self.child = Some(child);
        if running {
            Ok(())
        } else {
            self.kill().await;
            Err(self.log.borrow().clone())
        }
    }

    /// Stops it with SIGTERM, as a service manager does, so it saves its sessions, and waits for it to exit.
    async fn stop(&mut self) {
        let mut child = self.child.take().expect("running");
        let pid = child.id().expect("running") as i32;
        let pid = rustix::process::Pid::from_raw(pid).expect("a pid");
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("SIGTERM");
        within(child.wait()).await.expect("mosquitto exits");
    }

    async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    /// Starts it again on the same port with the same directory.
    async fn restart(&mut self) {
        if let Err(log) = self.run().await {
            panic!("mosquitto did not restart on port {}: {log:#?}", self.port);
        }
    }

    /// Waits until it logs a line containing `needle`.
    async fn wait_for_log(&self, needle: &str) {
        let mut log = self.log.clone();
        let found = tokio::time::timeout(
            RECONNECT,
            log.wait_for(|lines| lines.iter().any(|l| l.contains(needle))),
        )
        .await;
        assert!(
            matches!(found, Ok(Ok(_))),
            "mosquitto never logged {needle:?}; log: {:#?}",
            self.log.borrow()
        );
    }

    fn addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], self.port))
    }
}

/// A Roost with `toml` (bridges) as its configuration, open to anonymous clients.
async fn roost(toml: &str) -> TestBroker {
    TestBroker::start_with(Config::from_toml(toml).unwrap_or_else(|e| panic!("{e}\n{toml}"))).await
}

/// A Roost with `toml` and its store in `dir`.
async fn roost_stored(toml: &str, dir: &Path) -> TestBroker {
    let mut config = Config::from_toml(toml).unwrap();
    config.storage.dir = Some(dir.to_path_buf());
    TestBroker::start_with(config).await
}

/// Waits until `broker`'s bridge `name` reports `state` ("1" connected, "0" not) in `$SYS`.
async fn wait_bridge_state(broker: &TestBroker, name: &str, state: &str) {
    let mut watcher = RawClient::clean(broker, ProtocolVersion::V5, &format!("watch-{name}")).await;
    watcher
        .subscribe(&format!("$SYS/broker/connection/{name}/state"), QoS::AtMostOnce)
        .await;
    let wait = async {
        loop {
            if let Packet::Publish(publish) = watcher.recv_unbounded().await
                && publish.payload == state.as_bytes()
            {
                return;
            }
        }
    };
    if tokio::time::timeout(RECONNECT, wait).await.is_err() {
        panic!(
            "bridge {name} never reported state {state}; API: {}",
            call(broker, "/api/v1/bridges").await.1
        );
    }
}

/// One message as a subscriber sees it: topic, payload, QoS, retain.
type Seen = (String, String, u8, bool);

/// Receives the next message on `client`, acknowledging it (QoS 1: PUBACK; QoS 2: PUBREC, and PUBCOMP for each
/// PUBREL met on the way).
async fn next_message(client: &mut RawClient) -> Seen {
    loop {
        match client.recv_unbounded().await {
            Packet::Publish(p) => {
                match p.qos_pid {
                    QoSPid::AtMostOnce => {}
                    QoSPid::AtLeastOnce(id) => client.send(Packet::PubAck(Ack::new(id))).await,
                    QoSPid::ExactlyOnce(id) => client.send(Packet::PubRec(Ack::new(id))).await,
                }
                return (
                    p.topic.as_str().to_owned(),
                    String::from_utf8_lossy(&p.payload).into_owned(),
                    p.qos_pid.qos() as u8,
                    p.retain,
                );
            }
            Packet::PubRel(ack) => client.send(Packet::PubComp(Ack::new(ack.packet_id))).await,
            other => panic!("expected PUBLISH, got {other:?}"),
        }
    }
}

/// Proves no message is pending on `client` (PINGRESP comes in order after anything queued before it), finishing
/// the QoS 2 exchanges still open (PUBREL → PUBCOMP) on the way.
async fn quiet(client: &mut RawClient) {
    client.send(Packet::PingReq).await;
    loop {
        match client.recv().await {
            Packet::PingResp => return,
            Packet::PubRel(ack) => client.send(Packet::PubComp(Ack::new(ack.packet_id))).await,
            other => panic!("expected nothing before PINGRESP, got {other:?}"),
        }
    }
}

/// Receives messages until one has payload `last`; returns them all, `last` included.
async fn messages_until(client: &mut RawClient, last: &str) -> Vec<Seen> {
    let mut seen = Vec::new();
    let collect = async {
        loop {
            let message = next_message(client).await;
            let done = message.1 == last;
            seen.push(message);
            if done {
                return;
            }
        }
    };
    if tokio::time::timeout(RECONNECT, collect).await.is_err() {
        panic!("{last:?} never arrived; got {seen:?}");
    }
    seen
}

/// A PUBLISH with a packet id of its own.
fn message(topic: &str, qos: QoS, id: u16, payload: String) -> roost_codec::Publish {
    let mut p = publish(topic, qos, b"");
    p.payload = Bytes::from(payload);
    if qos != QoS::AtMostOnce {
        p.qos_pid = QoSPid::new(qos, pid(id));
    }
    p
}

/// `GET path` on the broker's HTTP port from loopback (no users exist, so the admin API answers): status and JSON.
async fn call(broker: &TestBroker, path: &str) -> (u16, serde_json::Value) {
    let (status, body) = http_request(broker, "GET", path, &[]).await;
    let json = serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body));
    (status, json)
}

/// The plain text of `/metrics`.
async fn metrics(broker: &TestBroker) -> String {
    match call(broker, "/metrics").await {
        (200, serde_json::Value::String(text)) => text,
        other => panic!("/metrics: {other:?}"),
    }
}

fn bridge_to(name: &str, addr: std::net::SocketAddr, version: &str, topics: &[&str]) -> String {
    let topics: Vec<String> = topics.iter().map(|t| format!("{t:?}")).collect();
    format!(
        "[[bridge]]\nname = \"{name}\"\naddress = \"mqtt://{addr}\"\nclient_id = \"{name}-client\"\nversion = \"{version}\"\n\
         topics = [{}]\n",
        topics.join(", ")
    )
}

#[tokio::test]
async fn two_roosts_map_topics_with_prefixes_both_ways() {
    let remote = roost("").await;
    let local = roost(&bridge_to(
        "site",
        remote.mqtt,
        "5",
        &[
            "sensors/# out 1 home/ site1/",
            "cmnd/# in 2 home/ site1/",
            "\"\" out 1 local/state remote/state",
            "$aws/things/# out 1",
        ],
    ))
    .await;
    wait_bridge_state(&local, "site", "1").await;

    // Out: home/sensors/# here is site1/sensors/# there; retained stays retained, QoS is the lower of the two.
    let mut there = RawClient::clean(&remote, ProtocolVersion::V5, "there").await;
    there.subscribe("#", QoS::ExactlyOnce).await;
    let mut here = RawClient::clean(&local, ProtocolVersion::V5, "here").await;
    here.subscribe("home/cmnd/#", QoS::ExactlyOnce).await;
    let mut retained = message("home/sensors/t1", QoS::ExactlyOnce, 1, "21.5".into());
    retained.retain = true;
    here.publish(retained).await;
    here.publish(message("home/other", QoS::AtLeastOnce, 2, "not bridged".into()))
        .await;
    here.publish(message("local/state", QoS::AtLeastOnce, 3, "whole topic".into()))
        .await;
    // `$` topics cross when a rule names them; `there`'s `#` does not match them ([MQTT-4.7.2-1]).
    let mut dollar = RawClient::clean(&remote, ProtocolVersion::V5, "dollar").await;
    dollar.subscribe("$aws/#", QoS::AtLeastOnce).await;
    here.publish(message("$aws/things/lamp", QoS::AtLeastOnce, 5, "shadow".into()))
        .await;
    assert_eq!(
        next_message(&mut dollar).await,
        ("$aws/things/lamp".into(), "shadow".into(), 1, false)
    );
    assert_eq!(
        messages_until(&mut there, "whole topic").await,
        [
            // A live delivery clears Retain ([MQTT-3.3.1-12] without Retain As Published)...
            ("site1/sensors/t1".into(), "21.5".into(), 1, false),
            ("remote/state".into(), "whole topic".into(), 1, false),
        ]
    );
    // ...but the remote broker got it retained: a new subscriber there is sent it with Retain set.
    let mut later = RawClient::clean(&remote, ProtocolVersion::V5, "later").await;
    later.subscribe("site1/sensors/#", QoS::AtLeastOnce).await;
    assert_eq!(
        next_message(&mut later).await,
        ("site1/sensors/t1".into(), "21.5".into(), 1, true)
    );
    // In: site1/cmnd/# there is home/cmnd/# here, at QoS 2.
    let mut remote_pub = RawClient::clean(&remote, ProtocolVersion::V5, "remote-pub").await;
    remote_pub
        .publish(message("site1/cmnd/light", QoS::ExactlyOnce, 4, "on".into()))
        .await;
    assert_eq!(
        messages_until(&mut here, "on").await,
        [("home/cmnd/light".into(), "on".into(), 2, false)]
    );
    // Nothing else crossed: not "home/other", and nothing went back.
    assert_eq!(
        next_message(&mut there).await.0,
        "site1/cmnd/light",
        "its own subscription to #"
    );
    quiet(&mut there).await;
    quiet(&mut here).await;

    let (status, bridges) = call(&local, "/api/v1/bridges").await;
    assert_eq!(status, 200);
    let bridge = &bridges[0];
    assert_eq!(bridge["name"], "site");
    assert_eq!(bridge["address"], format!("mqtt://{}", remote.mqtt));
    assert_eq!(bridge["connected"], true);
    assert_eq!(bridge["queued"], 0);
    assert!(bridge["connected_since"].as_u64().is_some(), "{bridge}");
    assert!(bridge["last_error"].is_null(), "{bridge}");
    let text = metrics(&local).await;
    assert!(text.contains("roost_bridge_connected{bridge=\"site\"} 1"), "{text}");
    assert!(
        text.contains("roost_bridge_queued_messages{bridge=\"site\"} 0"),
        "{text}"
    );
    local.stop().await;
    remote.stop().await;
}

#[tokio::test]
async fn mosquitto_restart_loses_nothing_and_the_state_says_why() {
    let mut mosquitto = Mosquitto::start("").await;
    let local = roost(&bridge_to("mosq", mosquitto.addr(), "3.1.1", &["q/# out 2"])).await;
    wait_bridge_state(&local, "mosq", "1").await;
    // A persistent subscriber on Mosquitto, which keeps its session (and what is queued for it) across the restart.
    let (mut sub, _) = RawClient::connect_to(mosquitto.addr(), persistent(ProtocolVersion::V311, "far")).await;
    sub.subscribe("q/#", QoS::ExactlyOnce).await;
    let mut publisher = RawClient::clean(&local, ProtocolVersion::V5, "pub").await;
    publisher
        .publish(message("q/live", QoS::AtLeastOnce, 1, "before".into()))
        .await;
    assert_eq!(messages_until(&mut sub, "before").await.len(), 1);
    mosquitto.stop().await;
    drop(sub);
    wait_bridge_state(&local, "mosq", "0").await;
    let expected: Vec<String> = (0..40).map(|i| format!("m{i}")).collect();
    for (i, payload) in expected.iter().enumerate() {
        let qos = if i % 2 == 0 { QoS::AtLeastOnce } else { QoS::ExactlyOnce };
        publisher
            .publish(message("q/down", qos, i as u16 + 10, payload.clone()))
            .await;
    }
    let (_, bridges) = call(&local, "/api/v1/bridges").await;
    assert_eq!(bridges[0]["connected"], false, "{bridges}");
    assert_eq!(bridges[0]["queued"], 40, "{bridges}");
    assert!(bridges[0]["connected_since"].is_null(), "{bridges}");
    let why = bridges[0]["last_error"].as_str().unwrap_or_default().to_owned();
    assert!(!why.is_empty(), "{bridges}");
    let text = metrics(&local).await;
    assert!(text.contains("roost_bridge_connected{bridge=\"mosq\"} 0"), "{text}");
    assert!(
        text.contains("roost_bridge_queued_messages{bridge=\"mosq\"} 40"),
        "{text}"
    );

    mosquitto.restart().await;
    wait_bridge_state(&local, "mosq", "1").await;
    let (mut sub, connack) = RawClient::connect_to(mosquitto.addr(), persistent(ProtocolVersion::V311, "far")).await;
    assert!(connack.session_present, "Mosquitto kept the subscriber's session");
    let got = messages_until(&mut sub, "m39").await;
    // In order within each QoS ([MQTT-4.6.0-2], [MQTT-4.6.0-3] order the flows of one QoS): Mosquitto
    // delivers a QoS 1 message on receipt and a QoS 2 one on PUBREL, so the two flows may interleave.
    for qos in [1, 2] {
        let flow: Vec<&str> = got.iter().filter(|m| m.2 == qos).map(|m| m.1.as_str()).collect();
        let sent: Vec<&str> = expected
            .iter()
            .enumerate()
            .filter(|(i, _)| if qos == 1 { i % 2 == 0 } else { i % 2 == 1 })
            .map(|(_, p)| p.as_str())
            .collect();
        assert_eq!(flow, sent, "every QoS {qos} message, in order, once: {got:?}");
    }
    assert_eq!(got.len(), expected.len(), "nothing twice: {got:?}");
    // The last acknowledgements (PUBCOMP) may still be on their way back.
    wait_queued(&local, 0).await;
    local.stop().await;
    mosquitto.stop().await;
}

#[tokio::test]
async fn a_restart_of_the_local_roost_with_storage_loses_nothing() {
    let data = tempfile::tempdir().unwrap();
    let mut mosquitto = Mosquitto::start("").await;
    let toml = bridge_to("up", mosquitto.addr(), "5", &["s/# out 2", "c/# in 2"]);
    let local = roost_stored(&toml, data.path()).await;
    wait_bridge_state(&local, "up", "1").await;
    let (mut sub, _) = RawClient::connect_to(mosquitto.addr(), persistent(ProtocolVersion::V5, "far")).await;
    sub.subscribe("s/#", QoS::ExactlyOnce).await;
    // And one on this side, for what comes in.
    let (mut near, _) = RawClient::connect(&local, persistent(ProtocolVersion::V5, "near")).await;
    near.subscribe("c/#", QoS::ExactlyOnce).await;
    drop(near);
    mosquitto.stop().await;
    drop(sub);
    wait_bridge_state(&local, "up", "0").await;
    let mut publisher = RawClient::clean(&local, ProtocolVersion::V5, "pub").await;
    for i in 0..20 {
        publisher
            .publish(message(
                "s/x",
                if i % 2 == 0 { QoS::AtLeastOnce } else { QoS::ExactlyOnce },
                i + 1,
                format!("n{i}"),
            ))
            .await;
    }
    drop(publisher);
    // Roost goes down with the messages acknowledged to their publisher and queued for the bridge.
    local.stop().await;
    // Meanwhile, Mosquitto queues what comes in for the bridge's session there (kept across its own restart).
    mosquitto.restart().await;
    let mut far_pub = RawClient::connect_to(mosquitto.addr(), connect_packet(ProtocolVersion::V5, "far-pub"))
        .await
        .0;
    for i in 0..10 {
        let qos = if i % 2 == 0 { QoS::AtLeastOnce } else { QoS::ExactlyOnce };
        far_pub.publish(message("c/y", qos, i + 1, format!("c{i}"))).await;
    }
    drop(far_pub);
    mosquitto.stop().await;
    let local = roost_stored(&toml, data.path()).await;
    let (_, bridges) = call(&local, "/api/v1/bridges").await;
    assert_eq!(bridges[0]["queued"], 20, "queued across the restart: {bridges}");
    mosquitto.restart().await;
    wait_bridge_state(&local, "up", "1").await;
    let (mut sub, _) = RawClient::connect_to(mosquitto.addr(), persistent(ProtocolVersion::V5, "far")).await;
    let got = messages_until(&mut sub, "n19").await;
    assert_eq!(got.len(), 20, "nothing twice: {got:?}");
    for qos in [1, 2] {
        let flow: Vec<String> = got.iter().filter(|m| m.2 == qos).map(|m| m.1.clone()).collect();
        let sent: Vec<String> = (0..20usize)
            .filter(|i| i % 2 == usize::from(qos == 2))
            .map(|i| format!("n{i}"))
            .collect();
        assert_eq!(flow, sent, "every QoS {qos} message, in order, once");
    }
    let (mut near, connack) = RawClient::connect(&local, persistent(ProtocolVersion::V5, "near")).await;
    assert!(connack.session_present);
    let got = messages_until(&mut near, "c9").await;
    assert_eq!(got.len(), 10, "nothing twice: {got:?}");
    for qos in [1, 2] {
        let flow: Vec<String> = got.iter().filter(|m| m.2 == qos).map(|m| m.1.clone()).collect();
        let sent: Vec<String> = (0..10usize)
            .filter(|i| i % 2 == usize::from(qos == 2))
            .map(|i| format!("c{i}"))
            .collect();
        assert_eq!(flow, sent, "every QoS {qos} message in, in order, once");
    }
    local.stop().await;
    mosquitto.stop().await;
}

#[tokio::test]
async fn a_bridge_carrying_both_ways_does_not_loop_whichever_side_bridges() {
    // Roost to Roost over MQTT 5: No Local on both sides.
    let b = roost("").await;
    let a = roost(&bridge_to("to-b", b.mqtt, "5", &["loop/# both 2"])).await;
    wait_bridge_state(&a, "to-b", "1").await;
    assert_no_loop(a.mqtt, b.mqtt).await;
    a.stop().await;
    b.stop().await;

    // Roost to Roost over MQTT 3.1.1: the remote Roost honours the bridge mark of the local one.
    let b = roost("").await;
    let a = roost(&bridge_to("to-b-311", b.mqtt, "3.1.1", &["loop/# both 2"])).await;
    wait_bridge_state(&a, "to-b-311", "1").await;
    assert_no_loop(a.mqtt, b.mqtt).await;
    a.stop().await;
    b.stop().await;

    // Roost to Mosquitto over MQTT 3.1.1: Roost sends the bridge mark (try_private), which Mosquitto honours.
    let mosquitto = Mosquitto::start("").await;
    let c = roost(&bridge_to("to-mosq", mosquitto.addr(), "3.1.1", &["loop/# both 2"])).await;
    wait_bridge_state(&c, "to-mosq", "1").await;
    mosquitto.wait_for_log("New bridge connected").await;
    assert_no_loop(c.mqtt, mosquitto.addr()).await;
    c.stop().await;
    drop(mosquitto);

    // Mosquitto's own bridge into Roost over MQTT 3.1.1 with try_private: Roost honours the mark.
    let d = roost("").await;
    let mosquitto = Mosquitto::start(&format!(
        "connection into-roost\naddress 127.0.0.1:{}\nremote_clientid into-roost\nbridge_protocol_version mqttv311\n\
         try_private true\nnotifications false\ncleansession true\nrestart_timeout 1 2\ntopic loop/# both 2\n",
        d.mqtt.port()
    ))
    .await;
    wait_subscribed(&d, "into-roost", "loop/#").await;
    assert_no_loop(d.mqtt, mosquitto.addr()).await;
    d.stop().await;
    drop(mosquitto);
}

/// A subscriber on each side of a bridge carrying `loop/#` both ways; a message published on each side. Each
/// subscriber gets each message exactly once (its own side's directly, the other's across the bridge): a
/// message that went back across would arrive a second time. A second round proves no copy was still under way.
async fn assert_no_loop(a: std::net::SocketAddr, b: std::net::SocketAddr) {
    let mut on_a = RawClient::connect_to(a, connect_packet(ProtocolVersion::V5, "on-a"))
        .await
        .0;
    on_a.subscribe("loop/#", QoS::ExactlyOnce).await;
    let mut on_b = RawClient::connect_to(b, connect_packet(ProtocolVersion::V5, "on-b"))
        .await
        .0;
    on_b.subscribe("loop/#", QoS::ExactlyOnce).await;
    let mut pub_a = RawClient::connect_to(a, connect_packet(ProtocolVersion::V5, "pub-a"))
        .await
        .0;
    let mut pub_b = RawClient::connect_to(b, connect_packet(ProtocolVersion::V5, "pub-b"))
        .await
        .0;
    for round in 1..=2 {
        pub_a
            .publish(message("loop/1", QoS::ExactlyOnce, 1, format!("from a {round}")))
            .await;
        pub_b
            .publish(message("loop/2", QoS::AtLeastOnce, 1, format!("from b {round}")))
            .await;
        for (client, side) in [(&mut on_a, "a"), (&mut on_b, "b")] {
            let mut got: Vec<String> = Vec::new();
            while got.len() < 2 {
                got.push(within_reconnect(next_message(client)).await.1);
            }
            got.sort();
            assert_eq!(
                got,
                [format!("from a {round}"), format!("from b {round}")],
                "round {round} on {side}"
            );
        }
    }
    quiet(&mut on_a).await;
    quiet(&mut on_b).await;
}

async fn within_reconnect<F: std::future::Future>(future: F) -> F::Output {
    tokio::time::timeout(RECONNECT, future).await.expect("timed out")
}

/// Waits until the admin API says `broker`'s first bridge has `queued` messages waiting.
async fn wait_queued(broker: &TestBroker, queued: u64) {
    let wait = async {
        loop {
            let (_, bridges) = call(broker, "/api/v1/bridges").await;
            if bridges[0]["queued"] == queued {
                return;
            }
            // Polling the API, bounded by the deadline: acknowledgements between brokers raise no event here.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    if tokio::time::timeout(RECONNECT, wait).await.is_err() {
        panic!("never {queued} queued: {}", call(broker, "/api/v1/bridges").await.1);
    }
}

/// Waits until `client_id` on `broker` is subscribed to `filter` (the admin API lists it).
async fn wait_subscribed(broker: &TestBroker, client_id: &str, filter: &str) {
    let wait = async {
        loop {
            let (_, clients) = call(broker, "/api/v1/clients").await;
            let found = clients.as_array().into_iter().flatten().any(|c| {
                c["client_id"] == client_id && c["subscriptions"].as_array().into_iter().flatten().any(|f| f == filter)
            });
            if found {
                return;
            }
            // Polling the API, bounded by the deadline: the broker has no event to wait on from outside.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    if tokio::time::timeout(RECONNECT, wait).await.is_err() {
        panic!(
            "{client_id} never subscribed to {filter}: {}",
            call(broker, "/api/v1/clients").await.1
        );
    }
}

#[tokio::test]
async fn mosquitto_bridges_into_roost_both_ways_with_prefixes() {
    let roost_side = roost("").await;
    let mosquitto = Mosquitto::start(&format!(
        "connection cloud\naddress 127.0.0.1:{}\nbridge_protocol_version mqttv311\ntry_private true\n\
         remote_clientid cloud\ncleansession true\nrestart_timeout 1 2\n\
         topic sensors/# out 1 home/ site1/\ntopic cmnd/# in 1 home/ site1/\n",
        roost_side.mqtt.port()
    ))
    .await;
    wait_subscribed(&roost_side, "cloud", "site1/cmnd/#").await;
    let mut far = RawClient::clean(&roost_side, ProtocolVersion::V5, "far").await;
    far.subscribe("site1/#", QoS::AtLeastOnce).await;
    let mut near = RawClient::connect_to(mosquitto.addr(), connect_packet(ProtocolVersion::V311, "near"))
        .await
        .0;
    near.subscribe("home/#", QoS::AtLeastOnce).await;
    let mut near_pub = RawClient::connect_to(mosquitto.addr(), connect_packet(ProtocolVersion::V311, "near-pub"))
        .await
        .0;
    near_pub
        .publish(message("home/sensors/t", QoS::AtLeastOnce, 1, "20".into()))
        .await;
    assert_eq!(
        messages_until(&mut far, "20").await,
        [("site1/sensors/t".into(), "20".into(), 1, false)]
    );
    let mut far_pub = RawClient::clean(&roost_side, ProtocolVersion::V5, "far-pub").await;
    far_pub
        .publish(message("site1/cmnd/fan", QoS::AtLeastOnce, 2, "off".into()))
        .await;
    let at_near = messages_until(&mut near, "off").await;
    assert_eq!(
        at_near.last().unwrap(),
        &("home/cmnd/fan".into(), "off".into(), 1, false)
    );
    assert_eq!(
        next_message(&mut far).await.1,
        "off",
        "far's own subscription to site1/#"
    );
    quiet(&mut far).await;
    // Roost saw the bridge mark: the bridge's subscription got Retain As Published, so a retained command is
    // retained on Mosquitto too (a plain 3.1.1 subscription would get it with Retain cleared, [MQTT-3.3.1-12]).
    let mut retained = message("site1/cmnd/mode", QoS::AtLeastOnce, 3, "auto".into());
    retained.retain = true;
    far_pub.publish(retained).await;
    messages_until(&mut near, "auto").await;
    let mut late = RawClient::connect_to(mosquitto.addr(), connect_packet(ProtocolVersion::V311, "late"))
        .await
        .0;
    late.subscribe("home/cmnd/mode", QoS::AtLeastOnce).await;
    assert_eq!(
        next_message(&mut late).await,
        ("home/cmnd/mode".into(), "auto".into(), 1, true)
    );
    roost_side.stop().await;
    drop(mosquitto);
}

#[tokio::test]
async fn the_readme_cluster_example_runs_against_a_mosquitto_standing_in_for_the_cluster() {
    let example =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/bridge-to-cluster.toml"))
            .expect("examples/bridge-to-cluster.toml");
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md")).unwrap();
    assert!(
        readme.contains(example.trim()),
        "README.md shows examples/bridge-to-cluster.toml as it is"
    );
    let mosquitto = Mosquitto::start("").await;
    // The cluster's address and CA are the only lines that change: Mosquitto here speaks plain MQTT on loopback.
    let toml: String = example
        .lines()
        .filter(|line| !line.starts_with("cafile"))
        .map(|line| {
            if line.starts_with("address") {
                format!("address = \"mqtt://{}\"\n", mosquitto.addr())
            } else {
                format!("{line}\n")
            }
        })
        .collect();
    let local = roost(&toml).await;
    let config = Config::from_toml(&toml).unwrap();
    let name = config.bridges[0].name.clone();
    wait_bridge_state(&local, &name, "1").await;
    let mut cluster = RawClient::connect_to(mosquitto.addr(), connect_packet(ProtocolVersion::V5, "cloud-app"))
        .await
        .0;
    cluster.subscribe("#", QoS::AtLeastOnce).await;
    let mut cluster_pub = RawClient::connect_to(mosquitto.addr(), connect_packet(ProtocolVersion::V5, "cloud-pub"))
        .await
        .0;
    let mut device = RawClient::clean(&local, ProtocolVersion::V5, "device").await;
    device.subscribe("#", QoS::AtLeastOnce).await;
    let mut device_pub = RawClient::clean(&local, ProtocolVersion::V5, "device-pub").await;
    // Each rule of the example carries what it says, checked against the rule's own mapping.
    for (i, rule) in config.bridges[0].topics.iter().enumerate() {
        let sample = rule.pattern.replace('#', "x").replace('+', "y");
        if rule.direction.out() {
            let payload = format!("rule {i} out");
            let local_topic = format!("{}{sample}", rule.local_prefix);
            device_pub
                .publish(message(&local_topic, QoS::AtLeastOnce, 1, payload.clone()))
                .await;
            let got = messages_until(&mut cluster, &payload).await;
            assert_eq!(
                got.last().unwrap().0,
                format!("{}{sample}", rule.remote_prefix),
                "{rule:?}"
            );
        }
        if rule.direction.in_() {
            let payload = format!("rule {i} in");
            let remote_topic = format!("{}{sample}", rule.remote_prefix);
            cluster_pub
                .publish(message(&remote_topic, QoS::AtLeastOnce, 2, payload.clone()))
                .await;
            let got = messages_until(&mut device, &payload).await;
            assert_eq!(
                got.last().unwrap().0,
                format!("{}{sample}", rule.local_prefix),
                "{rule:?}"
            );
        }
    }
    local.stop().await;
    drop(mosquitto);
}

#[test]
fn the_readme_bridge_example_is_a_valid_configuration() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md")).unwrap();
    let section = readme
        .split("### Bridges: `[[bridge]]`")
        .nth(1)
        .expect("the Bridges section");
    let toml = section
        .split("```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("its example");
    let config = Config::from_toml(toml).unwrap_or_else(|e| panic!("{e}\n{toml}"));
    let bridge = &config.bridges[0];
    assert_eq!((bridge.name.as_str(), bridge.client_id.as_str()), ("cloud", "site1"));
    assert_eq!(
        bridge.topics[0].to_remote("home/sensors/t").unwrap().as_str(),
        "site1/sensors/t"
    );
    assert_eq!(
        bridge.topics[1].to_local("site1/cmnd/x").unwrap().as_str(),
        "home/cmnd/x"
    );
}

/// A CA and a server certificate for 127.0.0.1 signed by it, as PEM files in `dir`: `ca.pem`, `server.pem`,
/// `server.key`.
fn make_pki(dir: &Path) {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "bridge test CA");
    let ca = rcgen::CertifiedIssuer::self_signed(params, rcgen::KeyPair::generate().unwrap()).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let cert = params.signed_by(&key, &ca).unwrap();
    std::fs::write(dir.join("server.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("server.key"), key.serialize_pem()).unwrap();
}

#[tokio::test]
async fn bridges_over_tls_websocket_and_secure_websocket_and_a_wrong_ca_is_the_last_error() {
    let pki = tempfile::tempdir().unwrap();
    make_pki(pki.path());
    let other = tempfile::tempdir().unwrap();
    make_pki(other.path());
    let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let remote = TestBroker::start_with(Config {
        mqtts_addr: Some(loopback),
        https_addr: Some(loopback),
        tls: Some(roost_broker::config::TlsFiles {
            cert: pki.path().join("server.pem"),
            key: pki.path().join("server.key"),
            client_ca: None,
            require_client_cert: false,
            use_identity_as_username: false,
        }),
        ..Config::default()
    })
    .await;
    let ca = pki.path().join("ca.pem");
    let bridge = |name: &str, address: String, cafile: &Path| {
        format!(
            "[[bridge]]\nname = \"{name}\"\naddress = \"{address}\"\ncafile = {:?}\ntopics = [\"t/# out 1 \\\"\\\" {name}/\"]\n",
            cafile.display().to_string()
        )
    };
    let toml = [
        bridge("mqtts", format!("mqtts://{}", remote.mqtts.unwrap()), &ca),
        bridge("wss", format!("wss://{}/mqtt", remote.https.unwrap()), &ca),
        format!(
            "[[bridge]]\nname = \"ws\"\naddress = \"ws://{}/mqtt\"\ntopics = [\"t/# out 1 \\\"\\\" ws/\"]\n",
            remote.http
        ),
        bridge(
            "wrong-ca",
            format!("mqtts://{}", remote.mqtts.unwrap()),
            &other.path().join("ca.pem"),
        ),
    ]
    .concat();
    let local = roost(&toml).await;
    for name in ["mqtts", "wss", "ws"] {
        wait_bridge_state(&local, name, "1").await;
    }
    let mut sub = RawClient::clean(&remote, ProtocolVersion::V5, "sub").await;
    sub.subscribe("+/t/#", QoS::AtLeastOnce).await;
    let mut publisher = RawClient::clean(&local, ProtocolVersion::V5, "pub").await;
    publisher
        .publish(message("t/x", QoS::AtLeastOnce, 1, "hello".into()))
        .await;
    let mut topics: Vec<String> = Vec::new();
    while topics.len() < 3 {
        topics.push(within_reconnect(next_message(&mut sub)).await.0);
    }
    topics.sort();
    assert_eq!(topics, ["mqtts/t/x", "ws/t/x", "wss/t/x"]);
    let (_, bridges) = call(&local, "/api/v1/bridges").await;
    let wrong = &bridges[3];
    assert_eq!(
        (wrong["name"].as_str(), wrong["connected"].as_bool()),
        (Some("wrong-ca"), Some(false))
    );
    let why = wrong["last_error"].as_str().unwrap_or_default();
    assert!(
        why.contains("certificate"),
        "the last error says what failed: {bridges}"
    );
    local.stop().await;
    remote.stop().await;
}

#[tokio::test]
async fn bridge_client_ids_are_reserved_and_the_acl_does_not_hold_a_bridge_back() {
    let broker = roost("").await;
    let (_, connack) = RawClient::connect(&broker, connect_packet(ProtocolVersion::V5, "$bridge/evil")).await;
    assert_eq!(connack.reason_code, roost_codec::ReasonCode::ClientIdentifierNotValid);
    broker.stop().await;

    // Anonymous clients may write `s/#` and read only `$SYS`: the bridge's local session still carries `s/#` out, as
    // Mosquitto's bridges are not subject to its ACL.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("acl"), "topic write s/#\ntopic read $SYS/#\n").unwrap();
    let remote = roost("").await;
    let mut config = Config::from_toml(&bridge_to("up", remote.mqtt, "5", &["s/# out 1"])).unwrap();
    config.auth.acl_file = Some(dir.path().join("acl"));
    let local = TestBroker::start_with(config).await;
    wait_bridge_state(&local, "up", "1").await;
    let mut sub = RawClient::clean(&remote, ProtocolVersion::V5, "sub").await;
    sub.subscribe("s/#", QoS::AtLeastOnce).await;
    let mut publisher = RawClient::clean(&local, ProtocolVersion::V5, "pub").await;
    let refused = publisher.subscribe("s/#", QoS::AtLeastOnce).await;
    assert_eq!(
        refused,
        [roost_codec::ReasonCode::NotAuthorized],
        "the ACL is in force for others"
    );
    publisher
        .publish(message("s/1", QoS::AtLeastOnce, 1, "through".into()))
        .await;
    assert_eq!(within_reconnect(next_message(&mut sub)).await.1, "through");
    local.stop().await;
    remote.stop().await;
}

#[tokio::test]
async fn a_bridge_queue_is_bounded_by_its_own_limit_while_the_remote_broker_is_away() {
    // A port that refuses connections for as long as this socket lives: bound, never listening.
    let refusing = tokio::net::TcpSocket::new_v4().unwrap();
    refusing.bind(([127, 0, 0, 1], 0).into()).unwrap();
    let addr = refusing.local_addr().unwrap();
    let local = roost(&format!(
        "{}max_queued_messages = 5\n",
        bridge_to("away", addr, "5", &["s/# out 1"])
    ))
    .await;
    let mut publisher = RawClient::clean(&local, ProtocolVersion::V5, "pub").await;
    for i in 0..8 {
        publisher
            .publish(message("s/x", QoS::AtLeastOnce, i + 1, format!("n{i}")))
            .await;
    }
    let bridges = within_reconnect(async {
        loop {
            let (_, bridges) = call(&local, "/api/v1/bridges").await;
            if !bridges[0]["last_error"].is_null() {
                return bridges;
            }
            // Polling, bounded: the first attempt's failure raises no event a client can wait on.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert_eq!(bridges[0]["queued"], 5, "{bridges}");
    assert_eq!(bridges[0]["connected"], false, "{bridges}");
    let why = bridges[0]["last_error"].as_str().unwrap_or_default();
    assert!(why.contains("cannot connect"), "{bridges}");
    local.stop().await;
}

#[tokio::test]
async fn roost_refuses_to_start_with_a_bad_bridge_and_says_which_and_why() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "name = \"b\"\naddress = \"mqtt://h\"\ntopics = [\"a/# up 1\"]",
            "bridge \"b\": topics: \"a/# up 1\" has unknown direction \"up\" (in, out or both)",
        ),
        (
            "name = \"b\"\naddress = \"http://h\"\ntopics = [\"a/#\"]",
            "bridge \"b\": address: unknown scheme \"http\" (mqtt, mqtts, ws or wss)",
        ),
        (
            "name = \"b\"\naddress = \"mqtt://h\"\ntopics = [\"a/# in 3\"]",
            "bridge \"b\": topics: \"a/# in 3\" has QoS \"3\" (0, 1 or 2)",
        ),
        ("address = \"mqtt://h\"\ntopics = [\"a/#\"]", "bridge #1: name: missing"),
    ];
    for (i, (body, expected)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("bad{i}.toml"));
        std::fs::write(&path, format!("[storage]\ndir = \"\"\n[[bridge]]\n{body}\n")).unwrap();
        let output = within(
            Command::new(env!("CARGO_BIN_EXE_roost"))
                .args(["serve", "--mqtt", "127.0.0.1:0", "--http", "127.0.0.1:0", "--config"])
                .arg(&path)
                .stdin(Stdio::null())
                .kill_on_drop(true)
                .output(),
        )
        .await
        .expect("run roost");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{body}: {stderr}");
        assert!(stderr.contains(expected), "{body}: expected {expected:?} in {stderr}");
    }
    let twice = dir.path().join("twice.toml");
    let one = "[[bridge]]\nname = \"b\"\naddress = \"mqtt://h\"\ntopics = [\"#\"]\n";
    std::fs::write(&twice, format!("{one}{one}")).unwrap();
    let output = within(
        Command::new(env!("CARGO_BIN_EXE_roost"))
            .args([
                "serve",
                "--mqtt",
                "127.0.0.1:0",
                "--http",
                "127.0.0.1:0",
                "--memory",
                "--config",
            ])
            .arg(&twice)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("run roost");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("bridge \"b\": name: two bridges have this name"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_remote_that_drops_the_first_connection_before_connack_is_tried_again() {
    let remote = roost("").await;
    // A proxy on loopback: it closes the first connection as soon as it is accepted (CONNECT sent, no CONNACK),
    // and passes every later one through to the remote Roost.
    let proxy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_addr = proxy.local_addr().unwrap();
    let target = remote.mqtt;
    let forwarding = tokio::spawn(async move {
        let (first, _) = proxy.accept().await.unwrap();
        drop(first);
        loop {
            let (mut inbound, _) = proxy.accept().await.unwrap();
            tokio::spawn(async move {
                let mut outbound = TcpStream::connect(target).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            });
        }
    });
    let local = roost(&bridge_to("flaky", proxy_addr, "5", &["f/# out 1"])).await;
    wait_bridge_state(&local, "flaky", "1").await;
    let (_, bridges) = call(&local, "/api/v1/bridges").await;
    assert!(
        bridges[0]["last_error"].as_str().is_some(),
        "the first attempt failed: {bridges}"
    );
    let mut sub = RawClient::clean(&remote, ProtocolVersion::V5, "sub").await;
    sub.subscribe("f/#", QoS::AtLeastOnce).await;
    let mut publisher = RawClient::clean(&local, ProtocolVersion::V5, "pub").await;
    publisher
        .publish(message("f/1", QoS::AtLeastOnce, 1, "second time".into()))
        .await;
    assert_eq!(within_reconnect(next_message(&mut sub)).await.1, "second time");
    forwarding.abort();
    local.stop().await;
    remote.stop().await;
}

#[tokio::test]
async fn a_311_broker_that_refuses_the_bridge_mark_gets_a_plain_connect_next() {
    let remote = roost("").await;
    // A broker that does not know Mosquitto's bridge mark refuses protocol level 0x84 with CONNACK 0x01; the
    // proxy plays that broker for the first connection and records the level of each CONNECT.
    let proxy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_addr = proxy.local_addr().unwrap();
    let target = remote.mqtt;
    let (levels_tx, mut levels) = tokio::sync::mpsc::channel(4);
    let forwarding = tokio::spawn(async move {
        let mut first = true;
        loop {
            let (mut inbound, _) = proxy.accept().await.unwrap();
            // Fixed header (2 bytes: the CONNECT is short), protocol name "MQTT" (6), then the level.
            let mut head = [0u8; 9];
            inbound.read_exact(&mut head).await.unwrap();
            levels_tx.send(head[8]).await.unwrap();
            if first {
                first = false;
                inbound.write_all(&[0x20, 0x02, 0x00, 0x01]).await.unwrap();
                continue;
            }
            tokio::spawn(async move {
                let mut outbound = TcpStream::connect(target).await.unwrap();
                outbound.write_all(&head).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            });
        }
    });
    let local = roost(&bridge_to("old", proxy_addr, "3.1.1", &["o/# out 1"])).await;
    wait_bridge_state(&local, "old", "1").await;
    assert_eq!(levels.recv().await, Some(0x84), "the first CONNECT carries the mark");
    assert_eq!(levels.recv().await, Some(0x04), "the next one does not");
    let (_, bridges) = call(&local, "/api/v1/bridges").await;
    let why = bridges[0]["last_error"].as_str().unwrap_or_default();
    assert!(why.contains("trying without it"), "{bridges}");
    forwarding.abort();
    local.stop().await;
    remote.stop().await;
}

#[tokio::test]
async fn a_filter_dropped_from_the_configuration_is_unsubscribed_from_the_stored_local_session() {
    let data = tempfile::tempdir().unwrap();
    let remote = roost("").await;
    let before = roost_stored(
        &bridge_to("cfg", remote.mqtt, "5", &["a/# out 1", "b/# out 1"]),
        data.path(),
    )
    .await;
    wait_bridge_state(&before, "cfg", "1").await;
    before.stop().await;
    let after = roost_stored(&bridge_to("cfg", remote.mqtt, "5", &["b/# out 1"]), data.path()).await;
    wait_bridge_state(&after, "cfg", "1").await;
    let (_, clients) = call(&after, "/api/v1/clients").await;
    let session = clients
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["client_id"] == "$bridge/cfg")
        .unwrap_or_else(|| panic!("the bridge's session: {clients}"));
    assert_eq!(session["subscriptions"], serde_json::json!(["b/#"]), "{session}");
    after.stop().await;
    remote.stop().await;
}

/// A TCP proxy from `listener` to `target` that drops every PUBREC the target sends while `drop_pubrec` is set
/// (MQTT 5 framing), as a link that fails in the middle of a QoS 2 hand-over.
async fn pubrec_dropping_proxy(
    listener: tokio::net::TcpListener,
    target: std::net::SocketAddr,
    drop_pubrec: std::sync::Arc<std::sync::atomic::AtomicBool>,
) {
    loop {
        let (inbound, _) = listener.accept().await.unwrap();
        let drop_pubrec = std::sync::Arc::clone(&drop_pubrec);
        tokio::spawn(async move {
            let outbound = TcpStream::connect(target).await.unwrap();
            let (mut in_read, mut in_write) = inbound.into_split();
            let (mut out_read, mut out_write) = outbound.into_split();
            tokio::spawn(async move {
                let _ = tokio::io::copy(&mut in_read, &mut out_write).await;
            });
            let mut buf = roost_codec::BytesMut::new();
            loop {
                match out_read.read_buf(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                while let Ok(Some(packet)) = Packet::decode(&mut buf, ProtocolVersion::V5, u32::MAX) {
                    if matches!(packet, Packet::PubRec(_)) && drop_pubrec.load(std::sync::atomic::Ordering::SeqCst) {
                        continue;
                    }
                    let mut out = roost_codec::BytesMut::new();
                    packet.encode(ProtocolVersion::V5, &mut out, u32::MAX).unwrap();
                    if in_write.write_all(&out).await.is_err() {
                        return;
                    }
                }
            }
        });
    }
}

#[tokio::test]
async fn a_qos2_message_held_by_the_remote_broker_across_a_restart_of_roost_arrives_once() {
    let data = tempfile::tempdir().unwrap();
    let remote = roost("").await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_addr = listener.local_addr().unwrap();
    let drop_pubrec = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let proxy = tokio::spawn(pubrec_dropping_proxy(
        listener,
        remote.mqtt,
        std::sync::Arc::clone(&drop_pubrec),
    ));
    let toml = bridge_to("x", proxy_addr, "5", &["x/# out 2"]);
    let local = roost_stored(&toml, data.path()).await;
    wait_bridge_state(&local, "x", "1").await;
    let mut sub = RawClient::clean(&remote, ProtocolVersion::V5, "sub").await;
    sub.subscribe("x/#", QoS::ExactlyOnce).await;
    let mut publisher = RawClient::clean(&local, ProtocolVersion::V5, "pub").await;
    for i in 0..5 {
        publisher
            .publish(message("x/1", QoS::ExactlyOnce, i + 1, format!("m{i}")))
            .await;
    }
    assert_eq!(messages_until(&mut sub, "m4").await.len(), 5);
    // The next one reaches the remote Roost (which routes a QoS 2 message on PUBLISH and keeps its packet id
    // until PUBREL), but its PUBREC never comes back: the remote Roost holds the packet id awaiting PUBREL, and
    // the local Roost still holds the message, when the local Roost stops.
    drop_pubrec.store(true, std::sync::atomic::Ordering::SeqCst);
    publisher
        .publish(message("x/1", QoS::ExactlyOnce, 9, "m5".into()))
        .await;
    assert_eq!(messages_until(&mut sub, "m5").await.len(), 1);
    drop(publisher);
    local.stop().await;
    drop_pubrec.store(false, std::sync::atomic::Ordering::SeqCst);
    let local = roost_stored(&toml, data.path()).await;
    wait_bridge_state(&local, "x", "1").await;
    let mut publisher = RawClient::clean(&local, ProtocolVersion::V5, "pub").await;
    publisher
        .publish(message("x/1", QoS::ExactlyOnce, 1, "end".into()))
        .await;
    // The local Roost sent m5 again after the restart, with its packet id: the remote Roost took it for the
    // repeat it is ([MQTT-4.3.3-10]) and did not route it a second time.
    assert_eq!(
        messages_until(&mut sub, "end").await,
        [("x/1".into(), "end".into(), 2, false)]
    );
    wait_queued(&local, 0).await;
    proxy.abort();
    local.stop().await;
    remote.stop().await;
}
