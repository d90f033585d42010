//! The dashboard on a phone-sized screen (390 × 844): the panel comes first, the connection state is one line
//! whose "Details" opens the rest, and the other parts are behind a tab bar (a WAI-ARIA tab list: click or arrow
//! keys). At desktop width every part shows and there is no tab bar. Screenshots go to `target/screenshots/`.
//!
//! Needs the dashboard built into `dist/` (`scripts/trunk build --release`), like `dashboard.rs`.

use std::time::Duration;

use anyhow::{Context as _, ensure};
use fantoccini::key::Key;
use fantoccini::{Client, Locator};
use roost_tests::TestBroker;
use roost_tests::browser::{screenshot_dir, with_browser};

/// How long the page may take to show something.
const WAIT: Duration = Duration::from_secs(20);

async fn wait_for(client: &Client, css: &str) -> anyhow::Result<fantoccini::elements::Element> {
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .with_context(|| format!("no {css} on the page"))
}

/// Whether `css` is displayed, waiting (bounded) until it is `expected`.
async fn displayed(client: &Client, css: &str, expected: bool) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let shown = wait_for(client, css).await?.is_displayed().await?;
        if shown == expected {
            return Ok(());
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "{css} is {}displayed",
            if shown { "" } else { "not " }
        );
        // Polling the page's state, bounded by the deadline above.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The top of the first element matching `css`, in CSS pixels from the top of the viewport.
async fn top(client: &Client, css: &str) -> anyhow::Result<f64> {
    let script = format!("return document.querySelector({css:?}).getBoundingClientRect().top;");
    client
        .execute(&script, vec![])
        .await?
        .as_f64()
        .with_context(|| format!("no position for {css}"))
}

#[tokio::test]
async fn on_a_phone_the_panel_comes_first_and_the_rest_is_behind_tabs() -> anyhow::Result<()> {
    let broker = TestBroker::start().await?;
    let url = broker.dashboard_url();
    let (broker_ip, broker_port) = (broker.mqtt.ip().to_string(), broker.mqtt.port().to_string());
    with_browser(|client| async move {
        client.set_window_size(390, 844).await?;
        client.goto(&url).await?;
        wait_for(&client, r#".status[data-state="connected"]"#).await?;
        let layout = r#"{"roost_panel":1,"cards":[{"title":"Lamp","type":"switch","command_topic":"lamp/set"}]}"#;
        // The panel's layout, retained, from a third-party client (mosquitto_pub).
        let sent = tokio::process::Command::new("mosquitto_pub")
            .args(["-h", &broker_ip, "-p", &broker_port])
            .args(["-t", "roost/dashboard", "-r", "-q", "1", "-m", layout])
            .status()
            .await
            .context("running mosquitto_pub")?;
        ensure!(sent.success(), "mosquitto_pub failed: {sent}");
        wait_for(&client, ".panel .card").await?;

        // The connection state is one line; its details open on demand.
        displayed(&client, ".status-detail", false).await?;
        wait_for(&client, ".status-more").await?.click().await?;
        displayed(&client, ".status-detail", true).await?;
        wait_for(&client, ".status-more").await?.click().await?;
        displayed(&client, ".status-detail", false).await?;
        std::fs::write(screenshot_dir()?.join("phone-panel.png"), client.screenshot().await?)?;
        let card_top = top(&client, ".panel .card").await?;
        // Before the tabs, the connection status box alone took the first ~290 px of a 390 px wide screen.
        ensure!(card_top < 240.0, "the first card starts {card_top} px down the screen");

        // The other parts are behind the tabs.
        displayed(&client, ".explorer", false).await?;
        displayed(&client, ".publish", false).await?;
        wait_for(&client, "#tab-button-topics").await?.click().await?;
        displayed(&client, ".explorer", true).await?;
        displayed(&client, ".panel", false).await?;
        let selected = wait_for(&client, "#tab-button-topics")
            .await?
            .attr("aria-selected")
            .await?;
        ensure!(
            selected.as_deref() == Some("true"),
            "Topics is not marked selected: {selected:?}"
        );
        std::fs::write(screenshot_dir()?.join("phone-topics.png"), client.screenshot().await?)?;
        // Arrow keys move along the tab list.
        wait_for(&client, "#tab-button-topics")
            .await?
            .send_keys(&Key::Right.to_string())
            .await?;
        displayed(&client, ".publish", true).await?;
        displayed(&client, ".explorer", false).await?;
        let focused = client.execute("return document.activeElement.id;", vec![]).await?;
        ensure!(focused.as_str() == Some("tab-button-publish"), "focus is on {focused}");

        // At desktop width, everything at once and no tab bar.
        client.set_window_size(1280, 900).await?;
        displayed(&client, ".tabs", false).await?;
        for part in [".panel", ".explorer", ".publish", ".broker", ".status-detail"] {
            displayed(&client, part, true).await?;
        }
        Ok(())
    })
    .await?;
    broker.stop().await
}
