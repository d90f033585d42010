//! MQTT.js (npm's `mqtt`, the client browser dashboards use) in a real headless Chromium against a real `roost`
//! over WebSocket at `/mqtt`, MQTT 3.1.1 and 5.0, with rumqttc as the native peer: a message goes from the browser
//! to a native subscriber and from a native publisher to the browser, and the browser sees its own retained message
//! with its MQTT 5 properties.
//!
//! The bundle is `~/.cache/roost/tools/node_modules/mqtt/dist/mqtt.min.js` (`scripts/setup` installs the pinned
//! version; `ROOST_TOOLS_DIR` overrides the directory); a missing bundle fails the test with its path.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, ensure};
use fantoccini::Locator;
use roost_tests::TestBroker;
use roost_tests::browser::with_browser;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(20);

fn bundle() -> anyhow::Result<PathBuf> {
    let tools = std::env::var_os("ROOST_TOOLS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/roost/tools"));
    let bundle = tools.join("node_modules/mqtt/dist/mqtt.min.js");
    ensure!(
        bundle.is_file(),
        "{} is missing; scripts/setup installs it",
        bundle.display()
    );
    Ok(bundle)
}

/// The page: connects, subscribes to `mqttjs/{v}/#`, publishes a retained QoS 1 message with properties (5.0),
/// and writes what happened into attributes of `<body>` for the test to read.
fn page(bundle: &std::path::Path, url: &str, version: u8) -> String {
    format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><script src="file://{bundle}"></script></head>
<body><script>
const v = {version};
const set = (k, val) => document.body.setAttribute(k, val);
const seen = {{}};
const client = mqtt.connect("{url}", {{ protocolVersion: v, clientId: "mqttjs-" + v, clean: true, reconnectPeriod: 0 }});
client.on("error", e => set("data-result", "error: " + e.message));
client.on("connect", () => {{
  client.subscribe("mqttjs/" + v + "/#", {{ qos: 1 }}, (err, granted) => {{
    if (err) return set("data-result", "subscribe failed: " + err.message);
    set("data-granted", String(granted[0].qos));
    const properties = v === 5 ? {{ userProperties: {{ room: "kitchen" }}, contentType: "text/plain" }} : undefined;
    client.publish("mqttjs/" + v + "/from-browser", "hello from MQTT.js", {{ qos: 1, retain: true, properties }}, err => {{
      if (err) return set("data-result", "publish failed: " + err.message);
      set("data-published", "yes");
    }});
  }});
}});
client.on("message", (topic, payload, packet) => {{
  seen[topic] = {{ payload: payload.toString(), qos: packet.qos, props: packet.properties || {{}} }};
  const own = seen["mqttjs/" + v + "/from-browser"], native = seen["mqttjs/" + v + "/from-native"];
  if (own && native) {{
    if (v === 5 && (own.props.userProperties || {{}}).room !== "kitchen") return set("data-result", "user property lost");
    if (v === 5 && own.props.contentType !== "text/plain") return set("data-result", "content type lost");
    set("data-result", "ok " + native.payload + " qos " + native.qos);
  }}
}});
</script></body></html>"#,
        bundle = bundle.display(),
    )
}

async fn mqttjs(version: u8) -> anyhow::Result<()> {
    let bundle = bundle()?;
    // The page is a file:// URL, whose origin browsers send as "null": a foreign origin for /mqtt unless allowed.
    let mut config = roost_broker::Config::default();
    config.http.allowed_origins = vec!["null".into()];
    let broker = TestBroker::start_with(config).await?;
    let dir = tempfile::tempdir()?;
    let html = dir.path().join("mqttjs.html");
    std::fs::write(&html, page(&bundle, &format!("ws://{}/mqtt", broker.http), version))?;

    // The native side: subscribes to what the browser publishes, and publishes to it once it has subscribed.
    let mut options = MqttOptions::new(
        format!("native-{version}"),
        broker.mqtt.ip().to_string(),
        broker.mqtt.port(),
    );
    options.set_keep_alive(Duration::from_secs(5));
    let (native, mut events) = AsyncClient::new(options, 10);
    native
        .subscribe(format!("mqttjs/{version}/from-browser"), QoS::AtLeastOnce)
        .await?;
    // Polled until the browser's message arrives, then on (so the native publish below goes out) until dropped.
    let (tx, rx) = tokio::sync::oneshot::channel();
    let event_loop = tokio::spawn(async move {
        let mut tx = Some(tx);
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::Publish(publish))) => {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(Ok(publish));
                    }
                }
                Ok(_) => {}
                Err(error) => {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(Err(error));
                    }
                    return;
                }
            }
        }
    });

    let url = format!("file://{}", html.display());
    with_browser(|client| async move {
        client.goto(&url).await?;
        let body = client.find(Locator::Css("body")).await?;
        client
            .wait()
            .at_most(LIMIT)
            .for_element(Locator::Css("body[data-granted]"))
            .await
            .context("MQTT.js never subscribed")?;
        ensure!(
            body.attr("data-granted").await?.as_deref() == Some("1"),
            "QoS 1 not granted"
        );
        native
            .publish(
                format!("mqttjs/{version}/from-native"),
                QoS::AtLeastOnce,
                false,
                "hello from rumqttc",
            )
            .await?;
        client
            .wait()
            .at_most(LIMIT)
            .for_element(Locator::Css("body[data-result]"))
            .await
            .context("MQTT.js never reported a result")?;
        let result = body.attr("data-result").await?.unwrap_or_default();
        ensure!(result == "ok hello from rumqttc qos 1", "MQTT.js {version}: {result}");
        Ok(())
    })
    .await?;

    let publish = timeout(LIMIT, rx).await.context("rumqttc got nothing from MQTT.js")??;
    event_loop.abort();
    let publish = publish.context("rumqttc's connection failed")?;
    assert_eq!(&publish.payload[..], b"hello from MQTT.js");
    assert_eq!(publish.qos, QoS::AtLeastOnce);
    broker.stop().await
}

#[tokio::test]
async fn mqttjs_v311_in_chromium_over_websocket() -> anyhow::Result<()> {
    mqttjs(4).await
}

#[tokio::test]
async fn mqttjs_v5_in_chromium_over_websocket() -> anyhow::Result<()> {
    mqttjs(5).await
}
