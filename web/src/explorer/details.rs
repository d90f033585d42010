//! The selected topic: its recent messages (newest first, each selectable), the chosen one's QoS, retain flag,
//! time and MQTT 5 properties, its payload as text, pretty JSON or hex, what changed since the message before
//! it, a live chart of its numbers, and deleting retained messages at or below it.

use std::sync::Arc;

use leptos::prelude::*;

use super::chart::{LineChart, Sample};
use super::diff::{DiffLine, diff_lines};
use super::model::{Payload, TopicMessage, TopicTree};
use super::payload::{ChartSource, PayloadView, number, numeric_fields, render};
use super::view::{format_time, plural};
use crate::mqtt::{Outgoing, Publisher};
use crate::panel::{AddToPanelButton, Card, CardKind, Value};
use crate::publish::PublishTarget;

/// How many topics the delete confirmation names before "and N more".
const NAMED_IN_CONFIRMATION: usize = 5;

/// The selected topic's details, or nothing when no topic is selected.
#[component]
pub fn Details(
    /// Every topic seen.
    tree: Signal<TopicTree>,
    /// The selected topic.
    selected: RwSignal<Option<String>>,
    /// How payloads are shown; kept by the explorer so it stays when another topic is selected.
    payload_view: RwSignal<PayloadView>,
) -> impl IntoView {
    // Rebuilt when the selection changes only; what is inside follows the tree by itself.
    move || {
        selected
            .get()
            .map(|topic| view! { <TopicDetails topic=topic tree=tree payload_view=payload_view /> })
    }
}

/// One message of a history, with the number identifying it in the tree.
type Entry = (u64, Arc<TopicMessage>);

/// The details of `topic`.
#[component]
fn TopicDetails(topic: String, tree: Signal<TopicTree>, payload_view: RwSignal<PayloadView>) -> impl IntoView {
    let history = {
        let topic = topic.clone();
        Memo::new(move |_| {
            tree.with(|tree| {
                let Some(node) = tree.get(&topic) else {
                    return Vec::new();
                };
                let mut history = node.history_shared();
                // The byte bound may have emptied the history; the last message is kept apart.
                if history.is_empty() {
                    history.extend(node.last_shared().map(|last| (u64::MAX, last)));
                }
                history
            })
        })
    };
    let total = {
        let topic = topic.clone();
        Memo::new(move |_| tree.with(|tree| tree.get(&topic).map_or(0, |node| node.total())))
    };
    // The message picked in the history; `None` follows the newest.
    let chosen = RwSignal::new(None::<u64>);
    // The message shown and the one before it.
    let current = Memo::new(move |_| {
        history.with(|history| {
            let index = chosen
                .get()
                .and_then(|seq| history.iter().position(|(at, _)| *at == seq))
                .or_else(|| history.len().checked_sub(1))?;
            let previous = index.checked_sub(1).map(|before| history[before].1.clone());
            Some((history[index].1.clone(), previous))
        })
    });
    let source = RwSignal::new(ChartSource::Whole);
    let fields = Memo::new(move |_| {
        history.with(|history| {
            history
                .last()
                .map(|(_, last)| numeric_fields(&last.payload))
                .unwrap_or_default()
        })
    });
    let samples = Memo::new(move |_| {
        source.with(|source| {
            history.with(|history| {
                history
                    .iter()
                    .filter_map(|(_, message)| {
                        number(&message.payload, source).map(|value| (message.received_ms, value))
                    })
                    .collect::<Vec<Sample>>()
            })
        })
    });
    let has_messages = move || history.with(|history| !history.is_empty());
    let chart_label = {
        let topic = topic.clone();
        Signal::derive(move || match source.get() {
            ChartSource::Whole => topic.clone(),
            ChartSource::Field(pointer) => format!("{topic} {pointer}"),
        })
    };
    view! {
        <section class="details" aria-label="Selected topic">
            <h3><code>{topic.clone()}</code></h3>
            <RetainedActions topic=topic.clone() tree=tree />
            {use_context::<PublishTarget>()
                .map(|PublishTarget(target)| {
                    let topic = topic.clone();
                    view! {
                        <button class="publish-here" on:click=move |_| target.set(Some(topic.clone()))>
                            "Publish to this topic"
                        </button>
                    }
                })}
            // A value card on this topic (the panel's editor can make it a chart or a gauge).
            <AddToPanelButton card=Card::new(
                "",
                CardKind::Value(Value {
                    topic: topic.clone(),
                    json_field: String::new(),
                    unit: String::new(),
                    min: None,
                    max: None,
                }),
            ) />
            <Show
                when=has_messages
                fallback=move || {
                    view! {
                        <p>
                            {move || {
                                format!(
                                    "Nothing was published to this level itself; {} below it.",
                                    plural(total.get(), "message"),
                                )
                            }}
                        </p>
                    }
                }
            >
                <div class="payload-views" role="group" aria-label="Show payloads as">
                    {PayloadView::ALL
                        .into_iter()
                        .map(|view| {
                            view! {
                                <button
                                    class="payload-view"
                                    data-view=view.label()
                                    aria-pressed=move || (payload_view.get() == view).to_string()
                                    on:click=move |_| payload_view.set(view)
                                >
                                    {view.label()}
                                </button>
                            }
                        })
                        .collect_view()}
                </div>
                {move || {
                    current
                        .get()
                        .map(|(message, previous)| message_view(&message, previous.as_deref(), payload_view.get()))
                }}
                <Show when=move || { samples.with(|samples| !samples.is_empty()) || fields.with(|fields| !fields.is_empty()) }>
                    <section class="chart-section" aria-label="Chart">
                        <label class="chart-source">
                            "Chart "
                            <select on:change=move |event| {
                                let value = event_target_value(&event);
                                source.set(if value.is_empty() { ChartSource::Whole } else { ChartSource::Field(value) });
                            }>
                                <option value="" selected=move || source.get() == ChartSource::Whole>
                                    "the whole payload"
                                </option>
                                {move || {
                                    fields
                                        .get()
                                        .into_iter()
                                        .map(|field| {
                                            let selected = {
                                                let field = field.clone();
                                                move || source.get() == ChartSource::Field(field.clone())
                                            };
                                            view! {
                                                <option value=field.clone() selected=selected>
                                                    {format!("field {field}")}
                                                </option>
                                            }
                                        })
                                        .collect_view()
                                }}
                            </select>
                        </label>
                        <LineChart samples=samples label=chart_label />
                    </section>
                </Show>
                <h4>"Recent messages"</h4>
                <ol class="history" aria-label="Recent messages, newest first">
                    <For
                        each=move || history.get().into_iter().rev()
                        key=|(seq, _): &Entry| *seq
                        children=move |(seq, message): Entry| {
                            let is_chosen = move || {
                                let newest = history.with(|history| history.last().map(|(at, _)| *at));
                                chosen.get().or(newest) == Some(seq)
                            };
                            view! {
                                <li>
                                    <button
                                        class="history-item"
                                        aria-pressed=move || is_chosen().to_string()
                                        on:click=move |_| chosen.set(Some(seq))
                                    >
                                        <span class="history-time">{format_time(message.received_ms)}</span>
                                        <span class="history-qos">{format!("QoS {}", message.qos)}</span>
                                        {message.retain.then(|| view! { <span class="tree-retained" title="retained">"R"</span> })}
                                        <span class="history-value">{preview(&message.payload)}</span>
                                    </button>
                                </li>
                            }
                        }
                    />
                </ol>
            </Show>
        </section>
    }
}

/// The first 60 characters of a payload, for a history line.
fn preview(payload: &Payload) -> String {
    let text = payload.as_str();
    if text.is_empty() {
        return "(empty)".to_owned();
    }
    let mut shown: String = text.chars().take(60).collect();
    if shown.len() < text.len() {
        shown.push('…');
    }
    shown
}

/// One message: its facts, its properties, its payload in `view`, and the diff against `previous`.
fn message_view(message: &TopicMessage, previous: Option<&TopicMessage>, view: PayloadView) -> impl IntoView + use<> {
    let kind = match message.payload {
        Payload::Text(_) => "text",
        Payload::Hex(_) => "hex (not UTF-8)",
    };
    let shown_bytes = match &message.payload {
        Payload::Text(text) => text.len(),
        Payload::Hex(hex) => hex.len().div_ceil(3),
    };
    let cut = (shown_bytes < message.size).then(|| format!(" (first {shown_bytes} shown)"));
    let (text, note) = match render(&message.payload, view) {
        Ok(text) => (text, None),
        Err((text, why)) => (text, Some(why)),
    };
    let diff = previous.map(|previous| {
        let old = render(&previous.payload, view).unwrap_or_else(|(text, _)| text);
        diff_view(diff_lines(&old, &text))
    });
    view! {
        <dl class="details-facts">
            <dt>"QoS"</dt>
            <dd class="details-qos">{message.qos}</dd>
            <dt>"Retained"</dt>
            <dd class="details-retain">{if message.retain { "yes" } else { "no" }}</dd>
            <dt>"Received"</dt>
            <dd class="details-time">{format_time(message.received_ms)}</dd>
            <dt>"Payload"</dt>
            <dd class="details-size">{format!("{} bytes, {kind}", message.size)}{cut}</dd>
            {properties_view(message)}
        </dl>
        {note.map(|note| view! { <p class="payload-note">{note}</p> })}
        <pre class="details-payload" data-kind=kind data-view=view.label()>{text}</pre>
        <h4>"Changes since the previous message"</h4>
        {match diff {
            Some(diff) => diff.into_any(),
            None => view! { <p class="diff-none">"This is the oldest message kept."</p> }.into_any(),
        }}
    }
}

/// The MQTT 5 properties as more `<dt>`/`<dd>` pairs; nothing when there are none.
fn properties_view(message: &TopicMessage) -> impl IntoView + use<> {
    let properties = message.properties.clone();
    let mut facts: Vec<(&'static str, &'static str, String)> = Vec::new();
    if let Some(content_type) = properties.content_type {
        facts.push(("Content type", "prop-content-type", content_type));
    }
    if let Some(utf8) = properties.payload_utf8 {
        let format = if utf8 { "UTF-8 text" } else { "unspecified bytes" };
        facts.push(("Payload format", "prop-payload-format", format.to_owned()));
    }
    if let Some(response_topic) = properties.response_topic {
        facts.push(("Response topic", "prop-response-topic", response_topic));
    }
    if let Some(correlation) = properties.correlation_data {
        let shown = match correlation {
            Payload::Text(text) => text,
            Payload::Hex(hex) => format!("{hex} (hex)"),
        };
        facts.push(("Correlation data", "prop-correlation-data", shown));
    }
    if let Some(expiry) = properties.message_expiry {
        facts.push((
            "Expires",
            "prop-message-expiry",
            format!("in {expiry} s (as forwarded)"),
        ));
    }
    let users = (!properties.user_properties.is_empty()).then(|| {
        view! {
            <dt>"User properties"</dt>
            <dd class="prop-user">
                <ul>
                    {properties
                        .user_properties
                        .into_iter()
                        .map(|(key, value)| {
                            view! {
                                <li>
                                    <code class="prop-user-key">{key}</code>
                                    ": "
                                    <code class="prop-user-value">{value}</code>
                                </li>
                            }
                        })
                        .collect_view()}
                </ul>
            </dd>
        }
    });
    view! {
        {facts
            .into_iter()
            .map(|(label, class, value)| view! { <dt>{label}</dt><dd class=class>{value}</dd> })
            .collect_view()}
        {users}
    }
}

/// A diff as lines marked `+`, `-` or nothing.
fn diff_view(lines: Vec<DiffLine>) -> impl IntoView + use<> {
    if lines.iter().all(|line| matches!(line, DiffLine::Same(_))) {
        return view! { <p class="diff-none">"Same payload as the previous message."</p> }.into_any();
    }
    view! {
        <pre class="diff" aria-label="Lines removed and added since the previous message">
            {lines
                .into_iter()
                .map(|line| {
                    let (class, mark, text) = match line {
                        DiffLine::Same(text) => ("diff-same", "  ", text),
                        DiffLine::Removed(text) => ("diff-removed", "- ", text),
                        DiffLine::Added(text) => ("diff-added", "+ ", text),
                    };
                    view! { <span class=class>{mark}{text}"\n"</span> }
                })
                .collect_view()}
        </pre>
    }
    .into_any()
}

/// Deleting the retained messages at or below `topic` (publishing an empty retained message to each removes it,
/// [MQTT-3.3.1-6]), after a confirmation that names them.
#[component]
fn RetainedActions(topic: String, tree: Signal<TopicTree>) -> impl IntoView {
    let publisher = use_context::<Publisher>();
    let retained = {
        let topic = topic.clone();
        Memo::new(move |_| tree.with(|tree| tree.retained_under(&topic)))
    };
    let confirming = RwSignal::new(false);
    let outcome = RwSignal::new(None::<Result<String, String>>);
    // Keyboard users land on the safe choice when the confirmation appears.
    let cancel = NodeRef::<leptos::html::Button>::new();
    Effect::new(move |_| {
        // Runs again for each new Cancel button, that is each time the confirmation appears.
        if let Some(button) = cancel.get() {
            let _ = button.focus();
        }
    });
    let label = {
        let topic = topic.clone();
        move || {
            retained.with(|retained| match retained.as_slice() {
                [only] if *only == topic => "Delete retained message".to_owned(),
                all => format!(
                    "Delete {} under this topic…",
                    plural(all.len() as u64, "retained message")
                ),
            })
        }
    };
    let question = move || {
        retained.with(|retained| {
            let named: Vec<&str> = retained
                .iter()
                .take(NAMED_IN_CONFIRMATION)
                .map(String::as_str)
                .collect();
            let more = retained.len().saturating_sub(NAMED_IN_CONFIRMATION);
            let mut text = format!(
                "Delete the retained message of {}: {}",
                plural(retained.len() as u64, "topic"),
                named.join(", ")
            );
            if more > 0 {
                text.push_str(&format!(" and {more} more"));
            }
            text.push_str("? New subscribers will no longer receive it.");
            text
        })
    };
    let delete = move |_| {
        confirming.set(false);
        let topics = retained.get_untracked();
        let Some(publisher) = publisher else {
            outcome.set(Some(Err("The dashboard cannot publish here.".to_owned())));
            return;
        };
        let mut failed = Vec::new();
        for topic in &topics {
            let mut message = Outgoing::new(topic.clone(), "");
            message.retain = true;
            if let Err(why) = publisher.publish(message) {
                failed.push(format!("{topic}: {why}"));
            }
        }
        outcome.set(Some(if failed.is_empty() {
            Ok(format!("Deleted {}.", plural(topics.len() as u64, "retained message")))
        } else {
            Err(format!("Not deleted: {}", failed.join(" ")))
        }));
    };
    view! {
        <div class="retained-actions">
            <Show when=move || retained.with(|retained| !retained.is_empty())>
                <button
                    class="delete-retained"
                    aria-expanded=move || confirming.get().to_string()
                    on:click=move |_| {
                        outcome.set(None);
                        confirming.set(true);
                    }
                >
                    {label.clone()}
                </button>
            </Show>
            <Show when=move || confirming.get()>
                <div class="confirm" role="alertdialog" aria-label="Confirm deleting retained messages">
                    <p>{question}</p>
                    <button class="confirm-delete danger" on:click=delete>"Delete"</button>
                    <button class="confirm-cancel" node_ref=cancel on:click=move |_| confirming.set(false)>
                        "Cancel"
                    </button>
                </div>
            </Show>
            {move || {
                outcome
                    .get()
                    .map(|outcome| match outcome {
                        Ok(done) => view! { <p class="delete-outcome" role="status">{done}</p> }.into_any(),
                        Err(why) => view! { <p class="delete-outcome error" role="alert">{why}</p> }.into_any(),
                    })
            }}
        </div>
    }
}
