//! Serves the dashboard that Trunk builds into `dist/` at the workspace root.
//!
//! Release builds embed `dist/` in the binary, so one file is all a Raspberry Pi needs. Debug builds read `dist/`
//! from disk at request time (rust-embed without `debug-embed`), so `trunk watch` and a browser reload show dashboard
//! changes without recompiling the broker. `build.rs` puts a "dashboard not built" page there when `dist/` is empty.
//!
//! Text-like files are sent brotli- or gzip-compressed by content negotiation (`encoding.rs`), from copies
//! `build.rs` made once at build time; files named with Trunk's content hash are cached for a year, the rest
//! revalidated on every use.

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

use super::encoding::{self, Encoding};

/// The files of `dist/`, keyed by their path relative to it.
#[derive(RustEmbed)]
#[folder = "../dist"]
struct Dist;

/// A file of `dist/` compressed at build time by `build.rs`.
struct Precompressed {
    /// Its path relative to `dist/`.
    path: &'static str,
    /// The SHA-256 of the file these copies were made from: a debug build reading a newer `dist/` from disk must
    /// not send a compressed copy of an older file.
    sha256: [u8; 32],
    /// The brotli copy, if smaller than the file.
    br: Option<&'static [u8]>,
    /// The gzip copy, if smaller than the file.
    gzip: Option<&'static [u8]>,
}

/// Every compressed file, written by `build.rs`.
static PRECOMPRESSED: &[Precompressed] = include!(concat!(env!("OUT_DIR"), "/precompressed/table.rs"));

/// The compressed copies of the file at `path` whose content hashes to `sha256`, if `build.rs` made any.
fn precompressed(path: &str, sha256: &[u8; 32]) -> Option<&'static Precompressed> {
    PRECOMPRESSED
        .iter()
        .find(|file| file.path == path && &file.sha256 == sha256)
}

/// `GET /`: the dashboard's page, with a Content-Security-Policy naming the hashes of its inline scripts.
pub(crate) async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

/// The Content-Security-Policy of every response; `script_hashes` are `'sha256-…'` sources of the inline scripts
/// of the page it is sent with.
///
/// - scripts: our own files, the inline module script Trunk writes to start the app (by hash, so no other inline
///   script runs), and `'wasm-unsafe-eval'`, which compiling the app's wasm needs;
/// - styles: our own files, plus inline `style` attributes (`style-src-attr`), which leptos sets (the topic
///   tree's indentation); `<style>` elements stay refused;
/// - connections: our own origin (CSP 3's `'self'` also matches `ws:`/`wss:` to the same host) and any `ws:`/
///   `wss:` URL, because the connection settings let a person point the dashboard at another MQTT broker;
/// - the service worker (`/sw.js`) and no other worker: `worker-src 'self'`, said outright rather than left to
///   fall back to `script-src`;
/// - no framing (`frame-ancestors 'none'`), no `<base>`, no plugins, no form posts.
pub(crate) fn content_security_policy(script_hashes: &[String]) -> HeaderValue {
    let mut scripts = String::from("'self' 'wasm-unsafe-eval'");
    for hash in script_hashes {
        scripts.push(' ');
        scripts.push_str(hash);
    }
    let policy = format!(
        "default-src 'none'; script-src {scripts}; style-src 'self'; style-src-attr 'unsafe-inline'; \
         img-src 'self' data:; connect-src 'self' ws: wss:; manifest-src 'self'; worker-src 'self'; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'none'; object-src 'none'"
    );
    HeaderValue::from_str(&policy).expect("the policy is ASCII without control characters")
}

/// `'sha256-…'` of every inline `<script>` (one without `src`) in an HTML page, as CSP hashes them: over the
/// exact text between the tags.
pub(crate) fn inline_script_hashes(html: &str) -> Vec<String> {
    let mut hashes = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<script") {
        rest = &rest[start..];
        let Some(tag_end) = rest.find('>') else { break };
        let tag = &rest[..tag_end];
        rest = &rest[tag_end + 1..];
        let Some(end) = rest.find("</script>") else { break };
        let body = &rest[..end];
        rest = &rest[end..];
        if !tag.contains(" src=") {
            let digest = ring::digest::digest(&ring::digest::SHA256, body.as_bytes());
            hashes.push(format!("'sha256-{}'", base64(digest.as_ref())));
        }
    }
    hashes
}

/// Standard base64 with padding, for the CSP hash.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `GET /{path}`: one file of the dashboard (wasm, js, css, ...).
pub(crate) async fn file(Path(path): Path<String>, headers: HeaderMap) -> Response {
    serve(&path, &headers)
}

fn serve(path: &str, headers: &HeaderMap) -> Response {
    let Some(file) = Dist::get(path) else {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    };
    let sha256 = file.metadata.sha256_hash();
    let copies = precompressed(path, &sha256);
    let encoding = encoding::negotiate(
        headers,
        copies.is_some_and(|copies| copies.br.is_some()),
        copies.is_some_and(|copies| copies.gzip.is_some()),
    );
    // The content hash makes a strong ETag, so revalidating (index.html, `no-cache`) costs a 304 instead of the
    // file again; each encoding is its own representation, so its own tag.
    let etag = format!("\"{}{}\"", hex(&sha256), encoding.etag_suffix());
    let etag = HeaderValue::from_str(&etag).expect("hex digits in quotes are a valid header value");
    // A page's policy names its inline scripts' hashes. Hashed from the file served, so a debug build reading
    // dist/ from disk stays right after `trunk build`; sent with a 304 too, whose headers replace the cached ones.
    let policy = if path.ends_with(".html") {
        content_security_policy(&inline_script_hashes(&String::from_utf8_lossy(&file.data)))
    } else {
        content_security_policy(&[])
    };
    let cache = [
        (header::ETAG, etag.clone()),
        (header::CACHE_CONTROL, encoding::cache_control(path)),
        (header::CONTENT_SECURITY_POLICY, policy),
        // Sent with every variant, identity too: a shared cache must not hand a gzip body to a client that
        // asked for none, nor identity to one that could have had brotli.
        (header::VARY, HeaderValue::from_static("accept-encoding")),
    ];
    if encoding::matches(headers, etag.to_str().unwrap_or_default()) {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    let content_type =
        HeaderValue::from_str(file.metadata.mimetype()).unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let body = match (encoding, copies) {
        (Encoding::Brotli, Some(Precompressed { br: Some(br), .. })) => axum::body::Body::from(*br),
        (Encoding::Gzip, Some(Precompressed { gzip: Some(gzip), .. })) => axum::body::Body::from(*gzip),
        _ => axum::body::Body::from(file.data),
    };
    let mut response = (cache, [(header::CONTENT_TYPE, content_type)], body).into_response();
    if let Some(coding) = encoding.header() {
        response.headers_mut().insert(header::CONTENT_ENCODING, coding);
    }
    response
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepting(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[tokio::test]
    async fn files_go_out_in_the_negotiated_encoding_from_the_build_time_copies() {
        // build.rs always compresses dist/index.html (the placeholder page when the dashboard is not built), and
        // cargo reruns it whenever dist/ changes, so the copies match the file at test time.
        let page = precompressed("index.html", &Dist::get("index.html").unwrap().metadata.sha256_hash())
            .expect("build.rs compressed dist/index.html");
        let cases = [
            ("gzip, deflate, br", Some("br"), page.br.unwrap()),
            ("gzip", Some("gzip"), page.gzip.unwrap()),
            ("identity", None, &Dist::get("index.html").unwrap().data[..]),
        ];
        for (accept, encoding, body) in cases {
            let response = serve("index.html", &accepting(accept));
            let headers = response.headers();
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(
                headers
                    .get(header::CONTENT_ENCODING)
                    .map(|value| value.to_str().unwrap()),
                encoding,
                "{accept}"
            );
            assert_eq!(headers[header::VARY], "accept-encoding");
            assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
            // The tag names the encoding, so revalidating one representation never answers for another.
            let etag = headers[header::ETAG].clone();
            let mut again = accepting(accept);
            again.insert(header::IF_NONE_MATCH, etag);
            assert_eq!(
                serve("index.html", &again).status(),
                StatusCode::NOT_MODIFIED,
                "{accept}"
            );
            let mut other = accepting(if encoding == Some("br") { "gzip" } else { "br" });
            other.insert(header::IF_NONE_MATCH, headers[header::ETAG].clone());
            assert_eq!(serve("index.html", &other).status(), StatusCode::OK, "{accept}");
            let sent = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
            assert_eq!(sent, body, "{accept}");
        }
        assert_eq!(serve("no-such-file", &accepting("br")).status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn a_copy_of_another_version_of_a_file_is_never_sent() {
        // A debug build reading a newer dist/ from disk: the copies' hash no longer matches the file.
        assert!(precompressed("index.html", &[0; 32]).is_none());
    }

    #[test]
    fn base64_matches_the_standard() {
        // RFC 4648 section 10.
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
        ];
        for (plain, encoded) in cases {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

    #[test]
    fn inline_scripts_are_hashed_and_external_ones_skipped() {
        let html = "<head><script src=\"/a.js\"></script><script type=\"module\">alert(1)</script></head>";
        // `echo -n 'alert(1)' | openssl dgst -sha256 -binary | base64`
        assert_eq!(
            inline_script_hashes(html),
            ["'sha256-bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI='"]
        );
        assert!(inline_script_hashes("<p>no scripts</p><script").is_empty());
    }
}
