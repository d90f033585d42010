//! The connected clients and the broker's bridges, from the admin API, refreshed every few seconds while the
//! page is visible. Each connected client has a "Disconnect" button that asks first, then says how it went.
//! A refusal (not logged in, not an administrator, no such endpoint) is shown in words and stops the polling
//! until the person asks again.

use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::admin::{self, ApiError, BridgeRow, Bridges, ClientRow, format_age, local_clock};
use crate::components::fields::{Outcome, outcome_view};

/// How often the lists are asked for again.
const POLL: Duration = Duration::from_secs(3);

/// Calls `tick` every [`POLL`] while the page is visible, for as long as the calling component lives.
fn poll(tick: impl Fn() + 'static) {
    let handle = set_interval_with_handle(
        move || {
            if !document().hidden() {
                tick();
            }
        },
        POLL,
    );
    match handle {
        Ok(handle) => on_cleanup(move || handle.clear()),
        Err(why) => leptos::logging::warn!("no timer for the broker view: {why:?}"),
    }
}

/// The clients the broker holds sessions for: the connected ones in a table, the kept ones counted.
#[component]
pub fn ClientsView() -> impl IntoView {
    // `None` until the first answer.
    let answer = RwSignal::new(None::<Result<Vec<ClientRow>, ApiError>>);
    let busy = RwSignal::new(false);
    let now_ms = RwSignal::new(js_sys::Date::now() as u64);
    let outcome = RwSignal::new(Outcome::None);
    let asking = RwSignal::new(None::<String>);
    let refresh = move || {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        spawn_local(async move {
            let result = admin::clients().await;
            now_ms.set(js_sys::Date::now() as u64);
            answer.set(Some(result));
            busy.set(false);
        });
    };
    refresh();
    poll(move || {
        let stopped = answer.with_untracked(|answer| matches!(answer, Some(Err(error)) if error.is_final()));
        if !stopped {
            refresh();
        }
    });
    let disconnect = move |client_id: String| {
        asking.set(None);
        outcome.set(Some(Ok(format!("Disconnecting “{client_id}”…"))));
        spawn_local(async move {
            let result = admin::disconnect(&client_id).await;
            outcome.set(Some(match result {
                Ok(()) => Ok(format!("“{client_id}” was disconnected.")),
                Err(error) => Err(format!("“{client_id}” was not disconnected: {}", error.words)),
            }));
            refresh();
        });
    };
    let connected = Memo::new(move |_| {
        answer.with(|answer| match answer {
            Some(Ok(rows)) => rows.iter().filter(|row| row.connected).cloned().collect(),
            _ => Vec::new(),
        })
    });
    let status = move || {
        answer.with(|answer| match answer {
            None => view! { <p class="clients-status">"Asking the broker for its clients…"</p> }.into_any(),
            Some(Err(error)) => {
                let again = error.is_final().then(|| {
                    view! { <button type="button" class="clients-retry" on:click=move |_| refresh()>"Ask again"</button> }
                });
                view! {
                    <p class="clients-status error" role="alert" data-status=error.status.unwrap_or(0)>
                        {error.words.clone()}
                    </p>
                    {again}
                }
                .into_any()
            }
            Some(Ok(rows)) => {
                let online = rows.iter().filter(|row| row.connected).count();
                let kept = rows.len() - online;
                let mut words = match online {
                    0 => "No clients connected.".to_owned(),
                    1 => "1 client connected.".to_owned(),
                    n => format!("{n} clients connected."),
                };
                if kept > 0 {
                    words.push_str(&format!(" {kept} disconnected session(s) kept."));
                }
                view! { <p class="clients-status">{words}</p> }.into_any()
            }
        })
    };
    view! {
        <section class="clients" aria-label="Clients">
            <h3>"Clients"</h3>
            {status}
            <Show when=move || !connected.with(Vec::is_empty)>
                <div class="table-scroll">
                    <table class="clients-table">
                        <thead>
                            <tr>
                                <th scope="col">"Client id"</th>
                                <th scope="col">"Address"</th>
                                <th scope="col">"Protocol"</th>
                                <th scope="col">"Keep alive"</th>
                                <th scope="col">"Connected since"</th>
                                <th scope="col">"Queued"</th>
                                <th scope="col">"Subscriptions"</th>
                                <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                            </tr>
                        </thead>
                        <tbody>
                            <For
                                each=move || connected.get()
                                key=|row| row.clone()
                                children=move |row| client_row(row, now_ms, asking, disconnect)
                            />
                        </tbody>
                    </table>
                </div>
            </Show>
            {outcome_view(outcome, "clients-outcome")}
        </section>
    }
}

/// One connected client's row, with its Disconnect button and the confirmation it asks for.
fn client_row(
    row: ClientRow,
    now_ms: RwSignal<u64>,
    asking: RwSignal<Option<String>>,
    disconnect: impl Fn(String) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let id = row.client_id.clone();
    let since = row.connected_since_ms.map(|since| {
        let age = move || format!("{} ago", format_age(since, now_ms.get()));
        view! { {local_clock(since as f64)} " " <span class="muted">"(" {age} ")"</span> }
    });
    let keep_alive = match row.keep_alive {
        Some(0) => "off".to_owned(),
        Some(seconds) => format!("{seconds} s"),
        None => "–".to_owned(),
    };
    let queued = if row.inflight > 0 {
        format!("{} (+{} in flight)", row.queued, row.inflight)
    } else {
        row.queued.to_string()
    };
    let subscriptions = if row.subscriptions.is_empty() {
        view! { <span class="muted">"none"</span> }.into_any()
    } else {
        let filters = row
            .subscriptions
            .iter()
            .map(|filter| view! { <li><code>{filter.clone()}</code></li> })
            .collect_view();
        view! { <ul class="client-subscriptions">{filters}</ul> }.into_any()
    };
    let actions = {
        let id = id.clone();
        move || {
            let asked = asking.with(|asking| asking.as_deref() == Some(id.as_str()));
            let id = id.clone();
            if asked {
                let confirm_id = id.clone();
                view! {
                    <span class="client-confirm" role="group" aria-label=format!("Disconnect {id}?")>
                        {format!("Disconnect “{id}”? ")}
                        <button type="button" class="danger client-confirm-yes" on:click=move |_| disconnect(confirm_id.clone())>
                            "Disconnect"
                        </button>
                        <button type="button" class="client-confirm-no" on:click=move |_| asking.set(None)>"Cancel"</button>
                    </span>
                }
                .into_any()
            } else {
                view! {
                    <button
                        type="button"
                        class="client-disconnect"
                        aria-label=format!("Disconnect {id}")
                        on:click=move |_| asking.set(Some(id.clone()))
                    >
                        "Disconnect"
                    </button>
                }
                .into_any()
            }
        }
    };
    view! {
        <tr class="client" data-client-id=id.clone()>
            <th scope="row"><code>{id.clone()}</code>{row.user.map(|user| view! { <span class="muted">" (" {user} ")"</span> })}</th>
            <td>{row.address.unwrap_or_else(|| "–".to_owned())}</td>
            <td>{row.protocol}</td>
            <td>{keep_alive}</td>
            <td>{since}</td>
            <td class="numeric">{queued}</td>
            <td>{subscriptions}</td>
            <td class="client-actions">{actions}</td>
        </tr>
    }
}

/// The broker's MQTT bridges and their state.
#[component]
pub fn BridgesView() -> impl IntoView {
    let answer = RwSignal::new(None::<Result<Bridges, ApiError>>);
    let busy = RwSignal::new(false);
    let refresh = move || {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        spawn_local(async move {
            let result = admin::bridges().await;
            answer.set(Some(result));
            busy.set(false);
        });
    };
    refresh();
    poll(move || {
        // A broker that does not report bridges will not start to while the page is open.
        let stopped = answer.with_untracked(|answer| match answer {
            Some(Ok(Bridges::NotReported)) => true,
            Some(Err(error)) => error.is_final(),
            _ => false,
        });
        if !stopped {
            refresh();
        }
    });
    let body = move || {
        answer.with(|answer| match answer {
            None => view! { <p class="bridges-status">"Asking the broker for its bridges…"</p> }.into_any(),
            Some(Ok(Bridges::NotReported)) => view! {
                <p class="bridges-status" data-status="not-reported">"This broker does not report bridges."</p>
            }
            .into_any(),
            Some(Ok(Bridges::Listed(rows))) if rows.is_empty() => view! {
                <p class="bridges-status" data-status="none">"No bridges configured."</p>
            }
            .into_any(),
            Some(Ok(Bridges::Listed(rows))) => {
                let rows = rows.iter().cloned().map(bridge_row).collect_view();
                view! { <ul class="bridges-list">{rows}</ul> }.into_any()
            }
            Some(Err(error)) => view! {
                <p class="bridges-status error" role="alert" data-status=error.status.unwrap_or(0)>{error.words.clone()}</p>
            }
            .into_any(),
        })
    };
    view! {
        <section class="bridges" aria-label="Bridges">
            <h3>"Bridges"</h3>
            {body}
        </section>
    }
}

fn bridge_row(bridge: BridgeRow) -> impl IntoView {
    let state = if bridge.connected { "connected" } else { "disconnected" };
    let since = bridge
        .connected_since
        .filter(|_| bridge.connected)
        .map(|since| format!(" since {}", local_clock(since as f64 * 1000.0)));
    let name = bridge.name.clone();
    view! {
        <li class="bridge" data-bridge=name data-state=state>
            <strong>{bridge.name}</strong>
            " → "
            <code>{bridge.address}</code>
            " "
            <span class=format!("badge badge-{state}")>{if bridge.connected { "Connected" } else { "Disconnected" }}</span>
            {since}
            {format!(", {} queued", bridge.queued)}
            {bridge.last_error.map(|error| view! { <span class="bridge-error">" Last error: " {error}</span> })}
        </li>
    }
}
