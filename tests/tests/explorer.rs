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
        let png = client.screenshot().await?;
        std::fs::write(screenshot_dir()?.join("explorer-phone.png"), png)?;
        Ok(())
    })
    .await?;
    broker.stop().await
}
