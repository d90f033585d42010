//! Third-party MQTT clients against a real `roost` on loopback: rumqttc (3.1.1 and 5.0) and Debian's
//! mosquitto-clients, so neither side of the wire is only ours.

use std::process::Stdio;
use std::time::Duration;

use roost_tests::TestBroker;
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn rumqttc_v311_connects_and_pings() -> anyhow::Result<()> {
    use rumqttc::{AsyncClient, ConnectReturnCode, Event, MqttOptions, Packet};
    let broker = TestBroker::start().await?;
    let mut options = MqttOptions::new("rumqttc-v311", broker.mqtt.ip().to_string(), broker.mqtt.port());
    options.set_keep_alive(Duration::from_secs(1));
    let (_client, mut events) = AsyncClient::new(options, 10);
    let connack = timeout(LIMIT, async {
        loop {
            if let Event::Incoming(Packet::ConnAck(ack)) = events.poll().await? {
                return anyhow::Ok(ack);
            }
        }
    })
    .await??;
    assert_eq!(connack.code, ConnectReturnCode::Success);
    assert!(!connack.session_present);
    // [MQTT-3.12.4-1]: the server answers PINGREQ with PINGRESP; rumqttc pings after 1 s of keep alive.
    timeout(LIMIT, async {
        loop {
            if let Event::Incoming(Packet::PingResp) = events.poll().await? {
                return anyhow::Ok(());
            }
        }
    })
    .await??;
    broker.stop().await
}

#[tokio::test]
async fn rumqttc_v5_connects() -> anyhow::Result<()> {
    use rumqttc::v5::mqttbytes::v5::{ConnectReturnCode, Packet};
    use rumqttc::v5::{AsyncClient, Event, MqttOptions};
    let broker = TestBroker::start().await?;
    let options = MqttOptions::new("rumqttc-v5", broker.mqtt.ip().to_string(), broker.mqtt.port());
    let (_client, mut events) = AsyncClient::new(options, 10);
    let connack = timeout(LIMIT, async {
        loop {
            if let Event::Incoming(Packet::ConnAck(ack)) = events.poll().await? {
                return anyhow::Ok(ack);
            }
        }
    })
    .await??;
    assert_eq!(connack.code, ConnectReturnCode::Success);
    broker.stop().await
}

/// `mosquitto_pub` connects, publishes at QoS 0 and disconnects; exit status 0 means it got a CONNACK accepting it.
#[tokio::test]
async fn mosquitto_pub_connects_in_each_version() -> anyhow::Result<()> {
    let broker = TestBroker::start().await?;
    for version in ["mqttv31", "mqttv311", "mqttv5"] {
        let output = timeout(
            LIMIT,
            tokio::process::Command::new("mosquitto_pub")
                .args(["-h", "127.0.0.1", "-p", &broker.mqtt.port().to_string(), "-V", version])
                .args([
                    "-i",
                    &format!("pub-{version}"),
                    "-t",
                    "roost/test",
                    "-m",
                    "hello",
                    "-q",
                    "0",
                ])
                .stdin(Stdio::null())
                .kill_on_drop(true)
                .output(),
        )
        .await??;
        assert!(
            output.status.success(),
            "mosquitto_pub -V {version} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    broker.stop().await
}
