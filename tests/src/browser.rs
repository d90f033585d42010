//! A headless Chromium driven through chromedriver (Debian's `chromium` and `chromium-driver`).
//!
//! [`with_browser`] starts chromedriver on a loopback port it picks itself, opens a session with a fresh profile
//! (retried a few times), runs the test body, and always closes the session and stops chromedriver afterwards, also
//! when the body fails or panics, so no Chromium is left behind.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, bail};
use fantoccini::{Client, ClientBuilder};
use tokio::io::{AsyncBufReadExt, BufReader};
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

/// How often opening a WebDriver session is tried before the test fails: Chromium's first start on a busy machine
/// can fail once, and a session costs little to retry.
const SESSION_ATTEMPTS: u32 = 3;

/// How long chromedriver may take to say it listens.
const START_LIMIT: Duration = Duration::from_secs(20);

/// How often chromedriver is started before the test fails. With `--port=0` it looks for a free port itself and
/// then binds it, and when another process (another test's chromedriver) took that port in between it exits with
/// "IPv4 port not available"; a new start picks another port.
const START_ATTEMPTS: u32 = 5;

struct Chromedriver {
    child: Child,
    port: u16,
}

impl Chromedriver {
    /// Starts chromedriver on a port it picks itself (`--port=0`) and reads that port from the line it prints once
    /// it listens ("ChromeDriver was started successfully on port N."). Choosing a free port here and handing it
    /// over would leave a window in which another process (another test's chromedriver, say) takes it, and waiting
    /// for "anything listening" there could then talk to someone else's server.
    async fn start() -> anyhow::Result<Self> {
        let mut failures = Vec::new();
        for attempt in 1..=START_ATTEMPTS {
            match Self::start_once().await {
                Ok(started) => return Ok(started),
                Err(error) => {
                    let lost_port = format!("{error:#}").contains("port not available");
                    failures.push(format!("attempt {attempt}: {error:#}"));
                    if !lost_port {
                        break;
                    }
                }
            }
        }
        bail!("chromedriver did not start:\n{}", failures.join("\n"))
    }

    async fn start_once() -> anyhow::Result<Self> {
        let binary = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
        let mut child = Command::new(&binary)
            .arg("--port=0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {binary} (install chromium-driver: scripts/setup)"))?;
        let stdout = child.stdout.take().context("chromedriver's stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let mut seen = Vec::new();
        let port = tokio::time::timeout(START_LIMIT, async {
            while let Some(line) = lines.next_line().await? {
                if let Some(port) = listening_port(&line) {
                    return Ok(port);
                }
                seen.push(line);
            }
            bail!("chromedriver exited before it listened")
        })
        .await
        .with_context(|| format!("chromedriver did not say it listens within {START_LIMIT:?}"))?
        .with_context(|| format!("chromedriver printed: {seen:?}"))?;
        // Keep reading what it prints, so a full pipe never blocks it.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Self { child, port })
    }
}

/// The port in chromedriver's "ChromeDriver was started successfully on port 41637." line.
fn listening_port(line: &str) -> Option<u16> {
    let rest = line.split("started successfully on port ").nth(1)?;
    rest.trim_end().trim_end_matches('.').parse().ok()
}

/// Opens a WebDriver session on `port`, trying [`SESSION_ATTEMPTS`] times with a fresh Chromium profile each time.
async fn open_session(port: u16, profile: &std::path::Path) -> anyhow::Result<Client> {
    let mut errors = Vec::new();
    for attempt in 1..=SESSION_ATTEMPTS {
        let dir = profile.join(format!("attempt-{attempt}"));
        let mut args: Vec<String> = CHROME_ARGS.iter().map(|s| s.to_string()).collect();
        args.push(format!("--user-data-dir={}", dir.display()));
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({ "args": args, "binary": "/usr/bin/chromium" }),
        );
        // Keeps the console (CSP violations among it) for `browser_log`.
        caps.insert("goog:loggingPrefs".into(), serde_json::json!({ "browser": "ALL" }));
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(client) => return Ok(client),
            Err(error) => errors.push(format!("attempt {attempt}: {error}")),
        }
        if attempt < SESSION_ATTEMPTS {
            // A short back-off, so a busy machine has a moment to finish starting the previous Chromium.
            tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
        }
    }
    bail!(
        "opening a WebDriver session on chromedriver at 127.0.0.1:{port} failed {SESSION_ATTEMPTS} times: {}",
        errors.join("; ")
    )
}

/// Runs `body` with a fresh headless Chromium session; closes it and stops chromedriver whatever happens.
pub async fn with_browser<F, Fut>(body: F) -> anyhow::Result<()>
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let mut driver = Chromedriver::start().await?;
    let profile = tempfile::tempdir()?;
    let client = match open_session(driver.port, profile.path()).await {
        Ok(client) => client,
        Err(error) => {
            let _ = driver.child.kill().await;
            return Err(error);
        }
    };
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

/// ChromeDriver's endpoint for a Chrome DevTools Protocol command, which W3C WebDriver lacks.
#[derive(Debug)]
struct DevTools {
    body: String,
}

impl fantoccini::wd::WebDriverCompatibleCommand for DevTools {
    fn endpoint(&self, base_url: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/goog/cdp/execute", session_id.unwrap_or_default()))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(self.body.clone()))
    }
}

/// Runs a Chrome DevTools Protocol command (`Network.emulateNetworkConditions`, say) on the current page.
pub async fn devtools(client: &Client, command: &str, params: serde_json::Value) -> anyhow::Result<serde_json::Value> {
    let body = serde_json::json!({ "cmd": command, "params": params }).to_string();
    client
        .issue_cmd(DevTools { body })
        .await
        .with_context(|| format!("the DevTools command {command}"))
}

#[cfg(test)]
mod tests {
    use super::listening_port;

    #[test]
    fn chromedriver_156s_start_line_gives_its_port() {
        assert_eq!(
            listening_port("ChromeDriver was started successfully on port 41637."),
            Some(41637)
        );
        assert_eq!(
            listening_port("Starting ChromeDriver 156.0.8078.114 (...) on port 0"),
            None
        );
        assert_eq!(listening_port("Only local connections are allowed."), None);
    }
}
