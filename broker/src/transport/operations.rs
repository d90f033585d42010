//! Operations endpoints on the HTTP port: `/metrics` (Prometheus) and `/healthz` (supervisors, load balancers).

use axum::Extension;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::http::{AppState, ClientInfo};

/// `GET /metrics`: every figure in Prometheus' text format, for a client `[http] metrics_without_login` lets in
/// (by default one on this machine); anyone else gets 403, so the figures of a house (who is connected, how
/// busy it is) do not leak to the whole network.
pub(crate) async fn metrics(Extension(client): Extension<ClientInfo>, State(state): State<AppState>) -> Response {
    if !state.broker.config.http.metrics_without_login.allows(client.addr.ip()) {
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
