//! The broker view's pure parts, in headless Chromium: the admin API's answers read (clients, bridges in the
//! shape `GET /api/v1/bridges` answers, its 404 from a broker without bridges, refusals in words), and the
//! trend chart's bounded ring and geometry.

use roost_web::broker_view::admin::{
    BridgeRow, Bridges, ClientRow, bridges_answer, clients_answer, disconnect_answer, format_age, parse_bridges,
    parse_clients,
};
use roost_web::broker_view::trend::{CONNECTIONS, Plot, RATES, Sample, Trend, axis_label, nice_ceiling};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// What `GET /api/v1/clients` answers (broker/src/transport/admin_api.rs's `ClientJson`).
const CLIENTS: &str = r#"[
  {"client_id":"sensor-1","connected":true,"address":"127.0.0.1:50412","user":null,"protocol":"MQTT 3.1.1",
   "keep_alive":60,"connected_since_ms":1764790000000,"session_expiry_interval":0,"queued":2,"inflight":1,
   "subscriptions":["home/+/set","lights/#"]},
  {"client_id":"kept","connected":false,"address":null,"user":"alice","protocol":"MQTT 5.0","keep_alive":null,
   "connected_since_ms":null,"session_expiry_interval":3600,"queued":0,"inflight":0,"subscriptions":[]},
  {"connected":true}
]"#;

#[wasm_bindgen_test]
fn clients_are_read_from_the_admin_api() {
    let rows = parse_clients(CLIENTS).unwrap();
    assert_eq!(rows.len(), 2, "an entry without a client id is skipped");
    assert_eq!(
        rows[0],
        ClientRow {
            client_id: "sensor-1".into(),
            connected: true,
            address: Some("127.0.0.1:50412".into()),
            user: None,
            protocol: "MQTT 3.1.1".into(),
            keep_alive: Some(60),
            connected_since_ms: Some(1_764_790_000_000),
            queued: 2,
            inflight: 1,
            subscriptions: vec!["home/+/set".into(), "lights/#".into()],
        }
    );
    assert_eq!(rows[1].user.as_deref(), Some("alice"));
    assert!(!rows[1].connected);
    assert_eq!(rows[1].keep_alive, None);
    assert!(parse_clients("{}").is_err(), "an object is not a list");
    assert!(parse_clients("<html>").is_err());
    assert_eq!(clients_answer(200, "[]"), Ok(vec![]));
}

#[wasm_bindgen_test]
fn bridges_are_read_in_the_endpoints_shape() {
    let text = r#"[
      {"name":"cloud","address":"mqtt.example.com:8883","connected":true,"queued":0,"last_error":null,
       "connected_since":1764790000},
      {"name":"attic","address":"10.0.0.7:1883","connected":false,"queued":42,
       "last_error":"connection refused","connected_since":null}
    ]"#;
    let rows = parse_bridges(text).unwrap();
    assert_eq!(
        rows,
        vec![
            BridgeRow {
                name: "cloud".into(),
                address: "mqtt.example.com:8883".into(),
                connected: true,
                queued: 0,
                last_error: None,
                connected_since: Some(1_764_790_000),
            },
            BridgeRow {
                name: "attic".into(),
                address: "10.0.0.7:1883".into(),
                connected: false,
                queued: 42,
                last_error: Some("connection refused".into()),
                connected_since: None,
            },
        ]
    );
    assert_eq!(
        bridges_answer(200, "[]"),
        Ok(Bridges::Listed(vec![])),
        "no bridges configured"
    );
    assert_eq!(
        bridges_answer(404, r#"{"error":"no such endpoint in the admin API"}"#),
        Ok(Bridges::NotReported),
        "a broker from before bridges answers the admin API's JSON 404"
    );
    assert!(bridges_answer(200, r#"{"name":"x"}"#).is_err());
    assert!(
        parse_bridges(r#"[{"address":"a:1"}]"#).unwrap().is_empty(),
        "a bridge has a name"
    );
}

#[wasm_bindgen_test]
fn refusals_are_in_words_and_stop_the_polling() {
    let unauthorised = clients_answer(401, r#"{"error":"log in as an administrator"}"#).unwrap_err();
    assert_eq!(unauthorised.words, "Log in as an administrator.");
    assert!(unauthorised.is_final());
    let forbidden = clients_answer(403, r#"{"error":"only administrators may use the admin API"}"#).unwrap_err();
    assert_eq!(forbidden.words, "Only administrators may use the admin API.");
    assert!(forbidden.is_final());
    let missing = clients_answer(404, "").unwrap_err();
    assert_eq!(missing.words, "This broker has no admin API.");
    let busy = clients_answer(503, "").unwrap_err();
    assert_eq!(busy.words, "The broker answered HTTP 503.");
    assert!(!busy.is_final(), "a busy broker is asked again");
    assert_eq!(disconnect_answer(204, ""), Ok(()));
    assert_eq!(
        disconnect_answer(404, r#"{"error":"no client with that id is connected"}"#)
            .unwrap_err()
            .words,
        "No client with that id is connected."
    );
    assert_eq!(
        disconnect_answer(
            403,
            r#"{"error":"only the dashboard's own page may call the admin API"}"#
        )
        .unwrap_err()
        .words,
        "Only the dashboard's own page may call the admin API."
    );
}

#[wasm_bindgen_test]
fn ages_read_like_a_person_says_them() {
    assert_eq!(format_age(1_000, 13_500), "12 s");
    assert_eq!(format_age(0, 5 * 60_000 + 59_000), "5 min");
    assert_eq!(format_age(0, 3 * 3_600_000 + 4 * 60_000), "3 h 4 min");
    assert_eq!(format_age(0, 2 * 86_400_000 + 5 * 3_600_000), "2 d 5 h");
    assert_eq!(
        format_age(10_000, 0),
        "0 s",
        "a clock behind the broker's is not negative"
    );
}

fn sample(at_ms: f64, rate_in: f64, rate_out: f64, clients: f64) -> Sample {
    Sample {
        at_ms,
        rate_in: Some(rate_in),
        rate_out: Some(rate_out),
        clients: Some(clients),
    }
}

#[wasm_bindgen_test]
fn the_trend_keeps_a_bounded_ring_moving_forward() {
    let mut trend = Trend::new(3);
    for i in 0..5 {
        trend.push(sample(f64::from(i) * 1000.0, f64::from(i), 0.0, 1.0));
    }
    let times: Vec<f64> = trend.samples().map(|s| s.at_ms).collect();
    assert_eq!(times, [2000.0, 3000.0, 4000.0], "the oldest go first");
    // A second batch of the same update (or a clock that went back) corrects the last sample in place.
    trend.push(sample(4000.0, 9.0, 1.0, 2.0));
    trend.push(sample(3500.0, 8.0, 1.0, 2.0));
    assert_eq!(trend.len(), 3);
    let last = *trend.samples().next_back().unwrap();
    assert_eq!((last.at_ms, last.rate_in), (4000.0, Some(8.0)));
}

#[wasm_bindgen_test]
fn axes_end_on_round_numbers() {
    assert_eq!(nice_ceiling(0.0), 1.0);
    assert_eq!(nice_ceiling(0.4), 1.0);
    assert_eq!(nice_ceiling(1.5), 2.0);
    assert_eq!(nice_ceiling(3.0), 5.0);
    assert_eq!(nice_ceiling(7.0), 10.0);
    assert_eq!(nice_ceiling(10.0), 10.0);
    assert_eq!(nice_ceiling(120.0), 200.0);
    assert_eq!(nice_ceiling(f64::NAN), 1.0);
    assert_eq!(axis_label(2.5), "2.5");
    assert_eq!(axis_label(200.0), "200");
}

#[wasm_bindgen_test]
fn the_plot_spans_the_samples_from_zero_to_the_axis_top() {
    let mut trend = Trend::default();
    trend.push(sample(10_000.0, 0.0, 3.0, 1.0));
    trend.push(sample(20_000.0, 8.0, 4.0, 2.0));
    trend.push(sample(30_000.0, 4.0, 5.0, 3.0));
    let plot = Plot::of(&trend, RATES).unwrap();
    assert_eq!(plot.top, 10.0, "the highest rate, 8, rounded up");
    assert_eq!(Plot::of(&trend, CONNECTIONS).unwrap().top, 5.0);
    assert!(plot.x(10_000.0) < plot.x(20_000.0) && plot.x(20_000.0) < plot.x(30_000.0));
    assert!(plot.y(0.0) > plot.y(8.0), "values grow upwards");
    assert_eq!(plot.y(100.0), plot.y(10.0), "clamped at the top");
    let points = plot.points(&trend, &RATES[0]);
    assert_eq!(points.split(' ').count(), 3);
    assert!(points.starts_with(&format!("{:.1},{:.1}", plot.x(10_000.0), plot.y(0.0))));
    assert_eq!(plot.time_ticks(), [10_000.0, 20_000.0, 30_000.0]);
    assert_eq!(plot.value_ticks(), [0.0, 5.0, 10.0]);
    // A figure missing from a sample leaves that point out rather than drawing it at zero.
    trend.push(Sample {
        at_ms: 40_000.0,
        rate_in: None,
        rate_out: Some(1.0),
        clients: None,
    });
    let plot = Plot::of(&trend, RATES).unwrap();
    assert_eq!(plot.points(&trend, &RATES[0]).split(' ').count(), 3);
    assert_eq!(plot.points(&trend, &RATES[1]).split(' ').count(), 4);
    assert!(Plot::of(&Trend::default(), RATES).is_none());
}
