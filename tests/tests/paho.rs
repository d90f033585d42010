//! Eclipse paho-mqtt (Python, from PyPI) against a real `roost` on loopback: MQTT 3.1.1 and 5.0, over TCP and over
//! WebSocket at `/mqtt`. The scenarios and their expectations live in `tests/paho/interop.py`: QoS 0/1/2 with MQTT 5
//! properties forwarded in order, unsubscribe, retained store/replace/delete, wills on an abrupt close but not after
//! DISCONNECT, a persistent session queueing while offline, `$` topics other than `$SYS` (`$aws/...`), and the
//! topic aliases the broker sets up for a subscriber that allows them.
//!
//! The interpreter is `$ROOST_VENV/bin/python` (default `~/.cache/roost/venv`, where `scripts/setup` installs the
//! pinned paho-mqtt). A missing interpreter fails the test with that path in the message: it is never skipped.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use roost_tests::TestBroker;
use tokio::process::Command;
use tokio::time::timeout;

/// The whole script takes about 3 s; a broker that stops answering fails it through the script's own 5 s waits.
const LIMIT: Duration = Duration::from_secs(60);

fn python() -> PathBuf {
    let venv = std::env::var_os("ROOST_VENV").map(PathBuf::from).unwrap_or_else(|| {
        let home = std::env::var_os("HOME").unwrap_or_default();
        PathBuf::from(home).join(".cache/roost/venv")
    });
    venv.join("bin/python")
}

/// Runs every scenario of interop.py with `transport` ("tcp" or "websockets") and `version` ("3.1.1" or "5").
async fn interop(transport: &str, version: &str) -> anyhow::Result<()> {
    let broker = TestBroker::start().await?;
    let port = match transport {
        "tcp" => broker.mqtt.port(),
        _ => broker.http.port(),
    };
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("paho/interop.py");
    let python = python();
    let child = Command::new(&python)
        .arg(&script)
        .args([
            "127.0.0.1",
            &port.to_string(),
            transport,
            version,
            &format!("paho-{transport}-{version}"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot run {} (scripts/setup installs it)", python.display()))?;
    let output = timeout(LIMIT, child.wait_with_output())
        .await
        .context("paho-mqtt did not finish in time")??;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        bail!("paho-mqtt {transport} {version}: {}\n{stdout}{stderr}", output.status);
    }
    // Every scenario reported itself: a script that silently ran none would not pass.
    for scenario in [
        "qos_levels_and_properties",
        "retained",
        "will",
        "persistent_session",
        "dollar_topics",
        "topic_aliases",
    ] {
        assert!(
            stdout.contains(&format!("{scenario}: ok")),
            "{scenario} did not run:\n{stdout}"
        );
    }
    broker.stop().await
}

#[tokio::test]
async fn paho_v311_over_tcp() -> anyhow::Result<()> {
    interop("tcp", "3.1.1").await
}

#[tokio::test]
async fn paho_v5_over_tcp() -> anyhow::Result<()> {
    interop("tcp", "5").await
}

#[tokio::test]
async fn paho_v311_over_websocket() -> anyhow::Result<()> {
    interop("websockets", "3.1.1").await
}

#[tokio::test]
async fn paho_v5_over_websocket() -> anyhow::Result<()> {
    interop("websockets", "5").await
}
