//! Helpers for Roost's end-to-end tests: a real broker on loopback port 0, and a real browser driven through
//! WebDriver. Every helper cleans up what it starts, also when a test fails.

pub mod browser;

use std::net::SocketAddr;
use std::time::Duration;

use roost_broker::{Config, Server};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A `roost` broker running in this process on 127.0.0.1 with OS-chosen ports. Dropping it shuts it down.
#[derive(Debug)]
pub struct TestBroker {
    /// MQTT over TCP.
    pub mqtt: SocketAddr,
    /// HTTP: the dashboard and MQTT over WebSocket at `/mqtt`.
    pub http: SocketAddr,
    shutdown: CancellationToken,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestBroker {
    /// Starts a broker with the default configuration on loopback port 0, open to anonymous clients (the
    /// broker's own default refuses them; these tests are about everything else).
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(Config::default()).await
    }

    /// Starts a broker with `config`, but on loopback port 0 and open to anonymous clients. Storage stays in
    /// memory unless the test names a data directory of its own (`config.storage.dir` other than the default
    /// `data`, the working directory's).
    pub async fn start_with(mut config: Config) -> anyhow::Result<Self> {
        config.auth.allow_anonymous = roost_broker::config::Anonymous::Allow;
        Self::start_secured(config).await
    }

    /// [`TestBroker::start`], with HTTP on `http`: the address of a broker stopped earlier, so a page it served
    /// (and its service worker) finds "the same" broker back.
    pub async fn start_at(http: SocketAddr) -> anyhow::Result<Self> {
        let mut config = Config::default();
        config.auth.allow_anonymous = roost_broker::config::Anonymous::Allow;
        Self::start_on(config, http).await
    }

    /// [`TestBroker::start_with`], keeping the configuration's `[auth]` as it is (the login tests).
    pub async fn start_secured(config: Config) -> anyhow::Result<Self> {
        Self::start_on(config, "127.0.0.1:0".parse()?).await
    }

    async fn start_on(config: Config, http: SocketAddr) -> anyhow::Result<Self> {
        let loopback: SocketAddr = "127.0.0.1:0".parse()?;
        let mut config = Config {
            mqtt_addr: loopback,
            http_addr: http,
            ..config
        };
        if config.storage.dir == roost_broker::config::StorageConfig::default().dir {
            config.storage.dir = None;
        }
        let server = Server::bind(config).await?;
        let (mqtt, http) = (server.mqtt_addr(), server.http_addr());
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(server.run(shutdown.clone()));
        Ok(Self {
            mqtt,
            http,
            shutdown,
            task: Some(task),
        })
    }

    /// The dashboard's URL.
    pub fn dashboard_url(&self) -> String {
        format!("http://{}/", self.http)
    }

    /// Shuts the broker down and waits for it (bounded), reporting an error it ended with.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(10), task).await???;
        }
        Ok(())
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
