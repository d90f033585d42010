//! The dashboard's broker view in a real browser against a real `roost`, with rumqttc (a third-party client) as
//! the connected client: the view lists it from the admin API with its address, protocol, keep alive and
//! subscriptions; its Disconnect button asks first, then disconnects it (the client's connection ends and the
//! row leaves the list); the charts draw the broker's `$SYS` figures over time; the bridges line says what the
//! broker reports. A logged-in user who is no administrator is told in words why there is no list.
//!
//! Needs the dashboard built into `dist/` (`scripts/trunk build --release`), like dashboard.rs.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use fantoccini::{Client, Locator};
use roost_broker::Config;
use roost_broker::auth::{HashKind, hash_password};
use roost_broker::config::{Anonymous, AuthConfig};
use roost_tests::TestBroker;
use roost_tests::browser::{browser_log, screenshot_dir, with_browser};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How long the page or the client may take to show something.
const WAIT: Duration = Duration::from_secs(20);

/// What the client's event loop saw.
#[derive(Debug, PartialEq)]
enum Seen {
    SubAck,
    /// The connection ended (rumqttc's `poll` failed); the task stops there, so it does not reconnect.
    Ended,
}

/// A rumqttc client over TCP, its event loop in a task that forwards SUBACKs and the end of the connection.
struct Device {
    client: AsyncClient,
    seen: mpsc::Receiver<Seen>,
    task: JoinHandle<()>,
}

impl Device {
    async fn connect(broker: &TestBroker, id: &str) -> anyhow::Result<Self> {
        let mut options = MqttOptions::new(id, broker.mqtt.ip().to_string(), broker.mqtt.port());
        options.set_keep_alive(Duration::from_secs(30));
        let (client, mut events) = AsyncClient::new(options, 16);
        // Bounded: the test reads every event as it comes, and there are only a few.
        let (sender, seen) = mpsc::channel(16);
        let task = tokio::spawn(async move {
            loop {
                match events.poll().await {
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        if sender.send(Seen::SubAck).await.is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => {
                        let _ = sender.send(Seen::Ended).await;
                        return;
                    }
                }
            }
        });
        Ok(Self { client, seen, task })
    }

    /// Waits (bounded) for the next event the loop forwarded.
    async fn next(&mut self, what: &str) -> anyhow::Result<Seen> {
        tokio::time::timeout(WAIT, self.seen.recv())
            .await
            .with_context(|| format!("waited {WAIT:?} for {what}"))?
            .with_context(|| format!("the client's task ended before {what}"))
    }

    async fn subscribe(&mut self, filter: &str) -> anyhow::Result<()> {
        self.client.subscribe(filter, QoS::AtLeastOnce).await?;
        match self.next("a SUBACK").await? {
            Seen::SubAck => Ok(()),
            other => bail!("expected a SUBACK, the client saw {other:?}"),
        }
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Waits (bounded) for `css`; on failure the error shows the page's text and the browser's log.
async fn wait_for(client: &Client, css: &str, what: &str) -> anyhow::Result<fantoccini::elements::Element> {
    match client.wait().at_most(WAIT).for_element(Locator::Css(css)).await {
        Ok(element) => Ok(element),
        Err(error) => {
            let text = match client.find(Locator::Css("section.broker")).await {
                Ok(section) => section.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            let log = browser_log(client).await.unwrap_or_default();
            Err(error)
                .with_context(|| format!("{what} (waited {WAIT:?} for {css}); broker view: {text:?}; log: {log:?}"))
        }
    }
}

/// Waits (bounded) until `css` matches nothing.
async fn wait_gone(client: &Client, css: &str, what: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + WAIT;
    loop {
        if client.find_all(Locator::Css(css)).await?.is_empty() {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{what}: {css} still on the page after {WAIT:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits (bounded) until the `points` of `css` hold at least `count` points.
async fn wait_for_points(client: &Client, css: &str, count: usize) -> anyhow::Result<usize> {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Ok(line) = client.find(Locator::Css(css)).await {
            let points = line.attr("points").await?.unwrap_or_default();
            let n = points.split_whitespace().count();
            if n >= count {
                return Ok(n);
            }
        }
        if Instant::now() > deadline {
            let shown = match client.find(Locator::Css("section.broker")).await {
                Ok(section) => section.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            bail!("{css} did not reach {count} points within {WAIT:?}; broker view: {shown:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn the_broker_view_lists_a_client_and_disconnects_it() -> anyhow::Result<()> {
    let broker = TestBroker::start_with(Config {
        // Samples for the charts every second rather than every ten.
        sys_interval: Duration::from_secs(1),
        ..Config::default()
    })
    .await?;
    let mut device = Device::connect(&broker, "e2e-sensor/1").await?;
    device.subscribe("e2e/cmd/#").await?;
    device.subscribe("e2e/other").await?;

    let url = broker.dashboard_url();
    let outcome = with_browser(|client| async move {
        client.goto(&url).await?;
        // A client id with a slash: the DELETE must carry it encoded.
        let row_css = r#"tr.client[data-client-id="e2e-sensor/1"]"#;
        let row = wait_for(&client, row_css, "the client is not listed").await?;
        let text = row.text().await?;
        for expected in [
            "e2e-sensor/1",
            "127.0.0.1:",
            "MQTT 3.1.1",
            "30 s",
            "e2e/cmd/#",
            "e2e/other",
        ] {
            ensure!(text.contains(expected), "the row {text:?} lacks {expected:?}");
        }
        // The dashboard's own connection is listed too (once the next poll finds it connected).
        wait_for(
            &client,
            r#"tr.client[data-client-id^="roost-dashboard-"]"#,
            "the dashboard's own connection is not listed",
        )
        .await?;

        // Disconnect asks first; Cancel leaves the client alone.
        row.find(Locator::Css("button.client-disconnect"))
            .await?
            .click()
            .await?;
        wait_for(
            &client,
            &format!("{row_css} button.client-confirm-no"),
            "no confirmation asked",
        )
        .await?
        .click()
        .await?;
        wait_for(
            &client,
            &format!("{row_css} button.client-disconnect"),
            "Cancel did not put the button back",
        )
        .await?;
        ensure!(
            client.find_all(Locator::Css(".clients-outcome")).await?.is_empty(),
            "something was done although the person cancelled"
        );

        client
            .find(Locator::Css(&format!("{row_css} button.client-disconnect")))
            .await?
            .click()
            .await?;
        let confirm = wait_for(
            &client,
            &format!("{row_css} button.client-confirm-yes"),
            "no confirmation asked",
        )
        .await?;
        let question = client
            .find(Locator::Css(&format!("{row_css} .client-confirm")))
            .await?
            .text()
            .await?;
        ensure!(
            question.contains("Disconnect “e2e-sensor/1”?"),
            "the confirmation says {question:?}"
        );
        confirm.click().await?;
        let said = wait_for(&client, ".clients-outcome", "no outcome after disconnecting").await?;
        let said = said.text().await?;
        ensure!(
            said.contains("“e2e-sensor/1” was disconnected."),
            "the outcome says {said:?}"
        );
        wait_gone(&client, row_css, "the disconnected client stays listed").await?;

        // The charts: the broker publishes $SYS every second, so lines of several samples appear.
        wait_for_points(
            &client,
            r#"[data-chart="connections"] polyline[data-series="connected"]"#,
            3,
        )
        .await?;
        wait_for_points(&client, r#"[data-chart="rates"] polyline[data-series="out"]"#, 2).await?;
        let labels = client
            .find_all(Locator::Css(r#"[data-chart="rates"] .trend-time"#))
            .await?;
        ensure!(labels.len() == 3, "{} time labels", labels.len());
        let first = labels[0].text().await?;
        ensure!(
            first.len() == 8 && first.chars().filter(|c| *c == ':').count() == 2,
            "the time label {first:?} is not HH:MM:SS"
        );

        // Until the broker reports bridges, the view says so; once it does, this one has none.
        let bridges = wait_for(&client, ".bridges-status[data-status]", "no bridges line").await?;
        let status = bridges.attr("data-status").await?.unwrap_or_default();
        let words = bridges.text().await?;
        ensure!(
            (status == "not-reported" && words == "This broker does not report bridges.")
                || (status == "none" && words == "No bridges configured."),
            "the bridges line says {words:?} ({status})"
        );
        let png = client.screenshot().await?;
        std::fs::write(screenshot_dir()?.join("broker-view-clients.png"), png)?;
        Ok(())
    })
    .await;
    // The client itself saw its connection end (rumqttc's event loop failed), whatever the page showed.
    let ended = match &outcome {
        Ok(()) => device.next("the end of the disconnected client's connection").await,
        Err(_) => Ok(Seen::Ended),
    };
    broker.stop().await?;
    outcome?;
    ensure!(ended? == Seen::Ended, "the client did not see its connection end");
    Ok(())
}

#[tokio::test]
async fn a_user_who_is_no_administrator_is_told_why_there_is_no_list() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let passwd = dir.path().join("passwd");
    std::fs::write(
        &passwd,
        format!("alice:{}\n", hash_password(HashKind::Sha512, b"wonderland")?),
    )?;
    let broker = TestBroker::start_secured(Config {
        auth: AuthConfig {
            allow_anonymous: Anonymous::Deny,
            password_file: Some(passwd),
            acl_file: None,
            admins: vec!["admin".into()],
        },
        ..Config::default()
    })
    .await?;
    let url = broker.dashboard_url();
    let outcome = with_browser(|client| async move {
        client.goto(&url).await?;
        wait_for(&client, "input.login-user", "no login form")
            .await?
            .send_keys("alice")
            .await?;
        client
            .find(Locator::Css("input.login-password"))
            .await?
            .send_keys("wonderland")
            .await?;
        client.find(Locator::Css("button.login-submit")).await?.click().await?;
        let refusal = wait_for(
            &client,
            r#".clients-status.error[data-status="403"]"#,
            "no refusal shown",
        )
        .await?;
        let words = refusal.text().await?;
        ensure!(
            words == "Only administrators may use the admin API.",
            "the refusal says {words:?}"
        );
        ensure!(
            client.find_all(Locator::Css("button.clients-retry")).await?.len() == 1,
            "no way to ask again after a refusal"
        );
        // Refused too, in the same words; a broker without the bridges endpoint answers its 404 before asking
        // who is calling, and then the view says it does not report bridges.
        let bridges = wait_for(&client, ".bridges-status[data-status]", "no bridges line").await?;
        let status = bridges.attr("data-status").await?.unwrap_or_default();
        let words = bridges.text().await?;
        ensure!(
            (status == "403" && words == "Only administrators may use the admin API.")
                || (status == "not-reported" && words == "This broker does not report bridges."),
            "the bridges line says {words:?} ({status})"
        );
        Ok(())
    })
    .await;
    broker.stop().await?;
    outcome
}
