//! [`LoginView`], the login form, and [`AccountBar`], the top bar's account controls.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::api::{self, SessionInfo};
use crate::components::fields::{Outcome, outcome_view};

/// The login form: user name, password, "stay signed in on this device" (when the broker offers it) and what went
/// wrong. The password is read from its input when the form is sent and the input emptied at once; no signal,
/// storage or profile ever holds it.
#[component]
pub fn LoginView(
    /// How many days "stay signed in" lasts; 0 hides the choice.
    remember_days: u64,
    /// Where anonymous clients are welcome: a button back to the dashboard without logging in.
    may_cancel: bool,
) -> impl IntoView {
    let user = RwSignal::new(String::new());
    let remember = RwSignal::new(false);
    let password = NodeRef::<leptos::html::Input>::new();
    let outcome = RwSignal::new(Outcome::None);
    let busy = RwSignal::new(false);
    let submit = move |event: SubmitEvent| {
        event.prevent_default();
        let Some(input) = password.get_untracked() else {
            return;
        };
        if busy.get_untracked() {
            return;
        }
        let secret = input.value();
        input.set_value("");
        let name = user.get_untracked().trim().to_owned();
        let remember = remember.get_untracked() && remember_days > 0;
        busy.set(true);
        outcome.set(Some(Ok("Logging in…".to_owned())));
        spawn_local(async move {
            let result = api::login(&name, &secret, remember).await;
            drop(secret);
            busy.set(false);
            match result {
                Ok(_) => api::start_over(),
                Err(why) => outcome.set(Some(Err(why))),
            }
        });
    };
    let remember_label = match remember_days {
        1 => "Stay signed in on this device for a day".to_owned(),
        days => format!("Stay signed in on this device for {days} days"),
    };
    view! {
        <section class="login" aria-label="Log in">
            <h2>"Log in"</h2>
            <p class="login-why">"This broker asks who you are before the dashboard connects."</p>
            <form class="form login-form" on:submit=submit>
                <label>
                    "User name"
                    <input
                        class="login-user"
                        type="text"
                        autocomplete="username"
                        required
                        prop:value=move || user.get()
                        on:input=move |event| user.set(event_target_value(&event))
                    />
                </label>
                <label>
                    "Password"
                    <input class="login-password" type="password" autocomplete="current-password" node_ref=password />
                </label>
                {(remember_days > 0).then(|| view! {
                    <label>
                        <input
                            class="login-remember"
                            type="checkbox"
                            prop:checked=move || remember.get()
                            on:change=move |event| remember.set(event_target_checked(&event))
                        />
                        {remember_label}
                    </label>
                })}
                <div class="form-row">
                    <button class="login-submit" type="submit" prop:disabled=move || busy.get()>"Log in"</button>
                    {may_cancel.then(|| view! {
                        <button class="login-cancel" type="button" on:click=|_| api::start_over()>
                            "Back without logging in"
                        </button>
                    })}
                </div>
                {outcome_view(outcome, "login-outcome")}
            </form>
        </section>
    }
}

/// Who is logged in, with Log out, and for administrators a button that re-reads the password, ACL and TLS files
/// (as SIGHUP does) and shows what came of it. Without a session: a Log in button.
#[component]
pub fn AccountBar(
    /// The broker's answer about this browser.
    info: SessionInfo,
) -> impl IntoView {
    let outcome = RwSignal::new(Outcome::None);
    let busy = RwSignal::new(false);
    let logout = move |_| {
        busy.set(true);
        spawn_local(async move {
            let result = api::logout().await;
            busy.set(false);
            match result {
                Ok(_) => api::start_over(),
                Err(why) => outcome.set(Some(Err(why))),
            }
        });
    };
    let reload = move |_| {
        busy.set(true);
        outcome.set(Some(Ok("Reloading…".to_owned())));
        spawn_local(async move {
            let result = api::reload().await;
            busy.set(false);
            outcome.set(Some(result));
        });
    };
    match info.user {
        Some(user) => view! {
            <div class="account">
                <span class="account-user">"Logged in as " <strong>{user}</strong></span>
                {info.admin.then(|| view! {
                    <button class="account-reload" type="button" on:click=reload prop:disabled=move || busy.get()>
                        "Reload users and certificates"
                    </button>
                })}
                <button class="account-logout" type="button" on:click=logout prop:disabled=move || busy.get()>
                    "Log out"
                </button>
                {outcome_view(outcome, "account-outcome")}
            </div>
        }
        .into_any(),
        None => view! {
            <div class="account">
                <button class="account-login" type="button" on:click=|_| api::show_login()>"Log in"</button>
            </div>
        }
        .into_any(),
    }
}
