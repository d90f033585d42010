//! The page: a header with the account controls, then either the login form or the dashboard: the broker
//! connection's state and settings, the control panel, discovered devices, the broker's figures, the topic
//! explorer and the publish form.

use leptos::prelude::*;
use wasm_bindgen::JsCast as _;

use crate::account::{AccountBar, LoginView, SessionInfo, api};
use crate::broker_view::BrokerView;
use crate::components::ConnectionStatus;
use crate::connection::profiles::{ACTIVE_KEY, settings_from_json};
use crate::connection::{ConnectionForm, SubscriptionProblems};
use crate::explorer::{Explorer, TopicTree};
use crate::mqtt::{ConnectionSettings, ConnectionState, MqttService, Publisher, generated_client_id, page_mqtt_url};
use crate::panel::{AddToPanel, DiscoveredDevices, Panel};
use crate::publish::saved::load;
use crate::publish::{PublishForm, PublishTarget};

/// What the page shows, decided once when it loads. Logging in or out loads the page again, so nothing the
/// previous user's connection received (topics, history, panel) stays on the screen, and the new connection is
/// the new user's from its first packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Screen {
    /// The login form; `may_cancel` where anonymous clients are welcome (the page was asked for it).
    Login {
        /// How many days "stay signed in" lasts; 0 hides the choice.
        remember_days: u64,
        /// Whether the dashboard is open without logging in (a "Back" button).
        may_cancel: bool,
    },
    /// No answer at all from the broker (the page came from the service worker's cache, or the broker stopped
    /// after serving it): the page says it is offline and loads itself again once the broker answers.
    Offline,
    /// The dashboard, with the broker's answer about this browser (`None`: no login API where the page came
    /// from, such as `trunk serve`: the dashboard as configured, without account controls).
    Dashboard(Option<SessionInfo>),
}

impl Screen {
    /// The screen for the broker's answer to `/api/session`, and whether the page was asked to log in (`?login`).
    pub fn choose(session: Result<SessionInfo, String>, asked_to_log_in: bool) -> Self {
        match session {
            Err(why) if why == api::UNREACHABLE => Screen::Offline,
            Err(_) => Screen::Dashboard(None),
            Ok(info) if info.user.is_none() && (asked_to_log_in || !info.anonymous) => Screen::Login {
                remember_days: info.remember_days,
                may_cancel: info.anonymous,
            },
            Ok(info) => Screen::Dashboard(Some(info)),
        }
    }
}

/// Starts the page: asks the broker who this browser is, then mounts the login form or the dashboard.
pub fn start() {
    // The browser's own executor: leptos's `spawn_local` works only once mounting has set one up.
    wasm_bindgen_futures::spawn_local(async {
        let asked = window().location().search().is_ok_and(|search| search == "?login");
        let session = api::session().await;
        if let Err(why) = &session {
            leptos::logging::log!("no login here ({why}); connecting as configured");
        }
        match Screen::choose(session, asked) {
            Screen::Login {
                remember_days,
                may_cancel,
            } => leptos::mount::mount_to_body(move || {
                view! {
                    <header class="topbar">
                        <h1>"Roost"</h1>
                    </header>
                    <main>
                        <LoginView remember_days=remember_days may_cancel=may_cancel />
                    </main>
                }
            }),
            Screen::Offline => {
                leptos::mount::mount_to_body(|| {
                    view! {
                        <header class="topbar">
                            <h1>"Roost"</h1>
                        </header>
                        <main>
                            <section class="offline" data-state="offline" role="status">
                                <h2>"Offline"</h2>
                                <p>
                                    "Roost cannot be reached: this device is offline or the broker is not running. "
                                    "This page opens the dashboard by itself as soon as the broker answers."
                                </p>
                            </section>
                        </main>
                    }
                });
                wait_for_the_broker().await;
            }
            Screen::Dashboard(session) => leptos::mount::mount_to_body(move || view! { <App session=session /> }),
        }
    });
}

/// Asks `/api/session` again every few seconds, or at once when the browser says it is back online, and loads
/// the page again when the broker answers (the login check then runs as on any load).
async fn wait_for_the_broker() {
    loop {
        let mut resolver = None;
        let retry = js_sys::Promise::new(&mut |resolve, _| {
            let window = window();
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 5_000);
            let _ = window.add_event_listener_with_callback("online", &resolve);
            resolver = Some(resolve);
        });
        let _ = wasm_bindgen_futures::JsFuture::from(retry).await;
        // One listener at a time, however long the broker stays away.
        if let Some(resolve) = resolver {
            let _ = window().remove_event_listener_with_callback("online", &resolve);
        }
        if api::session()
            .await
            .as_ref()
            .err()
            .is_none_or(|why| why != api::UNREACHABLE)
        {
            let _ = window().location().reload();
            return;
        }
    }
}

/// The dashboard. Connects as soon as it is mounted (with the settings applied last time, else to `/mqtt` on the
/// page's own origin), and reconnects by itself.
#[component]
pub fn App(
    /// The broker's answer about this browser, for the account controls; `None` shows none.
    #[prop(default = None)]
    session: Option<SessionInfo>,
) -> impl IntoView {
    let state = RwSignal::new(ConnectionState::Connecting);
    let tree = RwSignal::new(TopicTree::default());
    let initial = initial_settings();
    let broker = RwSignal::new(initial.url.clone());
    // Owned by the app: dropping it (when the app unmounts) says DISCONNECT and closes the WebSocket.
    let service = match MqttService::start_with_settings(&initial, state, tree) {
        Ok(service) => service,
        // Stored settings that no longer pass the checks: the page's own broker, as on a first visit.
        Err(why) => {
            leptos::logging::warn!("the stored connection settings are not usable: {why}");
            broker.set(page_mqtt_url());
            MqttService::start(&page_mqtt_url(), state, tree)
        }
    };
    let problems = service.subscription_problems();
    let service = StoredValue::new_local(service);
    let reconnect = move |_| service.with_value(MqttService::reconnect_now);
    // A phone that wakes up, or a network that comes back, should not wait out the reconnect back-off (up to
    // 30 s): a new attempt at once, if disconnected. The listeners live as long as the app.
    let wake = move || {
        if !document().hidden() {
            service.try_with_value(MqttService::reconnect_now);
        }
    };
    let online = window_event_listener_untyped("online", move |_| wake());
    let visible = window_event_listener_untyped("visibilitychange", move |_| wake());
    let shown = window_event_listener_untyped("pageshow", move |_| wake());
    on_cleanup(move || {
        online.remove();
        visible.remove();
        shown.remove();
    });
    // Components publish through this handle; a message sent after the app unmounted goes nowhere, and says so.
    provide_context(Publisher::new(move |outgoing| {
        service
            .try_with_value(|service| service.publish(&outgoing))
            .unwrap_or_else(|| Err("The dashboard has closed its connection.".to_owned()))
    }));
    // "Publish to this topic" in the explorer fills the publish form's topic.
    provide_context(PublishTarget(RwSignal::new(None)));
    // "Add to panel" on a discovered device or an explorer topic reaches the panel.
    provide_context(AddToPanel::new());
    let apply = Callback::new(move |settings: ConnectionSettings| {
        let applied = service
            .try_with_value(|service| service.apply(&settings))
            .unwrap_or_else(|| Err("The dashboard has closed its connection.".to_owned()));
        if applied.is_ok() {
            broker.set(settings.url.clone());
        }
        applied
    });
    let tab = RwSignal::new(Tab::Panel);
    view! {
        <header class="topbar">
            <h1>"Roost"</h1>
            {session.map(|info| view! { <AccountBar info=info /> })}
        </header>
        <main data-tab=move || tab.get().name()>
            {move || view! { <ConnectionStatus state=state broker=broker.get() /> }}
            <Show when=move || state.with(ConnectionState::is_disconnected)>
                <button class="reconnect" on:click=reconnect>"Reconnect now"</button>
            </Show>
            <SubscriptionProblems problems=problems />
            <div class="tab-panel" data-tab="settings" id="tab-settings" role="tabpanel">
                <details class="connection-settings">
                    <summary>"Connection settings"</summary>
                    <ConnectionForm initial=initial on_apply=apply />
                </details>
            </div>
            <div class="tab-panel" data-tab="panel" id="tab-panel" role="tabpanel">
                <Panel tree=tree />
                <DiscoveredDevices tree=tree />
            </div>
            <div class="tab-panel" data-tab="broker" id="tab-broker" role="tabpanel">
                <BrokerView tree=tree />
            </div>
            <div class="tab-panel" data-tab="topics" id="tab-topics" role="tabpanel">
                <Explorer tree=tree />
            </div>
            <div class="tab-panel" data-tab="publish" id="tab-publish" role="tabpanel">
                <PublishForm />
            </div>
        </main>
        <Tabs tab=tab />
    }
}

/// The parts of the page. On a phone (see `roost.css`) one at a time, chosen in the tab bar at the bottom, the panel
/// first; on a wider screen all of them, one below the other, and no tab bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tab {
    Panel,
    Broker,
    Topics,
    Publish,
    Settings,
}

impl Tab {
    const ALL: [Tab; 5] = [Tab::Panel, Tab::Broker, Tab::Topics, Tab::Publish, Tab::Settings];

    /// Its name in `data-tab` and element ids.
    fn name(self) -> &'static str {
        match self {
            Tab::Panel => "panel",
            Tab::Broker => "broker",
            Tab::Topics => "topics",
            Tab::Publish => "publish",
            Tab::Settings => "settings",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Tab::Panel => "Panel",
            Tab::Broker => "Broker",
            Tab::Topics => "Topics",
            Tab::Publish => "Publish",
            Tab::Settings => "Settings",
        }
    }
}

/// The tab bar: a WAI-ARIA tab list (left and right arrows move between tabs, as the pattern asks).
#[component]
fn Tabs(tab: RwSignal<Tab>) -> impl IntoView {
    let on_key = move |event: leptos::ev::KeyboardEvent| {
        let at = Tab::ALL.iter().position(|t| *t == tab.get_untracked()).unwrap_or(0);
        let next = match event.key().as_str() {
            "ArrowRight" => (at + 1) % Tab::ALL.len(),
            "ArrowLeft" => (at + Tab::ALL.len() - 1) % Tab::ALL.len(),
            "Home" => 0,
            "End" => Tab::ALL.len() - 1,
            _ => return,
        };
        event.prevent_default();
        tab.set(Tab::ALL[next]);
        if let Some(button) = document()
            .get_element_by_id(&format!("tab-button-{}", Tab::ALL[next].name()))
            .and_then(|element| element.dyn_into::<web_sys::HtmlElement>().ok())
        {
            let _ = button.focus();
        }
    };
    view! {
        <nav class="tabs" role="tablist" aria-label="Dashboard" on:keydown=on_key>
            {Tab::ALL
                .into_iter()
                .map(|this| {
                    let selected = move || tab.get() == this;
                    view! {
                        <button
                            type="button"
                            role="tab"
                            id=format!("tab-button-{}", this.name())
                            aria-controls=format!("tab-{}", this.name())
                            aria-selected=move || selected().to_string()
                            tabindex=move || if selected() { "0" } else { "-1" }
                            on:click=move |_| tab.set(this)
                        >
                            {this.label()}
                        </button>
                    }
                })
                .collect_view()}
        </nav>
    }
}

/// The settings applied last time in this browser, else the defaults for this page. A client id the dashboard
/// generated is generated afresh, so two open pages never share one (the broker would disconnect one for the
/// other, over and over, [MQTT-3.1.4-3]); one the person typed is kept.
fn initial_settings() -> ConnectionSettings {
    let fresh_id = generated_client_id(js_sys::Math::random());
    let defaults = ConnectionSettings::new(page_mqtt_url(), fresh_id.clone());
    let Some(mut settings) = load(ACTIVE_KEY)
        .ok()
        .flatten()
        .and_then(|text| settings_from_json(&text, &defaults))
    else {
        return defaults;
    };
    if settings.client_id.starts_with(GENERATED_PREFIX) {
        settings.client_id = fresh_id;
    }
    settings
}

/// How generated client ids start (see [`generated_client_id`]).
const GENERATED_PREFIX: &str = "roost-dashboard-";
