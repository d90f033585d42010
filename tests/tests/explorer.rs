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
