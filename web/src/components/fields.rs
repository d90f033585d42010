//! Form pieces the publish and connection forms share: a labelled text input, a QoS select, a checkbox, and the
//! line that says how the last action went. Each is bound to plain state through a getter and a setter.

use leptos::prelude::*;

/// What the last action of a form came to: a sentence, and whether it went wrong; `None` before any.
pub type Outcome = Option<Result<String, String>>;

/// A labelled one-line text input with `class`, showing `value` and handing every edit to `set`.
pub fn text_field(
    label: &'static str,
    class: &'static str,
    value: impl Fn() -> String + Send + Sync + 'static,
    set: impl Fn(String) + 'static,
) -> impl IntoView {
    view! {
        <label>
            {label}
            <input class=class type="text" prop:value=value on:input=move |event| set(event_target_value(&event)) />
        </label>
    }
}

/// A labelled QoS select (0, 1, 2) with `class`, showing `value` and handing a choice to `set`.
pub fn qos_select(
    label: &'static str,
    class: &'static str,
    value: impl Fn() -> u8 + Send + Sync + 'static,
    set: impl Fn(u8) + 'static,
) -> impl IntoView {
    view! {
        <label>
            {label}
            <select
                class=class
                prop:value=move || value().to_string()
                on:change=move |event| set(event_target_value(&event).parse().unwrap_or(0))
            >
                <option value="0">"0"</option>
                <option value="1">"1"</option>
                <option value="2">"2"</option>
            </select>
        </label>
    }
}

/// A checkbox with `class` and its label after it, showing `value` and handing a change to `set`.
pub fn check_field(
    label: &'static str,
    class: &'static str,
    value: impl Fn() -> bool + Send + Sync + 'static,
    set: impl Fn(bool) + 'static,
) -> impl IntoView {
    view! {
        <label>
            <input
                class=class
                type="checkbox"
                prop:checked=value
                on:change=move |event| set(event_target_checked(&event))
            />
            {label}
        </label>
    }
}

/// The outcome line under a form: a status when it went well, an alert when not, nothing before any action.
pub fn outcome_view(outcome: RwSignal<Outcome>, class: &'static str) -> impl Fn() -> Option<AnyView> {
    move || {
        outcome.get().map(|outcome| match outcome {
            Ok(done) => view! { <p class=class role="status">{done}</p> }.into_any(),
            Err(why) => view! { <p class=format!("{class} error") role="alert">{why}</p> }.into_any(),
        })
    }
}
