//! How long the dashboard's first view (connection status and control panel) takes on a slow link: Chromium
//! throttled through the DevTools protocol (`Network.emulateNetworkConditions`) to 1.6 Mbit/s down, 750 kbit/s
//! up and 150 ms of latency, the issue's "slow link". Measures a cold load (empty cache) and a warm one (the
//! service worker's cache and the immutable hashed files), prints both with what the first view downloaded, and
//! fails past the bounds below. Run with `--nocapture` to see the figures (BENCHMARKS.md "Dashboard size").
//!
//! Needs the dashboard built into `dist/` (`scripts/trunk build --release`), like dashboard.rs.

use std::time::Duration;

use anyhow::{Context as _, ensure};
use fantoccini::{Client, Locator};
use roost_tests::TestBroker;
use roost_tests::browser::{browser_log, devtools, with_browser};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// The issue's targets: the first card within 2.5 s cold on the slow link, 0.5 s warm.
const COLD_TARGET: Duration = Duration::from_millis(2500);
const WARM_TARGET: Duration = Duration::from_millis(500);
/// What this test enforces: the targets with room for a busy 2-core test machine (the page's wasm compiles on the
/// same cores as the broker, the test and other builds). BENCHMARKS.md records the figures against the targets.
const COLD_BOUND: Duration = Duration::from_millis(4000);
const WARM_BOUND: Duration = Duration::from_millis(2000);
/// How long the page may take at most before the test gives up.
const WAIT: Duration = Duration::from_secs(30);

/// Publishes a retained panel layout with one value card, with raw MQTT 3.1.1 bytes; PINGRESP proves it was
/// handled.
async fn retain_layout(broker: &TestBroker) -> anyhow::Result<()> {
    let mut stream = TcpStream::connect(broker.mqtt).await?;
    let connect = [0x10, 0x0E, 0, 4, b'M', b'Q', b'T', b'T', 4, 2, 0, 60, 0, 2, b'f', b'l'];
    let topic = b"roost/dashboard";
    let payload =
        br#"{"roost_panel":1,"cards":[{"title":"Temperature","type":"value","topic":"room/temp","unit":"C"}]}"#;
    let remaining = 2 + topic.len() + payload.len();
    ensure!(remaining < 128, "one length byte");
    let mut publish = vec![0x31, u8::try_from(remaining)?, 0, u8::try_from(topic.len())?];
    publish.extend_from_slice(topic);
    publish.extend_from_slice(payload);
    stream.write_all(&connect).await?;
    let mut connack = [0; 4];
    stream.read_exact(&mut connack).await?;
    stream.write_all(&publish).await?;
    stream.write_all(&[0xC0, 0]).await?;
    let mut pingresp = [0; 2];
    stream.read_exact(&mut pingresp).await?;
    ensure!(
        connack == [0x20, 2, 0, 0] && pingresp == [0xD0, 0],
        "unexpected {connack:?} {pingresp:?}"
    );
    Ok(())
}

/// Loads `url` and times it until the panel's first card and the connected status are on screen.
async fn first_card(client: &Client, url: &str) -> anyhow::Result<Duration> {
    let start = Instant::now();
    client.goto(url).await?;
    client
        .wait()
        .at_most(WAIT)
        .every(Duration::from_millis(20))
        .for_element(Locator::Css(r#"section.panel li.card"#))
        .await
        .context("the panel's first card never showed")?;
    let elapsed = start.elapsed();
    client
        .find(Locator::Css(r#"section.status[data-state="connected"]"#))
        .await
        .context("a card showed before the status said connected")?;
    Ok(elapsed)
}

/// What the page downloaded: (name, bytes on the wire, bytes decoded, milliseconds from the navigation's start
/// to the last byte) of the page and each resource, from the Resource Timing API (same-origin, so the sizes are
/// exposed).
async fn downloaded(client: &Client) -> anyhow::Result<Vec<(String, u64, u64, u64)>> {
    let entries = client
        .execute(
            "return performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource')) \
               .map((e) => [new URL(e.name).pathname, e.transferSize, e.decodedBodySize, Math.round(e.responseEnd)]);",
            vec![],
        )
        .await?;
    Ok(serde_json::from_value(entries)?)
}

#[tokio::test]
async fn the_first_card_shows_quickly_on_a_slow_link() -> anyhow::Result<()> {
    let broker = TestBroker::start().await?;
    retain_layout(&broker).await?;
    let url = broker.dashboard_url();
    with_browser(|client| async move {
        // A blank page of the same origin first, so the throttling applies to a page target before the timed load.
        client.goto("about:blank").await?;
        devtools(&client, "Network.enable", serde_json::json!({})).await?;
        devtools(
            &client,
            "Network.emulateNetworkConditions",
            serde_json::json!({
                "offline": false,
                "latency": 150,
                "downloadThroughput": 1_600_000 / 8,
                "uploadThroughput": 750_000 / 8,
            }),
        )
        .await?;
        let cold = first_card(&client, &url).await?;
        let files = downloaded(&client).await?;
        let wire: u64 = files.iter().map(|(_, wire, _, _)| wire).sum();
        let decoded: u64 = files.iter().map(|(_, _, decoded, _)| decoded).sum();
        // Wait for the service worker to finish caching the shell, so the warm load can use it (WebDriver's
        // default script timeout, 30 s, bounds the wait).
        client
            .execute_async(
                "const done = arguments[arguments.length - 1]; navigator.serviceWorker.ready.then(() => done(true));",
                vec![],
            )
            .await?;
        let warm = first_card(&client, &url).await?;
        let warm_files = downloaded(&client).await?;
        let warm_wire: u64 = warm_files.iter().map(|(_, wire, _, _)| wire).sum();
        eprintln!(
            "slow link (1.6 Mbit/s, 150 ms): first card cold {cold:?} (target {COLD_TARGET:?}), warm {warm:?} \
             (target {WARM_TARGET:?}); cold download {wire} B on the wire ({decoded} B decoded): {files:?}; \
             warm {warm_wire} B on the wire: {warm_files:?}"
        );
        let wasm = files
            .iter()
            .find(|(name, _, _, _)| name.ends_with(".wasm"))
            .context("no wasm among the downloads")?;
        ensure!(wasm.1 < wasm.2, "the wasm was not sent compressed: {wasm:?}");
        // The page preloads /api/session for the app; a preload the app did not take would be a second request
        // (and, a few seconds after the load, a console warning).
        let sessions = files.iter().filter(|(name, _, _, _)| name == "/api/session").count();
        ensure!(sessions == 1, "/api/session fetched {sessions} times: {files:?}");
        let log = browser_log(&client).await?;
        let unused: Vec<&String> = log
            .iter()
            .filter(|line| line.contains("preloaded using link preload but not used"))
            .collect();
        ensure!(unused.is_empty(), "preload warnings: {unused:#?}");
        ensure!(
            cold <= COLD_BOUND,
            "cold first card after {cold:?} (bound {COLD_BOUND:?})"
        );
        ensure!(
            warm <= WARM_BOUND,
            "warm first card after {warm:?} (bound {WARM_BOUND:?})"
        );
        Ok(())
    })
    .await?;
    broker.stop().await
}
