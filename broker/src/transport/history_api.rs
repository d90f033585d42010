//! `GET /api/history`: what the broker remembers of the panel's topics (see `history.rs`), for the dashboard to show
//! a card's last value and chart at once after a reload. Without `topic`: the topics recorded. With
//! `?topic=T`: T's last payload and, per JSON field a card charts, every recent value and the older ones
//! downsampled.
//!
//! Who may ask: whoever may read the topic over MQTT. A dashboard session (its cookie) is its user; without
//! one, anonymous, where the broker lets anonymous clients in from that address. The ACL's read rules apply as to
//! a subscription. A request from another page (a foreign `Origin`) is refused, whatever its cookie.

use std::collections::BTreeMap;

use axum::Extension;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::http::{AppState, ClientInfo};
use super::login;

/// The query string.
#[derive(Debug, Deserialize)]
pub(crate) struct HistoryQuery {
    topic: Option<String>,
}

/// `GET /api/history?topic=T`.
#[derive(Debug, Serialize)]
struct TopicAnswer<'a> {
    topic: &'a str,
    /// `{"time": unix_ms, "payload": "..." or null}`, or null before anything arrived.
    last: Option<crate::history::Last>,
    /// By JSON field (`""`: the payload itself).
    series: BTreeMap<String, SeriesAnswer>,
}

/// One series: `recent` as `[unix_ms, value]`, `buckets` as `[start_unix_ms, min, mean, max, count]`.
#[derive(Debug, Serialize)]
struct SeriesAnswer {
    recent: Vec<(u64, f64)>,
    buckets: Vec<(u64, f64, f64, f64, u32)>,
}

/// `GET /api/history`.
#[derive(Debug, Serialize)]
struct TopicsAnswer {
    topics: Vec<String>,
}

pub(crate) async fn history(
    State(state): State<AppState>,
    Extension(client): Extension<ClientInfo>,
    headers: HeaderMap,
    Query(query): Query<HistoryQuery>,
) -> Response {
    if headers.contains_key(header::ORIGIN) && !super::websocket::from_own_origin(&headers, client.secure) {
        return login::error(
            StatusCode::FORBIDDEN,
            "only the dashboard's own page may read the history",
        );
    }
    let user = login::session_user(&state, &headers);
    let policy = state.broker.auth.policy();
    if user.is_none() && !policy.allows_anonymous(client.addr.ip()) {
        return login::error(StatusCode::UNAUTHORIZED, "log in to read the history");
    }
    let readable = |topic: &str| policy.can_read(user.as_deref(), "", topic);
    let history = &state.broker.history;
    let Some(topic) = query.topic else {
        let topics = history.topics().into_iter().filter(|topic| readable(topic)).collect();
        return login::answer(StatusCode::OK, TopicsAnswer { topics }, None);
    };
    if roost_codec::TopicName::new(topic.as_str()).is_err() {
        return login::error(StatusCode::BAD_REQUEST, "topic is not a topic name");
    }
    if !readable(&topic) {
        return login::error(StatusCode::FORBIDDEN, "your rights do not include reading this topic");
    }
    let Some(recorded) = history.get(&topic) else {
        return login::error(
            StatusCode::NOT_FOUND,
            "not recorded: the history keeps the topics of the panel's cards only",
        );
    };
    let series = recorded
        .series
        .into_iter()
        .map(|(field, series)| {
            let buckets = series
                .buckets
                .iter()
                .map(|b| (b.start, b.min, b.sum / f64::from(b.count.max(1)), b.max, b.count))
                .collect();
            let recent = series.recent.into_iter().collect();
            (field, SeriesAnswer { recent, buckets })
        })
        .collect();
    let answer = TopicAnswer {
        topic: &topic,
        last: recorded.last,
        series,
    };
    login::answer(StatusCode::OK, answer, None)
}
