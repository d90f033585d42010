//! `roost pub` and `roost sub` against a real Mosquitto, in both directions: Mosquitto's own tools on the other
//! end, every QoS and protocol version, retained messages, stdin lines, output formats, MQTT 5 properties and
//! WebSocket.

mod cli_support;

use cli_support::{Mosquitto, finish, roost, run, stderr, stdout};

/// `roost sub` prints, in order, what `mosquitto_pub` sends at QoS 0, 1 and 2, speaking `version`.
async fn roost_sub_receives_mosquitto_pub(version: &str) {
    let broker = Mosquitto::start().await;
    let id = format!("roost-sub-{version}");
    let sub = broker
        .roost_sub(&id, &["-V", version, "-t", "t/#", "-q", "2", "-v", "-C", "3"])
        .await;
    for (qos, payload) in [("0", "zero"), ("1", "one"), ("2", "two")] {
        broker
            .mosquitto_pub(&["-V", version, "-t", &format!("t/{qos}"), "-q", qos, "-m", payload])
            .await;
    }
    let output = finish(sub).await;
    assert!(output.status.success(), "{output:?}");
    assert_eq!(stdout(&output), "t/0 zero\nt/1 one\nt/2 two\n");
}

#[tokio::test]
async fn roost_sub_receives_mosquitto_pub_v31() {
    roost_sub_receives_mosquitto_pub("mqttv31").await;
}

#[tokio::test]
async fn roost_sub_receives_mosquitto_pub_v311() {
    roost_sub_receives_mosquitto_pub("311").await;
}

#[tokio::test]
async fn roost_sub_receives_mosquitto_pub_v5() {
    roost_sub_receives_mosquitto_pub("5").await;
}

/// `mosquitto_sub` prints, in order, what `roost pub` sends at QoS 0, 1 and 2, speaking `version`.
async fn mosquitto_sub_receives_roost_pub(version: &str) {
    let broker = Mosquitto::start().await;
    let id = format!("mosq-sub-{version}");
    let sub = broker
        .mosquitto_sub(
            &id,
            &["-V", version, "-t", "t/#", "-q", "2", "-F", "%t %q %p", "-C", "3"],
        )
        .await;
    for (qos, payload) in [("0", "zero"), ("1", "one"), ("2", "two")] {
        broker
            .roost_pub(&["-V", version, "-t", &format!("t/{qos}"), "-q", qos, "-m", payload])
            .await;
    }
    let output = finish(sub).await;
    assert!(output.status.success(), "{output:?}");
    assert_eq!(stdout(&output), "t/0 0 zero\nt/1 1 one\nt/2 2 two\n");
}

#[tokio::test]
async fn mosquitto_sub_receives_roost_pub_v31() {
    mosquitto_sub_receives_roost_pub("31").await;
}

#[tokio::test]
async fn mosquitto_sub_receives_roost_pub_v311() {
    mosquitto_sub_receives_roost_pub("mqttv311").await;
}

#[tokio::test]
async fn mosquitto_sub_receives_roost_pub_v5() {
    mosquitto_sub_receives_roost_pub("mqttv5").await;
}

#[tokio::test]
async fn retained_messages_are_kept_and_flagged_and_r_skips_them() {
    let broker = Mosquitto::start().await;
    broker.roost_pub(&["-t", "r/1", "-m", "kept", "-r", "-q", "1"]).await;
    // A new subscriber gets the retained message, flagged as such.
    let port = broker.port.to_string();
    let output = run(
        roost("sub").args(["-p", &port, "-t", "r/#", "-C", "1", "-F", "%t %p %r %q"]),
        None,
    )
    .await;
    assert!(output.status.success(), "{output:?}");
    assert_eq!(stdout(&output), "r/1 kept 1 0\n");
    // mosquitto_sub agrees.
    let output = run(
        cli_support::tool("mosquitto_sub").args(["-p", &port, "-t", "r/#", "-C", "1", "-F", "%t %p %r"]),
        None,
    )
    .await;
    assert_eq!(stdout(&output), "r/1 kept 1\n");
    // -R: the stale message is not printed and not counted; the fresh one is.
    let sub = broker.roost_sub("fresh", &["-t", "r/#", "-R", "-C", "1", "-v"]).await;
    broker.mosquitto_pub(&["-t", "r/2", "-m", "new"]).await;
    let output = finish(sub).await;
    assert!(output.status.success(), "{output:?}");
    assert_eq!(stdout(&output), "r/2 new\n");
    // --retained-only: prints the retained message, exits 0 at the first fresh one.
    let sub = broker.roost_sub("stale", &["-t", "r/1", "--retained-only", "-v"]).await;
    broker.mosquitto_pub(&["-t", "r/1", "-m", "newer"]).await;
    let output = finish(sub).await;
    assert!(output.status.success(), "{output:?}");
    assert_eq!(stdout(&output), "r/1 kept\n");
}

#[tokio::test]
async fn l_publishes_each_stdin_line_and_n_s_f_publish_one_message() {
    let broker = Mosquitto::start().await;
    let sub = broker.mosquitto_sub("lines", &["-t", "l/#", "-v", "-C", "7"]).await;
    let port = broker.port.to_string();
    let output = run(
        roost("pub").args(["-p", &port, "-t", "l/line", "-l", "-q", "1"]),
        Some(b"a\n\nb c\nlast"),
    )
    .await;
    assert!(output.status.success(), "{output:?}");
    broker.roost_pub(&["-t", "l/null", "-n"]).await;
    let output = run(roost("pub").args(["-p", &port, "-t", "l/stdin", "-s"]), Some(b"x\ny")).await;
    assert!(output.status.success(), "{output:?}");
    let file = std::env::temp_dir().join(format!("roost-cli-test-file-{}", std::process::id()));
    std::fs::write(&file, "from file").unwrap();
    broker.roost_pub(&["-t", "l/file", "-f", file.to_str().unwrap()]).await;
    std::fs::remove_file(&file).unwrap();
    let output = finish(sub).await;
    assert_eq!(
        stdout(&output),
        "l/line a\nl/line (null)\nl/line b c\nl/line last\nl/null (null)\nl/stdin x\ny\nl/file from file\n"
    );
}

#[tokio::test]
async fn repeat_publishes_n_times_and_c_n_and_t_shape_sub_output() {
    let broker = Mosquitto::start().await;
    let sub = broker
        .roost_sub("shape", &["-t", "s/#", "-T", "s/skip", "-N", "-C", "3"])
        .await;
    broker.mosquitto_pub(&["-t", "s/skip", "-m", "no"]).await;
    broker
        .roost_pub(&[
            "-t",
            "s/keep",
            "-m",
            "ab",
            "--repeat",
            "3",
            "--repeat-delay",
            "0.01",
            "-q",
            "1",
        ])
        .await;
    let output = finish(sub).await;
    assert!(output.status.success(), "{output:?}");
    assert_eq!(stdout(&output), "ababab");
}

#[tokio::test]
async fn f_format_prints_fields_and_escapes_exactly() {
    let broker = Mosquitto::start().await;
    let sub = broker
        .roost_sub(
            "format",
            &[
                "-t",
                "f/#",
                "-q",
                "1",
                "-C",
                "1",
                "-F",
                r"%t|%p|%q|%r|%l|%X|%x|%5t|%-5t|%.1t|%03l|%%|\t|@@",
            ],
        )
        .await;
    broker.mosquitto_pub(&["-t", "f/a", "-m", "Hi!", "-q", "1"]).await;
    let output = finish(sub).await;
    assert_eq!(
        stdout(&output),
        "f/a|Hi!|1|0|3|486921|486921|  f/a|f/a  |f|003|%|\t|@\n"
    );
}

#[tokio::test]
async fn mqtt5_publish_properties_reach_mosquitto_sub() {
    let broker = Mosquitto::start().await;
    let sub = broker
        .mosquitto_sub("props", &["-V", "5", "-t", "p", "-C", "1", "-F", "%P|%C|%R|%D|%F|%p"])
        .await;
    broker
        .roost_pub(&[
            "-t",
            "p",
            "-m",
            "body",
            "-D",
            "publish",
            "user-property",
            "k1",
            "v1",
            "-D",
            "publish",
            "user-property",
            "k2",
            "v2",
            "-D",
            "publish",
            "content-type",
            "text/plain",
            "-D",
            "publish",
            "response-topic",
            "reply/here",
            "-D",
            "publish",
            "correlation-data",
            "c0rr",
            "-D",
            "publish",
            "payload-format-indicator",
            "1",
            "-D",
            "publish",
            "message-expiry-interval",
            "3600",
            "-D",
            "connect",
            "user-property",
            "who",
            "test",
        ])
        .await;
    let output = finish(sub).await;
    assert_eq!(stdout(&output), "k1:v1 k2:v2|text/plain|reply/here|c0rr|1|body\n");
}

#[tokio::test]
async fn mqtt5_properties_from_mosquitto_pub_are_printed_by_roost_sub() {
    let broker = Mosquitto::start().await;
    let sub = broker
        .roost_sub(
            "props5",
            &["-V", "mqttv5", "-t", "p", "-C", "1", "-F", "%P|%C|%R|%D|%F|%p"],
        )
        .await;
    broker
        .mosquitto_pub(&[
            "-V",
            "5",
            "-t",
            "p",
            "-m",
            "body",
            "-D",
            "publish",
            "user-property",
            "k",
            "v",
            "-D",
            "publish",
            "content-type",
            "application/json",
            "-D",
            "publish",
            "response-topic",
            "r/t",
            "-D",
            "publish",
            "correlation-data",
            "id-1",
            "-D",
            "publish",
            "payload-format-indicator",
            "1",
        ])
        .await;
    let output = finish(sub).await;
    assert!(output.status.success(), "{output:?}");
    assert_eq!(stdout(&output), "k:v|application/json|r/t|id-1|1|body\n");
}

#[tokio::test]
async fn websocket_url_works_both_ways() {
    let broker = Mosquitto::start().await;
    let ws = format!("ws://127.0.0.1:{}/", broker.ws_port);
    // roost sub over WebSocket receives mosquitto_pub over TCP.
    let sub = broker
        .roost_sub_with("ws-sub", &["-L", &ws, "-t", "w/#", "-q", "1", "-v", "-C", "1"])
        .await;
    broker.mosquitto_pub(&["-t", "w/1", "-m", "over tcp", "-q", "1"]).await;
    let output = finish(sub).await;
    assert!(output.status.success(), "{output:?}");
    assert_eq!(stdout(&output), "w/1 over tcp\n");
    // mosquitto_sub over TCP receives roost pub over WebSocket, at every QoS and in MQTT 5 too.
    let sub = broker
        .mosquitto_sub("tcp-sub", &["-t", "w/#", "-v", "-C", "3", "-q", "2"])
        .await;
    for qos in ["0", "1", "2"] {
        let output = run(
            roost("pub").args([
                "-L",
                &ws,
                "-V",
                "5",
                "-t",
                &format!("w/{qos}"),
                "-m",
                "over ws",
                "-q",
                qos,
            ]),
            None,
        )
        .await;
        assert!(output.status.success(), "{output:?}");
    }
    let output = finish(sub).await;
    assert_eq!(stdout(&output), "w/0 over ws\nw/1 over ws\nw/2 over ws\n");
}

#[tokio::test]
async fn mqtt_url_gives_host_port_and_topic() {
    let broker = Mosquitto::start().await;
    let sub = broker.mosquitto_sub("url-sub", &["-t", "u/topic", "-C", "1"]).await;
    let url = format!("mqtt://127.0.0.1:{}/u/topic", broker.port);
    let output = run(roost("pub").args(["-L", &url, "-m", "by url"]), None).await;
    assert!(output.status.success(), "{output:?}");
    assert_eq!(stdout(&finish(sub).await), "by url\n");
}

#[tokio::test]
async fn will_is_published_when_roost_sub_dies() {
    let broker = Mosquitto::start().await;
    let watcher = broker
        .mosquitto_sub("watcher", &["-t", "will/#", "-v", "-C", "1"])
        .await;
    let mut doomed = broker
        .roost_sub(
            "doomed",
            &[
                "-t",
                "x",
                "--will-topic",
                "will/doomed",
                "--will-payload",
                "gone",
                "--will-qos",
                "1",
            ],
        )
        .await;
    doomed.start_kill().unwrap();
    let _ = doomed.wait().await;
    let output = finish(watcher).await;
    assert_eq!(stdout(&output), "will/doomed gone\n");
}

#[tokio::test]
async fn d_prints_packets_on_stderr() {
    let broker = Mosquitto::start().await;
    let port = broker.port.to_string();
    let output = run(
        roost("pub").args(["-p", &port, "-i", "dbg", "-t", "d", "-m", "xy", "-q", "2", "-d"]),
        None,
    )
    .await;
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        stderr(&output),
        "Client dbg sending CONNECT\n\
         Client dbg received CONNACK (0)\n\
         Client dbg sending PUBLISH (d0, q2, r0, m1, 'd', ... (2 bytes))\n\
         Client dbg received PUBREC (Mid: 1, RC:0)\n\
         Client dbg sending PUBREL (Mid: 1)\n\
         Client dbg received PUBCOMP (Mid: 1, RC:0)\n\
         Client dbg sending DISCONNECT (0)\n"
    );
}

#[tokio::test]
async fn sigint_disconnects_roost_sub_cleanly_so_the_will_is_discarded() {
    let broker = Mosquitto::start().await;
    let watcher = broker
        .mosquitto_sub("watcher", &["-t", "will/#", "-v", "-C", "1"])
        .await;
    let sub = broker
        .roost_sub(
            "polite",
            &["-t", "x", "--will-topic", "will/polite", "--will-payload", "gone"],
        )
        .await;
    let pid = sub.id().unwrap().to_string();
    let killed = run(cli_support::tool("kill").args(["-INT", &pid]), None).await;
    assert!(killed.status.success());
    let output = finish(sub).await;
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    // roost sub waited for Mosquitto to close the connection, so the DISCONNECT is processed: no will follows.
    broker.mosquitto_pub(&["-t", "will/marker", "-m", "after"]).await;
    assert_eq!(stdout(&finish(watcher).await), "will/marker after\n");
}

#[tokio::test]
async fn mqtt5_subscription_options_rh_and_rap() {
    let broker = Mosquitto::start().await;
    broker.roost_pub(&["-t", "o", "-m", "old", "-r"]).await;
    // --rh 2: no retained message on subscribe; --rap: a live retained publication keeps its RETAIN flag.
    let sub = broker
        .roost_sub(
            "opts",
            &[
                "-V", "5", "-t", "o", "--rh", "2", "--rap", "--nl", "-C", "1", "-F", "%p %r",
            ],
        )
        .await;
    broker.mosquitto_pub(&["-t", "o", "-m", "live", "-r"]).await;
    let output = finish(sub).await;
    assert!(output.status.success(), "{output:?}");
    assert_eq!(stdout(&output), "live 1\n");
    // Without --rap the same live publication arrives with RETAIN cleared ([MQTT-3.3.1-9]).
    let sub = broker
        .roost_sub("plain", &["-V", "5", "-t", "o", "--rh", "2", "-C", "1", "-F", "%p %r"])
        .await;
    broker.mosquitto_pub(&["-t", "o", "-m", "live", "-r"]).await;
    assert_eq!(stdout(&finish(sub).await), "live 0\n");
}

/// `-c -i id` keeps the session: a QoS 1 message published while the subscriber is away reaches it later.
async fn c_keeps_the_session(version: &str) {
    let broker = Mosquitto::start().await;
    let id = format!("persistent-{version}");
    let port = broker.port.to_string();
    let first = ["-p", &port, "-V", version, "-c", "-i", &id, "-t", "c/#", "-q", "1"];
    let output = run(roost("sub").args(first).arg("-E"), None).await;
    assert!(output.status.success(), "{output:?}");
    broker
        .mosquitto_pub(&["-t", "c/queued", "-m", "while away", "-q", "1"])
        .await;
    let output = run(roost("sub").args(first).args(["-C", "1", "-v"]), None).await;
    assert!(output.status.success(), "{output:?}");
    assert_eq!(stdout(&output), "c/queued while away\n");
}

#[tokio::test]
async fn c_keeps_the_session_v311() {
    c_keeps_the_session("311").await;
}

#[tokio::test]
async fn c_keeps_the_session_v5() {
    c_keeps_the_session("5").await;
}

#[tokio::test]
async fn remove_retained_clears_what_it_receives_except_t() {
    let broker = Mosquitto::start().await;
    for topic in ["rr/a", "rr/b", "rr/keep"] {
        broker.mosquitto_pub(&["-t", topic, "-m", topic, "-r"]).await;
    }
    let port = broker.port.to_string();
    let output = run(
        roost("sub").args([
            "-p",
            &port,
            "-t",
            "rr/#",
            "-T",
            "rr/keep",
            "--remove-retained",
            "-C",
            "2",
            "-v",
        ]),
        None,
    )
    .await;
    assert!(output.status.success(), "{output:?}");
    let text = stdout(&output);
    let mut printed: Vec<&str> = text.lines().collect();
    printed.sort_unstable();
    assert_eq!(printed, ["rr/a rr/a", "rr/b rr/b"]);
    // Only the filtered-out retained message is left.
    let output = run(roost("sub").args(["-p", &port, "-t", "rr/#", "-C", "1", "-v"]), None).await;
    assert_eq!(stdout(&output), "rr/keep rr/keep\n");
}
