//! `roost pub` and `roost sub` against Roost itself (in-process, on 127.0.0.1:0), over TCP and WebSocket.

mod cli_support;
mod common;

use std::process::Stdio;

use cli_support::{finish, roost, run, stdout, within};
use common::TestBroker;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::Child;

/// Starts `roost sub -d` with `args` and waits until its debug log says the SUBACK arrived.
async fn subscribed(args: &[&str]) -> Child {
    let mut child = roost("sub")
        .arg("-d")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    loop {
        let line = within(lines.next_line())
            .await
            .unwrap()
            .expect("roost sub exited before subscribing");
        if line.starts_with("Subscribed (mid: ") {
            // Keep draining the debug log, so the pipe stays open and never fills.
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            return child;
        }
    }
}

/// `roost pub` with `args`; asserts it succeeds.
async fn publish(args: &[&str]) {
    let output = run(roost("pub").args(args), None).await;
    assert!(output.status.success(), "roost pub {args:?}: {output:?}");
}

#[tokio::test]
async fn roost_sub_receives_roost_pub_through_roost_at_every_qos_and_version() {
    let broker = TestBroker::start().await;
    let port = broker.mqtt.port().to_string();
    for version in ["31", "311", "5"] {
        let sub = subscribed(&[
            "-p", &port, "-V", version, "-t", "r/#", "-q", "2", "-C", "3", "-F", "%t %q %p",
        ])
        .await;
        for qos in ["0", "1", "2"] {
            publish(&[
                "-p",
                &port,
                "-V",
                version,
                "-t",
                &format!("r/{qos}"),
                "-q",
                qos,
                "-m",
                version,
            ])
            .await;
        }
        let output = finish(sub).await;
        assert!(output.status.success(), "{output:?}");
        assert_eq!(
            stdout(&output),
            format!("r/0 0 {version}\nr/1 1 {version}\nr/2 2 {version}\n")
        );
    }
    broker.stop().await;
}

#[tokio::test]
async fn roost_retained_message_and_websocket() {
    let broker = TestBroker::start().await;
    let port = broker.mqtt.port().to_string();
    let ws = format!("ws://127.0.0.1:{}/mqtt", broker.http.port());
    publish(&["-L", &ws, "-t", "kept", "-m", "via ws", "-r", "-q", "1"]).await;
    let output = run(
        roost("sub").args(["-p", &port, "-t", "kept", "-C", "1", "-F", "%t %p %r"]),
        None,
    )
    .await;
    assert!(output.status.success(), "{output:?}");
    assert_eq!(stdout(&output), "kept via ws 1\n");
    let sub = subscribed(&["-L", &ws, "-V", "5", "-t", "live", "-C", "1", "-F", "%P %p"]).await;
    publish(&[
        "-p",
        &port,
        "-t",
        "live",
        "-m",
        "over tcp",
        "-D",
        "publish",
        "user-property",
        "k",
        "v",
    ])
    .await;
    assert_eq!(stdout(&finish(sub).await), "k:v over tcp\n");
    broker.stop().await;
}
