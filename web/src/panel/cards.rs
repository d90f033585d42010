//! One card's view: [`CardView`] shows what the device reports (read from the topic tree) and publishes what
//! the person asks for through the app's [`Publisher`]. Every control is a real button or input with a label.

use leptos::prelude::*;

use super::card::{Button, Card, CardKind, Chart, Slider, Switch, SwitchState, TextInput, Value};
use super::history::History;
use super::remembered::Remembered;
use crate::explorer::TopicTree;
use crate::mqtt::{Outgoing, Publisher};

/// The last payload of `topic` and the topic's message count, re-read whenever the tree changes but only
/// announced when they do.
///
/// Before anything arrives on the topic, what the broker remembers of it (see [`Remembered`]), with count 0.
fn reported(tree: Signal<TopicTree>, topic: String) -> Memo<Option<(String, u64)>> {
    let remembered = use_context::<Remembered>();
    Memo::new(move |_| {
        let live = tree.with(|tree| {
            let node = tree.get(&topic)?;
            node.last()
                .map(|message| (message.payload.as_str().to_owned(), node.count()))
        });
        live.or_else(|| Some((remembered?.last(&topic)?, 0)))
    })
}

/// Publishes `payload` on `topic`, keeping the outcome in `error` (cleared on success).
fn send(publisher: Publisher, error: RwSignal<Option<String>>, topic: &str, payload: String, qos: u8, retain: bool) {
    let outgoing = Outgoing {
        qos,
        retain,
        ..Outgoing::new(topic, payload)
    };
    error.set(publisher.publish(outgoing).err());
}

/// A card: its title, `children` beside the title (the availability of a discovered device), and its body.
#[component]
pub fn CardView(
    /// What the card is.
    card: Card,
    /// Where the reported states are read.
    tree: Signal<TopicTree>,
    /// Shown beside the title.
    #[prop(optional)]
    children: Option<Children>,
) -> impl IntoView {
    let title = card.shown_title().to_owned();
    let kind = card.type_name();
    let error = RwSignal::new(None::<String>);
    let body = match card.kind {
        CardKind::Switch(switch) => switch_view(switch, title.clone(), tree, error).into_any(),
        CardKind::Button(button) => button_view(button, title.clone(), error).into_any(),
        CardKind::Slider(slider) => slider_view(slider, title.clone(), tree, error).into_any(),
        CardKind::Value(value) => value_view(value, tree).into_any(),
        CardKind::Text(text) => text_view(text, title.clone(), tree, error).into_any(),
        CardKind::Chart(chart) => chart_view(chart, tree).into_any(),
    };
    view! {
        <div class="card-body" data-type=kind>
            <div class="card-head">
                <h3 class="card-title">{title}</h3>
                {children.map(|children| children())}
            </div>
            {body}
            <p class="card-error" role="alert">{move || error.get()}</p>
        </div>
    }
}

fn switch_view(
    switch: Switch,
    title: String,
    tree: Signal<TopicTree>,
    error: RwSignal<Option<String>>,
) -> impl IntoView {
    let publisher = expect_context::<Publisher>();
    let reported = reported(tree, switch.state_topic().to_owned());
    let state = {
        let switch = switch.clone();
        Memo::new(move |_| reported.with(|reported| reported.as_ref().map(|(payload, _)| switch.state(payload))))
    };
    let data_state = move || match state.get() {
        Some(SwitchState::On) => "on",
        Some(SwitchState::Off) => "off",
        Some(SwitchState::Other(_) | SwitchState::Unreadable(_)) => "other",
        None => "unknown",
    };
    let (on_word, off_word) = (switch.word(true).to_owned(), switch.word(false).to_owned());
    let words = move || match state.get() {
        Some(SwitchState::On) => on_word.clone(),
        Some(SwitchState::Off) => off_word.clone(),
        Some(SwitchState::Other(value)) => value,
        Some(SwitchState::Unreadable(why)) => format!("Unreadable: {why}"),
        None => "No state reported".to_owned(),
    };
    if switch.command_topic.is_empty() {
        return view! { <p class="card-state" data-state=data_state>{words}</p> }.into_any();
    }
    let click = move |_| {
        // Off when it reports on; on in every other case (off, unknown, something else).
        let payload = if state.get_untracked() == Some(SwitchState::On) {
            switch.payload_off.clone()
        } else {
            switch.payload_on.clone()
        };
        send(
            publisher,
            error,
            &switch.command_topic,
            payload,
            switch.qos,
            switch.retain,
        );
    };
    view! {
        <button
            class="card-switch"
            role="switch"
            aria-label=title
            aria-checked=move || (state.get() == Some(SwitchState::On)).to_string()
            data-state=data_state
            on:click=click
        >
            <span class="card-switch-track" aria-hidden="true"><span class="card-switch-knob"></span></span>
            <span class="card-state">{words}</span>
        </button>
    }
    .into_any()
}

fn button_view(button: Button, title: String, error: RwSignal<Option<String>>) -> impl IntoView {
    let publisher = expect_context::<Publisher>();
    let label = if button.payload.is_empty() {
        "Send".to_owned()
    } else {
        button.payload.clone()
    };
    view! {
        <button
            class="card-button"
            aria-label=format!("{title}: send {label}")
            on:click=move |_| send(publisher, error, &button.topic, button.payload.clone(), button.qos, button.retain)
        >
            {label.clone()}
        </button>
    }
}

fn slider_view(
    slider: Slider,
    title: String,
    tree: Signal<TopicTree>,
    error: RwSignal<Option<String>>,
) -> impl IntoView {
    let publisher = expect_context::<Publisher>();
    let reported = reported(tree, slider.state_topic().to_owned());
    let value = {
        let slider = slider.clone();
        Memo::new(move |_| reported.with(|reported| reported.as_ref().map(|(payload, _)| slider.state(payload))))
    };
    // What the person is dragging to, shown until the device reports again.
    let pending = RwSignal::new(None::<f64>);
    Effect::new(move |previous: Option<Option<u64>>| {
        let count = reported.with(|reported| reported.as_ref().map(|(_, count)| *count));
        if previous.is_some_and(|previous| previous != count) {
            pending.set(None);
        }
        count
    });
    let shown = {
        let slider = slider.clone();
        move || {
            pending
                .get()
                .or_else(|| value.get().and_then(Result::ok))
                .unwrap_or(slider.min)
        }
    };
    let readout = {
        let slider = slider.clone();
        move || match (pending.get(), value.get()) {
            (None, None) => "No value reported".to_owned(),
            (None, Some(Err(why))) => format!("Unreadable: {why}"),
            _ => format!("{} {}", slider.format(shown()), slider.unit)
                .trim_end()
                .to_owned(),
        }
    };
    let (min, max, step) = (slider.min, slider.max, slider.step);
    view! {
        <label class="card-slider">
            <span class="visually-hidden">{title}</span>
            <input
                type="range"
                min=min
                max=max
                step=step
                prop:value=move || shown().to_string()
                on:input=move |event| pending.set(event_target_value(&event).parse().ok())
                on:change=move |event| {
                    // Sent when released (a change event), not on every step of a drag.
                    if let Ok(chosen) = event_target_value(&event).parse::<f64>() {
                        pending.set(Some(chosen));
                        send(publisher, error, &slider.topic, slider.format(chosen), slider.qos, slider.retain);
                    }
                }
            />
        </label>
        <output class="card-value">{readout}</output>
    }
}

fn value_view(value: Value, tree: Signal<TopicTree>) -> impl IntoView {
    let reported = reported(tree, value.topic.clone());
    let reading = {
        let value = value.clone();
        Memo::new(move |_| reported.with(|reported| reported.as_ref().map(|(payload, _)| value.reading(payload))))
    };
    let unit = value.unit.clone();
    let (min, max) = (value.min.unwrap_or(0.0), value.max.unwrap_or(1.0));
    view! {
        <p class="card-value">
            {move || match reading.get() {
                None => "No value reported".to_owned(),
                Some(Err(why)) => format!("Unreadable: {why}"),
                Some(Ok((text, _))) => format!("{text} {unit}").trim_end().to_owned(),
            }}
        </p>
        {move || {
            reading
                .get()
                .and_then(Result::ok)
                .and_then(|(_, fill)| fill)
                .map(|fill| {
                    view! { <meter class="card-gauge" min=min max=max value=min + fill * (max - min)></meter> }
                })
        }}
    }
}

fn text_view(
    text: TextInput,
    title: String,
    tree: Signal<TopicTree>,
    error: RwSignal<Option<String>>,
) -> impl IntoView {
    let publisher = expect_context::<Publisher>();
    let reported = reported(tree, text.state_topic().to_owned());
    let typed = RwSignal::new(String::new());
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        send(
            publisher,
            error,
            &text.topic,
            typed.get_untracked(),
            text.qos,
            text.retain,
        );
    };
    view! {
        <p class="card-value">
            {move || reported.get().map_or("Nothing reported".to_owned(), |(payload, _)| payload)}
        </p>
        <form class="card-text" on:submit=submit>
            <label>
                <span class="visually-hidden">{title}</span>
                <input type="text" prop:value=move || typed.get() on:input=move |event| typed.set(event_target_value(&event)) />
            </label>
            <button type="submit">"Send"</button>
        </form>
    }
}

/// The chart's drawing box (SVG user units).
const CHART_WIDTH: f64 = 300.0;
const CHART_HEIGHT: f64 = 80.0;

fn chart_view(chart: Chart, tree: Signal<TopicTree>) -> impl IntoView {
    let reported = reported(tree, chart.topic.clone());
    let history = RwSignal::new(History::new(chart.points));
    // The values from before the page opened, until the first live one.
    if let Some(remembered) = use_context::<Remembered>() {
        let (topic, field) = (chart.topic.clone(), chart.json_field.clone());
        Effect::new(move |_| {
            if let Some(values) = remembered.series(&topic, &field) {
                history.update(|history| history.seed(values.into_iter().map(|(_, value)| value)));
            }
        });
    }
    let problem = RwSignal::new(None::<String>);
    {
        let chart = chart.clone();
        Effect::new(move |_| {
            if let Some((payload, count)) = reported.get() {
                let value = chart.value(&payload);
                problem.set(value.as_ref().err().cloned());
                history.update(|history| {
                    history.observe(count, value);
                });
            }
        });
    }
    let unit = chart.unit.clone();
    let summary = move || {
        history.with(|history| match (history.values().last(), history.range()) {
            (Some(last), Some((low, high))) => {
                format!(
                    "{last} {unit} (low {low}, high {high}, {} values)",
                    history.values().len()
                )
            }
            _ => "No values yet".to_owned(),
        })
    };
    view! {
        <svg
            class="card-chart"
            viewBox=format!("0 0 {CHART_WIDTH} {CHART_HEIGHT}")
            preserveAspectRatio="none"
            role="img"
            aria-label=move || format!("Chart of {}", chart.topic)
        >
            <polyline points=move || history.with(|history| history.polyline(CHART_WIDTH, CHART_HEIGHT)) />
        </svg>
        <p class="card-value">{summary}</p>
        <p class="card-error">{move || problem.get()}</p>
    }
}
