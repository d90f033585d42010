//! Keep alive: PINGREQ when nothing was sent for the keep alive, connection lost half a keep alive later.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use super::*;

/// A client with a 10 s keep alive, connected at `t0` (CONNECT sent at `t0`, CONNACK at 5 ms).
fn connected_with_keep_alive_10s(version: ProtocolVersion) -> Harness {
    let mut options = ClientOptions::new(version, "c");
    options.keep_alive = 10;
    let mut h = Harness::new(options);
    h.client.connect(h.t0).unwrap();
    h.sent();
    h.server_sends(Packet::ConnAck(ConnAck::new(false, ReasonCode::Success)), h.at(5))
        .unwrap();
    h.events();
    h
}

#[test]
fn pingreq_goes_exactly_when_due() {
    for version in VERSIONS {
        let mut h = connected_with_keep_alive_10s(version);
        // Due a keep alive after the last packet we sent (CONNECT), whatever we received since.
        assert_eq!(h.client.poll_timeout(), Some(h.at(10_000)));
        h.client.handle_timeout(h.at(9_999));
        assert!(h.sent().is_empty());
        h.client.handle_timeout(h.at(10_000));
        assert_eq!(summary(&h.sent()), ["PingReq"]);
        assert_eq!(h.client.state(), State::Connected);
    }
}

#[test]
fn a_missing_pingresp_loses_the_connection_half_a_keep_alive_later() {
    for version in VERSIONS {
        let mut h = connected_with_keep_alive_10s(version);
        h.client.handle_timeout(h.at(10_000));
        assert_eq!(summary(&h.sent()), ["PingReq"]);
        assert_eq!(h.client.poll_timeout(), Some(h.at(15_000)));
        h.client.handle_timeout(h.at(14_999));
        assert_eq!(h.client.state(), State::Connected);
        assert!(h.events().is_empty());
        h.client.handle_timeout(h.at(15_000));
        assert_eq!(h.client.state(), State::Disconnected);
        assert_eq!(h.events(), vec![Event::PingTimeout]);
        assert!(h.sent().is_empty(), "nothing is sent on a dead connection");
        assert_eq!(h.client.poll_timeout(), None);
    }
}

#[test]
fn pingresp_stops_the_deadline_and_the_next_ping_follows_the_last_send() {
    let mut h = connected_with_keep_alive_10s(ProtocolVersion::V311);
    h.client.handle_timeout(h.at(10_000));
    h.sent();
    h.server_sends(Packet::PingResp, h.at(10_050)).unwrap();
    assert_eq!(h.client.poll_timeout(), Some(h.at(20_000)));
    h.client.handle_timeout(h.at(15_000));
    assert_eq!(h.client.state(), State::Connected);
    h.client.handle_timeout(h.at(20_000));
    assert_eq!(summary(&h.sent()), ["PingReq"]);
}

#[test]
fn any_packet_from_the_server_answers_a_ping() {
    let mut h = connected_with_keep_alive_10s(ProtocolVersion::V5);
    h.client.handle_timeout(h.at(10_000));
    h.sent();
    let publish = server_publish("a", QoSPid::AtMostOnce, "x");
    h.server_sends(Packet::Publish(publish), h.at(12_000)).unwrap();
    h.client.handle_timeout(h.at(15_000));
    assert_eq!(h.client.state(), State::Connected);
    assert_eq!(h.client.poll_timeout(), Some(h.at(20_000)));
}

#[test]
fn sending_anything_postpones_the_ping() {
    for version in VERSIONS {
        let mut h = connected_with_keep_alive_10s(version);
        let m = message("a", QoS::AtMostOnce, "x");
        h.client.publish(m, h.at(7_000)).unwrap();
        h.sent();
        assert_eq!(h.client.poll_timeout(), Some(h.at(17_000)));
        h.client.handle_timeout(h.at(10_000));
        assert!(h.sent().is_empty());
        // Acknowledgements we send count too.
        let publish = server_publish("a", QoSPid::AtLeastOnce(pid(1)), "x");
        h.server_sends(Packet::Publish(publish), h.at(12_000)).unwrap();
        assert_eq!(summary(&h.sent()), ["PUBACK 1"]);
        assert_eq!(h.client.poll_timeout(), Some(h.at(22_000)));
    }
}

#[test]
fn the_servers_keep_alive_overrides_ours() {
    let mut options = ClientOptions::new(ProtocolVersion::V5, "c");
    options.keep_alive = 60;
    let properties = Properties {
        server_keep_alive: Some(5),
        ..Properties::default()
    };
    let mut h = Harness::connected_with(options, properties);
    assert_eq!(h.client.poll_timeout(), Some(h.at(5_000)));
    h.client.handle_timeout(h.at(5_000));
    assert_eq!(summary(&h.sent()), ["PingReq"]);
    h.client.handle_timeout(h.at(7_500));
    assert_eq!(h.events(), vec![Event::PingTimeout]);
}

#[test]
fn keep_alive_zero_runs_no_timer() {
    let mut options = ClientOptions::new(ProtocolVersion::V311, "c");
    options.keep_alive = 0;
    let mut h = Harness::connected_with(options, Properties::default());
    assert_eq!(h.client.poll_timeout(), None);
    h.client.handle_timeout(h.at(1_000_000));
    assert!(h.sent().is_empty());
    assert_eq!(h.client.state(), State::Connected);
}
