//! The control panel in a real browser against a real `roost`, with a native MQTT client (rumqttc) playing the
//! device: a switch card sends its command and then follows the state the device reports; a panel edited in one
//! browser session appears in a second one; a Home Assistant discovery config becomes a working card with its
//! availability; the panel and a discovered device are still there after the broker restarts on the same data
//! directory. Screenshots of the panel go to `target/screenshots/`.
//!
//! Needs the dashboard built into `dist/` (`scripts/trunk build --release`), like `dashboard.rs`.

use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use fantoccini::{Client, Locator};
use roost_broker::Config;
use roost_broker::config::StorageConfig;
use roost_tests::TestBroker;
use roost_tests::browser::{screenshot_dir, with_browser};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How long the page may take to show something.
const WAIT: Duration = Duration::from_secs(20);

/// A device on MQTT over TCP: rumqttc, its event loop in a task that forwards what arrives.
struct Device {
    client: AsyncClient,
    /// Received PUBLISHes as (topic, payload), and `None` for each SUBACK. Bounded: 64 waiting events; the test
    /// reads them as they come.
    incoming: mpsc::Receiver<Option<(String, String)>>,
    task: JoinHandle<()>,
}

impl Device {
    async fn connect(broker: &TestBroker, id: &str) -> anyhow::Result<Self> {
        let options = MqttOptions::new(id, broker.mqtt.ip().to_string(), broker.mqtt.port());
        let (client, mut events) = AsyncClient::new(options, 16);
        let (sender, incoming) = mpsc::channel(64);
        let task = tokio::spawn(async move {
            loop {
                let forwarded = match events.poll().await {
                    Ok(Event::Incoming(Packet::Publish(publish))) => Some(Some((
                        publish.topic.clone(),
                        String::from_utf8_lossy(&publish.payload).into_owned(),
                    ))),
                    Ok(Event::Incoming(Packet::SubAck(_))) => Some(None),
                    Ok(_) => None,
                    Err(_) => return,
                };
                if let Some(event) = forwarded
                    && sender.send(event).await.is_err()
                {
                    return;
                }
            }
        });
        Ok(Self { client, incoming, task })
    }

    /// Subscribes to `filter` and waits for the SUBACK.
    async fn subscribe(&mut self, filter: &str) -> anyhow::Result<()> {
        self.client.subscribe(filter, QoS::AtLeastOnce).await?;
        tokio::time::timeout(WAIT, async {
            while let Some(event) = self.incoming.recv().await {
                if event.is_none() {
                    return Ok(());
                }
            }
            bail!("the device's connection ended")
        })
        .await
        .context("no SUBACK")?
    }

    async fn publish(&self, topic: &str, payload: &str, retain: bool) -> anyhow::Result<()> {
        self.client
            .publish(topic, QoS::AtLeastOnce, retain, payload.as_bytes().to_vec())
            .await?;
        Ok(())
    }

    /// Waits for a message on `topic` and returns its payload.
    async fn received(&mut self, topic: &str) -> anyhow::Result<String> {
        tokio::time::timeout(WAIT, async {
            while let Some(event) = self.incoming.recv().await {
                if let Some((got, payload)) = event
                    && got == topic
                {
                    return Ok(payload);
                }
            }
            bail!("the device's connection ended")
        })
        .await
        .with_context(|| format!("nothing received on {topic}"))?
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Waits for `css` to match an element.
async fn wait_for(client: &Client, css: &str) -> anyhow::Result<fantoccini::elements::Element> {
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .with_context(|| format!("no {css} on the page"))
}

/// Waits for `xpath` to match an element; `what` says what it means when it does not.
async fn wait_for_xpath(client: &Client, xpath: &str, what: &str) -> anyhow::Result<()> {
    client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::XPath(xpath))
        .await
        .with_context(|| what.to_owned())?;
    Ok(())
}

/// What Tasmota announces for a relay, abbreviated and with a `~` base topic.
const TASMOTA_RELAY: &str = r#"{"name":"Relay","~":"tasmota_A1B2C3/","cmd_t":"~cmnd/POWER","stat_t":"~tele/STATE",
    "val_tpl":"{{value_json.POWER}}","pl_on":"ON","pl_off":"OFF","avty_t":"~tele/LWT",
    "pl_avail":"Online","pl_not_avail":"Offline","uniq_id":"A1B2C3_RL_1","dev":{"ids":["A1B2C3"],"name":"Desk lamp"}}"#;
/// Where that relay's discovery config is published (retained), and its card on the page.
const TASMOTA_CONFIG_TOPIC: &str = "homeassistant/switch/A1B2C3_RL_1/config";
const TASMOTA_CARD: &str = r#".discovered .card[data-config="homeassistant/switch/A1B2C3_RL_1/config"]"#;

/// Adds a button card "Doorbell" sending `ring` to `door/bell` through the panel editor, as a person would.
async fn add_doorbell_card(client: &Client) -> anyhow::Result<()> {
    wait_for(client, ".panel-edit").await?.click().await?;
    wait_for(client, ".panel-add").await?.click().await?;
    let kind = wait_for(client, r#"select[name="kind"]"#).await?;
    kind.select_by_value("button").await?;
    wait_for(client, r#"input[name="title"]"#)
        .await?
        .send_keys("Doorbell")
        .await?;
    wait_for(client, r#"input[name="topic"]"#)
        .await?
        .send_keys("door/bell")
        .await?;
    let payload = wait_for(client, r#"input[name="payload_on"]"#).await?;
    payload.clear().await?;
    payload.send_keys("ring").await?;
    wait_for(client, r#".editor button[type="submit"]"#)
        .await?
        .click()
        .await?;
    Ok(())
}

/// Saves a screenshot of the page as `name` (PNG).
async fn screenshot(client: &Client, name: &str) -> anyhow::Result<()> {
    let png = client.screenshot().await?;
    std::fs::write(screenshot_dir()?.join(name), png)?;
    Ok(())
}

#[tokio::test]
async fn a_switch_card_sends_the_command_and_follows_the_device() -> anyhow::Result<()> {
    let broker = TestBroker::start().await?;
    let mut device = Device::connect(&broker, "plug").await?;
    device.subscribe("plug/set").await?;
    let layout = r#"{"roost_panel":1,"cards":[
        {"title":"Desk plug","type":"switch","command_topic":"plug/set","state_topic":"plug/state"},
        {"title":"Temperature","type":"value","topic":"room/temp","unit":"°C","min":0,"max":40},
        {"title":"Dimmer","type":"slider","topic":"lamp/set","min":0,"max":100,"step":5},
        {"title":"Power","type":"chart","topic":"meter/power","unit":"W"}]}"#;
    device.publish("roost/dashboard", layout, true).await?;
    device.publish("room/temp", "21.5", true).await?;
    device.publish("plug/state", "OFF", true).await?;

    let url = broker.dashboard_url();
    with_browser(|client| async move {
        client.goto(&url).await?;
        let switch = wait_for(&client, r#".card-switch[data-state="off"]"#).await?;
        ensure!(switch.attr("aria-label").await?.as_deref() == Some("Desk plug"));
        switch.click().await?;
        let command = device.received("plug/set").await?;
        ensure!(command == "ON", "the device got {command:?}");
        // Until the device reports, the card still shows what it last reported.
        let shown = wait_for(&client, ".card-switch").await?.attr("data-state").await?;
        ensure!(
            shown.as_deref() == Some("off"),
            "the card shows {shown:?} before the device reported"
        );
        device.publish("plug/state", "ON", true).await?;
        wait_for(&client, r#".card-switch[data-state="on"][aria-checked="true"]"#)
            .await
            .context("the card did not follow the device's state")?;
        // And the next click turns it off.
        wait_for(&client, ".card-switch").await?.click().await?;
        ensure!(device.received("plug/set").await? == "OFF");

        for watts in [120, 180, 150, 210] {
            device.publish("meter/power", &watts.to_string(), false).await?;
            // One value per batch the page shows, so each becomes a point of the chart.
            client
                .wait()
                .at_most(WAIT)
                .for_element(Locator::XPath(&format!(
                    r#"//p[@class="card-value" and starts-with(text(), "{watts} W")]"#
                )))
                .await
                .with_context(|| format!("the chart never showed {watts} W"))?;
        }
        screenshot(&client, "panel.png").await?;
        client.set_window_size(390, 844).await?;
        screenshot(&client, "panel-phone.png").await?;
        Ok(())
    })
    .await?;
    broker.stop().await
}

/// Waits (bounded) until `css` matches nothing.
async fn wait_gone(client: &Client, css: &str) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !client.find_all(Locator::Css(css)).await?.is_empty() {
        ensure!(
            tokio::time::Instant::now() < deadline,
            "{css} still on the page after {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

#[tokio::test]
async fn a_control_waits_for_its_device_and_says_when_it_does_not_answer() -> anyhow::Result<()> {
    let broker = TestBroker::start().await?;
    let mut device = Device::connect(&broker, "plug").await?;
    device.subscribe("plug/set").await?;
    let layout = r#"{"roost_panel":1,"cards":[
        {"title":"Desk plug","type":"switch","command_topic":"plug/set","state_topic":"plug/state"}]}"#;
    device.publish("roost/dashboard", layout, true).await?;
    device.publish("plug/state", "OFF", true).await?;
    let url = broker.dashboard_url();
    with_browser(|client| async move {
        client.goto(&url).await?;
        wait_for(&client, r#".card-switch[data-state="off"]"#)
            .await?
            .click()
            .await?;
        ensure!(device.received("plug/set").await? == "ON");
        // The device has not answered yet (it cannot: the test holds its answer): the card waits.
        let waiting = wait_for(&client, r#".card-answer[data-answer="waiting"]"#).await?;
        ensure!(waiting.text().await? == "Waiting for the device…");
        ensure!(
            wait_for(&client, ".card-switch")
                .await?
                .attr("data-state")
                .await?
                .as_deref()
                == Some("off"),
            "the card shows the click, not the device's state"
        );
        device.publish("plug/state", "ON", true).await?;
        wait_for(&client, r#".card-switch[data-state="on"]"#).await?;
        wait_gone(&client, ".card-answer").await?;

        // This time the device keeps quiet: after the timeout the card says so, and still shows "on".
        wait_for(&client, ".card-switch").await?.click().await?;
        ensure!(device.received("plug/set").await? == "OFF");
        let quiet = wait_for(&client, r#".card-answer[data-answer="no-answer"]"#)
            .await
            .context("no 'no answer' after the timeout")?;
        let words = quiet.text().await?;
        ensure!(
            words.starts_with("No answer from the device"),
            "the card says {words:?}"
        );
        ensure!(
            wait_for(&client, ".card-switch")
                .await?
                .attr("data-state")
                .await?
                .as_deref()
                == Some("on"),
            "the card shows a state the device never reported"
        );
        screenshot(&client, "panel-no-answer.png").await?;
        // A late answer is still the device's state.
        device.publish("plug/state", "OFF", true).await?;
        wait_for(&client, r#".card-switch[data-state="off"]"#).await?;
        wait_gone(&client, ".card-answer").await?;
        Ok(())
    })
    .await?;
    broker.stop().await
}

#[tokio::test]
async fn a_removed_card_asks_first_and_can_be_put_back() -> anyhow::Result<()> {
    let broker = TestBroker::start().await?;
    let mut device = Device::connect(&broker, "watcher").await?;
    device.subscribe("roost/dashboard").await?;
    let layout = r#"{"roost_panel":1,"cards":[
        {"title":"Bell","type":"button","topic":"door/bell","payload":"ring"},
        {"title":"Lamp","type":"switch","command_topic":"lamp/set"}]}"#;
    device.publish("roost/dashboard", layout, true).await?;
    // Its own publication comes back to it (MQTT 3.1.1 has no "no local").
    device.received("roost/dashboard").await?;
    let device = &mut device;
    let url = broker.dashboard_url();
    with_browser(|client| async move {
        client.goto(&url).await?;
        wait_for(&client, r#".card-button[aria-label="Bell: send ring"]"#).await?;
        wait_for(&client, ".panel-edit").await?.click().await?;
        wait_for(&client, r#"button[aria-label="Remove Bell"]"#)
            .await?
            .click()
            .await?;
        let question = wait_for(&client, ".card-confirm").await?.text().await?;
        ensure!(
            question.contains("Remove “Bell”?"),
            "the confirmation says {question:?}"
        );
        wait_for(&client, ".card-confirm-no").await?.click().await?;
        wait_for(&client, r#"button[aria-label="Remove Bell"]"#)
            .await?
            .click()
            .await?;
        wait_for(&client, ".card-confirm-yes").await?.click().await?;
        let published = device.received("roost/dashboard").await?;
        ensure!(
            !published.contains("Bell") && published.contains("Lamp"),
            "after removing, the layout is {published}"
        );
        wait_gone(&client, r#".card-button[aria-label="Bell: send ring"]"#).await?;
        let toast = wait_for(&client, ".toast").await?.text().await?;
        ensure!(toast.contains("Removed “Bell”."), "the toast says {toast:?}");
        screenshot(&client, "panel-undo.png").await?;
        wait_for(&client, ".toast-undo").await?.click().await?;
        let published = device.received("roost/dashboard").await?;
        let bell = published.find("Bell").context("Undo did not publish the card again")?;
        let lamp = published.find("Lamp").context("the lamp is gone")?;
        ensure!(bell < lamp, "the bell is not back in its place: {published}");
        wait_for(&client, r#".card-button[aria-label="Bell: send ring"]"#)
            .await
            .context("the card did not come back")?;
        wait_gone(&client, ".toast").await?;
        Ok(())
    })
    .await?;
    broker.stop().await
}

/// Most sensors do not retain their readings: a page opened after they last spoke still shows their value and
/// their chart, from what the broker remembers of the panel's topics (`GET /api/history`).
#[tokio::test]
async fn a_page_opened_later_shows_remembered_values_and_chart_history() -> anyhow::Result<()> {
    let broker = TestBroker::start().await?;
    let sensor = Device::connect(&broker, "sensor").await?;
    let mut watcher = Device::connect(&broker, "watcher").await?;
    watcher.subscribe("garden/temp").await?;
    let layout = r#"{"roost_panel":1,"cards":[
        {"title":"Outside","type":"value","topic":"garden/temp","unit":"°C"},
        {"title":"Power","type":"chart","topic":"meter/SENSOR","json_field":"ENERGY.Power","unit":"W"}]}"#;
    sensor.publish("roost/dashboard", layout, true).await?;
    for watts in [120, 180, 150] {
        let reading = format!(r#"{{"Time":"now","ENERGY":{{"Power":{watts}}}}}"#);
        sensor.publish("meter/SENSOR", &reading, false).await?;
    }
    sensor.publish("garden/temp", "7.5", false).await?;
    // In order on one connection: once the last reading reached a subscriber, the broker recorded them all.
    ensure!(watcher.received("garden/temp").await? == "7.5");

    let url = broker.dashboard_url();
    with_browser(|client| async move {
        client.goto(&url).await?;
        wait_for_xpath(
            &client,
            r#"//p[@class="card-value" and text()="7.5 °C"]"#,
            "the value card did not show the remembered reading",
        )
        .await?;
        wait_for_xpath(
            &client,
            r#"//p[@class="card-value" and text()="150 W (low 120, high 180, 3 values)"]"#,
            "the chart card did not start from the remembered values",
        )
        .await?;
        // A live reading continues the chart.
        sensor
            .publish("meter/SENSOR", r#"{"ENERGY":{"Power":90}}"#, false)
            .await?;
        wait_for_xpath(
            &client,
            r#"//p[@class="card-value" and text()="90 W (low 90, high 180, 4 values)"]"#,
            "a live reading did not follow the remembered ones",
        )
        .await?;
        Ok(())
    })
    .await?;
    broker.stop().await
}

/// A Home Assistant door contact is shown in its device class's words, as Home Assistant shows it.
#[tokio::test]
async fn a_discovered_door_says_open_and_closed() -> anyhow::Result<()> {
    let broker = TestBroker::start().await?;
    let sensor = Device::connect(&broker, "door").await?;
    let config = r#"{"name":"Front door","stat_t":"zigbee2mqtt/front","dev_cla":"door","pl_on":"true",
        "pl_off":"false","val_tpl":"{{ value_json.open }}"}"#;
    sensor
        .publish("homeassistant/binary_sensor/front/door/config", config, true)
        .await?;
    sensor.publish("zigbee2mqtt/front", r#"{"open":true}"#, true).await?;
    let url = broker.dashboard_url();
    with_browser(|client| async move {
        client.goto(&url).await?;
        let card = r#".discovered .card[data-config="homeassistant/binary_sensor/front/door/config"]"#;
        wait_for(&client, &format!(r#"{card} .card-state[data-state="on"]"#)).await?;
        let words = wait_for(&client, &format!("{card} .card-state")).await?.text().await?;
        ensure!(words == "Open", "the door shows {words:?}");
        sensor.publish("zigbee2mqtt/front", r#"{"open":false}"#, true).await?;
        wait_for(&client, &format!(r#"{card} .card-state[data-state="off"]"#)).await?;
        let words = wait_for(&client, &format!("{card} .card-state")).await?.text().await?;
        ensure!(words == "Closed", "the door shows {words:?}");
        Ok(())
    })
    .await?;
    broker.stop().await
}

/// "Add to panel" in one tap: a discovered device's card, and a value card for a topic picked in the explorer.
#[tokio::test]
async fn a_device_and_a_topic_are_added_to_the_panel_in_one_tap() -> anyhow::Result<()> {
    let broker = TestBroker::start().await?;
    let mut device = Device::connect(&broker, "door").await?;
    device.subscribe("roost/dashboard").await?;
    let config = r#"{"name":"Front door","stat_t":"zigbee2mqtt/front","dev_cla":"door","pl_on":"true",
        "pl_off":"false","val_tpl":"{{ value_json.open }}"}"#;
    device
        .publish("homeassistant/binary_sensor/front/door/config", config, true)
        .await?;
    device.publish("zigbee2mqtt/front", r#"{"open":true}"#, true).await?;
    device.publish("garden/temp", "7.5", true).await?;
    let url = broker.dashboard_url();
    with_browser(|client| async move {
        client.goto(&url).await?;
        let discovered = r#".discovered .card[data-config="homeassistant/binary_sensor/front/door/config"]"#;
        wait_for(&client, &format!("{discovered} .add-to-panel"))
            .await?
            .click()
            .await?;
        let layout = device.received("roost/dashboard").await?;
        ensure!(
            layout.contains("zigbee2mqtt/front") && layout.contains(r#""on_label":"Open""#),
            "the published panel is {layout}"
        );
        wait_for(
            &client,
            r#"section.panel:not(.discovered) .card-state[data-state="on"]"#,
        )
        .await
        .context("the door's card is not on the panel")?;
        let button = wait_for(&client, &format!("{discovered} .add-to-panel")).await?;
        ensure!(
            button.text().await? == "On the panel",
            "the button still offers to add it"
        );
        ensure!(!button.is_enabled().await?, "a second tap would add it twice");

        wait_for(&client, r#"[data-topic="garden"] .tree-toggle"#)
            .await?
            .click()
            .await?;
        wait_for(&client, r#"[data-topic="garden/temp"] .tree-topic"#)
            .await?
            .click()
            .await?;
        wait_for(&client, ".details .add-to-panel").await?.click().await?;
        wait_for_xpath(
            &client,
            r#"//section[@class="panel"]//p[@class="card-value" and text()="7.5"]"#,
            "the topic's value card is not on the panel",
        )
        .await?;
        Ok(())
    })
    .await?;
    broker.stop().await
}

#[tokio::test]
async fn a_panel_edited_in_one_browser_appears_in_another() -> anyhow::Result<()> {
    let broker = TestBroker::start().await?;
    let mut device = Device::connect(&broker, "watcher").await?;
    device.subscribe("roost/dashboard").await?;
    device.subscribe("door/bell").await?;
    let device = &mut device;
    let url = broker.dashboard_url();
    with_browser(|first| async move {
        first.goto(&url).await?;
        wait_for(&first, r#"section.status[data-state="connected"]"#).await?;
        with_browser(|second| async move {
            second.goto(&url).await?;
            wait_for(&second, r#"section.status[data-state="connected"]"#).await?;
            wait_for(&second, ".panel-empty").await?;

            add_doorbell_card(&first).await?;

            // Published retained: a native client sees the layout, and the other browser shows the card live.
            let published = device.received("roost/dashboard").await?;
            ensure!(published.contains(r#""title":"Doorbell""#), "published {published}");
            let card = wait_for(&second, r#".card-button[aria-label="Doorbell: send ring"]"#)
                .await
                .with_context(|| format!("the second browser never showed the card published as {published}"))?;
            // The second browser's button sends the payload the first browser typed.
            card.click().await?;
            let rung = device.received("door/bell").await?;
            ensure!(rung == "ring", "the bell got {rung:?}");
            screenshot(&first, "panel-editing.png").await?;
            Ok(())
        })
        .await?;
        Ok(())
    })
    .await?;

    // A third session, opened after both closed, gets the panel from the retained message.
    let url = broker.dashboard_url();
    with_browser(|third| async move {
        third.goto(&url).await?;
        wait_for(&third, r#".card-button[aria-label="Doorbell: send ring"]"#)
            .await
            .context("a later browser did not get the retained panel")?;
        Ok(())
    })
    .await?;
    broker.stop().await
}

#[tokio::test]
async fn a_home_assistant_device_becomes_a_working_card() -> anyhow::Result<()> {
    let broker = TestBroker::start().await?;
    let mut device = Device::connect(&broker, "tasmota_A1B2C3").await?;
    device.subscribe("tasmota_A1B2C3/cmnd/POWER").await?;
    device.publish(TASMOTA_CONFIG_TOPIC, TASMOTA_RELAY, true).await?;
    let url = broker.dashboard_url();
    with_browser(|client| async move {
        client.goto(&url).await?;
        let card_css = TASMOTA_CARD;
        let card = wait_for(&client, card_css)
            .await
            .context("the discovered card never appeared")?;
        let title = card.find(Locator::Css(".card-title")).await?.text().await?;
        ensure!(title == "Desk lamp Relay", "title {title:?}");
        ensure!(card.attr("data-presence").await?.as_deref() == Some("unknown"));

        device.publish("tasmota_A1B2C3/tele/LWT", "Online", true).await?;
        wait_for(&client, &format!(r#"{card_css}[data-presence="online"]"#))
            .await
            .context("availability never went online")?;
        wait_for(&client, &format!("{card_css} .card-switch"))
            .await?
            .click()
            .await?;
        let command = device.received("tasmota_A1B2C3/cmnd/POWER").await?;
        ensure!(command == "ON", "the device got {command:?}");
        device
            .publish(
                "tasmota_A1B2C3/tele/STATE",
                r#"{"Time":"2026-11-23T14:00:00","POWER":"ON"}"#,
                false,
            )
            .await?;
        wait_for(&client, &format!(r#"{card_css} .card-switch[data-state="on"]"#))
            .await
            .context("the card did not follow the device's state")?;
        screenshot(&client, "panel-discovered.png").await?;

        device.publish("tasmota_A1B2C3/tele/LWT", "Offline", true).await?;
        wait_for(&client, &format!(r#"{card_css}[data-presence="offline"]"#))
            .await
            .context("availability never went offline")?;
        // An offline device's controls are disabled, and the card says why.
        let switch = wait_for(&client, &format!("{card_css} .card-switch[disabled]"))
            .await
            .context("the offline device's switch is not disabled")?;
        ensure!(
            !switch.is_enabled().await?,
            "the offline device's switch can be clicked"
        );
        let why = wait_for(&client, &format!("{card_css} .card-offline"))
            .await?
            .text()
            .await?;
        ensure!(
            why == "The device says it is offline, so its controls are disabled.",
            "the card says {why:?}"
        );
        screenshot(&client, "panel-discovered-offline.png").await?;
        // Back online, usable again.
        device.publish("tasmota_A1B2C3/tele/LWT", "Online", true).await?;
        wait_for(
            &client,
            &format!(r#"{card_css}[data-presence="online"] .card-switch:not([disabled])"#),
        )
        .await
        .context("the switch stayed disabled after the device came back")?;
        ensure!(
            client
                .find_all(Locator::Css(&format!("{card_css} .card-offline")))
                .await?
                .is_empty(),
            "the offline note stayed"
        );
        // An empty config removes the device.
        device
            .publish("homeassistant/switch/A1B2C3_RL_1/config", "", true)
            .await?;
        let deadline = tokio::time::Instant::now() + WAIT;
        while client.find(Locator::Css(card_css)).await.is_ok() {
            ensure!(
                tokio::time::Instant::now() < deadline,
                "the removed device's card stayed"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    })
    .await?;
    broker.stop().await
}

#[tokio::test]
async fn the_broker_view_shows_live_sys_figures() -> anyhow::Result<()> {
    let broker = TestBroker::start().await?;
    let url = broker.dashboard_url();
    with_browser(|client| async move {
        client.goto(&url).await?;
        wait_for(&client, r#"section.status[data-state="connected"]"#).await?;
        // The broker publishes $SYS at start and every interval; the dashboard itself is one connected client.
        let version = wait_for(&client, r#"dd[data-figure="version"]"#).await?;
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let clients = client
                .find(Locator::Css(r#"dd[data-figure="clients"]"#))
                .await?
                .text()
                .await?;
            let shown = version.text().await?;
            if shown.starts_with("roost ") && clients.parse::<u64>().is_ok() {
                break;
            }
            ensure!(
                tokio::time::Instant::now() < deadline,
                "the broker view shows version {shown:?} and {clients:?} clients"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let uptime = client
            .find(Locator::Css(r#"dd[data-figure="uptime"]"#))
            .await?
            .text()
            .await?;
        ensure!(uptime.ends_with('s') || uptime.contains('h'), "uptime {uptime:?}");
        Ok(())
    })
    .await?;
    broker.stop().await
}

#[tokio::test]
async fn a_panel_file_is_imported_and_a_foreign_one_refused() -> anyhow::Result<()> {
    let broker = TestBroker::start().await?;
    let mut device = Device::connect(&broker, "watcher").await?;
    device.subscribe("roost/dashboard").await?;
    let files = tempfile::tempdir()?;
    let panel = files.path().join("panel.json");
    std::fs::write(
        &panel,
        r#"{"roost_panel":1,"cards":[{"title":"Garage","type":"button","topic":"garage/door","payload":"toggle"}]}"#,
    )?;
    let foreign = files.path().join("foreign.json");
    std::fs::write(&foreign, r#"{"temperature":21}"#)?;
    let url = broker.dashboard_url();
    let device = &mut device;
    with_browser(|client| async move {
        client.goto(&url).await?;
        wait_for(&client, r#"section.status[data-state="connected"]"#).await?;
        wait_for(&client, ".panel-edit").await?.click().await?;
        let input = wait_for(&client, r#".panel-import input[type="file"]"#).await?;
        input.send_keys(&foreign.display().to_string()).await?;
        let refused = client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::XPath(
                r#"//p[@class="panel-message" and contains(text(), "not a Roost panel layout")]"#,
            ))
            .await;
        ensure!(refused.is_ok(), "a foreign file was not refused in words");

        let input = wait_for(&client, r#".panel-import input[type="file"]"#).await?;
        input.send_keys(&panel.display().to_string()).await?;
        wait_for(&client, r#".card-button[aria-label="Garage: send toggle"]"#)
            .await
            .context("the imported card never showed")?;
        let published = device.received("roost/dashboard").await?;
        ensure!(published.contains("garage/door"), "published {published}");
        Ok(())
    })
    .await?;
    broker.stop().await
}

/// The panel layout (the retained `roost/dashboard`) and a Home Assistant discovery config (retained
/// `homeassistant/.../config`) are kept in the data directory: a broker started again on it, on new ports, shows a
/// fresh browser the same card and the same discovered device.
#[tokio::test]
async fn the_panel_and_a_discovered_device_survive_a_restart() -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let config = || Config {
        storage: StorageConfig {
            dir: Some(data.path().join("data")),
            ..StorageConfig::default()
        },
        ..Config::default()
    };
    let broker = TestBroker::start_with(config()).await?;
    let mut device = Device::connect(&broker, "watcher").await?;
    device.subscribe("roost/dashboard").await?;
    device.publish(TASMOTA_CONFIG_TOPIC, TASMOTA_RELAY, true).await?;
    let url = broker.dashboard_url();
    let device = &mut device;
    with_browser(|client| async move {
        client.goto(&url).await?;
        wait_for(&client, r#"section.status[data-state="connected"]"#).await?;
        add_doorbell_card(&client).await?;
        wait_for(&client, r#".card-button[aria-label="Doorbell: send ring"]"#)
            .await
            .context("the new card never showed")?;
        // The broker has the layout: a native client got it, published retained.
        let published = device.received("roost/dashboard").await?;
        ensure!(published.contains(r#""title":"Doorbell""#), "published {published}");
        wait_for(&client, TASMOTA_CARD)
            .await
            .context("the discovered card never appeared before the restart")?;
        Ok(())
    })
    .await?;
    broker.stop().await?;

    // Same data directory, new ports: a new origin, so nothing the browser kept for the old page can stand in.
    let broker = TestBroker::start_with(config()).await?;
    let url = broker.dashboard_url();
    with_browser(|client| async move {
        client.goto(&url).await?;
        wait_for(&client, r#"section.status[data-state="connected"]"#).await?;
        let card = wait_for(&client, r#".card-button[aria-label="Doorbell: send ring"]"#).await;
        let discovered = wait_for(&client, TASMOTA_CARD).await;
        screenshot(&client, "panel-restarted.png").await?;
        card.context("the panel's card is gone after the broker restarted on the same data directory")?;
        let discovered = discovered
            .context("the discovered device is gone after the broker restarted on the same data directory")?;
        let title = discovered.find(Locator::Css(".card-title")).await?.text().await?;
        ensure!(title == "Desk lamp Relay", "title {title:?}");
        Ok(())
    })
    .await?;
    broker.stop().await
}
