//! The explorer's view: a search box, the topic tree (expandable levels with counts and last values) and the
//! selected topic's details (`details.rs`). It reads a [`TopicTree`] signal, which the MQTT service updates in batches.

use std::collections::HashSet;

use leptos::prelude::*;

use super::details::Details;
use super::model::{Node, Row, TopicTree};
use super::payload::PayloadView;

/// The most lines the tree shows at once; a search or collapsing shows the rest.
const MAX_ROWS: usize = 500;

/// How many characters of a last value a tree line shows.
const PREVIEW_CHARS: usize = 40;

/// The topic explorer.
#[component]
pub fn Explorer(
    /// Every topic seen.
    #[prop(into)]
    tree: Signal<TopicTree>,
) -> impl IntoView {
    let expanded = RwSignal::new(HashSet::<String>::new());
    let filter = RwSignal::new(String::new());
    let selected = RwSignal::new(None::<String>);
    let payload_view = RwSignal::new(PayloadView::default());
    // `$SYS` and other `$` topics (the broker view subscribes to them) are hidden unless asked for.
    let show_dollar = RwSignal::new(false);
    let rows = Memo::new(move |_| {
        let show_dollar = show_dollar.get();
        let mut rows: Vec<Row> = filter.with(|filter| {
            tree.with(|tree| {
                if filter.is_empty() {
                    expanded.with(|expanded| tree.rows(|topic| expanded.contains(topic), MAX_ROWS))
                } else {
                    let found = tree.search(filter, MAX_ROWS);
                    found
                        .into_iter()
                        .map(|topic| Row {
                            name: topic.clone(),
                            topic,
                            depth: 0,
                            has_children: false,
                        })
                        .collect()
                }
            })
        });
        if !show_dollar {
            rows.retain(|row| !row.topic.starts_with('$'));
        }
        rows
    });
    let summary = move || {
        let show_dollar = show_dollar.get();
        tree.with(|tree| {
            let (topics, messages) = tree.counts(show_dollar);
            let mut text = format!("{}, {}", plural(topics, "topic"), plural(messages, "message"));
            if tree.dropped() > 0 {
                text.push_str(&format!(
                    ". Topic limit reached: {} messages on newer topics are not shown",
                    tree.dropped()
                ));
            }
            text
        })
    };
    view! {
        <section class="explorer" aria-label="Topic explorer">
            <h2>"Topics"</h2>
            <p class="explorer-summary">{summary}</p>
            <input
                class="explorer-search"
                type="search"
                placeholder="Filter topics"
                aria-label="Filter topics"
                prop:value=move || filter.get()
                on:input=move |event| filter.set(event_target_value(&event))
            />
            <label class="explorer-dollar">
                <input
                    type="checkbox"
                    prop:checked=move || show_dollar.get()
                    on:change=move |event| show_dollar.set(event_target_checked(&event))
                />
                " Show $SYS topics"
            </label>
            <ul class="tree">
                <For each=move || rows.get() key=Row::clone let:row>
                    <TreeRow row=row tree=tree expanded=expanded selected=selected />
                </For>
            </ul>
            <Details tree=tree selected=selected payload_view=payload_view />
        </section>
    }
}

/// One line of the tree: an expand button (for levels with children) and a button selecting the topic.
#[component]
fn TreeRow(
    row: Row,
    tree: Signal<TopicTree>,
    expanded: RwSignal<HashSet<String>>,
    selected: RwSignal<Option<String>>,
) -> impl IntoView {
    let Row {
        topic,
        name,
        depth,
        has_children,
    } = row;
    let shown_name = if name.is_empty() { "(empty)".to_owned() } else { name };
    let toggle = has_children.then(|| {
        let topic = topic.clone();
        let is_open = {
            let topic = topic.clone();
            move || expanded.with(|expanded| expanded.contains(&topic))
        };
        let label = format!("Expand {shown_name}");
        let aria_expanded = {
            let is_open = is_open.clone();
            move || is_open().to_string()
        };
        view! {
            <button
                class="tree-toggle"
                aria-label=label
                aria-expanded=aria_expanded
                on:click=move |_| {
                    expanded
                        .update(|expanded| {
                            if !expanded.remove(&topic) {
                                expanded.insert(topic.clone());
                            }
                        })
                }
            >
                {move || if is_open() { "▾" } else { "▸" }}
            </button>
        }
    });
    let data_topic = topic.clone();
    let node_info = {
        let topic = topic.clone();
        move || tree.with(|tree| tree.get(&topic).map(|node| (node.total(), preview(node))))
    };
    let is_selected = {
        let topic = topic.clone();
        move || selected.with(|selected| selected.as_deref() == Some(topic.as_str()))
    };
    view! {
        <li class="tree-node" style=format!("--depth: {depth}") data-topic=data_topic>
            {toggle}
            <button
                class="tree-topic"
                aria-pressed=move || is_selected().to_string()
                on:click=move |_| selected.set(Some(topic.clone()))
            >
                <span class="tree-name">{shown_name}</span>
                <span class="tree-count">
                    {
                        let node_info = node_info.clone();
                        move || node_info().map(|(total, _)| total)
                    }
                </span>
                {move || {
                    node_info()
                        .and_then(|(_, preview)| preview)
                        .map(|(value, retain)| {
                            view! {
                                <span class="tree-value">{value}</span>
                                {retain.then(|| view! { <span class="tree-retained" title="retained">"R"</span> })}
                            }
                        })
                }}
            </button>
        </li>
    }
}

/// A node's last value, cut to [`PREVIEW_CHARS`], and its retain flag; `None` when nothing was published to it.
fn preview(node: &Node) -> Option<(String, bool)> {
    let last = node.last()?;
    let text = last.payload.as_str();
    let mut value: String = text.chars().take(PREVIEW_CHARS).collect();
    if value.len() < text.len() {
        value.push('…');
    }
    Some((value, last.retain))
}

/// "1 topic", "2 topics".
pub(super) fn plural(count: u64, noun: &str) -> String {
    if count == 1 {
        format!("{count} {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// Milliseconds since the Unix epoch as an ISO 8601 time (UTC).
pub(super) fn format_time(ms: u64) -> String {
    js_sys::Date::new(&(ms as f64).into()).to_iso_string().into()
}
