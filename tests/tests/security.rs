//! The dashboard's security in a real browser: it runs under its Content-Security-Policy without a violation,
//! and a page from another origin cannot open `/mqtt` through the visitor's browser.
//!
//! Needs the dashboard built into `dist/` (`scripts/trunk build --release`), like dashboard.rs.

use std::time::Duration;

use anyhow::{Context as _, ensure};
use fantoccini::Locator;
use roost_tests::TestBroker;
use roost_tests::browser::{browser_log, with_browser};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// Publishes a retained message with raw MQTT 3.1.1 bytes, so the topic tree has a node (leptos sets its `style`
/// attribute, which the CSP must allow) when the page loads. PINGRESP proves the PUBLISH was handled.
async fn retain(broker: &TestBroker) -> anyhow::Result<()> {
    let mut stream = TcpStream::connect(broker.mqtt).await?;
    let connect = [0x10, 0x0E, 0, 4, b'M', b'Q', b'T', b'T', 4, 2, 0, 60, 0, 2, b'c', b's'];
    let publish = [0x31, 6, 0, 3, b'a', b'/', b'b', b'1'];
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

/// The response head of `GET path`, lower case.
async fn head(broker: &TestBroker, path: &str) -> anyhow::Result<String> {
    let mut stream = TcpStream::connect(broker.http).await?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        broker.http
    );
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response)).await??;
    let response = String::from_utf8_lossy(&response).to_ascii_lowercase();
    Ok(response.split("\r\n\r\n").next().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn the_dashboard_runs_under_its_content_security_policy() -> anyhow::Result<()> {
    let broker = TestBroker::start().await?;
    retain(&broker).await?;
    // The page and an asset it loads (the stylesheet Trunk names) carry the headers.
    let page = head(&broker, "/").await?;
    let index = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../dist/index.html"))?;
    let css = index
        .split('"')
        .find(|part| part.starts_with('/') && part.ends_with(".css"))
        .context("dist/index.html names no stylesheet; is dist/ built (scripts/trunk build --release)?")?;
    let asset = head(&broker, css).await?;
    for (what, head) in [("page", &page), ("asset", &asset)] {
        ensure!(head.starts_with("http/1.1 200"), "{what}: {head}");
        for header in [
            "content-security-policy: ",
            "x-content-type-options: nosniff",
            "x-frame-options: deny",
        ] {
            ensure!(head.contains(header), "{what} lacks {header}: {head}");
        }
    }
    ensure!(
        page.contains("'sha256-"),
        "the page's policy names no script hash: {page}"
    );
    // The service worker is allowed by name, not by falling back to script-src.
    ensure!(page.contains("worker-src 'self'"), "no worker-src: {page}");
    let url = broker.dashboard_url();
    with_browser(|client| async move {
        client.goto(&url).await?;
        client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(r#"section.status[data-state="connected"]"#))
            .await
            .context("the dashboard never connected under its CSP")?;
        client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(r#"li.tree-node[data-topic="a"]"#))
            .await
            .context("the topic tree never showed the retained topic")?;
        let log = browser_log(&client).await?;
        let violations: Vec<&String> = log
            .iter()
            .filter(|line| line.contains("Content Security Policy") || line.contains("Refused to"))
            .collect();
        ensure!(violations.is_empty(), "CSP violations: {violations:#?}");
        // The check can fail: an inline script the policy does not name is refused, and the log says so.
        client
            .execute(
                "const s = document.createElement('script'); s.textContent = 'window.injected = 1'; \
                 document.head.appendChild(s); return window.injected === undefined;",
                vec![],
            )
            .await?
            .as_bool()
            .filter(|blocked| *blocked)
            .context("an inline script ran despite the CSP")?;
        let log = browser_log(&client).await?;
        ensure!(
            log.iter().any(|line| line.contains("Content Security Policy")),
            "the blocked script left no trace in the log: {log:#?}"
        );
        Ok(())
    })
    .await?;
    broker.stop().await
}

/// Serves one fixed HTML page on a loopback port of its own: another origin than the dashboard's.
async fn foreign_site(page: String) -> anyhow::Result<(String, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/", listener.local_addr()?);
    let task = tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let page = page.clone();
            tokio::spawn(async move {
                let mut request = [0; 4096];
                let _ = socket.read(&mut request).await;
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
                    page.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    Ok((url, task))
}

/// JavaScript that opens `/mqtt` and sets `document.title` to "open" or "refused".
fn probe(mqtt: &str) -> String {
    format!(
        "const ws = new WebSocket('{mqtt}', 'mqtt'); \
         ws.onopen = () => {{ document.title = 'open'; ws.close(); }}; \
         ws.onerror = () => {{ document.title = 'refused'; }};"
    )
}

#[tokio::test]
async fn a_page_from_another_origin_cannot_open_mqtt() -> anyhow::Result<()> {
    let broker = TestBroker::start().await?;
    let mqtt = format!("ws://{}/mqtt", broker.http);
    let page = format!("<!doctype html><title>waiting</title><script>{}</script>", probe(&mqtt));
    let (foreign_url, site) = foreign_site(page).await?;
    let dashboard = broker.dashboard_url();
    let outcome = with_browser(|client| async move {
        let title = |client: fantoccini::Client| async move {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            loop {
                let title = client.title().await?;
                if title == "open" || title == "refused" {
                    return anyhow::Ok(title);
                }
                ensure!(
                    tokio::time::Instant::now() < deadline,
                    "the probe never finished ({title:?})"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        // From another origin (another port of the same host): the browser sends that Origin and the broker
        // answers 403, which the page sees as an error.
        client.goto(&foreign_url).await?;
        ensure!(title(client.clone()).await? == "refused", "a foreign page opened /mqtt");
        // The same probe from the dashboard's own origin opens it, so the refusal above is the Origin's doing.
        client.goto(&dashboard).await?;
        client
            .execute(&format!("document.title = 'waiting'; {}", probe(&mqtt)), vec![])
            .await?;
        ensure!(
            title(client.clone()).await? == "open",
            "the dashboard's own origin could not open /mqtt"
        );
        Ok(())
    })
    .await;
    site.abort();
    outcome?;
    broker.stop().await
}
