//! The dashboard in a real browser (Debian's headless Chromium through chromedriver) against a real `roost`.
//!
//! Needs the dashboard built into `dist/` (`scripts/trunk build --release`; scripts/test does it first): a debug
//! `roost` serves `dist/` from disk.

use std::time::Duration;

use anyhow::{Context as _, ensure};
use fantoccini::Locator;
use roost_tests::TestBroker;
use roost_tests::browser::{screenshot_dir, with_browser};

#[tokio::test]
async fn dashboard_connects_to_the_broker_over_websocket() -> anyhow::Result<()> {
    let broker = TestBroker::start().await?;
    let url = broker.dashboard_url();
    with_browser(|client| async move {
        client.goto(&url).await?;
        let title = client.title().await?;
        ensure!(
            title.contains("Roost"),
            "page title is {title:?}; is dist/ built (scripts/trunk build --release)?"
        );
        // The page connects to /mqtt on its own origin and shows the CONNACK's outcome.
        let status = client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(r#"section.status[data-state="connected"]"#))
            .await
            .context("the dashboard never showed the connected state")?;
        let text = status.text().await?;
        ensure!(
            text.contains("Success"),
            "status text {text:?} does not report the broker's Success reason code"
        );
        let png = client.screenshot().await?;
        std::fs::write(screenshot_dir()?.join("dashboard-connected.png"), png)?;
        Ok(())
    })
    .await?;
    broker.stop().await
}
