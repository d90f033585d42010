//! Makes sure `dist/` (the Trunk-built dashboard, embedded by `src/transport/dashboard.rs`) exists, so the broker
//! builds without the dashboard: when `dist/index.html` is missing, writes a page saying how to build it. A real
//! build is never overwritten, and `trunk build` replaces the placeholder.
//!
//! Then compresses every text-like file of `dist/` once, with brotli (quality 11) and gzip (level 9), into
//! `OUT_DIR`, and writes `precompressed.rs`: a table of `(path, SHA-256 of the original, br, gzip)` that
//! `src/transport/dashboard.rs` includes. The hash lets a debug build (which reads `dist/` from disk) notice a
//! `trunk build` newer than its compressed copies and send the file uncompressed rather than stale.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::{env, fs};

use sha2::{Digest, Sha256};

/// The extensions worth compressing; images other than SVG are compressed already.
const COMPRESSIBLE: &[&str] = &["html", "js", "wasm", "css", "svg", "json", "webmanifest", "txt"];

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
    let out = Path::new(&env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("precompressed");
    // Start empty: copies of an earlier build's files would only take disk space.
    let _ = fs::remove_dir_all(&out);
    fs::create_dir_all(&out).expect("cannot create OUT_DIR/precompressed");
    let mut table = String::from("&[\n");
    let mut names: Vec<_> = fs::read_dir(&dist)
        .expect("cannot read dist/")
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_file()))
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| {
            name.rsplit_once('.')
                .is_some_and(|(_, ext)| COMPRESSIBLE.contains(&ext))
        })
        .collect();
    names.sort();
    for name in names {
        let data = fs::read(dist.join(&name)).expect("cannot read a file of dist/");
        let br = brotli(&data);
        let gzip = gzip(&data);
        let sha256: [u8; 32] = Sha256::digest(&data).into();
        // Only a copy smaller than the original is worth a Content-Encoding.
        let variant = |suffix: &str, bytes: Vec<u8>| -> String {
            if bytes.len() >= data.len() {
                return "None".into();
            }
            let path = out.join(format!("{name}.{suffix}"));
            fs::write(&path, bytes).expect("cannot write a compressed copy");
            format!("Some(include_bytes!({:?}))", path.display().to_string())
        };
        let (br, gzip) = (variant("br", br), variant("gz", gzip));
        writeln!(
            table,
            "    Precompressed {{ path: {name:?}, sha256: {sha256:?}, br: {br}, gzip: {gzip} }},"
        )
        .expect("writing to a String");
    }
    table.push(']');
    fs::write(out.join("table.rs"), table).expect("cannot write precompressed table");
}

/// Brotli at its best quality and largest window: slow (seconds for the wasm), but done once per build.
fn brotli(data: &[u8]) -> Vec<u8> {
    let mut compressed = Vec::new();
    {
        let mut writer = brotli::CompressorWriter::new(&mut compressed, 64 * 1024, 11, 24);
        writer.write_all(data).expect("compressing into memory");
    }
    compressed
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(data).expect("compressing into memory");
    encoder.finish().expect("compressing into memory")
}
