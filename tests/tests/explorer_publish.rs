//! The topic details and the publish form in a real browser against a real `roost`, with rumqttc (MQTT 5) as
//! the native client on the other side:
//! - a JSON message with user properties published natively shows in the selected topic's details;
//! - a message published from the form, with a user property, reaches a native subscriber;
//! - a retained message deleted from the browser is gone for a new subscriber.
//!
//! Needs the dashboard built into `dist/` (`scripts/trunk build --release`), like `dashboard.rs`.

use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use fantoccini::{Client, Locator};
use roost_tests::TestBroker;
use roost_tests::browser::{screenshot_dir, with_browser};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{Packet, Publish, PublishProperties};
use rumqttc::v5::{AsyncClient, Event, EventLoop, MqttOptions};
use tokio::time::timeout;

/// How long any one step may take.
const WAIT: Duration = Duration::from_secs(20);

/// A rumqttc MQTT 5 client connected to `broker` (CONNACK received), with its event loop.
async fn native(broker: &TestBroker, id: &str) -> anyhow::Result<(AsyncClient, EventLoop)> {
    let options = MqttOptions::new(id, broker.mqtt.ip().to_string(), broker.mqtt.port());
    let (client, mut events) = AsyncClient::new(options, 10);
    next_packet(&mut events, |packet| matches!(packet, Packet::ConnAck(_))).await?;
    Ok((client, events))
}

/// Polls `events` until a packet `wanted` accepts arrives; bounded by [`WAIT`].
async fn next_packet(events: &mut EventLoop, wanted: impl Fn(&Packet) -> bool) -> anyhow::Result<Packet> {
    timeout(WAIT, async {
        loop {
            if let Event::Incoming(packet) = events.poll().await?
                && wanted(&packet)
            {
                return anyhow::Ok(packet);
            }
        }
    })
    .await
    .context("no such packet within the time limit")?
}

/// The next PUBLISH `events` receives.
async fn next_publish(events: &mut EventLoop) -> anyhow::Result<Publish> {
    match next_packet(events, |packet| matches!(packet, Packet::Publish(_))).await? {
        Packet::Publish(publish) => Ok(publish),
        _ => unreachable!("only PUBLISH is accepted"),
    }
}

/// Waits until `selector`'s text satisfies `check`; bounded by [`WAIT`]. Polls: the page updates on its own.
async fn wait_for_text(client: &Client, selector: &str, check: impl Fn(&str) -> bool) -> anyhow::Result<String> {
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut last = None;
    while tokio::time::Instant::now() < deadline {
        if let Ok(element) = client.find(Locator::Css(selector)).await {
            let text = element.text().await?;
            if check(&text) {
                return Ok(text);
            }
            last = Some(text);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("{selector} never showed the expected text; last {last:?}")
}

/// Waits until nothing matches `selector`; bounded by [`WAIT`].
async fn wait_until_gone(client: &Client, selector: &str) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + WAIT;
    while tokio::time::Instant::now() < deadline {
        if client.find(Locator::Css(selector)).await.is_err() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("{selector} is still shown")
}

async fn click(client: &Client, selector: &str) -> anyhow::Result<()> {
    let element = client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(selector))
        .await
        .with_context(|| format!("no {selector}"))?;
    element.click().await?;
    Ok(())
}

async fn type_into(client: &Client, selector: &str, text: &str) -> anyhow::Result<()> {
    let element = client
        .find(Locator::Css(selector))
        .await
        .with_context(|| format!("no {selector}"))?;
    element.send_keys(text).await?;
    Ok(())
}

async fn screenshot(client: &Client, name: &str) -> anyhow::Result<()> {
    let png = client.screenshot().await?;
    std::fs::write(screenshot_dir()?.join(name), png)?;
    Ok(())
}

#[tokio::test]
async fn details_show_properties_the_form_publishes_and_retained_messages_are_deleted() -> anyhow::Result<()> {
    let broker = TestBroker::start().await?;
    let (device, mut device_events) = native(&broker, "native-device").await?;
    let properties = PublishProperties {
        content_type: Some("application/json".into()),
        user_properties: vec![("room".into(), "kitchen".into()), ("unit".into(), "C".into())],
        ..PublishProperties::default()
    };
    device
        .publish_with_properties(
            "lab/sensor",
            QoS::AtLeastOnce,
            true,
            r#"{"temp":21.5,"ok":true}"#,
            properties,
        )
        .await?;
    next_packet(&mut device_events, |packet| matches!(packet, Packet::PubAck(_))).await?;
    // A second retained message: the new subscriber at the end reads it as "all retained messages were sent".
    device.publish("lab/marker", QoS::AtLeastOnce, true, "here").await?;
    next_packet(&mut device_events, |packet| matches!(packet, Packet::PubAck(_))).await?;
    // The native side of the form: subscribed before the browser publishes.
    device.subscribe("lab/cmd", QoS::AtLeastOnce).await?;
    next_packet(&mut device_events, |packet| matches!(packet, Packet::SubAck(_))).await?;

    let url = broker.dashboard_url();
    let device_task = tokio::spawn(async move {
        let publish = next_publish(&mut device_events).await?;
        anyhow::Ok((publish, device_events))
    });
    with_browser(|client| async move {
        client.goto(&url).await?;
        click(&client, r#".tree-node[data-topic="lab"] .tree-toggle"#).await?;
        click(&client, r#".tree-node[data-topic="lab/sensor"] .tree-topic"#).await?;
        wait_for_text(&client, ".details-payload", |text| text.contains(r#""temp":21.5"#)).await?;
        wait_for_text(&client, ".prop-content-type", |text| text == "application/json").await?;
        let users = wait_for_text(&client, ".prop-user", |text| text.contains("room: kitchen")).await?;
        ensure!(users.contains("unit: C"), "user properties shown: {users:?}");
        click(&client, r#".payload-view[data-view="JSON"]"#).await?;
        wait_for_text(&client, ".details-payload", |text| text.contains("\"temp\": 21.5")).await?;
        screenshot(&client, "explorer-details.png").await?;

        // The form: a message with a user property, received natively.
        type_into(&client, ".publish-topic", "lab/cmd").await?;
        type_into(&client, ".publish-payload", "ON").await?;
        click(&client, ".publish-properties summary").await?;
        type_into(&client, ".publish-user-properties", "source=browser").await?;
        click(&client, ".publish-submit").await?;
        wait_for_text(&client, ".publish-outcome", |text| text == "Published to lab/cmd.").await?;
        screenshot(&client, "publish-form.png").await?;

        // Deleting the retained message, confirmed; the broker echoes the empty retained message on `#`,
        // after which the button is gone.
        click(&client, ".delete-retained").await?;
        click(&client, ".confirm-delete").await?;
        wait_for_text(&client, ".delete-outcome", |text| text == "Deleted 1 retained message.").await?;
        wait_until_gone(&client, ".delete-retained").await?;
        client.set_window_size(390, 844).await?;
        // On a phone the explorer is behind its tab.
        click(&client, "#tab-button-topics").await?;
        screenshot(&client, "explorer-details-phone.png").await?;
        client.set_window_size(1280, 900).await?;

        // The connection form: another client id and a narrower subscription; Connect reconnects with them.
        click(&client, ".connection-settings summary").await?;
        let id = client.find(Locator::Css(".connect-client-id")).await?;
        id.clear().await?;
        id.send_keys("e2e-browser").await?;
        let filter = client.find(Locator::Css(".connect-filter")).await?;
        filter.clear().await?;
        filter.send_keys("lab/#").await?;
        click(&client, ".connect-apply").await?;
        wait_for_text(&client, r#"section.status[data-state="connected"]"#, |text| {
            text.contains("e2e-browser")
        })
        .await?;
        screenshot(&client, "connection-form.png").await?;
        Ok(())
    })
    .await?;

    let (received, _events) = timeout(WAIT, device_task).await???;
    ensure!(&received.topic[..] == b"lab/cmd", "topic {:?}", received.topic);
    ensure!(&received.payload[..] == b"ON", "payload {:?}", received.payload);
    let users = received
        .properties
        .map(|properties| properties.user_properties)
        .unwrap_or_default();
    ensure!(
        users == [("source".to_owned(), "browser".to_owned())],
        "user properties {users:?}"
    );

    // A new subscriber: `lab/sensor` first, then `lab/marker`. Retained messages follow their SUBSCRIBE, so
    // the marker arriving with nothing before it means `lab/sensor` has none.
    let (late, mut late_events) = native(&broker, "native-late").await?;
    late.subscribe("lab/sensor", QoS::AtLeastOnce).await?;
    late.subscribe("lab/marker", QoS::AtLeastOnce).await?;
    let first = next_publish(&mut late_events).await?;
    ensure!(
        &first.topic[..] == b"lab/marker",
        "a new subscriber still got {:?} on {:?}",
        first.payload,
        first.topic
    );
    broker.stop().await
}
