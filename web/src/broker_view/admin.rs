//! The admin API's answers the broker view shows: `GET /api/v1/clients`, `DELETE /api/v1/clients/{id}` and
//! `GET /api/v1/bridges`, fetched same-origin (the browser adds the dashboard's session cookie). The parsing is
//! pure ([`parse_clients`], [`parse_bridges`], [`bridges_answer`]) so its tests need no broker.

use serde_json::Value;

use crate::account::api::{self, refusal};

/// One session in `GET /api/v1/clients`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ClientRow {
    /// The MQTT client id.
    pub client_id: String,
    /// Whether a connection holds the session now (a kept session of a disconnected client is listed too).
    pub connected: bool,
    /// `ip:port`, while connected.
    pub address: Option<String>,
    /// Who logged in, if anyone.
    pub user: Option<String>,
    /// `MQTT 3.1`, `MQTT 3.1.1` or `MQTT 5.0`.
    pub protocol: String,
    /// The keep alive the connection uses, in seconds, while connected.
    pub keep_alive: Option<u16>,
    /// When it connected, in Unix milliseconds, while connected.
    pub connected_since_ms: Option<u64>,
    /// Messages waiting in its queue.
    pub queued: u64,
    /// Messages sent and not yet acknowledged.
    pub inflight: u64,
    /// Its topic filters, in order.
    pub subscriptions: Vec<String>,
}

/// One MQTT bridge in `GET /api/v1/bridges`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct BridgeRow {
    /// The bridge's name in the configuration.
    pub name: String,
    /// The remote broker's address.
    pub address: String,
    /// Whether it is connected to the remote broker now.
    pub connected: bool,
    /// Messages waiting to be forwarded.
    pub queued: u64,
    /// Why the last attempt failed, if it did.
    pub last_error: Option<String>,
    /// When it connected, in Unix seconds, while connected.
    pub connected_since: Option<u64>,
}

/// A request to the admin API that did not give what was asked: the status (`None`: no answer at all) and
/// what to tell the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status, if the broker answered.
    pub status: Option<u16>,
    /// The reason, in words.
    pub words: String,
}

impl ApiError {
    /// Whether asking again cannot help until something else changes (no rights, not logged in, no such
    /// endpoint): then the view stops polling.
    pub fn is_final(&self) -> bool {
        matches!(self.status, Some(401 | 403 | 404))
    }
}

/// The refusal of a request to the admin API, in words.
fn api_error(status: u16, text: &str) -> ApiError {
    let words = match status {
        // The broker's own words ("log in as an administrator", "only administrators may use the admin API").
        401 | 403 => refusal(status, text),
        404 => "This broker has no admin API.".to_owned(),
        _ => refusal(status, text),
    };
    ApiError {
        status: Some(status),
        words,
    }
}

fn text(value: &Value, name: &str) -> Option<String> {
    value.get(name).and_then(Value::as_str).map(str::to_owned)
}

fn count(value: &Value, name: &str) -> u64 {
    value.get(name).and_then(Value::as_u64).unwrap_or(0)
}

/// Parses `GET /api/v1/clients`: a JSON array of sessions. A session without a client id is not one; missing
/// fields are empty.
pub fn parse_clients(body: &str) -> Result<Vec<ClientRow>, String> {
    let value: Value =
        serde_json::from_str(body).map_err(|_| "The broker's list of clients is not JSON.".to_owned())?;
    let items = value.as_array().ok_or("The broker's list of clients is not a list.")?;
    Ok(items
        .iter()
        .filter_map(|item| {
            Some(ClientRow {
                client_id: text(item, "client_id")?,
                connected: item.get("connected").and_then(Value::as_bool).unwrap_or(false),
                address: text(item, "address"),
                user: text(item, "user"),
                protocol: text(item, "protocol").unwrap_or_default(),
                keep_alive: item
                    .get("keep_alive")
                    .and_then(Value::as_u64)
                    .and_then(|seconds| u16::try_from(seconds).ok()),
                connected_since_ms: item.get("connected_since_ms").and_then(Value::as_u64),
                queued: count(item, "queued"),
                inflight: count(item, "inflight"),
                subscriptions: item
                    .get("subscriptions")
                    .and_then(Value::as_array)
                    .map(|filters| filters.iter().filter_map(|f| f.as_str().map(str::to_owned)).collect())
                    .unwrap_or_default(),
            })
        })
        .collect())
}

/// Parses `GET /api/v1/bridges`: `[{"name", "address", "connected", "queued", "last_error", "connected_since"}]`.
/// A bridge without a name is not one; missing fields are empty.
pub fn parse_bridges(body: &str) -> Result<Vec<BridgeRow>, String> {
    let value: Value =
        serde_json::from_str(body).map_err(|_| "The broker's list of bridges is not JSON.".to_owned())?;
    let items = value.as_array().ok_or("The broker's list of bridges is not a list.")?;
    Ok(items
        .iter()
        .filter_map(|item| {
            Some(BridgeRow {
                name: text(item, "name")?,
                address: text(item, "address").unwrap_or_default(),
                connected: item.get("connected").and_then(Value::as_bool).unwrap_or(false),
                queued: count(item, "queued"),
                last_error: text(item, "last_error").filter(|error| !error.is_empty()),
                connected_since: item.get("connected_since").and_then(Value::as_u64),
            })
        })
        .collect())
}

/// What `GET /api/v1/bridges` came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bridges {
    /// The broker's bridges (none configured: empty).
    Listed(Vec<BridgeRow>),
    /// The broker has no such endpoint (a broker from before bridges): nothing to show, nothing to ask again.
    NotReported,
}

/// Reads the answer to `GET /api/v1/bridges`: a list, the admin API's 404 for a broker that does not report
/// bridges, or a refusal in words.
pub fn bridges_answer(status: u16, body: &str) -> Result<Bridges, ApiError> {
    match status {
        200 => parse_bridges(body).map(Bridges::Listed).map_err(|words| ApiError {
            status: Some(status),
            words,
        }),
        404 => Ok(Bridges::NotReported),
        _ => Err(api_error(status, body)),
    }
}

/// Reads the answer to `GET /api/v1/clients`.
pub fn clients_answer(status: u16, body: &str) -> Result<Vec<ClientRow>, ApiError> {
    match status {
        200 => parse_clients(body).map_err(|words| ApiError {
            status: Some(status),
            words,
        }),
        _ => Err(api_error(status, body)),
    }
}

/// Reads the answer to `DELETE /api/v1/clients/{id}`: 204 when the client was told to go.
pub fn disconnect_answer(status: u16, body: &str) -> Result<(), ApiError> {
    match status {
        200 | 204 => Ok(()),
        // The broker's own words: "no client with that id is connected".
        404 => Err(ApiError {
            status: Some(status),
            words: refusal(status, body),
        }),
        _ => Err(api_error(status, body)),
    }
}

fn unreachable(words: String) -> ApiError {
    ApiError { status: None, words }
}

/// `GET /api/v1/clients`.
pub async fn clients() -> Result<Vec<ClientRow>, ApiError> {
    let (status, body) = api::request("GET", "/api/v1/clients", None)
        .await
        .map_err(unreachable)?;
    clients_answer(status, &body)
}

/// `GET /api/v1/bridges`.
pub async fn bridges() -> Result<Bridges, ApiError> {
    let (status, body) = api::request("GET", "/api/v1/bridges", None)
        .await
        .map_err(unreachable)?;
    bridges_answer(status, &body)
}

/// `DELETE /api/v1/clients/{client_id}`: the broker disconnects that client.
pub async fn disconnect(client_id: &str) -> Result<(), ApiError> {
    let path = format!(
        "/api/v1/clients/{}",
        String::from(js_sys::encode_uri_component(client_id))
    );
    let (status, body) = api::request("DELETE", &path, None).await.map_err(unreachable)?;
    disconnect_answer(status, &body)
}

/// How long ago `since_ms` was at `now_ms`, as a person reads it: `12 s`, `5 min`, `3 h 4 min`, `2 d 5 h`.
pub fn format_age(since_ms: u64, now_ms: u64) -> String {
    let seconds = now_ms.saturating_sub(since_ms) / 1000;
    let (days, hours, minutes) = (seconds / 86_400, seconds / 3600 % 24, seconds / 60 % 60);
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{seconds} s"),
        (0, 0, _) => format!("{minutes} min"),
        (0, _, _) => format!("{hours} h {minutes} min"),
        _ => format!("{days} d {hours} h"),
    }
}

/// `at_ms` (Unix milliseconds) as this browser's local wall-clock time, `HH:MM:SS`.
pub fn local_clock(at_ms: f64) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(at_ms));
    format!(
        "{:02}:{:02}:{:02}",
        date.get_hours(),
        date.get_minutes(),
        date.get_seconds()
    )
}
