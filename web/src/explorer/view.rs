//! The explorer's view: a search box, the topic tree (expandable levels with counts and last values) and the
//! selected topic's details (`details.rs`). It reads a [`TopicTree`] signal, which the MQTT service updates in batches.
//!
//! The tree is an ARIA tree (`role="tree"`, a `treeitem` per line with `aria-level`, `aria-expanded` and
//! `aria-selected`): one Tab stop (a roving `tabindex`), arrow keys, Home and End as [`tree_key`] says.

use std::collections::HashSet;

use leptos::prelude::*;
use leptos::tachys::html::attribute::custom::custom_attribute;
use wasm_bindgen::JsCast;

use super::details::Details;
use super::keys::{TreeAction, tree_key};
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
    // The line that holds the tree's one Tab stop: the last one focused while shown, else the first.
    let focused = RwSignal::new(None::<String>);
    let tab_stop = Memo::new(move |_| {
        rows.with(|rows| {
            focused
                .with(|focused| {
                    focused
                        .clone()
                        .filter(|topic| rows.iter().any(|row| &row.topic == topic))
                })
                .or_else(|| rows.first().map(|row| row.topic.clone()))
        })
    });
    let list = NodeRef::<leptos::html::Ul>::new();
    let keydown = move |event: leptos::ev::KeyboardEvent| {
        let rows = rows.get_untracked();
        let current = tab_stop
            .get_untracked()
            .and_then(|topic| rows.iter().position(|row| row.topic == topic))
            .unwrap_or(0);
        let is_open = |topic: &str| expanded.with_untracked(|expanded| expanded.contains(topic));
        let Some(action) = tree_key(&rows, current, &event.key(), is_open) else {
            return;
        };
        event.prevent_default();
        match action {
            TreeAction::Focus(index) => {
                let topic = rows[index].topic.clone();
                focus_line(list, &topic);
                focused.set(Some(topic));
            }
            TreeAction::Expand(index) => expanded.update(|expanded| {
                expanded.insert(rows[index].topic.clone());
            }),
            TreeAction::Collapse(index) => expanded.update(|expanded| {
                expanded.remove(&rows[index].topic);
            }),
            TreeAction::Select(index) => selected.set(Some(rows[index].topic.clone())),
        }
    };
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
            <ul class="tree" role="tree" aria-label="Topics" node_ref=list on:keydown=keydown>
                <For each=move || rows.get() key=Row::clone let:row>
                    <TreeRow row=row tree=tree expanded=expanded selected=selected focused=focused tab_stop=tab_stop />
                </For>
            </ul>
            <Details tree=tree selected=selected payload_view=payload_view />
        </section>
    }
}

/// Moves the keyboard focus to the line of `topic`, if it is shown.
fn focus_line(list: NodeRef<leptos::html::Ul>, topic: &str) {
    let Some(list) = list.get_untracked() else {
        return;
    };
    let lines = list.children();
    for i in 0..lines.length() {
        if let Some(line) = lines.item(i)
            && line.get_attribute("data-topic").as_deref() == Some(topic)
        {
            let _ = line.unchecked_into::<web_sys::HtmlElement>().focus();
            return;
        }
    }
}

/// One line of the tree, a `treeitem`: an expand arrow (for levels with children; the keyboard uses Right and
/// Left instead) and the topic's name, count and last value. Clicking the line selects the topic.
#[component]
fn TreeRow(
    row: Row,
    tree: Signal<TopicTree>,
    expanded: RwSignal<HashSet<String>>,
    selected: RwSignal<Option<String>>,
    focused: RwSignal<Option<String>>,
    tab_stop: Memo<Option<String>>,
) -> impl IntoView {
    let Row {
        topic,
        name,
        depth,
        has_children,
    } = row;
    let shown_name = if name.is_empty() { "(empty)".to_owned() } else { name };
    let is_open = {
        let topic = topic.clone();
        move || expanded.with(|expanded| expanded.contains(&topic))
    };
    let toggle = has_children.then(|| {
        let topic = topic.clone();
        let is_open = is_open.clone();
        view! {
            <span
                class="tree-toggle"
                aria-hidden="true"
                on:click=move |event| {
                    // Only opens or closes: the line's own click selects.
                    event.stop_propagation();
                    expanded
                        .update(|expanded| {
                            if !expanded.remove(&topic) {
                                expanded.insert(topic.clone());
                            }
                        })
                }
            >
                {move || if is_open() { "▾" } else { "▸" }}
            </span>
        }
    });
    let aria_expanded = has_children.then_some(move || is_open().to_string());
    let data_topic = topic.clone();
    let node_info = {
        let topic = topic.clone();
        move || tree.with(|tree| tree.get(&topic).map(|node| (node.total(), preview(node))))
    };
    let is_selected = {
        let topic = topic.clone();
        move || selected.with(|selected| selected.as_deref() == Some(topic.as_str()))
    };
    let deleted_topic = topic.clone();
    let tabindex = {
        let topic = topic.clone();
        move || {
            if tab_stop.with(|stop| stop.as_deref() == Some(topic.as_str())) {
                "0"
            } else {
                "-1"
            }
        }
    };
    view! {
        <li
            class="tree-node"
            role="treeitem"
            aria-expanded=aria_expanded
            aria-selected=move || is_selected().to_string()
            tabindex=tabindex
            style=format!("--depth: {depth}")
            data-topic=data_topic
            on:click=move |_| {
                focused.set(Some(topic.clone()));
                selected.set(Some(topic.clone()));
            }
        >
            {toggle}
            <span class="tree-topic">
                <span class="tree-name">{shown_name}</span>
                <span class="tree-count">
                    {
                        let node_info = node_info.clone();
                        move || node_info().map(|(total, _)| total)
                    }
                </span>
                {move || {
                    tree.with(|tree| tree.get(&deleted_topic).is_some_and(is_deleted))
                        .then(|| view! { <span class="tree-deleted">"deleted"</span> })
                }}
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
            </span>
        </li>
    }
    // `aria-level` has no attribute method in the view macro: added as a custom attribute.
    .add_any_attr(custom_attribute("aria-level", (depth + 1).to_string()))
}

/// A node's last value, cut to [`PREVIEW_CHARS`], and its retain flag; `None` when nothing was published to it
/// or when its last message deleted the retained one (see [`is_deleted`]).
fn preview(node: &Node) -> Option<(String, bool)> {
    let last = node.last()?;
    if is_deleted(node) {
        return None;
    }
    let text = last.payload.as_str();
    let mut value: String = text.chars().take(PREVIEW_CHARS).collect();
    if value.len() < text.len() {
        value.push('…');
    }
    Some((value, last.retain))
}

/// Whether the topic's last message deleted its retained message (retained, with an empty payload,
/// [MQTT-3.3.1-6]): the line says "deleted" rather than showing an empty value.
pub fn is_deleted(node: &Node) -> bool {
    node.last().is_some_and(|last| last.retain && last.size == 0)
}

/// "1 topic", "2 topics".
pub(super) fn plural(count: u64, noun: &str) -> String {
    if count == 1 {
        format!("{count} {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// Milliseconds since the Unix epoch as this browser's local date and time, `2023-11-14 23:13:20.000`, with
/// the zone's offset from UTC (`+01:00`) so two browsers' times can be compared.
pub fn format_time(ms: u64) -> String {
    let date = js_sys::Date::new(&(ms as f64).into());
    // getTimezoneOffset is minutes *behind* UTC: -60 in Central Europe in winter.
    let offset = -(date.get_timezone_offset() as i64);
    let sign = if offset < 0 { '-' } else { '+' };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03} {sign}{:02}:{:02}",
        date.get_full_year(),
        date.get_month() + 1,
        date.get_date(),
        date.get_hours(),
        date.get_minutes(),
        date.get_seconds(),
        date.get_milliseconds(),
        offset.abs() / 60,
        offset.abs() % 60
    )
}
