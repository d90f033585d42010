//! One card's view: [`CardView`] shows what the device reports (read from the topic tree) and publishes what
//! the person asks for through the app's [`Publisher`]. Every control is a real button or input with a label.
//! After a command a control says it is waiting for the device until the state topic answers, and that there
//! was no answer after [`ANSWER_TIMEOUT`]; the controls of a device that says it is offline are disabled.

use leptos::prelude::*;

use super::answer::{ANSWER_TIMEOUT, Answer, Command};
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

/// Publishes `payload` on `topic`, keeping the outcome in `error` (cleared on success). Whether it was sent.
fn send(
    publisher: Publisher,
    error: RwSignal<Option<String>>,
    topic: &str,
    payload: String,
    qos: u8,
    retain: bool,
) -> bool {
    let outgoing = Outgoing {
        qos,
        retain,
        ..Outgoing::new(topic, payload)
    };
    let outcome = publisher.publish(outgoing).err();
    let sent = outcome.is_none();
    error.set(outcome);
    sent
}

/// Follows whether a card's commands are answered on its state topic.
#[derive(Debug, Clone, Copy)]
struct Tracker {
    command: RwSignal<Command>,
    reported: Memo<Option<(String, u64)>>,
}

impl Tracker {
    fn new(reported: Memo<Option<(String, u64)>>) -> Self {
        let command = RwSignal::new(Command::default());
        Effect::new(move |_| {
            let count = reported.with(|reported| reported.as_ref().map(|(_, count)| *count));
            command.update(|command| command.reported(count));
        });
        Self { command, reported }
    }

    /// A command was sent: wait for the device, at most [`ANSWER_TIMEOUT`].
    fn sent(self) {
        let count = self
            .reported
            .with_untracked(|reported| reported.as_ref().map(|(_, count)| *count));
        let mut number = 0;
        self.command.update(|command| number = command.sent(count));
        let command = self.command;
        // The card may be gone when the timer fires: then there is nothing to update.
        set_timeout(
            move || {
                command.try_update(|command| command.timed_out(number));
            },
            ANSWER_TIMEOUT,
        );
    }

    fn answer(self) -> Answer {
        self.command.with(Command::answer)
    }

    /// The line under the control: waiting, or no answer; nothing once the device reported.
    fn view(self) -> impl IntoView {
        move || match self.answer() {
            Answer::Settled => None,
            Answer::Waiting => Some(
                view! { <p class="card-answer" data-answer="waiting" role="status">"Waiting for the device…"</p> }
                    .into_any(),
            ),
            Answer::NoAnswer => Some(
                view! {
                    <p class="card-answer" data-answer="no-answer" role="status">
                        {format!("No answer from the device within {} s.", ANSWER_TIMEOUT.as_secs())}
                    </p>
                }
                .into_any(),
            ),
        }
    }
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
    /// Whether the device says it is offline (its availability topic): its controls are disabled.
    #[prop(optional, into)]
    offline: Signal<bool>,
) -> impl IntoView {
    let title = card.shown_title().to_owned();
    let kind = card.type_name();
    let error = RwSignal::new(None::<String>);
    let has_controls = card.has_controls();
    let body = match card.kind {
        CardKind::Switch(switch) => switch_view(switch, title.clone(), tree, error, offline).into_any(),
        CardKind::Button(button) => button_view(button, title.clone(), error, offline).into_any(),
        CardKind::Slider(slider) => slider_view(slider, title.clone(), tree, error, offline).into_any(),
        CardKind::Value(value) => value_view(value, tree).into_any(),
        CardKind::Text(text) => text_view(text, title.clone(), tree, error, offline).into_any(),
        CardKind::Chart(chart) => chart_view(chart, tree).into_any(),
    };
    let offline_note = move || {
        offline.get().then(|| {
            let words = if has_controls {
                "The device says it is offline, so its controls are disabled."
            } else {
                "The device says it is offline; this is the last value it reported."
            };
            view! { <p class="card-offline" role="status">{words}</p> }
        })
    };
    view! {
        <div class="card-body" data-type=kind>
            <div class="card-head">
                <h3 class="card-title">{title}</h3>
                {children.map(|children| children())}
            </div>
            {body}
            {offline_note}
            <p class="card-error" role="alert">{move || error.get()}</p>
        </div>
    }
}

fn switch_view(
    switch: Switch,
    title: String,
    tree: Signal<TopicTree>,
    error: RwSignal<Option<String>>,
    offline: Signal<bool>,
) -> impl IntoView {
    let publisher = expect_context::<Publisher>();
    let reported = reported(tree, switch.state_topic().to_owned());
    let tracker = Tracker::new(reported);
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
        if send(
            publisher,
            error,
            &switch.command_topic,
            payload,
            switch.qos,
            switch.retain,
        ) {
            tracker.sent();
        }
    };
    view! {
        <button
            class="card-switch"
            role="switch"
            aria-label=title
            aria-checked=move || (state.get() == Some(SwitchState::On)).to_string()
            data-state=data_state
            disabled=move || offline.get()
            on:click=click
        >
            <span class="card-switch-track" aria-hidden="true"><span class="card-switch-knob"></span></span>
            <span class="card-state">{words}</span>
        </button>
        {tracker.view()}
    }
    .into_any()
}

fn button_view(button: Button, title: String, error: RwSignal<Option<String>>, offline: Signal<bool>) -> impl IntoView {
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
            disabled=move || offline.get()
            on:click=move |_| {
                send(publisher, error, &button.topic, button.payload.clone(), button.qos, button.retain);
            }
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
    offline: Signal<bool>,
) -> impl IntoView {
    let publisher = expect_context::<Publisher>();
    let reported = reported(tree, slider.state_topic().to_owned());
    let tracker = Tracker::new(reported);
    let value = {
        let slider = slider.clone();
        Memo::new(move |_| reported.with(|reported| reported.as_ref().map(|(payload, _)| slider.state(payload))))
    };
    // The value last sent, named beside the reported one while the device has not answered.
    let sent = RwSignal::new(None::<f64>);
    // The slider stands where the device says it is, not where it was dragged to.
    let shown = {
        let slider = slider.clone();
        move || value.get().and_then(Result::ok).unwrap_or(slider.min)
    };
    let readout = {
        let slider = slider.clone();
        move || {
            let reported = match value.get() {
                None => "No value reported".to_owned(),
                Some(Err(why)) => format!("Unreadable: {why}"),
                Some(Ok(reported)) => format!("{} {}", slider.format(reported), slider.unit)
                    .trim_end()
                    .to_owned(),
            };
            match (tracker.answer(), sent.get()) {
                (Answer::Settled, _) | (_, None) => reported,
                (_, Some(sent)) => {
                    format!("{reported} (sent {} {})", slider.format(sent), slider.unit).replace(" )", ")")
                }
            }
        }
    };
    let (min, max, step) = (slider.min, slider.max, slider.step);
    let back = shown;
    view! {
        <label class="card-slider">
            <span class="visually-hidden">{title}</span>
            <input
                type="range"
                min=min
                max=max
                step=step
                disabled=move || offline.get()
                prop:value=move || shown().to_string()
                on:change=move |event| {
                    // Sent when released (a change event), not on every step of a drag.
                    let input = event_target::<web_sys::HtmlInputElement>(&event);
                    if let Ok(chosen) = input.value().parse::<f64>()
                        && send(publisher, error, &slider.topic, slider.format(chosen), slider.qos, slider.retain)
                    {
                        sent.set(Some(chosen));
                        tracker.sent();
                    }
                    // Back to what the device reported, until it reports something else.
                    input.set_value(&back().to_string());
                }
            />
        </label>
        <output class="card-value">{readout}</output>
        {tracker.view()}
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
    offline: Signal<bool>,
) -> impl IntoView {
    let publisher = expect_context::<Publisher>();
    let reported = reported(tree, text.state_topic().to_owned());
    let tracker = Tracker::new(reported);
    let typed = RwSignal::new(String::new());
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        if offline.get_untracked() {
            return;
        }
        if send(
            publisher,
            error,
            &text.topic,
            typed.get_untracked(),
            text.qos,
            text.retain,
        ) {
            tracker.sent();
        }
    };
    view! {
        <p class="card-value">
            {move || reported.get().map_or("Nothing reported".to_owned(), |(payload, _)| payload)}
        </p>
        <form class="card-text" on:submit=submit>
            <label>
                <span class="visually-hidden">{title}</span>
                <input
                    type="text"
                    disabled=move || offline.get()
                    prop:value=move || typed.get()
                    on:input=move |event| typed.set(event_target_value(&event))
                />
            </label>
            <button type="submit" disabled=move || offline.get()>"Send"</button>
        </form>
        {tracker.view()}
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
