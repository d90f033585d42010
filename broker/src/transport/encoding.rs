//! HTTP caching and content negotiation for the dashboard's files: which `Content-Encoding` to send for a request's
//! `Accept-Encoding`, and how long a browser may keep a file.
//!
//! Written here rather than taken from tower-http: its `CompressionLayer` compresses every response again, and its
//! `ServeDir` negotiates precompressed files only on a filesystem, while `roost` serves files embedded in itself and
//! compressed once at build time (`build.rs`). The security headers do come from tower-http (`http.rs`).

use axum::http::{HeaderMap, HeaderValue, header};

/// A content coding the broker can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// Brotli (`br`): about a fifth smaller than gzip for the dashboard's wasm.
    Brotli,
    /// `gzip`.
    Gzip,
    /// The file as it is.
    Identity,
}

impl Encoding {
    /// The `Content-Encoding` value, `None` for identity (which is sent without the header).
    pub(crate) fn header(self) -> Option<HeaderValue> {
        match self {
            Encoding::Brotli => Some(HeaderValue::from_static("br")),
            Encoding::Gzip => Some(HeaderValue::from_static("gzip")),
            Encoding::Identity => None,
        }
    }

    /// What the ETag of this variant ends with: each encoding is a different representation (RFC 9110 8.8.3).
    pub(crate) fn etag_suffix(self) -> &'static str {
        match self {
            Encoding::Brotli => "-br",
            Encoding::Gzip => "-gz",
            Encoding::Identity => "",
        }
    }
}

/// The quality (0 to 1000, thousandths) `Accept-Encoding` gives `coding`: its own entry, else `*`'s, else 0.
/// `x-gzip` counts as `gzip` (RFC 9110 8.4.1.3). No header at all means any coding is acceptable, but sending
/// one to a client that did not ask would be a gamble, so it counts as identity only.
fn quality(headers: &HeaderMap, coding: &str) -> u16 {
    let mut own = None;
    let mut any = None;
    for value in headers.get_all(header::ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
            let q = parts
                .find_map(|param| {
                    let (key, value) = param.split_once('=')?;
                    key.trim().eq_ignore_ascii_case("q").then(|| parse_q(value.trim()))
                })
                .unwrap_or(1000);
            let name = if name == "x-gzip" { "gzip".into() } else { name };
            if name == coding {
                own = Some(own.map_or(q, |old: u16| old.max(q)));
            } else if name == "*" {
                any = Some(q);
            }
        }
    }
    own.or(any).unwrap_or(0)
}

/// A qvalue (`0`, `0.5`, `1.000`) in thousandths; anything malformed is 0, so a garbled header never gets a coding.
fn parse_q(text: &str) -> u16 {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return 0;
    }
    let thousandths = format!("{fraction:0<3}").parse::<u16>().unwrap_or(0);
    match whole {
        "0" => thousandths,
        "1" if thousandths == 0 => 1000,
        _ => 0,
    }
}

/// The encoding to send: the acceptable one (quality above 0) the client rates highest among those the file has,
/// brotli before gzip when rated the same (it is smaller); identity when the client accepts neither.
pub(crate) fn negotiate(headers: &HeaderMap, has_brotli: bool, has_gzip: bool) -> Encoding {
    let brotli = if has_brotli { quality(headers, "br") } else { 0 };
    let gzip = if has_gzip { quality(headers, "gzip") } else { 0 };
    match (brotli, gzip) {
        (0, 0) => Encoding::Identity,
        (brotli, gzip) if brotli >= gzip => Encoding::Brotli,
        _ => Encoding::Gzip,
    }
}

/// Whether a file name carries Trunk's content hash (`roost-web-4c6aef24c0a7de47_bg.wasm`,
/// `roost-60f90ed70b3beeb5.css`): a 64-bit hash in hex after the last `-` of its stem, without leading zeros
/// (`roost-e32a5886398e5e3.css`), so 8 to 16 digits here (a shorter one is too rare to matter and too easy to
/// mistake for a word). Such a name never changes content.
pub(crate) fn is_hashed(path: &str) -> bool {
    let stem = path.rsplit_once('.').map_or(path, |(stem, _)| stem);
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    stem.rsplit_once('-').is_some_and(|(_, hash)| {
        (8..=16).contains(&hash.len()) && hash.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    })
}

/// `Cache-Control` for a file: hashed names are kept a year without asking again (a new build names new files);
/// everything else (the page, the service worker, the manifest, icons) is revalidated on every use, so a new
/// `roost` shows its new build at the next load.
pub(crate) fn cache_control(path: &str) -> HeaderValue {
    if is_hashed(path) {
        HeaderValue::from_static("public, max-age=31536000, immutable")
    } else {
        HeaderValue::from_static("no-cache")
    }
}

/// Whether `If-None-Match` names `etag` (or is `*`). Weak comparison, as RFC 9110 13.1.2 asks for GET.
pub(crate) fn matches(headers: &HeaderMap, etag: &str) -> bool {
    headers.get_all(header::IF_NONE_MATCH).iter().any(|value| {
        value.to_str().is_ok_and(|value| {
            value
                .split(',')
                .map(str::trim)
                .any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn negotiation_follows_accept_encoding() {
        let cases = [
            // What Chromium sends over HTTPS and over plain HTTP.
            ("gzip, deflate, br, zstd", Encoding::Brotli),
            ("gzip, deflate", Encoding::Gzip),
            ("br", Encoding::Brotli),
            ("identity", Encoding::Identity),
            ("", Encoding::Identity),
            ("br;q=0, gzip", Encoding::Gzip),
            ("br;q=0.5, gzip;q=0.8", Encoding::Gzip),
            ("br;q=0.8, gzip;q=0.8", Encoding::Brotli),
            ("*", Encoding::Brotli),
            ("*;q=0", Encoding::Identity),
            ("gzip;q=0, *", Encoding::Brotli),
            ("br;q=0, *;q=0.1", Encoding::Gzip),
            ("X-GZIP", Encoding::Gzip),
            ("BR ; Q=1.0", Encoding::Brotli),
            ("br;q=2, gzip;q=nonsense", Encoding::Identity),
            ("br;q=0.0001", Encoding::Identity),
        ];
        for (value, expected) in cases {
            assert_eq!(
                negotiate(&accept(value), true, true),
                expected,
                "Accept-Encoding: {value}"
            );
        }
        assert_eq!(negotiate(&HeaderMap::new(), true, true), Encoding::Identity);
    }

    #[test]
    fn only_codings_the_file_has_are_chosen() {
        let chromium = accept("gzip, deflate, br");
        assert_eq!(negotiate(&chromium, false, true), Encoding::Gzip);
        assert_eq!(negotiate(&chromium, true, false), Encoding::Brotli);
        assert_eq!(negotiate(&chromium, false, false), Encoding::Identity);
    }

    #[test]
    fn trunk_hashed_names_are_immutable_and_others_revalidated() {
        for hashed in [
            "roost-web-4c6aef24c0a7de47_bg.wasm",
            "roost-web-4c6aef24c0a7de47.js",
            "roost-60f90ed70b3beeb5.css",
            "roost-e32a5886398e5e3.css",
        ] {
            assert!(is_hashed(hashed), "{hashed}");
            assert_eq!(cache_control(hashed), "public, max-age=31536000, immutable");
        }
        for plain in [
            "index.html",
            "sw.js",
            "manifest.webmanifest",
            "icon-192.png",
            "roost-web.js",
            "a-4c6aef2.js",
            "a-4C6AEF24C0A7DE47.js",
        ] {
            assert!(!is_hashed(plain), "{plain}");
            assert_eq!(cache_control(plain), "no-cache");
        }
    }

    #[test]
    fn if_none_match_lists_and_weak_tags_match() {
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"a\", W/\"b-br\""));
        assert!(matches(&headers, "\"b-br\""));
        assert!(matches(&headers, "\"a\""));
        assert!(!matches(&headers, "\"b\""));
        assert!(!matches(&HeaderMap::new(), "\"a\""));
    }
}
