//! The broker's login API (`/api/session`, `/api/login`, `/api/logout`, `/api/reload`) through the browser's
//! `fetch`, same-origin: the browser adds and stores the session cookie itself.

use js_sys::{JSON, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, RequestInit, Response};

/// What the broker says about this browser: `GET /api/session`, and the answer to a login or logout.
///
/// Read with the browser's own `JSON.parse` rather than serde: four fields do not need a deserializer's code in
/// the wasm.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionInfo {
    /// The logged-in user, if any.
    pub user: Option<String>,
    /// Whether that user administers Roost.
    pub admin: bool,
    /// Whether this address may connect without a user name: then the dashboard opens without asking.
    pub anonymous: bool,
    /// How many days "stay signed in" lasts; 0 when the broker does not offer it.
    pub remember_days: u64,
}

/// `text` parsed as a JSON object, `None` if it is not one.
fn object(text: &str) -> Option<JsValue> {
    JSON::parse(text)
        .ok()
        .filter(|value| value.is_object() && !js_sys::Array::is_array(value))
}

fn field(object: &JsValue, name: &str) -> JsValue {
    Reflect::get(object, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

impl SessionInfo {
    /// Parses the broker's JSON; missing fields are empty or false.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let answer = object(text).ok_or("The broker's answer is not understood.")?;
        Ok(SessionInfo {
            user: field(&answer, "user").as_string(),
            admin: field(&answer, "admin").as_bool().unwrap_or(false),
            anonymous: field(&answer, "anonymous").as_bool().unwrap_or(false),
            // A whole number of days, at most 366 (the broker's bound).
            remember_days: field(&answer, "remember_days")
                .as_f64()
                .map_or(0, |days| days.clamp(0.0, 366.0) as u64),
        })
    }

    /// Whether the page shows the dashboard (logged in, or anonymous clients welcome) rather than the login form.
    pub fn may_connect(&self) -> bool {
        self.user.is_some() || self.anonymous
    }
}

/// The words of a refusal (`{"error": "…"}`), or a sentence about the status.
pub fn refusal(status: u16, text: &str) -> String {
    match object(text).and_then(|answer| field(&answer, "error").as_string()) {
        Some(error) => capitalised(&error),
        None => format!("The broker answered HTTP {status}."),
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

/// The error of a request the network failed (no answer at all): the device is offline or the broker stopped.
pub const UNREACHABLE: &str = "The broker cannot be reached.";

/// One same-origin request (the browser adds the session cookie); the status and the body's text, or
/// [`UNREACHABLE`] when there was no answer at all.
pub async fn request(method: &str, path: &str, body: Option<&str>) -> Result<(u16, String), String> {
    let unreachable = |_| UNREACHABLE.to_owned();
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
    let form = Object::new();
    let set = |name: &str, value: JsValue| Reflect::set(&form, &JsValue::from_str(name), &value).map(drop);
    let built = set("user", user.into())
        .and_then(|()| set("password", password.into()))
        .and_then(|()| set("remember", remember.into()));
    let body = built
        .and_then(|()| JSON::stringify(&form))
        .ok()
        .and_then(|body| body.as_string())
        .ok_or("The login could not be sent.")?;
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
    match request("POST", "/api/reload", None).await? {
        (200, text) => {
            let answer = object(&text).ok_or("The broker's answer is not understood.")?;
            let message = field(&answer, "message").as_string().unwrap_or_default();
            match field(&answer, "ok").as_bool() {
                Some(true) => Ok(message),
                _ => Err(message),
            }
        }
        (status, text) => Err(refusal(status, &text)),
    }
}

/// Loads the page again without `?login`: after a login or logout, the page starts over as the new user (or
/// nobody), so nothing the previous connection received stays on screen.
pub fn start_over() {
    if let Some(window) = web_sys::window() {
        let location = window.location();
        let path = location.pathname().unwrap_or_else(|_| "/".to_owned());
        if location.replace(&path).is_err() {
            let _ = location.reload();
        }
    }
}

/// Loads the page with its login form (`?login`), where anonymous clients are welcome and the dashboard is open.
pub fn show_login() {
    if let Some(window) = web_sys::window() {
        let _ = window.location().set_search("login");
    }
}
