//! The `roost` binary itself: start-up errors, and a clean exit on SIGTERM.

mod common;

use std::net::TcpListener;
use std::process::Stdio;

use common::within;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

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
    let output = within(roost().args([flag, &addr, other, "127.0.0.1:0"]).output())
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
        .args(["serve", "--mqtt", "127.0.0.1:0", "--http", "127.0.0.1:0"])
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
