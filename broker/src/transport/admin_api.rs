//! `/api/v1/`: the JSON admin API, for scripts and the dashboard's broker view. Clients: list, disconnect one.
//! Retained messages: list and delete by topic or filter. Reload: users, ACL and TLS files, as SIGHUP.
//!
//! Who may call it: an administrator (`[auth] admins`), logged in to the dashboard (its session cookie) or
//! giving user and password with HTTP Basic authentication (scripts, `curl -u`). While no users exist (no
//! password file) only clients on this machine may. A request carrying an `Origin` other than the dashboard's
//! own is refused whatever its credentials, so no other page can use a logged-in browser to call it. Errors are
//! `{"error": "..."}` with the HTTP status that fits.

use std::net::IpAddr;
use std::time::Instant;

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use roost_codec::TopicFilter;
use serde::{Deserialize, Serialize};

use super::http::{AppState, ClientInfo};
use super::login;
use crate::log_text::Clipped;

/// Retained messages listed at most, unless the request asks for fewer.
const MAX_LISTED: usize = 10_000;

/// A refusal: `{"error": "..."}` with `status`, as the login endpoints answer; a 401 also says how to log in.
fn error(status: StatusCode, message: &str) -> Response {
    let mut response = login::error(status, message);
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"roost\", charset=\"UTF-8\""),
        );
    }
    response
}

/// A JSON answer that no cache keeps.
fn answer(body: impl Serialize) -> Response {
    login::answer(StatusCode::OK, body, None)
}

/// Who is calling, if they may: the administrator's name, or `"loopback"` while no users exist. Otherwise the
/// status and words of the refusal.
async fn authorize(
    state: &AppState,
    headers: &HeaderMap,
    client: &ClientInfo,
) -> Result<String, (StatusCode, &'static str)> {
    if headers.contains_key(header::ORIGIN) && !super::websocket::from_own_origin(headers, client.secure) {
        return Err((
            StatusCode::FORBIDDEN,
            "only the dashboard's own page may call the admin API",
        ));
    }
    let auth = &state.broker.auth;
    let user = match login::session_user(state, headers) {
        Some(user) => Some(user.to_string()),
        None => match basic_credentials(headers) {
            Some((user, password)) => {
                if auth
                    .check_password(&user, password.as_bytes(), client.addr.ip())
                    .await
                    .is_none()
                {
                    return Err((StatusCode::UNAUTHORIZED, "wrong user name or password"));
                }
                Some(user)
            }
            None => None,
        },
    };
    match user {
        Some(user) if auth.is_admin(&user) => Ok(user),
        Some(_) => Err((StatusCode::FORBIDDEN, "only administrators may use the admin API")),
        None if !auth.policy().has_users() && is_loopback(client.addr.ip()) => Ok("loopback".to_owned()),
        None => Err((StatusCode::UNAUTHORIZED, "log in as an administrator")),
    }
}

fn is_loopback(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

/// `Authorization: Basic base64(user:password)`, if well formed.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// One session in `GET /api/v1/clients`.
#[derive(Debug, Serialize)]
struct ClientJson {
    client_id: String,
    connected: bool,
    /// `ip:port`, while connected.
    address: Option<String>,
    user: Option<String>,
    /// `"MQTT 3.1"`, `"MQTT 3.1.1"` or `"MQTT 5.0"`.
    protocol: String,
    keep_alive: Option<u16>,
    /// Unix milliseconds of the CONNECT, while connected.
    connected_since_ms: Option<u64>,
    session_expiry_interval: u32,
    queued: usize,
    inflight: usize,
    subscriptions: Vec<String>,
}

/// `GET /api/v1/clients`: every session, connected or kept for a disconnected client.
pub(crate) async fn clients(
    headers: HeaderMap,
    Extension(client): Extension<ClientInfo>,
    State(state): State<AppState>,
) -> Response {
    if let Err((status, why)) = authorize(&state, &headers, &client).await {
        return error(status, why);
    }
    let clients: Vec<ClientJson> = state
        .broker
        .router()
        .clients()
        .into_iter()
        .map(|summary| ClientJson {
            client_id: summary.client_id.to_string(),
            connected: summary.connection.is_some(),
            address: summary.connection.as_ref().map(|c| c.peer.to_string()),
            user: summary.user.as_deref().map(str::to_owned),
            protocol: summary.protocol.to_string(),
            keep_alive: summary.connection.as_ref().map(|c| c.keep_alive),
            connected_since_ms: summary.connection.as_ref().map(|c| c.since_ms),
            session_expiry_interval: summary.expiry_interval,
            queued: summary.queued,
            inflight: summary.inflight,
            subscriptions: summary.subscriptions,
        })
        .collect();
    answer(clients)
}

/// `GET /api/v1/bridges`: every configured bridge, in configuration order: `name`, `address`, `connected`,
/// `queued` (messages waiting for the remote broker), `last_error` (words, or null) and `connected_since` (Unix
/// seconds, or null).
pub(crate) async fn bridges(
    headers: HeaderMap,
    Extension(client): Extension<ClientInfo>,
    State(state): State<AppState>,
) -> Response {
    if let Err((status, why)) = authorize(&state, &headers, &client).await {
        return error(status, why);
    }
    let broker = &state.broker;
    let bridges: Vec<crate::bridge::Snapshot> = broker.bridges.iter().map(|b| b.snapshot(broker)).collect();
    answer(bridges)
}

/// `DELETE /api/v1/clients/{client_id}`: disconnects the client (MQTT 5: DISCONNECT 0x98 Administrative
/// action). Its session stays as its expiry says, and its will is published as for any other server-side close.
pub(crate) async fn disconnect(
    headers: HeaderMap,
    Path(client_id): Path<String>,
    Extension(client): Extension<ClientInfo>,
    State(state): State<AppState>,
) -> Response {
    let who = match authorize(&state, &headers, &client).await {
        Ok(who) => who,
        Err((status, why)) => return error(status, why),
    };
    if !state.broker.router().kick(&client_id) {
        return error(StatusCode::NOT_FOUND, "no client with that id is connected");
    }
    tracing::info!(by = %Clipped(&who), client_id = %Clipped(&client_id), "admin API: client disconnected");
    StatusCode::NO_CONTENT.into_response()
}

/// The query of the retained-message endpoints: `filter` (a topic is a filter too), and for listing `limit`.
#[derive(Debug, Deserialize)]
pub(crate) struct RetainedQuery {
    filter: Option<String>,
    limit: Option<usize>,
}

/// One retained message in `GET /api/v1/retained`.
#[derive(Debug, Serialize)]
struct RetainedJson {
    topic: String,
    qos: u8,
    /// The payload as text when it is UTF-8, else base64 (`encoding` says which).
    payload: String,
    encoding: &'static str,
    bytes: usize,
}

/// The request's filter, or why there is none (400).
fn filter_of(query: &RetainedQuery) -> Result<TopicFilter, &'static str> {
    let filter = query
        .filter
        .as_deref()
        .ok_or("give ?filter=TOPIC or a filter such as home/%23")?;
    TopicFilter::new(filter.to_owned()).map_err(|_| "filter is not a valid MQTT topic filter")
}

/// `GET /api/v1/retained?filter=F[&limit=N]`: the retained messages matching `F`, in topic order, at most `N`
/// (default and most: 10,000).
pub(crate) async fn retained(
    headers: HeaderMap,
    Query(query): Query<RetainedQuery>,
    Extension(client): Extension<ClientInfo>,
    State(state): State<AppState>,
) -> Response {
    if let Err((status, why)) = authorize(&state, &headers, &client).await {
        return error(status, why);
    }
    let filter = match filter_of(&query) {
        Ok(filter) => filter,
        Err(why) => return error(StatusCode::BAD_REQUEST, why),
    };
    let limit = query.limit.unwrap_or(MAX_LISTED).min(MAX_LISTED);
    let messages = state.broker.router().retained_matching(&filter, Instant::now());
    let listed: Vec<RetainedJson> = messages
        .iter()
        .take(limit)
        .map(|message| {
            let (payload, encoding) = match std::str::from_utf8(&message.payload) {
                Ok(text) => (text.to_owned(), "utf-8"),
                Err(_) => (
                    base64::engine::general_purpose::STANDARD.encode(&message.payload),
                    "base64",
                ),
            };
            RetainedJson {
                topic: message.topic.as_str().to_owned(),
                qos: message.qos as u8,
                payload,
                encoding,
                bytes: message.payload.len(),
            }
        })
        .collect();
    answer(listed)
}

/// `DELETE /api/v1/retained?filter=F`: deletes the retained messages matching `F` (a topic, or a filter for a
/// subtree), in memory and on disk, without publishing anything; answers how many once the deletion is durable.
pub(crate) async fn delete_retained(
    headers: HeaderMap,
    Query(query): Query<RetainedQuery>,
    Extension(client): Extension<ClientInfo>,
    State(state): State<AppState>,
) -> Response {
    let who = match authorize(&state, &headers, &client).await {
        Ok(who) => who,
        Err((status, why)) => return error(status, why),
    };
    let filter = match filter_of(&query) {
        Ok(filter) => filter,
        Err(why) => return error(StatusCode::BAD_REQUEST, why),
    };
    let router = state.broker.router();
    let (deleted, lsn) = router.delete_retained(&filter, Instant::now());
    if let Err(failure) = router.store().durable(lsn).await {
        tracing::error!(%failure, "admin API: deleting retained messages was not stored");
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage failed; the deletion may not survive a restart",
        );
    }
    tracing::info!(by = %Clipped(&who), filter = %Clipped(filter.as_str()), deleted, "admin API: retained messages deleted");
    #[derive(Serialize)]
    struct Deleted {
        deleted: usize,
    }
    answer(Deleted { deleted })
}

/// `POST /api/v1/reload`: the same reload as the dashboard's button and SIGHUP.
pub(crate) async fn reload(
    headers: HeaderMap,
    Extension(client): Extension<ClientInfo>,
    State(state): State<AppState>,
) -> Response {
    let who = match authorize(&state, &headers, &client).await {
        Ok(who) => who,
        Err((status, why)) => return error(status, why),
    };
    let (ok, message) = login::reload_everything(&state, &who);
    #[derive(Serialize)]
    struct Reloaded {
        ok: bool,
        message: String,
    }
    let mut response = answer(Reloaded { ok, message });
    if !ok {
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    response
}

/// Any other path under `/api/v1/`: a JSON 404.
pub(crate) async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "no such endpoint in the admin API")
}
