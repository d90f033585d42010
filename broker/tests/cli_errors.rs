//! `roost pub` and `roost sub` failing as mosquitto_pub and mosquitto_sub do: the same words on stderr and exit
//! codes a script can test.

mod cli_support;

use cli_support::{Mosquitto, PASSWORD, USER, refusing_port, roost, run, stderr};

#[tokio::test]
async fn connection_refused_by_the_os_exits_1() {
    let (_held, port) = refusing_port();
    let port = port.to_string();
    for args in [["pub", "-t", "a", "-m", "x"].as_slice(), &["sub", "-t", "a"]] {
        let output = run(roost(args[0]).args(["-p", &port]).args(&args[1..]), None).await;
        assert_eq!(output.status.code(), Some(1), "{output:?}");
        assert_eq!(stderr(&output), "Error: Connection refused\n");
    }
}

#[tokio::test]
async fn not_authorised_exits_with_the_connack_code() {
    let broker = Mosquitto::start().await;
    let port = broker.auth_port.to_string();
    for (version, code, message) in [
        ("311", 5, "Connection error: Connection Refused: not authorised.\n"),
        ("31", 5, "Connection error: Connection Refused: not authorised.\n"),
        ("5", 135, "Connection error: Not authorized\n"),
    ] {
        let output = run(
            roost("pub").args(["-p", &port, "-V", version, "-t", "a", "-m", "x"]),
            None,
        )
        .await;
        assert_eq!(output.status.code(), Some(code), "{output:?}");
        assert_eq!(stderr(&output), message);
        let output = run(roost("sub").args(["-p", &port, "-V", version, "-t", "a"]), None).await;
        assert_eq!(output.status.code(), Some(code), "{output:?}");
        assert_eq!(stderr(&output), message);
    }
}

#[tokio::test]
async fn bad_topics_exit_1_before_connecting() {
    // Nothing listens on this port: the topic is checked first.
    let (_held, port) = refusing_port();
    let port = port.to_string();
    let output = run(roost("pub").args(["-p", &port, "-t", "a/#", "-m", "x"]), None).await;
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(
        stderr(&output).starts_with("Error: Invalid publish topic 'a/#', does it contain '+' or '#'?\n"),
        "{output:?}"
    );
    let output = run(roost("sub").args(["-p", &port, "-t", "a/#/b"]), None).await;
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(
        stderr(&output)
            .starts_with("Error: Invalid subscription topic 'a/#/b', are all '+' and '#' wildcards correct?\n"),
        "{output:?}"
    );
    let output = run(roost("pub").args(["-p", &port, "-t", "a"]), None).await;
    assert_eq!(output.status.code(), Some(1), "no message: {output:?}");
    let output = run(roost("sub").args(["-p", &port]), None).await;
    assert_eq!(output.status.code(), Some(1), "no topic: {output:?}");
    let output = run(
        roost("pub").args(["-p", &port, "-t", "a", "-f", "/nonexistent/file"]),
        None,
    )
    .await;
    assert_eq!(output.status.code(), Some(1), "missing file: {output:?}");
}

#[tokio::test]
async fn w_times_out_with_exit_27_and_e_exits_after_subscribing() {
    let broker = Mosquitto::start().await;
    let port = broker.port.to_string();
    let output = run(roost("sub").args(["-p", &port, "-t", "quiet", "-W", "1"]), None).await;
    assert_eq!(output.status.code(), Some(27), "{output:?}");
    assert_eq!(stderr(&output), "Timed out\n");
    // A -W past the end of time is no timeout (and no panic); -E ends it once subscribed.
    let output = run(
        roost("sub").args([
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-t",
            "quiet",
            "-E",
            "-q",
            "1",
            "-W",
            "18446744073709551615",
        ]),
        None,
    )
    .await;
    assert!(output.status.success(), "{output:?}");
}

/// An unknown flag, a missing flag value and a value of the wrong type are usage errors: exit 1, as
/// mosquitto_pub gives for the same unknown flag, and a message that names the problem.
#[tokio::test]
async fn usage_errors_exit_1_like_mosquitto_pub() {
    let mosquitto = tokio::process::Command::new("mosquitto_pub")
        .arg("--bogus")
        .output()
        .await
        .expect("mosquitto_pub (mosquitto-clients) is installed by scripts/setup");
    assert_eq!(mosquitto.status.code(), Some(1), "{mosquitto:?}");
    for (command, args, words) in [
        ("pub", &["--bogus"][..], "--bogus"),
        ("sub", &["-t", "a", "-p"][..], "-p"),
        ("pub", &["-t", "a", "-m", "x", "-p", "port"][..], "port"),
    ] {
        let output = run(roost(command).args(args), None).await;
        assert_eq!(output.status.code(), Some(1), "{command} {args:?}: {output:?}");
        assert!(stderr(&output).contains(words), "{command} {args:?}: {output:?}");
    }
    let version = run(&mut roost("--version"), None).await;
    assert!(version.status.success(), "{version:?}");
}

#[tokio::test]
async fn help_and_bad_flags_do_not_panic() {
    let output = run(roost("pub").arg("--help"), None).await;
    assert!(output.status.success(), "{output:?}");
    assert!(cli_support::stdout(&output).contains("--will-topic"));
    for args in [
        &["-q", "3", "-t", "a", "-m", "x"][..],
        &["-V", "mqttv4", "-t", "a", "-m", "x"],
        &["-L", "mqtts://host/a", "-m", "x"],
        &["-V", "311", "-D", "publish", "content-type", "x", "-t", "a", "-m", "x"],
        &["-t", "a", "-m", "x", "-D", "publish", "bogus", "x"],
        &["-t", "a", "-m", "x", "-c"],
        &["-t", "a", "-m", "x", "--will-payload", "p"],
        &["-t", "a", "-m", "x", "--repeat-delay", "1e300"],
        &["-t", "a", "-m", "x", "--repeat-delay", "NaN"],
        &["-t", "a", "-m", "x", "--repeat", "0"],
        &[
            "-t",
            "a",
            "-m",
            "x",
            "-V",
            "5",
            "-D",
            "publish",
            "response-topic",
            "a/#",
        ],
        &["-t", "a", "-m", "x", "-V", "5", "-D", "publish", "user-property", "k"],
        &[
            "-t",
            "a",
            "-m",
            "x",
            "-V",
            "5",
            "-D",
            "connect",
            "receive-maximum",
            "70000",
        ],
        &["-t", "a", "-m", "x", "-x", "10"],
        &["-t", "a", "-m", "x", "-L", "mqtt://h:99999/"],
    ] {
        let output = run(roost("pub").args(args), None).await;
        assert!(!output.status.success(), "{args:?}: {output:?}");
        assert_ne!(output.status.code(), Some(101), "panicked: {args:?}: {output:?}");
        assert!(!stderr(&output).contains("panicked"), "{args:?}: {output:?}");
    }
}

#[tokio::test]
async fn user_and_password_from_flags_or_url() {
    let broker = Mosquitto::start().await;
    let port = broker.auth_port.to_string();
    let output = run(
        roost("pub").args(["-p", &port, "-u", USER, "-P", PASSWORD, "-t", "a", "-m", "x"]),
        None,
    )
    .await;
    assert!(output.status.success(), "{output:?}");
    let url = format!("mqtt://{USER}:{PASSWORD}@127.0.0.1:{port}/a");
    let output = run(roost("pub").args(["-L", &url, "-m", "x", "-V", "5"]), None).await;
    assert!(output.status.success(), "{output:?}");
    let output = run(
        roost("sub").args(["-p", &port, "-u", USER, "-P", "wrong", "-t", "a"]),
        None,
    )
    .await;
    assert_eq!(output.status.code(), Some(5), "{output:?}");
    assert_eq!(
        stderr(&output),
        "Connection error: Connection Refused: not authorised.\n"
    );
}

#[tokio::test]
async fn a_closed_stderr_does_not_make_d_panic() {
    let broker = Mosquitto::start().await;
    let port = broker.port.to_string();
    let mut child = roost("pub")
        .args(["-p", &port, "-t", "a", "-m", "x", "-d", "-q", "1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take());
    let status = cli_support::within(child.wait()).await.unwrap();
    assert_eq!(status.code(), Some(0));
}
