//! Helpers for the `roost pub` / `roost sub` tests: a real Mosquitto on loopback ports, and processes of
//! the built `roost`, `mosquitto_pub` and `mosquitto_sub`, every one bounded in time and killed when dropped.

#![allow(
    dead_code,
    unreachable_pub,
    reason = "each test crate uses a different part of this module"
)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::watch;

/// How long any single step of a test may take before it fails instead of hanging.
pub const STEP: Duration = Duration::from_secs(10);

/// Awaits `future`, failing the test if it takes longer than [`STEP`].
pub async fn within<F: std::future::Future>(future: F) -> F::Output {
    tokio::time::timeout(STEP, future).await.expect("timed out")
}

/// A loopback port that refuses connections for as long as the returned socket lives: it is bound but never
/// listens, and without `SO_REUSEADDR`, so no other process can listen on it meanwhile. (A port merely found free
/// and released could be taken by another test before it is used.)
pub fn refusing_port() -> (tokio::net::TcpSocket, u16) {
    let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
    socket.bind(([127, 0, 0, 1], 0).into()).expect("bind to 127.0.0.1:0");
    let port = socket.local_addr().expect("its address").port();
    (socket, port)
}

/// `N` distinct loopback ports free right now, for a program that cannot be told to pick its own (Mosquitto 2.0
/// takes `listener 0` for a Unix socket path). The sockets are held until all are chosen, so the OS cannot hand
/// out the same port twice; another process can still take one before the program binds it, so the caller must
/// notice that and try again ([`Mosquitto::start`] does).
fn free_ports<const N: usize>() -> [u16; N] {
    let held: Vec<TcpListener> = (0..N).map(|_| TcpListener::bind("127.0.0.1:0").unwrap()).collect();
    std::array::from_fn(|i| held[i].local_addr().unwrap().port())
}

/// How many times [`Mosquitto::start`] picks fresh ports after one of its ports was taken before it could bind it.
const MOSQUITTO_ATTEMPTS: usize = 5;

/// The user `auth_port` accepts.
pub const USER: &str = "alice";
/// Her password.
pub const PASSWORD: &str = "s3cret";

/// A Mosquitto broker with an anonymous MQTT listener, a WebSocket listener and a listener that refuses
/// anonymous clients. Killed, and its directory removed, on drop.
#[derive(Debug)]
pub struct Mosquitto {
    /// The anonymous MQTT over TCP port.
    pub port: u16,
    /// The MQTT over WebSocket port.
    pub ws_port: u16,
    /// A port whose listener refuses anonymous clients ("not authorised") and accepts [`USER`]/[`PASSWORD`].
    pub auth_port: u16,
    /// Every line the broker logged so far.
    log: watch::Receiver<Vec<String>>,
    dir: PathBuf,
    _child: Child,
}

impl Mosquitto {
    /// Starts a Mosquitto and waits until it logs that it runs. Mosquitto must be given its ports, so they are
    /// found free first; when one was taken meanwhile, Mosquitto logs "Address already in use" and exits, and the
    /// start is tried again with fresh ports, at most [`MOSQUITTO_ATTEMPTS`] times.
    pub async fn start() -> Self {
        let mut failures = Vec::new();
        for _ in 0..MOSQUITTO_ATTEMPTS {
            match Self::try_start().await {
                Ok(mosquitto) => return mosquitto,
                Err(log) => failures.push(log),
            }
        }
        panic!("mosquitto did not start in {MOSQUITTO_ATTEMPTS} attempts; its logs: {failures:#?}");
    }

    /// One attempt: `Err` with Mosquitto's log when it exited (a port taken) instead of running.
    async fn try_start() -> Result<Self, Vec<String>> {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "roost-cli-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let [port, ws_port, auth_port] = free_ports::<3>();
        let passwords = dir.join("passwords");
        let made = std::process::Command::new("mosquitto_passwd")
            .args(["-c", "-b"])
            .arg(&passwords)
            .args([USER, PASSWORD])
            .status()
            .expect("run mosquitto_passwd");
        assert!(made.success());
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "per_listener_settings true\npersistence false\nlog_dest stderr\nlog_type all\n\
                 listener {port} 127.0.0.1\nallow_anonymous true\n\
                 listener {ws_port} 127.0.0.1\nprotocol websockets\nallow_anonymous true\n\
                 listener {auth_port} 127.0.0.1\nallow_anonymous false\npassword_file {}\n",
                passwords.display()
            ),
        )
        .unwrap();
        let mut child = Command::new("/usr/sbin/mosquitto")
            .arg("-c")
            .arg(&conf)
            // stderr, not stdout: Mosquitto's stdout is block buffered into a pipe, its stderr is not.
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start /usr/sbin/mosquitto");
        let (tx, log) = watch::channel(Vec::new());
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let (ended_tx, ended) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                tx.send_modify(|log| log.push(line));
            }
            // Its stderr closed: Mosquitto exited.
            let _ = ended_tx.send(());
        });
        let mut watching = log.clone();
        let running = async {
            let found = watching
                .wait_for(|lines| lines.iter().any(|l| l.contains(" running")))
                .await;
            found.is_ok()
        };
        let outcome = tokio::time::timeout(STEP, async {
            tokio::select! {
                running = running => running,
                _ = ended => false,
            }
        })
        .await;
        let mosquitto = Mosquitto {
            port,
            ws_port,
            auth_port,
            log,
            dir,
            _child: child,
        };
        match outcome {
            Ok(true) => Ok(mosquitto),
            Ok(false) => Err(mosquitto.log.borrow().clone()),
            Err(_elapsed) => panic!(
                "mosquitto neither ran nor exited within {STEP:?}; log: {:#?}",
                mosquitto.log.borrow()
            ),
        }
    }

    /// Waits until the broker logs a line containing `needle`.
    pub async fn wait_for_log(&self, needle: &str) {
        let mut log = self.log.clone();
        let found = tokio::time::timeout(STEP, log.wait_for(|lines| lines.iter().any(|l| l.contains(needle)))).await;
        assert!(
            matches!(found, Ok(Ok(_))),
            "mosquitto never logged {needle:?}; log: {:#?}",
            self.log.borrow()
        );
    }

    /// Waits until the client `id` is subscribed (Mosquitto sent it SUBACK).
    pub async fn wait_subscribed(&self, id: &str) {
        self.wait_for_log(&format!("Sending SUBACK to {id}")).await;
    }

    /// `mosquitto_pub` against the anonymous TCP listener; asserts it succeeds.
    pub async fn mosquitto_pub(&self, args: &[&str]) {
        let output = run(
            tool("mosquitto_pub").arg("-p").arg(self.port.to_string()).args(args),
            None,
        )
        .await;
        assert!(output.status.success(), "mosquitto_pub {args:?}: {output:?}");
    }

    /// `roost pub` against the anonymous TCP listener; asserts it succeeds.
    pub async fn roost_pub(&self, args: &[&str]) {
        let output = run(roost("pub").arg("-p").arg(self.port.to_string()).args(args), None).await;
        assert!(output.status.success(), "roost pub {args:?}: {output:?}");
    }

    /// Starts `mosquitto_sub -i id` on the anonymous TCP listener and waits until it is subscribed.
    pub async fn mosquitto_sub(&self, id: &str, args: &[&str]) -> Child {
        let child = tool("mosquitto_sub")
            .args(["-p", &self.port.to_string(), "-i", id])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        self.wait_subscribed(id).await;
        child
    }

    /// Starts `roost sub -i id` with `args` (which say where to connect) and waits until it is subscribed.
    pub async fn roost_sub_with(&self, id: &str, args: &[&str]) -> Child {
        let child = roost("sub")
            .args(["-i", id])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        self.wait_subscribed(id).await;
        child
    }

    /// Starts `roost sub -i id` on the anonymous TCP listener and waits until it is subscribed.
    pub async fn roost_sub(&self, id: &str, args: &[&str]) -> Child {
        let port = self.port.to_string();
        let mut all = vec!["-p", port.as_str()];
        all.extend_from_slice(args);
        self.roost_sub_with(id, &all).await
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `roost <subcommand>`, killed when dropped.
pub fn roost(subcommand: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_roost"));
    command.arg(subcommand).env_remove("RUST_BACKTRACE");
    command.kill_on_drop(true).stdin(Stdio::null());
    command
}

/// A Mosquitto client tool, killed when dropped.
pub fn tool(name: &str) -> Command {
    let mut command = Command::new(name);
    command.kill_on_drop(true).stdin(Stdio::null());
    command
}

/// Runs `command` to completion (feeding it `stdin`), within [`STEP`].
pub async fn run(command: &mut Command, stdin: Option<&[u8]>) -> Output {
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    if stdin.is_some() {
        command.stdin(Stdio::piped());
    }
    let mut child = command.spawn().unwrap();
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        within(pipe.write_all(input)).await.unwrap();
        // Dropping the pipe closes stdin: end of input.
    }
    within(child.wait_with_output()).await.unwrap()
}

/// Waits for a started process to exit, within [`STEP`].
pub async fn finish(child: Child) -> Output {
    within(child.wait_with_output()).await.unwrap()
}

/// Its stdout as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Its stderr as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
