//! The installable dashboard in a real browser: a new build on the broker replaces the cached one, and the page
//! offers a reload; the service worker keeps the app shell, so with the broker
//! stopped the page still opens and says it is offline, and opens the dashboard by itself once the broker is
//! back; it never keeps `/api/`, `/mqtt` or `/metrics`; and the page runs under its Content-Security-Policy
//! (service worker registration included) without a violation.
//!
//! Needs the dashboard built into `dist/` (`scripts/trunk build --release`), like dashboard.rs.

use std::time::Duration;

use anyhow::{Context as _, ensure};
use fantoccini::{Client, Locator};
use roost_tests::TestBroker;
use roost_tests::browser::{browser_log, screenshot_dir, with_browser};

/// How long the page may take to show something.
const WAIT: Duration = Duration::from_secs(20);

/// Waits for `css` to match an element.
async fn wait_for(client: &Client, css: &str, why: &str) -> anyhow::Result<fantoccini::elements::Element> {
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .with_context(|| format!("{why}: no {css} on the page within {WAIT:?}"))
}

/// The paths in the service worker's cache, once it is active and controls the page.
async fn cached_paths(client: &Client) -> anyhow::Result<Vec<String>> {
    let paths = client
        .execute_async(
            "const done = arguments[arguments.length - 1]; \
             navigator.serviceWorker.ready \
               .then(() => caches.open('roost-shell')) \
               .then((cache) => cache.keys()) \
               .then((keys) => done(keys.map((request) => new URL(request.url).pathname))) \
               .catch((error) => done(['error: ' + error]));",
            vec![],
        )
        .await
        .context("asking the page for the service worker's cache")?;
    Ok(serde_json::from_value(paths)?)
}

/// Waits until the service worker is active and has the page and `wasm` in its cache; the cached paths.
async fn wait_for_shell(client: &Client, wasm: &str) -> anyhow::Result<Vec<String>> {
    // The worker installs in the background; its install step fills the cache before it activates. Each
    // asynchronous script is bounded by WebDriver's default script timeout (30 s).
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let paths = cached_paths(client).await?;
        if paths.iter().any(|path| path == wasm) && paths.iter().any(|path| path == "/") {
            return Ok(paths);
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "the service worker never cached the shell: {paths:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The wasm `dist/index.html` names.
fn dist_wasm() -> anyhow::Result<String> {
    let index = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../dist/index.html"))?;
    Ok(index
        .split(['"', '\''])
        .find(|part| part.starts_with('/') && part.ends_with("_bg.wasm"))
        .context("dist/index.html names no wasm; is dist/ built (scripts/trunk build --release)?")?
        .to_owned())
}

#[tokio::test]
async fn a_new_build_replaces_the_cached_one_and_the_page_offers_a_reload() -> anyhow::Result<()> {
    let broker = TestBroker::start().await?;
    let url = broker.dashboard_url();
    let wasm = dist_wasm()?;
    with_browser(|client| async move {
        client.goto(&url).await?;
        wait_for(&client, r#"section.status[data-state="connected"]"#, "online").await?;
        wait_for_shell(&client, &wasm).await?;
        // Make the cache hold an "older build": the page with one more comment, and a file only it named.
        let planted = client
            .execute_async(
                "const done = arguments[arguments.length - 1]; \
                 (async () => { \
                   const page = (await (await fetch('/', { cache: 'no-store' })).text()) \
                     .replace('</head>', '<!-- an older build --></head>'); \
                   const cache = await caches.open('roost-shell'); \
                   await cache.put('/', new Response(page, { headers: { 'Content-Type': 'text/html' } })); \
                   await cache.put('/roost-web-0123456789abcdef.js', new Response('old')); \
                   return true; \
                 })().then(done, (error) => done('error: ' + error));",
                vec![],
            )
            .await?;
        ensure!(planted == serde_json::json!(true), "planting an older build: {planted}");
        // The next load shows the cached (older) page at once, and the worker finds the broker's page differs.
        client.refresh().await?;
        let note = wait_for(&client, ".new-build", "a new build on the broker").await?;
        ensure!(
            client.source().await?.contains("an older build"),
            "the page did not come from the cache"
        );
        let paths = cached_paths(&client).await?;
        ensure!(
            !paths.iter().any(|path| path == "/roost-web-0123456789abcdef.js"),
            "the older build's file stayed cached: {paths:?}"
        );
        note.find(Locator::Css("button")).await?.click().await?;
        wait_for(&client, r#"section.status[data-state="connected"]"#, "after the reload").await?;
        ensure!(
            !client.source().await?.contains("an older build"),
            "the reload still showed the older build"
        );
        ensure!(
            client.find(Locator::Css(".new-build")).await.is_err(),
            "the notice came back with the new build"
        );
        Ok(())
    })
    .await?;
    broker.stop().await
}

#[tokio::test]
async fn the_service_worker_opens_the_dashboard_offline() -> anyhow::Result<()> {
    let broker = TestBroker::start().await?;
    let url = broker.dashboard_url();
    let http = broker.http;
    let wasm = dist_wasm()?;
    with_browser(|client| async move {
        client.goto(&url).await?;
        wait_for(&client, r#"section.status[data-state="connected"]"#, "online").await?;
        let paths = wait_for_shell(&client, &wasm).await?;
        for path in &paths {
            ensure!(
                !(path.starts_with("/api/") || path.starts_with("/mqtt") || path.starts_with("/metrics")),
                "the service worker cached {path}: {paths:?}"
            );
        }
        for needed in ["/manifest.webmanifest", "/icon-192.png"] {
            ensure!(
                paths.iter().any(|path| path == needed),
                "{needed} not cached: {paths:?}"
            );
        }
        let log = browser_log(&client).await?;
        let violations: Vec<&String> = log
            .iter()
            .filter(|line| line.contains("Content Security Policy") || line.contains("Refused to"))
            .collect();
        ensure!(violations.is_empty(), "CSP violations online: {violations:#?}");

        // The broker goes away; the page loads from the service worker and says it is offline.
        broker.stop().await?;
        client.refresh().await?;
        let offline = wait_for(&client, r#"section.offline[data-state="offline"]"#, "broker stopped").await?;
        let text = offline.text().await?;
        ensure!(text.contains("Offline"), "the offline notice says {text:?}");
        ensure!(
            client.find(Locator::Css("section.status")).await.is_err(),
            "the dashboard itself showed without the broker"
        );
        let png = client.screenshot().await?;
        std::fs::write(screenshot_dir()?.join("dashboard-offline.png"), png)?;
        let log = browser_log(&client).await?;
        let violations: Vec<&String> = log
            .iter()
            .filter(|line| line.contains("Content Security Policy"))
            .collect();
        ensure!(violations.is_empty(), "CSP violations offline: {violations:#?}");

        // The broker comes back on the same address: the page notices by itself and opens the dashboard.
        let back = TestBroker::start_at(http).await?;
        let reloaded = client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(r#"section.status[data-state="connected"]"#))
            .await
            .context("the offline page never opened the dashboard once the broker was back");
        back.stop().await?;
        reloaded?;
        Ok(())
    })
    .await
}
