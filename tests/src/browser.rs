//! A headless Chromium driven through chromedriver (Debian's `chromium` and `chromium-driver`).
//!
//! [`with_browser`] starts chromedriver on a free loopback port, opens a session with a fresh profile, runs the
//! test body, and always closes the session and stops chromedriver afterwards, also when the body fails or
//! panics, so no Chromium is left behind.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, bail};
use fantoccini::{Client, ClientBuilder};
use tokio::process::{Child, Command};

/// Chromium's flags for running as root on a closed network (see ../shared/TOOLCHAIN.md).
const CHROME_ARGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
];

struct Chromedriver {
    child: Child,
    port: u16,
}

impl Chromedriver {
    async fn start() -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let binary = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
        let child = Command::new(&binary)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {binary} (install chromium-driver: scripts/setup)"))?;
        // Wait until it accepts connections; bounded.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            if tokio::time::Instant::now() > deadline {
                bail!("chromedriver did not listen on port {port} within 20 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(Self { child, port })
    }
}

/// Runs `body` with a fresh headless Chromium session; closes it and stops chromedriver whatever happens.
pub async fn with_browser<F, Fut>(body: F) -> anyhow::Result<()>
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let mut driver = Chromedriver::start().await?;
    let profile = tempfile::tempdir()?;
    let mut args: Vec<String> = CHROME_ARGS.iter().map(|s| s.to_string()).collect();
    args.push(format!("--user-data-dir={}", profile.path().display()));
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({ "args": args, "binary": "/usr/bin/chromium" }),
    );
    // Keeps the console (CSP violations among it) for `browser_log`.
    caps.insert("goog:loggingPrefs".into(), serde_json::json!({ "browser": "ALL" }));
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let client = ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .context("opening a WebDriver session")?;
    let outcome = futures_catch_unwind(body(client.clone())).await;
    let closed = client.close().await;
    let _ = driver.child.kill().await;
    match outcome {
        Ok(result) => {
            result?;
            closed.context("closing the WebDriver session")?;
            Ok(())
        }
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

async fn futures_catch_unwind<Fut: Future>(fut: Fut) -> std::thread::Result<Fut::Output> {
    // Polls the future inside catch_unwind so a failed assertion in a test body still lets us close the browser.
    let mut fut = std::pin::pin!(fut);
    std::future::poll_fn(
        move |cx| match std::panic::catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
            Ok(std::task::Poll::Ready(v)) => std::task::Poll::Ready(Ok(v)),
            Ok(std::task::Poll::Pending) => std::task::Poll::Pending,
            Err(panic) => std::task::Poll::Ready(Err(panic)),
        },
    )
    .await
}

/// Where screenshots go so a person can look at them: `<target dir>/screenshots/`.
pub fn screenshot_dir() -> anyhow::Result<PathBuf> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let dir = target.join("screenshots");
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// ChromeDriver's log endpoint, which W3C WebDriver lacks: the browser console since the last call.
#[derive(Debug)]
struct GetBrowserLog;

impl fantoccini::wd::WebDriverCompatibleCommand for GetBrowserLog {
    fn endpoint(&self, base_url: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/se/log", session_id.unwrap_or_default()))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type":"browser"}"#.into()))
    }
}

/// The console messages Chromium logged since the last call (each "LEVEL message"), CSP violations included.
pub async fn browser_log(client: &Client) -> anyhow::Result<Vec<String>> {
    let entries = client
        .issue_cmd(GetBrowserLog)
        .await
        .context("reading the browser log")?;
    let entries = entries.as_array().context("the browser log is not a list")?;
    Ok(entries
        .iter()
        .map(|entry| {
            let level = entry["level"].as_str().unwrap_or("?");
            let message = entry["message"].as_str().unwrap_or("?");
            format!("{level} {message}")
        })
        .collect())
}
