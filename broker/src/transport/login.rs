//! The dashboard's login: `POST /api/login` checks a user and password against the same users (and throttle) as
//! CONNECT and answers with a session cookie; `POST /api/logout` ends it; `GET /api/session` says who the page is
//! and whether it may connect without logging in; `POST /api/reload` (administrators) re-reads the users, ACLs and
//! certificates.
//!
//! The cookie (`roost_session`) is `HttpOnly` (no script reads it), `SameSite=Strict` (no other site's page sends
//! it), `Secure` on the HTTPS listener, and `Path=/`; it has a `Max-Age` only with "stay signed in". It holds a
//! random 256-bit token; the broker keeps only its SHA-256 digest ([`Sessions`]). The `/mqtt` upgrade honours it
//! only from the dashboard's own origin (see `websocket.rs`), and so does every POST here: a page elsewhere can
//! neither log a visitor in as someone else nor use their session.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::Extension;
use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::http::{AppState, ClientInfo};
use super::websocket::from_own_origin;
use crate::auth::sessions::Sessions;
use crate::log_text::Clipped;

/// The cookie's name.
const COOKIE: &str = "roost_session";

/// The longest user name or password looked at; longer ones are refused before any hashing.
const MAX_FIELD: usize = 1024;

/// The largest login request body read: two fields of [`MAX_FIELD`] with room for JSON escapes.
pub(crate) const MAX_BODY: usize = 8 * 1024;

/// `POST /api/login`'s body.
#[derive(Deserialize)]
pub(crate) struct LoginForm {
    user: String,
    password: String,
    /// "Stay signed in on this device".
    #[serde(default)]
    remember: bool,
}

impl std::fmt::Debug for LoginForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginForm")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("remember", &self.remember)
            .finish()
    }
}

/// What the page needs to know to choose between its login form and its connection.
#[derive(Debug, Serialize)]
pub(crate) struct SessionInfo {
    /// The logged-in user, if any.
    user: Option<String>,
    /// Whether that user administers Roost (shows the reload button).
    admin: bool,
    /// Whether this address may connect without a user name: then the page connects without asking.
    anonymous: bool,
    /// How many days "stay signed in" lasts; 0 when it is turned off (the page hides the choice).
    remember_days: u64,
}

/// `POST /api/reload`'s answer.
#[derive(Debug, Serialize)]
pub(crate) struct Reloaded {
    ok: bool,
    /// What was reloaded, or why not (the file and line), for the administrator.
    message: String,
}

/// The session's token in the request's cookies, if any.
pub(crate) fn session_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == COOKIE && !value.is_empty()).then_some(value)
        })
}

/// The user of the request's session cookie: a session that exists, has not expired, and whose user is still in
/// the password file with the password of the login (a new password, or the user's removal, ends it once the
/// files are reloaded). The caller checks the origin where the request could be another page's.
pub(crate) fn session_user(state: &AppState, headers: &HeaderMap) -> Option<Arc<str>> {
    let (user, stamp) = state.sessions.user(session_token(headers)?, SystemTime::now())?;
    (state.broker.auth.policy().password_stamp(&user) == Some(stamp)).then_some(user)
}

fn info(state: &AppState, client: &ClientInfo, user: Option<&str>) -> SessionInfo {
    let auth = &state.broker.auth;
    SessionInfo {
        user: user.map(str::to_owned),
        admin: user.is_some_and(|user| auth.is_admin(user)),
        anonymous: auth.policy().allows_anonymous(client.addr.ip()),
        remember_days: state.broker.config.http.remember_lifetime.as_secs() / (24 * 3600),
    }
}

/// A JSON answer that no cache keeps.
pub(crate) fn answer(status: StatusCode, body: impl Serialize, cookie: Option<String>) -> Response {
    let mut response = (status, Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(cookie) = cookie.and_then(|cookie| HeaderValue::from_str(&cookie).ok()) {
        headers.insert(header::SET_COOKIE, cookie);
    }
    response
}

/// A refusal's body: `{"error": "…"}`, in words for the page to show.
#[derive(Debug, Serialize)]
struct Refused<'a> {
    error: &'a str,
}

pub(crate) fn error(status: StatusCode, message: &str) -> Response {
    answer(status, Refused { error: message }, None)
}

fn foreign() -> Response {
    error(StatusCode::FORBIDDEN, "only the dashboard's own page may do this")
}

/// The `Set-Cookie` value for `token` (`None`: delete the cookie).
fn cookie(token: Option<&str>, max_age: Option<Duration>, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    match (token, max_age) {
        (None, _) => format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict{secure}; Max-Age=0"),
        (Some(token), None) => format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict{secure}"),
        (Some(token), Some(age)) => format!(
            "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict{secure}; Max-Age={}",
            age.as_secs()
        ),
    }
}

/// Runs a sessions file write on the blocking pool (it syncs the file).
async fn with_sessions<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce(&Sessions) -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    let sessions = Arc::clone(&state.sessions);
    tokio::task::spawn_blocking(move || work(&sessions))
        .await
        .map_err(std::io::Error::other)?
}

/// `GET /api/session`: who this browser is logged in as, and whether it may connect without logging in. Reading
/// it changes nothing, and another origin's page cannot read the answer, so no origin check.
pub(crate) async fn session(
    headers: HeaderMap,
    Extension(client): Extension<ClientInfo>,
    State(state): State<AppState>,
) -> Response {
    let user = session_user(&state, &headers);
    answer(StatusCode::OK, info(&state, &client, user.as_deref()), None)
}

/// `POST /api/login` with `{"user", "password", "remember"}`: a session cookie, or 401 after the same delay a
/// wrong CONNECT password gets.
pub(crate) async fn login(
    headers: HeaderMap,
    Extension(client): Extension<ClientInfo>,
    State(state): State<AppState>,
    form: Result<Json<LoginForm>, JsonRejection>,
) -> Response {
    if !from_own_origin(&headers, client.secure) {
        return foreign();
    }
    let Ok(Json(form)) = form else {
        return error(StatusCode::BAD_REQUEST, "expected JSON with user and password");
    };
    let addr = client.addr;
    let auth = &state.broker.auth;
    let checked = if form.user.len() <= MAX_FIELD && form.password.len() <= MAX_FIELD {
        auth.check_password(&form.user, form.password.as_bytes(), addr.ip())
            .await
    } else {
        None
    };
    drop(form.password);
    let Some(identity) = checked else {
        tracing::info!(%addr, user = %Clipped(&form.user), "dashboard login refused");
        return error(StatusCode::UNAUTHORIZED, "wrong user name or password");
    };
    let user = identity.name().unwrap_or_default().to_owned();
    // The password just matched this stamp's hash (a reload in between at worst ends the session at once).
    let stamp = auth.policy().password_stamp(&user).unwrap_or_default();
    let limits = &state.broker.config.http;
    let remember = form.remember && !limits.remember_lifetime.is_zero();
    let lifetime = if remember {
        limits.remember_lifetime
    } else {
        limits.session_lifetime
    };
    // A login replaces the browser's previous session, if any, rather than leaving it valid beside the new one.
    let previous = session_token(&headers).map(str::to_owned);
    let created = with_sessions(&state, {
        let user = user.clone();
        move |sessions| {
            if let Some(previous) = previous {
                sessions.remove(&previous)?;
            }
            sessions.create(&user, stamp, lifetime, SystemTime::now())
        }
    })
    .await;
    let created = match created {
        Ok(created) => created,
        Err(error) => {
            tracing::error!(%error, "cannot keep a dashboard session");
            return self::error(StatusCode::INTERNAL_SERVER_ERROR, "the session could not be kept");
        }
    };
    tracing::info!(%addr, user = %Clipped(&user), remember, "dashboard login");
    let cookie = cookie(Some(&created.token), remember.then_some(lifetime), client.secure);
    answer(StatusCode::OK, info(&state, &client, Some(&user)), Some(cookie))
}

/// `POST /api/logout`: ends the session and deletes the cookie. Open WebSockets stay (the page closes its own).
pub(crate) async fn logout(
    headers: HeaderMap,
    Extension(client): Extension<ClientInfo>,
    State(state): State<AppState>,
) -> Response {
    if !from_own_origin(&headers, client.secure) {
        return foreign();
    }
    if let Some(token) = session_token(&headers) {
        let token = token.to_owned();
        if let Err(error) = with_sessions(&state, move |sessions| sessions.remove(&token)).await {
            tracing::error!(%error, "cannot write the dashboard sessions file after a logout");
        }
    }
    let cookie = cookie(None, None, client.secure);
    answer(StatusCode::OK, info(&state, &client, None), Some(cookie))
}

/// `POST /api/reload` (administrators): reads the password and ACL files and the TLS files again, as SIGHUP
/// does. Either may fail on its own; what failed keeps the old rules (or certificate) in force and says why.
pub(crate) async fn reload(
    headers: HeaderMap,
    Extension(client): Extension<ClientInfo>,
    State(state): State<AppState>,
) -> Response {
    if !from_own_origin(&headers, client.secure) {
        return foreign();
    }
    let Some(user) = session_user(&state, &headers) else {
        return error(StatusCode::UNAUTHORIZED, "log in first");
    };
    if !state.broker.auth.is_admin(&user) {
        return error(StatusCode::FORBIDDEN, "only administrators may reload");
    }
    let (ok, message) = reload_everything(&state, &user);
    answer(StatusCode::OK, Reloaded { ok, message }, None)
}

/// Reloads users, ACL and TLS files for `who` (an administrator): whether all went well, and what happened in
/// words. What failed keeps the old rules (or certificate) in force.
pub(crate) fn reload_everything(state: &AppState, who: &str) -> (bool, String) {
    let mut problems = Vec::new();
    match state.broker.auth.reload() {
        Ok(()) => {}
        Err(error) => problems.push(format!("users and ACL not reloaded: {error}")),
    }
    if let Some(tls) = &state.tls
        && let Err(error) = tls.reload()
    {
        problems.push(format!("TLS certificate not reloaded: {error}"));
    }
    let ok = problems.is_empty();
    let message = if ok {
        let what = if state.tls.is_some() {
            "Users, ACL and TLS certificate reloaded."
        } else {
            "Users and ACL reloaded."
        };
        what.to_owned()
    } else {
        problems.join("; ") + "; the previous ones stay in force."
    };
    if ok {
        tracing::info!(user = %Clipped(who), "dashboard: {message}");
    } else {
        tracing::error!(user = %Clipped(who), "dashboard reload: {message}");
    }
    (ok, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("a=1; roost_session=abc; b=2"));
        assert_eq!(session_token(&headers), Some("abc"));
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("roost_session_x=1; roost_session="),
        );
        assert_eq!(session_token(&headers), None);
    }

    #[test]
    fn cookies_are_strict_and_http_only() {
        assert_eq!(
            cookie(Some("t"), None, false),
            "roost_session=t; Path=/; HttpOnly; SameSite=Strict"
        );
        assert_eq!(
            cookie(Some("t"), Some(Duration::from_secs(60)), true),
            "roost_session=t; Path=/; HttpOnly; SameSite=Strict; Secure; Max-Age=60"
        );
        assert!(cookie(None, None, false).ends_with("Max-Age=0"));
    }
}
