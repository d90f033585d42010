//! The broker's login API (`/api/session`, `/api/login`, `/api/logout`, `/api/reload`) through the browser's
//! `fetch`, same-origin: the browser adds and stores the session cookie itself.

use serde::Deserialize;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, RequestInit, Response};

/// What the broker says about this browser: `GET /api/session`, and the answer to a login or logout.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct SessionInfo {
    /// The logged-in user, if any.
    #[serde(default)]
    pub user: Option<String>,
    /// Whether that user administers Roost.
    #[serde(default)]
    pub admin: bool,
    /// Whether this address may connect without a user name: then the dashboard opens without asking.
    #[serde(default)]
    pub anonymous: bool,
    /// How many days "stay signed in" lasts; 0 when the broker does not offer it.
    #[serde(default)]
    pub remember_days: u64,
}

impl SessionInfo {
    /// Parses the broker's JSON.
    pub fn from_json(text: &str) -> Result<Self, String> {
        serde_json::from_str(text).map_err(|error| format!("The broker's answer is not understood: {error}"))
    }

    /// Whether the page shows the dashboard (logged in, or anonymous clients welcome) rather than the login form.
    pub fn may_connect(&self) -> bool {
        self.user.is_some() || self.anonymous
    }
}

/// The words of a refusal (`{"error": "…"}`), or a sentence about the status.
pub fn refusal(status: u16, text: &str) -> String {
    #[derive(Deserialize)]
    struct Refused {
        error: String,
    }
    match serde_json::from_str::<Refused>(text) {
        Ok(refused) => capitalised(&refused.error),
        Err(_) => format!("The broker answered HTTP {status}."),
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    let mut out: String = chars.next().map(|c| c.to_uppercase().collect()).unwrap_or_default();
    out.push_str(chars.as_str());
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

/// One same-origin request; the status and the body's text.
async fn request(method: &str, path: &str, body: Option<&str>) -> Result<(u16, String), String> {
    let unreachable = |_| "The broker cannot be reached.".to_owned();
    let window = web_sys::window().ok_or("No browser window.")?;
    let init = RequestInit::new();
    init.set_method(method);
    if let Some(body) = body {
        let headers = Headers::new().map_err(unreachable)?;
        headers.set("Content-Type", "application/json").map_err(unreachable)?;
        init.set_headers_headers(&headers);
        init.set_body(&JsValue::from_str(body));
    }
    let response: Response = JsFuture::from(window.fetch_with_str_and_init(path, &init))
        .await
        .map_err(unreachable)?
        .dyn_into()
        .map_err(unreachable)?;
    let text = JsFuture::from(response.text().map_err(unreachable)?)
        .await
        .map_err(unreachable)?
        .as_string()
        .unwrap_or_default();
    Ok((response.status(), text))
}

/// `GET /api/session`. `Err` when there is no login API here (another server, or `trunk serve`).
pub async fn session() -> Result<SessionInfo, String> {
    match request("GET", "/api/session", None).await? {
        (200, text) => SessionInfo::from_json(&text),
        (status, text) => Err(refusal(status, &text)),
    }
}

/// `POST /api/login`: on success the browser holds the session cookie. The password is only passed through.
pub async fn login(user: &str, password: &str, remember: bool) -> Result<SessionInfo, String> {
    let body = serde_json::json!({ "user": user, "password": password, "remember": remember }).to_string();
    match request("POST", "/api/login", Some(&body)).await? {
        (200, text) => SessionInfo::from_json(&text),
        (status, text) => Err(refusal(status, &text)),
    }
}

/// `POST /api/logout`: the broker forgets the session and the browser the cookie.
pub async fn logout() -> Result<SessionInfo, String> {
    match request("POST", "/api/logout", None).await? {
        (200, text) => SessionInfo::from_json(&text),
        (status, text) => Err(refusal(status, &text)),
    }
}

/// `POST /api/reload` (administrators): `Ok` with what was reloaded, `Err` with why not.
pub async fn reload() -> Result<String, String> {
    #[derive(Deserialize)]
    struct Reloaded {
        ok: bool,
        message: String,
    }
    match request("POST", "/api/reload", None).await? {
        (200, text) => match serde_json::from_str::<Reloaded>(&text) {
            Ok(Reloaded { ok: true, message }) => Ok(message),
            Ok(Reloaded { ok: false, message }) => Err(message),
            Err(error) => Err(format!("The broker's answer is not understood: {error}")),
        },
        (status, text) => Err(refusal(status, &text)),
    }
}
