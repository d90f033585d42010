//! The explorer's pure helpers in headless Chromium: payload views (text, pretty JSON, hex), the numbers a chart
//! takes from payloads, line diffs and the chart's polyline.

use roost_web::explorer::Payload;
use roost_web::explorer::chart::{HEIGHT, WIDTH, polyline};
use roost_web::explorer::diff::{DiffLine, MAX_DIFF_CELLS, diff_lines};
use roost_web::explorer::payload::{ChartSource, PayloadView, hex, number, numeric_fields, pretty_json, render};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn text(value: &str) -> Payload {
    Payload::Text(value.into())
}

#[wasm_bindgen_test]
fn payloads_show_as_text_json_or_hex() {
    let json = text(r#"{"b":1,"a":[true,null]}"#);
    assert_eq!(render(&json, PayloadView::Text).unwrap(), r#"{"b":1,"a":[true,null]}"#);
    assert_eq!(
        render(&json, PayloadView::Json).unwrap(),
        "{\n  \"b\": 1,\n  \"a\": [\n    true,\n    null\n  ]\n}",
        "keys in the order they were sent"
    );
    assert_eq!(render(&text("Hé"), PayloadView::Hex).unwrap(), "48 c3 a9");
    assert_eq!(
        render(&Payload::Hex("ff 00".into()), PayloadView::Hex).unwrap(),
        "ff 00"
    );
    assert_eq!(
        render(&Payload::Hex("ff 00".into()), PayloadView::Text).unwrap(),
        "ff 00"
    );
    assert_eq!(hex(b""), "");
}

#[wasm_bindgen_test]
fn a_payload_that_is_not_json_says_why_and_shows_as_text() {
    let (shown, why) = render(&text("{\"a\": 1,"), PayloadView::Json).unwrap_err();
    assert_eq!(shown, "{\"a\": 1,");
    assert!(why.starts_with("Not JSON: ") && why.contains("line 1"), "{why}");
    let (shown, why) = render(&Payload::Hex("ff".into()), PayloadView::Json).unwrap_err();
    assert_eq!(
        (shown.as_str(), why.as_str()),
        ("ff", "Not JSON: the payload is not UTF-8.")
    );
    assert!(pretty_json("").is_err());
    // An empty payload (deleting a retained message) shows as empty, not as broken JSON.
    assert_eq!(render(&text(""), PayloadView::Json).unwrap(), "");
    assert_eq!(pretty_json(" 42 ").unwrap(), "42");
}

#[wasm_bindgen_test]
fn json_keeps_the_order_the_device_sent() {
    assert_eq!(
        pretty_json(r#"{"zeta":1,"alpha":{"y":2,"b":3},"mid":[{"k":1,"a":2}]}"#).unwrap(),
        "{\n  \"zeta\": 1,\n  \"alpha\": {\n    \"y\": 2,\n    \"b\": 3\n  },\n  \"mid\": [\n    {\n      \"k\": 1,\n      \"a\": 2\n    }\n  ]\n}"
    );
}

#[wasm_bindgen_test]
fn numbers_come_from_whole_payloads_or_json_fields() {
    assert_eq!(number(&text(" 21.5\n"), &ChartSource::Whole), Some(21.5));
    assert_eq!(number(&text("-3e2"), &ChartSource::Whole), Some(-300.0));
    for not_a_number in ["", "on", "NaN", "inf", "1 2"] {
        assert_eq!(
            number(&text(not_a_number), &ChartSource::Whole),
            None,
            "{not_a_number:?}"
        );
    }
    assert_eq!(number(&Payload::Hex("31".into()), &ChartSource::Whole), None);
    let json = text(r#"{"temp":{"c":21.5},"on":true,"name":"x","s":"7","list":[1,2],"a/b":3}"#);
    let field = |pointer: &str| number(&json, &ChartSource::Field(pointer.into()));
    assert_eq!(field("/temp/c"), Some(21.5));
    assert_eq!(field("/on"), Some(1.0));
    assert_eq!(field("/s"), Some(7.0));
    assert_eq!(field("/list/1"), Some(2.0));
    assert_eq!(field("/a~1b"), Some(3.0));
    assert_eq!(field("/name"), None);
    assert_eq!(field("/missing"), None);
    assert_eq!(number(&text("12"), &ChartSource::Field("/a".into())), None);
}

#[wasm_bindgen_test]
fn numeric_fields_are_listed_as_json_pointers_bounded() {
    let json =
        text(r#"{"temp":{"c":21.5,"unit":"C"},"on":false,"list":[1,"x"],"a/b~":3,"deep":{"a":{"b":{"c":{"d":1}}}}}"#);
    // In the order the payload has them.
    assert_eq!(numeric_fields(&json), ["/temp/c", "/on", "/list/0", "/a~1b~0"]);
    assert!(
        numeric_fields(&text("21.5")).is_empty(),
        "a bare number is the whole payload"
    );
    assert!(numeric_fields(&text("not json")).is_empty());
    let many: Vec<String> = (0..100).map(|i| format!("\"k{i:03}\":{i}")).collect();
    assert_eq!(numeric_fields(&text(&format!("{{{}}}", many.join(",")))).len(), 32);
}

fn same(line: &str) -> DiffLine {
    DiffLine::Same(line.into())
}
fn removed(line: &str) -> DiffLine {
    DiffLine::Removed(line.into())
}
fn added(line: &str) -> DiffLine {
    DiffLine::Added(line.into())
}

#[wasm_bindgen_test]
fn diffs_mark_removed_and_added_lines() {
    assert_eq!(diff_lines("a\nb\nc", "a\nb\nc"), [same("a"), same("b"), same("c")]);
    assert_eq!(diff_lines("21.5", "21.6"), [removed("21.5"), added("21.6")]);
    assert_eq!(
        diff_lines(
            "{\n  \"a\": 1,\n  \"b\": 2\n}",
            "{\n  \"a\": 1,\n  \"b\": 3,\n  \"c\": 4\n}"
        ),
        [
            same("{"),
            same("  \"a\": 1,"),
            removed("  \"b\": 2"),
            added("  \"b\": 3,"),
            added("  \"c\": 4"),
            same("}")
        ]
    );
    assert_eq!(
        diff_lines("x\na\ny", "a\nz"),
        [removed("x"), same("a"), removed("y"), added("z")]
    );
    assert_eq!(diff_lines("", "a"), [added("a")]);
    assert_eq!(diff_lines("a", ""), [removed("a")]);
}

#[wasm_bindgen_test]
fn diffs_too_large_to_compare_are_all_removed_then_all_added() {
    let side = (MAX_DIFF_CELLS as f64).sqrt() as usize + 2;
    let old: Vec<String> = (0..side).map(|i| format!("o{i}")).collect();
    let new: Vec<String> = (0..side).map(|i| format!("n{i}")).collect();
    let (old, new) = (
        format!("head\n{}\ntail", old.join("\n")),
        format!("head\n{}\ntail", new.join("\n")),
    );
    let lines = diff_lines(&old, &new);
    assert_eq!(lines.len(), 2 * side + 2);
    assert_eq!(lines[0], same("head"));
    assert_eq!(lines[1], removed("o0"));
    assert_eq!(lines[side + 1], added("n0"));
    assert_eq!(lines[2 * side + 1], same("tail"));
}

/// The polyline's points as numbers.
fn points(samples: &[(u64, f64)]) -> Vec<(f64, f64)> {
    polyline(samples)
        .split(' ')
        .filter(|point| !point.is_empty())
        .map(|point| {
            let (x, y) = point.split_once(',').unwrap();
            (x.parse().unwrap(), y.parse().unwrap())
        })
        .collect()
}

#[wasm_bindgen_test]
fn the_chart_spans_time_and_value_ranges() {
    assert_eq!(polyline(&[]), "");
    let drawn = points(&[(1000, 10.0), (2000, 20.0), (5000, 15.0)]);
    assert_eq!(drawn.len(), 3);
    assert_eq!(drawn[0].0, 0.0);
    assert_eq!(drawn[1].0, WIDTH / 4.0);
    assert_eq!(drawn[2].0, WIDTH);
    // Higher values are higher up (smaller y), the extremes within the margins.
    assert!(drawn[1].1 < drawn[2].1 && drawn[2].1 < drawn[0].1, "{drawn:?}");
    assert!(drawn.iter().all(|(_, y)| (0.0..=HEIGHT).contains(y)));
    // One instant: spread evenly; one value: a flat line in the middle.
    let flat = points(&[(7, 3.0), (7, 3.0), (7, 3.0)]);
    assert_eq!(
        flat,
        [(0.0, HEIGHT / 2.0), (WIDTH / 2.0, HEIGHT / 2.0), (WIDTH, HEIGHT / 2.0)]
    );
    assert_eq!(points(&[(7, 3.0)]), [(0.0, HEIGHT / 2.0)]);
}
