//! Operations endpoints on the HTTP port: `/metrics` (Prometheus) and `/healthz` (supervisors, load balancers).

use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::http::{AppState, ClientInfo};
use super::login;

/// `GET /metrics`: every figure in Prometheus' text format, for a client `[http] metrics_without_login` lets in
/// (by default one on this machine) or a browser with an administrator's dashboard login; anyone else gets 403,
/// so the figures of a house (who is connected, how busy it is) do not leak to the whole network. Reading
/// changes nothing and another origin's page cannot read the answer, so the session needs no origin check here.
pub(crate) async fn metrics(
    headers: HeaderMap,
    Extension(client): Extension<ClientInfo>,
    State(state): State<AppState>,
) -> Response {
    let admin = || login::session_user(&state, &headers).is_some_and(|user| state.broker.auth.is_admin(&user));
    if !state.broker.config.http.metrics_without_login.allows(client.addr.ip()) && !admin() {
        return (
            StatusCode::FORBIDDEN,
            "metrics are not open to this address; see http.metrics_without_login\n",
        )
            .into_response();
    }
    let text = crate::metrics::render(&state.broker);
    ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], text).into_response()
}

/// `GET /healthz`: 200 while the broker serves, 503 with the reason once its storage has failed (it is then
/// stopping: see `server.rs`). Open to anyone: it says nothing but that.
pub(crate) async fn healthz(State(state): State<AppState>) -> Response {
    match state.broker.router().store().failure() {
        None => (StatusCode::OK, "ok\n").into_response(),
        Some(why) => (StatusCode::SERVICE_UNAVAILABLE, format!("storage failed: {why}\n")).into_response(),
    }
}
