//! The dashboard's login in a real browser (issue 12): with anonymous clients refused, the page shows its login
//! form instead of connecting; a wrong password is refused in words; logging in connects to `/mqtt` with the
//! session cookie alone (the retained message arrives), "stay signed in" survives a reload, the password is kept
//! nowhere, an administrator's reload button works, and logging out returns to the form.
//!
//! Needs the dashboard built into `dist/` (`scripts/trunk build --release`), like dashboard.rs.

use std::time::Duration;

use anyhow::{Context as _, ensure};
use fantoccini::{Client, Locator};
use roost_broker::Config;
use roost_broker::auth::{HashKind, hash_password};
use roost_broker::config::{Anonymous, AuthConfig};
use roost_tests::TestBroker;
use roost_tests::browser::{browser_log, screenshot_dir, with_browser};

const WAIT: Duration = Duration::from_secs(20);

/// Waits (bounded) for an element; on failure the error shows the page's text and the browser's log.
async fn wait_for(client: &Client, css: &str, what: &str) -> anyhow::Result<fantoccini::elements::Element> {
    match client.wait().at_most(WAIT).for_element(Locator::Css(css)).await {
        Ok(element) => Ok(element),
        Err(error) => {
            let text = match client.find(Locator::Css("body")).await {
                Ok(body) => body.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            let log = browser_log(client).await.unwrap_or_default();
            Err(error).with_context(|| format!("{what} (waited {WAIT:?} for {css}); page: {text:?}; log: {log:?}"))
        }
    }
}

/// Fills in and sends the login form.
async fn log_in(client: &Client, user: &str, password: &str, remember: bool) -> anyhow::Result<()> {
    let name = wait_for(client, "input.login-user", "the login form is not shown").await?;
    name.clear().await?;
    name.send_keys(user).await?;
    client
        .find(Locator::Css("input.login-password"))
        .await?
        .send_keys(password)
        .await?;
    if remember {
        client.find(Locator::Css("input.login-remember")).await?.click().await?;
    }
    client.find(Locator::Css("button.login-submit")).await?.click().await?;
    Ok(())
}

async fn connected(client: &Client) -> anyhow::Result<()> {
    wait_for(
        client,
        r#"section.status[data-state="connected"]"#,
        "the dashboard did not connect",
    )
    .await
    .map(drop)
}

#[tokio::test]
async fn the_dashboard_logs_in_stays_signed_in_and_logs_out() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let passwd = dir.path().join("passwd");
    let line = |user: &str, password: &str| -> anyhow::Result<String> {
        Ok(format!(
            "{user}:{}\n",
            hash_password(HashKind::Sha512, password.as_bytes())?
        ))
    };
    std::fs::write(&passwd, line("alice", "wonderland")? + &line("admin", "root")?)?;
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
    let status = tokio::process::Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &broker.mqtt.port().to_string()])
        .args(["-u", "alice", "-P", "wonderland"])
        .args(["-t", "kitchen/temp", "-m", "21.5", "-r"])
        .status()
        .await
        .context("running mosquitto_pub")?;
    ensure!(status.success(), "mosquitto_pub failed: {status}");

    let url = broker.dashboard_url();
    with_browser(|client| async move {
        client.goto(&url).await?;
        // Anonymous clients are refused, so the page asks instead of connecting.
        wait_for(&client, "form.login-form", "no login form with anonymous access off").await?;
        ensure!(
            client.find(Locator::Css("section.status")).await.is_err(),
            "the dashboard is shown before logging in"
        );

        // A wrong password: refused in words, and the password input is emptied.
        log_in(&client, "alice", "guess", false).await?;
        let refusal = wait_for(&client, ".login-outcome.error", "a wrong password was not refused").await?;
        let text = refusal.text().await?;
        ensure!(
            text.contains("Wrong user name or password"),
            "the refusal says {text:?}"
        );
        let password = client.find(Locator::Css("input.login-password")).await?;
        ensure!(
            password.prop("value").await?.unwrap_or_default().is_empty(),
            "the password stays in the form after it was sent"
        );
        let png = client.screenshot().await?;
        std::fs::write(screenshot_dir()?.join("dashboard-login-refused.png"), png)?;

        // The right one, staying signed in: the page loads again and connects with the cookie alone.
        log_in(&client, "alice", "wonderland", true).await?;
        connected(&client).await?;
        wait_for(
            &client,
            r#".tree-node[data-topic="kitchen"]"#,
            "the retained message did not reach alice's dashboard",
        )
        .await?;
        let account = wait_for(&client, ".account-user", "no account controls").await?;
        ensure!(
            account.text().await?.contains("alice"),
            "the top bar does not name alice"
        );
        ensure!(
            client.find(Locator::Css("button.account-reload")).await.is_err(),
            "alice is no administrator, but sees the reload button"
        );

        // The cookie: not readable by the page's scripts, strict, and lasting (stay signed in).
        let seen = client.execute("return document.cookie", vec![]).await?;
        ensure!(
            !seen.to_string().contains("roost_session"),
            "scripts can read the cookie: {seen}"
        );
        let cookies = client.get_all_cookies().await?;
        let cookie = cookies
            .iter()
            .find(|cookie| cookie.name() == "roost_session")
            .context("no roost_session cookie")?;
        ensure!(cookie.http_only() == Some(true), "not HttpOnly: {cookie:?}");
        ensure!(
            format!("{:?}", cookie.same_site()).contains("Strict"),
            "not SameSite=Strict: {cookie:?}"
        );
        ensure!(
            cookie.expires().is_some(),
            "no expiry with 'stay signed in': {cookie:?}"
        );
        // No password anywhere the page keeps things.
        let kept = client
            .execute(
                "return JSON.stringify(localStorage) + JSON.stringify(sessionStorage)",
                vec![],
            )
            .await?;
        ensure!(
            !kept.to_string().contains("wonderland"),
            "the password is stored: {kept}"
        );

        // A reload stays logged in.
        client.refresh().await?;
        connected(&client).await?;
        let png = client.screenshot().await?;
        std::fs::write(screenshot_dir()?.join("dashboard-logged-in.png"), png)?;

        // Logging out returns to the form, also after a reload.
        client
            .find(Locator::Css("button.account-logout"))
            .await?
            .click()
            .await?;
        wait_for(&client, "form.login-form", "no login form after logging out").await?;
        client.refresh().await?;
        wait_for(
            &client,
            "form.login-form",
            "no login form after logging out and reloading",
        )
        .await?;

        // An administrator sees the reload button, and it reports the outcome.
        log_in(&client, "admin", "root", false).await?;
        connected(&client).await?;
        client
            .find(Locator::Css("button.account-reload"))
            .await?
            .click()
            .await?;
        client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::XPath(
                "//p[contains(@class, 'account-outcome') and contains(., 'reloaded')]",
            ))
            .await
            .context("the reload button reported no outcome")?;

        let violations: Vec<String> = browser_log(&client)
            .await?
            .into_iter()
            .filter(|line| line.contains("Content Security Policy"))
            .collect();
        ensure!(violations.is_empty(), "CSP violations: {violations:?}");
        Ok(())
    })
    .await?;
    broker.stop().await
}
