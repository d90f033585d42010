//! Serves the dashboard that Trunk builds into `dist/` at the workspace root.
//!
//! Release builds embed `dist/` in the binary, so one file is all a Raspberry Pi needs. Debug builds read `dist/`
//! from disk at request time (rust-embed without `debug-embed`), so `trunk watch` and a browser reload show dashboard
//! changes without recompiling the broker. `build.rs` puts a "dashboard not built" page there when `dist/` is empty.

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

/// The files of `dist/`, keyed by their path relative to it.
#[derive(RustEmbed)]
#[folder = "../dist"]
struct Dist;

/// `GET /`: the dashboard's page.
pub(crate) async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

/// `GET /{path}`: one file of the dashboard (wasm, js, css, ...).
pub(crate) async fn file(Path(path): Path<String>, headers: HeaderMap) -> Response {
    serve(&path, &headers)
}

fn serve(path: &str, headers: &HeaderMap) -> Response {
    let Some(file) = Dist::get(path) else {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    };
    // The content hash makes a strong ETag, so a reload costs a 304 instead of the wasm again. Revalidating every
    // time (`no-cache`) keeps index.html and whatever it names consistent after an upgrade.
    let etag = format!("\"{}\"", hex(&file.metadata.sha256_hash()));
    let etag = HeaderValue::from_str(&etag).expect("hex digits in quotes are a valid header value");
    let cache = [
        (header::ETAG, etag.clone()),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
    ];
    if headers.get(header::IF_NONE_MATCH) == Some(&etag) {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    let content_type =
        HeaderValue::from_str(file.metadata.mimetype()).unwrap_or(HeaderValue::from_static("application/octet-stream"));
    (cache, [(header::CONTENT_TYPE, content_type)], file.data).into_response()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
