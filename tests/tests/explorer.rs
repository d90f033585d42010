//! The topic explorer in a real browser against a real `roost`: a retained message published with
//! `mosquitto_pub` shows up in the dashboard's tree.
//!
//! Needs the dashboard built into `dist/` (`scripts/trunk build --release`), like `dashboard.rs`.

use std::time::Duration;

use anyhow::{Context as _, ensure};
use fantoccini::Locator;
use roost_tests::TestBroker;
use roost_tests::browser::{screenshot_dir, with_browser};

#[tokio::test]
async fn a_retained_message_shows_in_the_topic_tree() -> anyhow::Result<()> {
    let broker = TestBroker::start().await?;
    let status = tokio::process::Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &broker.mqtt.port().to_string()])
        .args(["-t", "kitchen/temp", "-m", "21.5", "-r"])
        .status()
        .await
        .context("running mosquitto_pub")?;
    ensure!(status.success(), "mosquitto_pub failed: {status}");

    let url = broker.dashboard_url();
    let port = broker.mqtt.port().to_string();
    with_browser(|client| async move {
        client.goto(&url).await?;
        let wait = Duration::from_secs(20);
        // The dashboard subscribes to `#` after its CONNACK and the broker sends the retained message.
        let toggle = client
            .wait()
            .at_most(wait)
            .for_element(Locator::Css(r#".tree-node[data-topic="kitchen"] .tree-toggle"#))
            .await
            .context("no `kitchen` node in the topic tree")?;
        toggle.click().await?;
        let temp = client
            .wait()
            .at_most(wait)
            .for_element(Locator::Css(r#".tree-node[data-topic="kitchen/temp"]"#))
            .await
            .context("no `kitchen/temp` node after expanding `kitchen`")?;
        let text = temp.text().await?;
        ensure!(
            text.contains("temp") && text.contains("21.5"),
            "the node shows {text:?}"
        );
        let retained = temp.find(Locator::Css(".tree-retained")).await;
        ensure!(retained.is_ok(), "the node has no retained marker");

        temp.find(Locator::Css(".tree-topic")).await?.click().await?;
        let details = client
            .wait()
            .at_most(wait)
            .for_element(Locator::Css(".details"))
            .await
            .context("selecting the topic showed no details")?;
        let text = details.text().await?;
        ensure!(
            text.contains("kitchen/temp") && text.contains("21.5"),
            "details show {text:?}"
        );

        // Times are local, with their offset, not UTC ISO strings.
        let iso_utc = text
            .as_bytes()
            .windows(5)
            .any(|w| w[0] == b'.' && w[1..4].iter().all(u8::is_ascii_digit) && w[4] == b'Z');
        let local = text.as_bytes().windows(19).any(|w| {
            w.iter().enumerate().all(|(i, c)| match i {
                4 | 7 => *c == b'-',
                10 => *c == b' ',
                13 | 16 => *c == b':',
                _ => c.is_ascii_digit(),
            })
        });
        ensure!(!iso_utc && local, "details show no local time: {text:?}");

        // Deleting the retained message (an empty retained PUBLISH): the line says "deleted", no "R".
        let status = tokio::process::Command::new("mosquitto_pub")
            .args(["-h", "127.0.0.1", "-p", &port, "-t", "kitchen/temp", "-n", "-r"])
            .status()
            .await
            .context("running mosquitto_pub")?;
        ensure!(status.success(), "mosquitto_pub -n failed: {status}");
        client
            .wait()
            .at_most(wait)
            .for_element(Locator::Css(r#".tree-node[data-topic="kitchen/temp"] .tree-deleted"#))
            .await
            .context("the deleted retained message is not shown as deleted")?;
        ensure!(
            client
                .find_all(Locator::Css(r#".tree-node[data-topic="kitchen/temp"] .tree-retained"#))
                .await?
                .is_empty(),
            "a deleted retained message is still marked R"
        );

        let png = client.screenshot().await?;
        std::fs::write(screenshot_dir()?.join("explorer.png"), png)?;
        // At phone width too, for a person to look at.
        client.set_window_size(390, 844).await?;
        // On a phone the explorer is behind its tab.
        client.find(Locator::Css("#tab-button-topics")).await?.click().await?;
        let png = client.screenshot().await?;
        std::fs::write(screenshot_dir()?.join("explorer-phone.png"), png)?;
        Ok(())
    })
    .await?;
    broker.stop().await
}

/// 2,000 messages a second for five seconds on one topic: the dashboard keeps up (the broker would drop QoS 0
/// messages for it once 1,000 wait in its queue) and counts every one.
#[tokio::test]
async fn two_thousand_messages_a_second_are_all_counted() -> anyhow::Result<()> {
    const BURST: usize = 10_000;
    let broker = TestBroker::start().await?;
    let url = broker.dashboard_url();
    let port = broker.mqtt.port().to_string();
    with_browser(|client| async move {
        client.goto(&url).await?;
        client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(r#"section.status[data-state="connected"]"#))
            .await
            .context("the dashboard never connected")?;
        // The SUBSCRIBE to `#` leaves in the same turn as the CONNACK is shown, before mosquitto_pub connects.
        let lines: String = (0..BURST).map(|i| format!("{i}\n")).collect();
        let mut publisher = tokio::process::Command::new("mosquitto_pub")
            .args(["-h", "127.0.0.1", "-p", &port, "-t", "burst/counter", "-l"])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .context("running mosquitto_pub")?;
        let mut stdin = publisher.stdin.take().context("mosquitto_pub's stdin")?;
        // 2,000 messages a second: 200 every 100 ms (pacing the load, not waiting for a result).
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        for chunk in lines.as_bytes().chunks(lines.len() / (BURST / 200)) {
            tick.tick().await;
            tokio::io::AsyncWriteExt::write_all(&mut stdin, chunk).await?;
        }
        drop(stdin);
        ensure!(publisher.wait().await?.success(), "mosquitto_pub failed");
        let started = std::time::Instant::now();
        let summary = format!("1 topic, {BURST} messages");
        let found = client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::XPath(&format!(
                r#"//p[@class="explorer-summary" and text()="{summary}"]"#
            )))
            .await;
        if found.is_err() {
            let shown = client.find(Locator::Css(".explorer-summary")).await?.text().await?;
            anyhow::bail!("the summary says {shown:?}, not {summary:?}");
        }
        eprintln!("all shown {:?} after mosquitto_pub finished", started.elapsed());
        Ok(())
    })
    .await?;
    broker.stop().await
}

/// The element that has the keyboard focus: its `data-topic`, if it is a line of the tree.
async fn focused_topic(client: &fantoccini::Client) -> anyhow::Result<Option<String>> {
    let active = client.active_element().await?;
    Ok(match active.attr("role").await?.as_deref() {
        Some("treeitem") => active.attr("data-topic").await?,
        _ => None,
    })
}

/// Sends `key` to the focused element, then waits (bounded) until the focus is on `expected`'s line.
async fn press(client: &fantoccini::Client, key: fantoccini::key::Key, expected: &str) -> anyhow::Result<()> {
    client.active_element().await?.send_keys(&key.to_string()).await?;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let focused = focused_topic(client).await?;
        if focused.as_deref() == Some(expected) {
            return Ok(());
        }
        ensure!(
            std::time::Instant::now() < deadline,
            "after {key:?} the focus is on {focused:?}, not {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits (bounded) until the line of `topic` says `aria-expanded="{open}"`.
async fn expanded(client: &fantoccini::Client, topic: &str, open: bool) -> anyhow::Result<()> {
    client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(&format!(
            r#"[role="treeitem"][data-topic="{topic}"][aria-expanded="{open}"]"#
        )))
        .await
        .with_context(|| format!("{topic} is not aria-expanded={open}"))
        .map(drop)
}

/// The topic tree is an ARIA tree with one Tab stop, driven by the arrow keys, Home, End and Enter.
#[tokio::test]
async fn the_topic_tree_is_an_aria_tree_driven_by_the_keyboard() -> anyhow::Result<()> {
    use fantoccini::key::Key;
    let broker = TestBroker::start().await?;
    for (topic, value) in [
        ("garden", "dry"),
        ("house/hall", "dark"),
        ("house/kitchen/temp", "21.5"),
    ] {
        let status = tokio::process::Command::new("mosquitto_pub")
            .args(["-h", "127.0.0.1", "-p", &broker.mqtt.port().to_string()])
            .args(["-t", topic, "-m", value, "-r"])
            .status()
            .await
            .context("running mosquitto_pub")?;
        ensure!(status.success(), "mosquitto_pub failed: {status}");
    }
    let url = broker.dashboard_url();
    with_browser(|client| async move {
        client.goto(&url).await?;
        let house = client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(
                r#"ul[role="tree"] > li[role="treeitem"][data-topic="house"]"#,
            ))
            .await
            .context("no treeitem for `house`")?;
        ensure!(house.attr("aria-level").await?.as_deref() == Some("1"));
        ensure!(house.attr("aria-expanded").await?.as_deref() == Some("false"));
        let stops = client
            .find_all(Locator::Css(r#"[role="treeitem"][tabindex="0"]"#))
            .await?;
        ensure!(stops.len() == 1, "{} lines are Tab stops", stops.len());

        // From the filter box, Tab passes the $SYS checkbox and lands on the tree's first line.
        client.find(Locator::Css(".explorer-search")).await?.click().await?;
        client.active_element().await?.send_keys(&Key::Tab.to_string()).await?;
        press(&client, Key::Tab, "garden").await?;
        press(&client, Key::Down, "house").await?;
        press(&client, Key::Right, "house").await?;
        expanded(&client, "house", true).await?;
        press(&client, Key::Right, "house/hall").await?;
        press(&client, Key::Down, "house/kitchen").await?;
        press(&client, Key::Right, "house/kitchen").await?;
        expanded(&client, "house/kitchen", true).await?;
        press(&client, Key::Right, "house/kitchen/temp").await?;
        let temp = client
            .find(Locator::Css(r#"[role="treeitem"][data-topic="house/kitchen/temp"]"#))
            .await?;
        ensure!(temp.attr("aria-level").await?.as_deref() == Some("3"));
        ensure!(
            temp.attr("aria-expanded").await?.is_none(),
            "a leaf has no aria-expanded"
        );
        press(&client, Key::Left, "house/kitchen").await?;
        press(&client, Key::Left, "house/kitchen").await?;
        expanded(&client, "house/kitchen", false).await?;
        press(&client, Key::Home, "garden").await?;
        press(&client, Key::End, "house/kitchen").await?;
        press(&client, Key::Up, "house/hall").await?;
        press(&client, Key::Left, "house").await?;
        // Still one Tab stop, now on the focused line.
        let stops = client
            .find_all(Locator::Css(r#"[role="treeitem"][tabindex="0"]"#))
            .await?;
        ensure!(stops.len() == 1, "{} lines are Tab stops", stops.len());
        ensure!(stops[0].attr("data-topic").await?.as_deref() == Some("house"));

        // Enter selects: the line says so and the details show the topic.
        press(&client, Key::Down, "house/hall").await?;
        client
            .active_element()
            .await?
            .send_keys(&Key::Enter.to_string())
            .await?;
        client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(
                r#"[role="treeitem"][data-topic="house/hall"][aria-selected="true"]"#,
            ))
            .await
            .context("Enter did not select the line")?;
        let details = client.find(Locator::Css(".details")).await?.text().await?;
        ensure!(
            details.contains("house/hall") && details.contains("dark"),
            "details show {details:?}"
        );

        // Tab leaves the tree rather than walking its lines.
        press(&client, Key::Up, "house").await?;
        client.active_element().await?.send_keys(&Key::Tab.to_string()).await?;
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while focused_topic(&client).await?.is_some() {
            ensure!(
                std::time::Instant::now() < deadline,
                "Tab moved to another line of the tree"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let png = client.screenshot().await?;
        std::fs::write(screenshot_dir()?.join("explorer-keyboard.png"), png)?;
        Ok(())
    })
    .await?;
    broker.stop().await
}
