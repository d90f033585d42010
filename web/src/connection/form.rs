//! [`ConnectionForm`]: how the dashboard connects, edited in the page; Connect applies it (the service
//! reconnects) and keeps it for the next visit. Named profiles switch between brokers or identities.

use leptos::prelude::*;

use super::profiles::{ACTIVE_KEY, PROFILES_KEY, profiles_from_json, profiles_to_json, with_profile};
use crate::components::fields::{Outcome, check_field, outcome_view, qos_select, text_field};
use crate::mqtt::{ConnectionSettings, MqttVersion, generated_client_id};
use crate::publish::saved::{load, store};

/// The connection form. `on_apply` connects with the settings (or says why not); on success they are stored as
/// the settings in use.
#[component]
pub fn ConnectionForm(
    /// The settings in use when the page opened.
    initial: ConnectionSettings,
    /// Connects with the settings; `Err` in words when they cannot be used.
    on_apply: Callback<ConnectionSettings, Result<(), String>>,
    /// A prefix for the localStorage keys, so tests keep their own; empty in the page.
    #[prop(optional, into)]
    storage_prefix: String,
) -> impl IntoView {
    let profiles_key = StoredValue::new(format!("{storage_prefix}{PROFILES_KEY}"));
    let active_key = StoredValue::new(format!("{storage_prefix}{ACTIVE_KEY}"));
    let defaults = StoredValue::new(initial.clone());
    let settings = RwSignal::new(initial.clone());
    // Numbers as typed, checked on Connect.
    let keep_alive = RwSignal::new(initial.keep_alive.to_string());
    let session_expiry = RwSignal::new(initial.session_expiry.to_string());
    let outcome = RwSignal::new(Outcome::None);
    let profile_name = RwSignal::new(String::new());
    let (stored, problem) = match profiles_key.with_value(|key| load(key)) {
        Ok(None) => (Vec::new(), None),
        Ok(Some(text)) => match defaults.with_value(|defaults| profiles_from_json(&text, defaults)) {
            Ok(profiles) => (profiles, None),
            Err(why) => (
                Vec::new(),
                Some(format!(
                    "The saved profiles cannot be read ({why}); saving replaces them."
                )),
            ),
        },
        Err(why) => (Vec::new(), Some(why)),
    };
    let profiles = RwSignal::new(stored);
    let profile_outcome = RwSignal::new(problem.map(Err));

    let show = move |loaded: ConnectionSettings| {
        keep_alive.set(loaded.keep_alive.to_string());
        session_expiry.set(loaded.session_expiry.to_string());
        settings.set(loaded);
    };
    // The settings with the typed numbers, or what is wrong with a number.
    let current = move || -> Result<ConnectionSettings, String> {
        let mut current = settings.get_untracked();
        current.keep_alive = keep_alive
            .get_untracked()
            .trim()
            .parse()
            .map_err(|_| format!("Keep alive must be a whole number of seconds from 0 to {}.", u16::MAX))?;
        current.session_expiry = session_expiry.get_untracked().trim().parse().map_err(|_| {
            format!(
                "Session expiry must be a whole number of seconds from 0 to {}.",
                u32::MAX
            )
        })?;
        current.check()?;
        Ok(current)
    };
    let apply = move || {
        let result = current().and_then(|chosen| {
            on_apply.run(chosen.clone())?;
            let kept = active_key.with_value(|key| store(key, &chosen.to_json().to_string()));
            Ok(match kept {
                Ok(()) => format!("Connecting to {} as {}.", chosen.url, shown_id(&chosen.client_id)),
                Err(why) => format!("Connecting to {}, but the settings were not kept: {why}", chosen.url),
            })
        });
        outcome.set(Some(result));
    };
    let keep_profiles = move |list: Vec<(String, ConnectionSettings)>| {
        let stored = profiles_key.with_value(|key| store(key, &profiles_to_json(&list)));
        profiles.set(list);
        stored
    };
    let save_profile = move |_| {
        let name = profile_name.get_untracked().trim().to_owned();
        let result = if name.is_empty() {
            Err("Enter a name for the profile.".to_owned())
        } else {
            current().and_then(|chosen| {
                let list = with_profile(profiles.get_untracked(), &name, chosen)?;
                keep_profiles(list)?;
                Ok(format!("Profile {name:?} saved (without its password)."))
            })
        };
        profile_outcome.set(Some(result));
    };
    let delete_profile = move |_| {
        let name = profile_name.get_untracked().trim().to_owned();
        let list: Vec<_> = profiles
            .get_untracked()
            .into_iter()
            .filter(|(old, _)| *old != name)
            .collect();
        let result = if list.len() == profiles.with_untracked(Vec::len) {
            Err(format!("There is no profile named {name:?}."))
        } else {
            keep_profiles(list).map(|()| format!("Profile {name:?} deleted."))
        };
        profile_outcome.set(Some(result));
    };
    let choose_profile = move |event| {
        let name = event_target_value(&event);
        if let Some((_, chosen)) = profiles.with_untracked(|list| list.iter().find(|(old, _)| *old == name).cloned()) {
            show(chosen);
            profile_name.set(name);
            profile_outcome.set(None);
        }
    };
    let is_v5 = move || settings.with(|settings| settings.version == MqttVersion::V5);

    view! {
        <section class="connection" aria-label="Connection settings">
            <h2>"Connection"</h2>
            <form
                class="form connection-form"
                on:submit=move |event| {
                    event.prevent_default();
                    apply();
                }
            >
                <div class="form-row">
                    <label>
                        "Profile "
                        <select class="connect-profile" on:change=choose_profile>
                            <option value="">"(choose a profile)"</option>
                            {move || {
                                profiles
                                    .get()
                                    .into_iter()
                                    .map(|(name, _)| view! { <option value=name.clone()>{name.clone()}</option> })
                                    .collect_view()
                            }}
                        </select>
                    </label>
                    <label>
                        "Profile name "
                        <input
                            class="connect-profile-name"
                            type="text"
                            prop:value=move || profile_name.get()
                            on:input=move |event| profile_name.set(event_target_value(&event))
                        />
                    </label>
                    <button class="connect-save-profile" type="button" on:click=save_profile>"Save profile"</button>
                    <button class="connect-delete-profile" type="button" on:click=delete_profile>"Delete profile"</button>
                </div>
                {outcome_view(profile_outcome, "profile-outcome")}
                <label>
                    "Broker URL"
                    <input
                        class="connect-url"
                        type="text"
                        inputmode="url"
                        required
                        prop:value=move || settings.with(|s| s.url.clone())
                        on:input=move |event| settings.update(|s| s.url = event_target_value(&event))
                    />
                </label>
                <div class="form-row">
                    <label>
                        "Client id"
                        <input
                            class="connect-client-id"
                            type="text"
                            placeholder="empty: the broker assigns one"
                            prop:value=move || settings.with(|s| s.client_id.clone())
                            on:input=move |event| settings.update(|s| s.client_id = event_target_value(&event))
                        />
                    </label>
                    <button
                        class="connect-new-id"
                        type="button"
                        on:click=move |_| settings.update(|s| s.client_id = generated_client_id(js_sys::Math::random()))
                    >
                        "New id"
                    </button>
                </div>
                <div class="form-row">
                    <label>
                        "User name"
                        <input
                            class="connect-username"
                            type="text"
                            autocomplete="username"
                            prop:value=move || settings.with(|s| s.username.clone())
                            on:input=move |event| settings.update(|s| s.username = event_target_value(&event))
                        />
                    </label>
                    <label>
                        "Password (never saved)"
                        <input
                            class="connect-password"
                            type="password"
                            autocomplete="current-password"
                            prop:value=move || settings.with(|s| s.password.clone())
                            on:input=move |event| settings.update(|s| s.password = event_target_value(&event))
                        />
                    </label>
                </div>
                <div class="form-row">
                    <label>
                        "MQTT "
                        <select
                            class="connect-version"
                            prop:value=move || settings.with(|s| s.version.name())
                            on:change=move |event| {
                                settings.update(|s| s.version = MqttVersion::from_name(&event_target_value(&event)))
                            }
                        >
                            <option value="5">"5.0"</option>
                            <option value="3.1.1">"3.1.1"</option>
                        </select>
                    </label>
                    <label>
                        "Keep alive (s) "
                        <input
                            class="connect-keep-alive"
                            type="text"
                            inputmode="numeric"
                            size="6"
                            prop:value=move || keep_alive.get()
                            on:input=move |event| keep_alive.set(event_target_value(&event))
                        />
                    </label>
                    {check_field(
                        " Clean start",
                        "connect-clean-start",
                        move || settings.with(|v| v.clean_start),
                        move |checked| settings.update(|v| v.clean_start = checked),
                    )}
                    <label>
                        "Session expiry (s, MQTT 5) "
                        <input
                            class="connect-session-expiry"
                            type="text"
                            inputmode="numeric"
                            size="10"
                            prop:disabled=move || !is_v5()
                            prop:value=move || session_expiry.get()
                            on:input=move |event| session_expiry.set(event_target_value(&event))
                        />
                    </label>
                </div>
                {text_field(
                    "Explorer subscription",
                    "connect-filter",
                    move || settings.with(|v| v.filter.clone()),
                    move |text| settings.update(|v| v.filter = text),
                )}
                <details class="connect-will">
                    <summary>"Will message"</summary>
                    {text_field(
                        "Will topic (empty: no will)",
                        "connect-will-topic",
                        move || settings.with(|v| v.will_topic.clone()),
                        move |text| settings.update(|v| v.will_topic = text),
                    )}
                    {text_field(
                        "Will payload",
                        "connect-will-payload",
                        move || settings.with(|v| v.will_payload.clone()),
                        move |text| settings.update(|v| v.will_payload = text),
                    )}
                    <div class="form-row">
                        {qos_select(
                            "Will QoS ",
                            "connect-will-qos",
                            move || settings.with(|v| v.will_qos),
                            move |qos| settings.update(|v| v.will_qos = qos),
                        )}
                        {check_field(
                            " Retain the will",
                            "connect-will-retain",
                            move || settings.with(|v| v.will_retain),
                            move |checked| settings.update(|v| v.will_retain = checked),
                        )}
                    </div>
                </details>
                <button class="connect-apply" type="submit">"Connect"</button>
                {outcome_view(outcome, "connect-outcome")}
            </form>
        </section>
    }
}

/// A client id for a sentence.
fn shown_id(client_id: &str) -> String {
    if client_id.is_empty() {
        "an id the broker assigns".to_owned()
    } else {
        client_id.to_owned()
    }
}

/// The subscriptions the broker refused, as alerts; nothing when all were granted.
#[component]
pub fn SubscriptionProblems(
    /// The refusals, each a sentence.
    #[prop(into)]
    problems: Signal<Vec<String>>,
) -> impl IntoView {
    move || {
        problems.with(|problems| {
            (!problems.is_empty()).then(|| {
                let items = problems
                    .iter()
                    .map(|problem| view! { <li>{problem.clone()}</li> })
                    .collect_view();
                view! { <ul class="subscription-problems error" role="alert">{items}</ul> }
            })
        })
    }
}
