//! Makes sure `dist/` (the Trunk-built dashboard, embedded by `src/transport/dashboard.rs`) exists, so the broker
//! builds without the dashboard: when `dist/index.html` is missing, writes a page saying how to build it. A real
//! build is never overwritten, and `trunk build` replaces the placeholder.

use std::path::Path;
use std::{env, fs};

const PLACEHOLDER: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="roost-dashboard" content="not-built">
<title>Roost: dashboard not built</title>
</head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem">
<h1>Roost is running, but its dashboard was not built</h1>
<p>The broker accepts MQTT connections. This binary was compiled before the dashboard existed, so it has no
dashboard to show.</p>
<p>At the root of the Roost workspace, build the dashboard and then the broker (release builds embed it):</p>
<pre>trunk build --release
cargo build --release -p roost-broker</pre>
</body>
</html>
"#;

fn main() {
    let manifest_dir = env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let dist = Path::new(&manifest_dir).join("../dist");
    let index = dist.join("index.html");
    if !index.exists() {
        fs::create_dir_all(&dist).expect("cannot create dist/");
        fs::write(&index, PLACEHOLDER).expect("cannot write dist/index.html");
    }
    // A directory makes cargo rerun this (and re-embed) whenever any file under it changes, e.g. after
    // `trunk build`: the embedding macro alone only notices changes to files it already embedded.
    println!("cargo::rerun-if-changed=../dist");
    println!("cargo::rerun-if-changed=build.rs");
}
