//! The `roost` binary itself: start-up errors, and a clean exit on SIGTERM.

mod common;

use std::net::TcpListener;
use std::process::Stdio;

use common::within;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// `roost`, killed when dropped. The tests here are about start-up, not authentication: each passes
/// `--allow-anonymous true` (or a configuration file saying so), so no password file is made in the working
/// directory.
fn roost() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_roost"));
    command
        .env("RUST_LOG", "info")
        .env_remove("RUST_BACKTRACE")
        .kill_on_drop(true);
    command
}

async fn port_in_use_exits_1_naming_the_address(flag: &str, service: &str) {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let other = if flag == "--mqtt" { "--http" } else { "--mqtt" };
    let output = within(
        roost()
            .args([
                flag,
                &addr,
                other,
                "127.0.0.1:0",
                "--allow-anonymous",
                "true",
                "--memory",
            ])
            .output(),
    )
    .await
    .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line, no backtrace: {stderr}");
    assert!(
        stderr.contains(&format!("cannot listen for {service} on {addr}")),
        "{stderr}"
    );
    assert!(stderr.contains("in use"), "{stderr}");
}

#[tokio::test]
async fn mqtt_port_in_use_exits_1() {
    port_in_use_exits_1_naming_the_address("--mqtt", "MQTT").await;
}

#[tokio::test]
async fn http_port_in_use_exits_1() {
    port_in_use_exits_1_naming_the_address("--http", "HTTP").await;
}

#[tokio::test]
async fn serve_logs_its_ports_and_exits_0_on_sigterm() {
    let mut child = roost()
        .args([
            "serve",
            "--mqtt",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
            "--allow-anonymous",
            "true",
            "--memory",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    // The log names the real ports chosen for port 0; once both are logged, the listeners are bound.
    let mut seen = Vec::new();
    while !(seen.iter().any(|l: &String| l.contains("MQTT listening on 127.0.0.1:"))
        && seen.iter().any(|l| l.contains("dashboard at http://127.0.0.1:")))
    {
        let line = within(lines.next_line()).await.unwrap().expect("roost exited early");
        seen.push(line);
    }
    assert!(
        !seen.iter().any(|l| l.contains(":0 ") || l.ends_with(":0")),
        "port 0 in the log: {seen:?}"
    );
    let pid = child.id().unwrap().to_string();
    let killed = within(Command::new("kill").args(["-TERM", &pid]).status())
        .await
        .unwrap();
    assert!(killed.success());
    let status = within(child.wait()).await.unwrap();
    assert_eq!(status.code(), Some(0));
}

/// A configuration file holding `text`, then `[auth] allow_anonymous = true`.
fn config_file(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    // In memory: beside a file in /tmp, the default data directory would be /tmp/data, shared by every test.
    let text = format!("{text}[auth]\nallow_anonymous = true\n[storage]\ndir = \"\"\n");
    std::io::Write::write_all(&mut file, text.as_bytes()).unwrap();
    file
}

#[tokio::test]
async fn bad_config_file_exits_1_with_one_line() {
    let file = config_file("[limits]\nmax_packet_sise = 5\n");
    let output = within(roost().arg("serve").arg("--config").arg(file.path()).output())
        .await
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.contains("line 2, column 1: unknown field `max_packet_sise`"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&file.path().display().to_string()),
        "names the file: {stderr}"
    );

    let output = within(roost().args(["serve", "--config", "/nonexistent/roost.toml"]).output())
        .await
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot read config file /nonexistent/roost.toml"),
        "{stderr}"
    );
}

#[tokio::test]
async fn config_file_listeners_are_used_and_flags_override_them() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let file = config_file(&format!("[listeners]\nmqtt = \"{addr}\"\nhttp = \"127.0.0.1:0\"\n"));
    // The file's MQTT address is taken: the file was read.
    let output = within(roost().arg("--config").arg(file.path()).output()).await.unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot listen for MQTT on {addr}")),
        "{stderr}"
    );
    // A flag overrides the file: the broker starts.
    let mut child = roost()
        .arg("serve")
        .arg("--config")
        .arg(file.path())
        .args(["--mqtt", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    loop {
        let line = within(lines.next_line()).await.unwrap().expect("roost exited early");
        if line.contains("MQTT listening on 127.0.0.1:") {
            assert!(!line.contains(&addr), "{line}");
            break;
        }
    }
    child.kill().await.unwrap();
}

#[tokio::test]
async fn memory_and_data_flags_exclude_each_other() {
    let output = within(roost().args(["serve", "--memory", "--data", "/tmp/x"]).output())
        .await
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(1), "a usage error: {stderr}");
    assert!(stderr.contains("--memory") && stderr.contains("--data"), "{stderr}");
}
