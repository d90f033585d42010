//! How the broker delivers the dashboard's files over HTTP: brotli or gzip by content negotiation (each holding
//! the file's exact bytes), identity otherwise, `Vary: Accept-Encoding`, a year's immutable caching for Trunk's
//! hashed files and revalidation for the page, the service worker and the manifest.
//!
//! Needs the dashboard built into `dist/` (`scripts/trunk build --release`), like dashboard.rs.

use std::io::Read as _;
use std::time::Duration;

use anyhow::{Context as _, ensure};
use roost_tests::TestBroker;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// A response: its head (lower case) and body.
struct Answer {
    head: String,
    body: Vec<u8>,
}

impl Answer {
    /// The value of header `name` (lower case), if present.
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            (key == name).then(|| value.trim())
        })
    }
}

/// `GET path` with `headers` (each a full `Name: value` line), read to the end.
async fn get(broker: &TestBroker, path: &str, headers: &[String]) -> anyhow::Result<Answer> {
    let mut stream = TcpStream::connect(broker.http).await?;
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n", broker.http);
    for header in headers {
        request.push_str(header);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response))
        .await
        .context("no full response within 10 s")??;
    let split = response
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .context("no end of the response head")?;
    Ok(Answer {
        head: String::from_utf8_lossy(&response[..split]).to_ascii_lowercase(),
        body: response[split + 4..].to_vec(),
    })
}

/// The file of `dist/` whose name ends with `suffix` (Trunk's hashed names), and its bytes.
fn dist_file(suffix: &str) -> anyhow::Result<(String, Vec<u8>)> {
    let dist = concat!(env!("CARGO_MANIFEST_DIR"), "/../dist");
    for entry in std::fs::read_dir(dist)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if name.ends_with(suffix) {
            let bytes = std::fs::read(format!("{dist}/{name}"))?;
            return Ok((format!("/{name}"), bytes));
        }
    }
    anyhow::bail!("no *{suffix} in dist/; is it built (scripts/trunk build --release)?")
}

fn decode(encoding: Option<&str>, body: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut decoded = Vec::new();
    match encoding {
        Some("br") => {
            brotli_decompressor::Decompressor::new(body, 4096).read_to_end(&mut decoded)?;
        }
        Some("gzip") => {
            flate2::read::GzDecoder::new(body).read_to_end(&mut decoded)?;
        }
        None => decoded.extend_from_slice(body),
        Some(other) => anyhow::bail!("unexpected Content-Encoding {other}"),
    }
    Ok(decoded)
}

#[tokio::test]
async fn files_are_sent_in_the_encoding_the_browser_accepts() -> anyhow::Result<()> {
    let broker = TestBroker::start().await?;
    let (wasm, original) = dist_file("_bg.wasm")?;
    let cases = [
        ("br", Some("br")),
        ("gzip", Some("gzip")),
        // Chromium over HTTPS (and to localhost), then over plain HTTP.
        ("gzip, deflate, br, zstd", Some("br")),
        ("gzip, deflate", Some("gzip")),
        ("br;q=0, gzip;q=0.5", Some("gzip")),
        ("identity", None),
        ("", None),
    ];
    let mut sizes = Vec::new();
    for (accept, expected) in cases {
        let headers: Vec<String> = if accept.is_empty() {
            Vec::new()
        } else {
            vec![format!("Accept-Encoding: {accept}")]
        };
        let answer = get(&broker, &wasm, &headers).await?;
        ensure!(answer.head.starts_with("http/1.1 200"), "{accept:?}: {}", answer.head);
        ensure!(
            answer.header("content-encoding") == expected,
            "Accept-Encoding {accept:?} got {:?}, not {expected:?}",
            answer.header("content-encoding")
        );
        ensure!(
            answer.header("vary") == Some("accept-encoding"),
            "no Vary: {}",
            answer.head
        );
        ensure!(
            answer.header("cache-control") == Some("public, max-age=31536000, immutable"),
            "a hashed file is not cached as immutable: {}",
            answer.head
        );
        ensure!(
            answer.header("content-type") == Some("application/wasm"),
            "{}",
            answer.head
        );
        ensure!(
            decode(expected, &answer.body)? == original,
            "the {expected:?} body is not the file's bytes"
        );
        sizes.push((accept, answer.body.len()));
    }
    eprintln!("{wasm}: {} bytes; sent as {sizes:?}", original.len());
    // Compression is worth having: the brotli wasm is well under half the file.
    ensure!(
        sizes[0].1 * 2 < original.len(),
        "brotli only made {sizes:?} of {}",
        original.len()
    );
    broker.stop().await
}

#[tokio::test]
async fn the_page_is_revalidated_and_hashed_files_kept() -> anyhow::Result<()> {
    let broker = TestBroker::start().await?;
    let brotli = vec!["Accept-Encoding: gzip, deflate, br".to_owned()];
    // The page, the service worker and the manifest keep their names across builds: revalidated on every use.
    for path in ["/", "/sw.js", "/manifest.webmanifest"] {
        let answer = get(&broker, path, &brotli).await?;
        ensure!(answer.head.starts_with("http/1.1 200"), "{path}: {}", answer.head);
        ensure!(
            answer.header("cache-control") == Some("no-cache"),
            "{path}: {}",
            answer.head
        );
        ensure!(
            answer.header("content-encoding") == Some("br"),
            "{path}: {}",
            answer.head
        );
        ensure!(
            answer.header("vary") == Some("accept-encoding"),
            "{path}: {}",
            answer.head
        );
        ensure!(
            answer.head.contains("content-security-policy: "),
            "{path}: {}",
            answer.head
        );
        // Revalidating costs a 304 with no body.
        let etag = answer.header("etag").context("no ETag")?.to_owned();
        let again = get(&broker, path, &[brotli[0].clone(), format!("If-None-Match: {etag}")]).await?;
        ensure!(
            again.head.starts_with("http/1.1 304"),
            "{path} revalidated: {}",
            again.head
        );
        ensure!(again.body.is_empty(), "a 304 with a body");
        // Another encoding is another representation: its own tag, so no 304 for the brotli one's.
        let gzip = get(
            &broker,
            path,
            &["Accept-Encoding: gzip".into(), format!("If-None-Match: {etag}")],
        )
        .await?;
        ensure!(
            gzip.head.starts_with("http/1.1 200"),
            "{path} as gzip with the br tag: {}",
            gzip.head
        );
    }
    let (css, _) = dist_file(".css")?;
    let answer = get(&broker, &css, &brotli).await?;
    ensure!(
        answer.header("cache-control") == Some("public, max-age=31536000, immutable"),
        "{css}: {}",
        answer.head
    );
    // The manifest names icons that exist, and PNGs are sent as they are (compressing them gains nothing).
    let manifest = get(&broker, "/manifest.webmanifest", &[]).await?;
    ensure!(
        manifest.header("content-type") == Some("application/manifest+json"),
        "{}",
        manifest.head
    );
    let manifest: serde_json::Value = serde_json::from_slice(&manifest.body)?;
    let icons = manifest["icons"].as_array().context("the manifest has no icons")?;
    ensure!(icons.len() >= 2, "{manifest}");
    for icon in icons {
        let src = icon["src"].as_str().context("an icon without src")?;
        let answer = get(&broker, src, &brotli).await?;
        ensure!(answer.head.starts_with("http/1.1 200"), "{src}: {}", answer.head);
        if src.ends_with(".png") {
            ensure!(answer.header("content-encoding").is_none(), "{src}: {}", answer.head);
            ensure!(answer.body.starts_with(b"\x89PNG"), "{src} is not a PNG");
        }
    }
    // The API is never cached by anyone.
    let session = get(&broker, "/api/session", &brotli).await?;
    ensure!(session.header("cache-control") == Some("no-store"), "{}", session.head);
    broker.stop().await
}
