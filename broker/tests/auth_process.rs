//! Users and rights through the `roost` binary: the first start's administrator, reloading users and ACLs on
//! SIGHUP while a client stays connected, and `roost passwd` files that Mosquitto itself reads.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;

use common::{RawClient, STEP, connect_packet, publish, within};
use roost_codec::{Bytes, ProtocolVersion, QoS, ReasonCode};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::watch;

/// A `roost serve` process, killed when dropped, with every line it wrote so far on stdout and stderr.
struct Roost {
    child: Child,
    stdout: watch::Receiver<Vec<String>>,
    stderr: watch::Receiver<Vec<String>>,
}

/// Collects the lines of `stream` into a watch channel.
fn lines(stream: impl tokio::io::AsyncRead + Unpin + Send + 'static) -> watch::Receiver<Vec<String>> {
    let (tx, rx) = watch::channel(Vec::new());
    let mut lines = BufReader::new(stream).lines();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            tx.send_modify(|all| all.push(line));
        }
    });
    rx
}

/// Waits until a line containing `needle` is in `rx`, and returns it.
async fn wait_line(rx: &watch::Receiver<Vec<String>>, needle: &str) -> String {
    let mut watch = rx.clone();
    let found = tokio::time::timeout(STEP, watch.wait_for(|lines| lines.iter().any(|l| l.contains(needle))))
        .await
        .is_ok_and(|r| r.is_ok());
    drop(watch);
    assert!(found, "no line with {needle:?} in {:#?}", rx.borrow());
    rx.borrow().iter().find(|l| l.contains(needle)).unwrap().clone()
}

impl Roost {
    /// Starts `roost serve --config roost.toml` in `dir` and waits until it listens.
    async fn start(dir: &Path) -> (Self, SocketAddr) {
        Self::start_with(dir, &["--config", "roost.toml"]).await
    }

    /// Starts `roost serve ARGS` in `dir` and waits until it listens.
    async fn start_with(dir: &Path, args: &[&str]) -> (Self, SocketAddr) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_roost"))
            .arg("serve")
            .args(args)
            .current_dir(dir)
            .env("RUST_LOG", "info")
            .env_remove("RUST_BACKTRACE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let roost = Roost {
            stdout: lines(child.stdout.take().unwrap()),
            stderr: lines(child.stderr.take().unwrap()),
            child,
        };
        let line = wait_line(&roost.stderr, "MQTT listening on ").await;
        let addr = line
            .rsplit(' ')
            .next()
            .unwrap()
            .parse()
            .expect("an address ends the line");
        (roost, addr)
    }

    async fn signal(&self, name: &str) {
        let pid = self.child.id().unwrap().to_string();
        let status = within(Command::new("kill").args([name, &pid]).status()).await.unwrap();
        assert!(status.success());
    }

    /// SIGTERM, then waits for exit code 0.
    async fn stop(mut self) -> Vec<String> {
        self.signal("-TERM").await;
        let status = within(self.child.wait()).await.unwrap();
        assert_eq!(status.code(), Some(0));
        self.stdout.borrow().clone()
    }
}

/// `roost passwd ARGS`, which must succeed.
async fn roost_passwd(dir: &Path, args: &[&str]) {
    let output = Command::new(env!("CARGO_BIN_EXE_roost"))
        .arg("passwd")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output();
    let output = within(output).await.unwrap();
    assert!(output.status.success(), "roost passwd {args:?}: {output:?}");
}

/// `mosquitto_pub` to `port` as `user`; returns its exit code (0: published, 5: not authorised in 3.1.1).
async fn mosquitto_pub(port: u16, credentials: Option<(&str, &str)>) -> i32 {
    let mut command = Command::new("mosquitto_pub");
    command.args(["-p", &port.to_string(), "-t", "t", "-m", "x", "-q", "1"]);
    if let Some((user, password)) = credentials {
        command.args(["-u", user, "-P", password]);
    }
    let output = within(command.stdin(Stdio::null()).output()).await.unwrap();
    output.status.code().expect("exited")
}

fn login(client_id: &str, user: &str, password: &str) -> roost_codec::Connect {
    let mut connect = connect_packet(ProtocolVersion::V5, client_id);
    connect.username = Some(user.into());
    connect.password = Some(Bytes::copy_from_slice(password.as_bytes()));
    connect
}

const LISTENERS: &str = "[listeners]\nmqtt = \"127.0.0.1:0\"\nhttp = \"127.0.0.1:0\"\n";

#[tokio::test]
async fn the_first_start_shows_a_working_admin_password_once() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("roost.toml"), LISTENERS).unwrap();
    let (roost, addr) = Roost::start(dir.path()).await;
    let line = wait_line(&roost.stdout, "shown this once: ").await;
    let password = line.rsplit(' ').next().unwrap().to_owned();
    wait_line(&roost.stdout, "roost passwd ").await;
    // The file is in data/ beside the configuration and holds the hash only.
    let text = std::fs::read_to_string(dir.path().join("data/passwd")).unwrap();
    assert!(
        text.starts_with("admin:$argon2id$") && !text.contains(&password),
        "{text}"
    );
    assert_eq!(mosquitto_pub(addr.port(), Some(("admin", &password))).await, 0);
    // Anonymous clients are refused by default: CONNACK 5 in 3.1.1, which mosquitto_pub exits with.
    assert_eq!(mosquitto_pub(addr.port(), None).await, 5);
    assert_eq!(mosquitto_pub(addr.port(), Some(("admin", "guess"))).await, 4);
    roost.stop().await;

    // The second start finds the file: nothing new, no password shown.
    let (roost, addr) = Roost::start(dir.path()).await;
    assert_eq!(mosquitto_pub(addr.port(), Some(("admin", &password))).await, 0);
    let stdout = roost.stop().await;
    assert!(stdout.iter().all(|l| !l.contains("shown this once")), "{stdout:?}");
    assert_eq!(std::fs::read_to_string(dir.path().join("data/passwd")).unwrap(), text);
}

/// `--allow-anonymous loopback` without a configuration file: this machine connects without a user name, and the
/// administrator for everyone else is still made, in the working directory's `data/`.
#[tokio::test]
async fn the_allow_anonymous_flag_opens_loopback_only() {
    let dir = tempfile::tempdir().unwrap();
    let (roost, addr) = Roost::start_with(
        dir.path(),
        &[
            "--mqtt",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
            "--allow-anonymous",
            "loopback",
        ],
    )
    .await;
    assert_eq!(mosquitto_pub(addr.port(), None).await, 0);
    let line = wait_line(&roost.stdout, "shown this once: ").await;
    let password = line.rsplit(' ').next().unwrap().to_owned();
    assert_eq!(mosquitto_pub(addr.port(), Some(("admin", &password))).await, 0);
    assert!(dir.path().join("data/passwd").exists());
    roost.stop().await;
}

#[tokio::test]
async fn sighup_reloads_users_and_acls_without_dropping_connections() {
    let dir = tempfile::tempdir().unwrap();
    roost_passwd(dir.path(), &["-c", "-b", "passwd", "alice", "wonderland"]).await;
    std::fs::write(dir.path().join("acl"), "user alice\ntopic readwrite a/#\n").unwrap();
    std::fs::write(
        dir.path().join("roost.toml"),
        format!("{LISTENERS}[auth]\npassword_file = \"passwd\"\nacl_file = \"acl\"\n"),
    )
    .unwrap();
    let (roost, addr) = Roost::start(dir.path()).await;
    let (mut alice, connack) = RawClient::connect_to(addr, login("alice", "alice", "wonderland")).await;
    assert_eq!(connack.reason_code, ReasonCode::Success);
    assert_eq!(
        alice.publish(publish("a/1", QoS::AtLeastOnce, b"x")).await,
        ReasonCode::NoMatchingSubscribers
    );
    let (_, refused) = RawClient::connect_to(addr, login("bob", "bob", "builder")).await;
    assert_eq!(refused.reason_code, ReasonCode::BadUserNameOrPassword);

    // Rights move from a/# to b/#, and bob arrives.
    std::fs::write(
        dir.path().join("acl"),
        "user alice\ntopic readwrite b/#\nuser bob\ntopic b/#\n",
    )
    .unwrap();
    roost_passwd(dir.path(), &["-b", "passwd", "bob", "builder"]).await;
    roost.signal("-HUP").await;
    wait_line(&roost.stderr, "password and ACL files reloaded").await;
    // The same connection: what it lost is refused at once, what it gained is allowed.
    assert_eq!(
        alice.publish(publish("a/1", QoS::AtLeastOnce, b"x")).await,
        ReasonCode::NotAuthorized
    );
    assert_eq!(
        alice.publish(publish("b/1", QoS::AtLeastOnce, b"x")).await,
        ReasonCode::NoMatchingSubscribers
    );
    let (_, welcome) = RawClient::connect_to(addr, login("bob", "bob", "builder")).await;
    assert_eq!(welcome.reason_code, ReasonCode::Success);

    // A broken ACL file on reload: logged, and the rules in force stay.
    std::fs::write(dir.path().join("acl"), "user alice\ntopic raed b/#\n").unwrap();
    roost.signal("-HUP").await;
    wait_line(&roost.stderr, "reload failed").await;
    assert_eq!(
        alice.publish(publish("b/2", QoS::AtLeastOnce, b"x")).await,
        ReasonCode::NoMatchingSubscribers
    );
    roost.stop().await;
}

/// A reload reads `[auth]` of the configuration file again too, and a login the new rules refuse ends at once
/// (DISCONNECT 0x87, no will), as Mosquitto's reload does; the others carry on.
#[tokio::test]
async fn sighup_rereads_auth_and_ends_the_logins_it_no_longer_accepts() {
    let dir = tempfile::tempdir().unwrap();
    roost_passwd(dir.path(), &["-c", "-b", "passwd", "alice", "wonderland"]).await;
    roost_passwd(dir.path(), &["-b", "passwd", "carol", "old"]).await;
    let config =
        |anonymous: &str| format!("{LISTENERS}[auth]\npassword_file = \"passwd\"\nallow_anonymous = {anonymous}\n");
    std::fs::write(dir.path().join("roost.toml"), config("true")).unwrap();
    let (roost, addr) = Roost::start(dir.path()).await;
    let (mut alice, connack) = RawClient::connect_to(addr, login("alice", "alice", "wonderland")).await;
    assert_eq!(connack.reason_code, ReasonCode::Success);
    assert_eq!(
        alice.subscribe("will/#", QoS::AtLeastOnce).await,
        [ReasonCode::GrantedQoS1]
    );
    let (mut carol, connack) = RawClient::connect_to(addr, login("carol", "carol", "old")).await;
    assert_eq!(connack.reason_code, ReasonCode::Success);
    let mut connect = connect_packet(ProtocolVersion::V5, "guest");
    connect.will = Some(roost_codec::Will {
        topic: "will/guest".try_into().unwrap(),
        payload: Bytes::from_static(b"gone"),
        qos: QoS::AtLeastOnce,
        retain: false,
        properties: roost_codec::Properties::default(),
    });
    let (mut guest, connack) = RawClient::connect_to(addr, connect).await;
    assert_eq!(connack.reason_code, ReasonCode::Success, "anonymous welcome at first");

    // The file now refuses anonymous clients, and carol's password changes.
    std::fs::write(dir.path().join("roost.toml"), config("false")).unwrap();
    roost_passwd(dir.path(), &["-b", "passwd", "carol", "new"]).await;
    roost.signal("-HUP").await;
    wait_line(&roost.stderr, "[auth], password and ACL files reloaded").await;
    assert_eq!(guest.expect_close().await, Some(ReasonCode::NotAuthorized));
    assert_eq!(carol.expect_close().await, Some(ReasonCode::NotAuthorized));
    // alice's login still holds: she publishes, and what she gets first is her own marker, not the guest's will.
    assert_eq!(
        alice.publish(publish("will/marker", QoS::AtLeastOnce, b"m")).await,
        ReasonCode::Success
    );
    assert_eq!(alice.recv_publish().await.topic.as_str(), "will/marker");
    let (_, refused) = RawClient::connect_to(addr, connect_packet(ProtocolVersion::V5, "guest2")).await;
    assert_eq!(refused.reason_code, ReasonCode::NotAuthorized);
    let (_, welcome) = RawClient::connect_to(addr, login("carol", "carol", "new")).await;
    assert_eq!(welcome.reason_code, ReasonCode::Success);

    // A configuration file broken on reload: logged, and the rules in force stay.
    std::fs::write(dir.path().join("roost.toml"), "[auth]\nallow_anonymous = maybe\n").unwrap();
    roost.signal("-HUP").await;
    wait_line(&roost.stderr, "reload failed").await;
    assert_eq!(
        alice.publish(publish("will/marker", QoS::AtLeastOnce, b"m")).await,
        ReasonCode::Success
    );
    roost.stop().await;
}

/// A delayed will is published with the rights its user has when it is due, not those it had at disconnect.
#[tokio::test]
async fn a_delayed_will_is_checked_against_the_acl_in_force_when_it_is_due() {
    let dir = tempfile::tempdir().unwrap();
    roost_passwd(dir.path(), &["-c", "-b", "passwd", "alice", "wonderland"]).await;
    roost_passwd(dir.path(), &["-b", "passwd", "bob", "builder"]).await;
    let acl = |alice: &str| format!("user alice\ntopic {alice} alice/#\nuser bob\ntopic read alice/#\n");
    std::fs::write(dir.path().join("acl"), acl("readwrite")).unwrap();
    std::fs::write(
        dir.path().join("roost.toml"),
        format!("{LISTENERS}[auth]\npassword_file = \"passwd\"\nacl_file = \"acl\"\n"),
    )
    .unwrap();
    let (roost, addr) = Roost::start(dir.path()).await;
    let (mut bob, _) = RawClient::connect_to(addr, login("bob", "bob", "builder")).await;
    assert_eq!(
        bob.subscribe("alice/#", QoS::AtLeastOnce).await,
        [ReasonCode::GrantedQoS1]
    );
    let mut connect = login("alice", "alice", "wonderland");
    connect.properties.session_expiry_interval = Some(60);
    // Long enough for the reload below to come first even on a busy machine.
    let properties = roost_codec::Properties {
        will_delay_interval: Some(5),
        ..Default::default()
    };
    connect.will = Some(roost_codec::Will {
        topic: "alice/gone".try_into().unwrap(),
        payload: Bytes::from_static(b"bye"),
        qos: QoS::AtLeastOnce,
        retain: false,
        properties,
    });
    let (alice, connack) = RawClient::connect_to(addr, connect).await;
    assert_eq!(connack.reason_code, ReasonCode::Success);
    // Gone without DISCONNECT: the will is due in 5 s, and alice may still write alice/# now.
    drop(alice);
    std::fs::write(dir.path().join("acl"), acl("read")).unwrap();
    roost.signal("-HUP").await;
    wait_line(&roost.stderr, "files reloaded").await;
    wait_line(&roost.stderr, "delayed will not published: not authorised").await;
    bob.assert_nothing_pending().await;
    roost.stop().await;
}

/// A Mosquitto on a loopback port with `password_file`, killed when dropped.
struct Mosquitto {
    port: u16,
    _child: Child,
}

impl Mosquitto {
    /// Starts Mosquitto on a port picked at random, trying another (at most ten times) while the port is taken.
    async fn start(dir: &Path, password_file: &Path) -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        for attempt in 0..10u32 {
            let port = 20_000 + ((seed / 7 + attempt * 7919 + std::process::id()) % 40_000) as u16;
            let conf = dir.join("mosquitto.conf");
            std::fs::write(
                &conf,
                format!(
                    // `user root`: started as root, Mosquitto would switch to the user "mosquitto", which may not
                    // read the owner-only file (and directory) the test made.
                    "user root\nlistener {port} 127.0.0.1\nallow_anonymous false\npassword_file {}\n\
                     persistence false\nlog_dest stderr\nlog_type all\n",
                    password_file.display()
                ),
            )
            .unwrap();
            let mut child = Command::new("/usr/sbin/mosquitto")
                .arg("-c")
                .arg(&conf)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .expect("start /usr/sbin/mosquitto (installed by scripts/setup)");
            let log = lines(child.stderr.take().unwrap());
            let mut watch = log.clone();
            let started = tokio::time::timeout(
                STEP,
                watch.wait_for(|l| l.iter().any(|l| l.contains(" running") || l.contains("Error"))),
            )
            .await
            .map(|r| r.is_ok());
            drop(watch);
            assert!(
                matches!(started, Ok(true)),
                "mosquitto said nothing: {:#?}",
                log.borrow()
            );
            let lines = log.borrow().clone();
            if lines.iter().any(|l| l.contains(" running")) {
                return Mosquitto { port, _child: child };
            }
            assert!(
                lines.iter().any(|l| l.contains("Address already in use")),
                "mosquitto failed: {lines:#?}"
            );
        }
        panic!("no free port for mosquitto in ten tries");
    }
}

#[tokio::test]
async fn roost_passwd_files_are_read_by_mosquitto_and_the_other_way_round() {
    let dir = tempfile::tempdir().unwrap();
    roost_passwd(
        dir.path(),
        &["-c", "-b", "-H", "sha512-pbkdf2", "for-mosquitto", "carol", "c4rol"],
    )
    .await;
    roost_passwd(dir.path(), &["-b", "-H", "sha512", "for-mosquitto", "dave", "d4ve"]).await;
    let mosquitto = Mosquitto::start(dir.path(), &dir.path().join("for-mosquitto")).await;
    assert_eq!(mosquitto_pub(mosquitto.port, Some(("carol", "c4rol"))).await, 0);
    assert_eq!(mosquitto_pub(mosquitto.port, Some(("dave", "d4ve"))).await, 0);
    assert_ne!(mosquitto_pub(mosquitto.port, Some(("carol", "d4ve"))).await, 0);
    drop(mosquitto);

    // A file mosquitto_passwd wrote: roost passwd adds a user and leaves Mosquitto's line as it was.
    let file = dir.path().join("from-mosquitto");
    let made = std::process::Command::new("mosquitto_passwd")
        .args(["-c", "-b"])
        .arg(&file)
        .args(["erin", "3rin"])
        .status()
        .unwrap();
    assert!(made.success());
    let before = std::fs::read_to_string(&file).unwrap();
    roost_passwd(dir.path(), &["-b", "from-mosquitto", "frank", "fr4nk"]).await;
    let after = std::fs::read_to_string(&file).unwrap();
    assert!(
        after.starts_with(&before) && after.contains("\nfrank:$argon2id$"),
        "{after}"
    );
    // The broker reads both users.
    let auth = roost_broker::auth::Auth::load(&roost_broker::config::AuthConfig {
        password_file: Some(file.clone()),
        ..Default::default()
    })
    .unwrap();
    let peer = std::net::Ipv4Addr::LOCALHOST.into();
    assert!(auth.authenticate(Some("erin"), Some(b"3rin"), peer).await.is_ok());
    assert!(auth.authenticate(Some("frank"), Some(b"fr4nk"), peer).await.is_ok());
    // -D deletes a user.
    roost_passwd(dir.path(), &["-D", "from-mosquitto", "erin"]).await;
    assert!(!std::fs::read_to_string(&file).unwrap().contains("erin:"));
}
