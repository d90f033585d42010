//! The control panel's view: the shared layout's cards, the editor that changes it (each change is published
//! retained at QoS 1 on the layout topic, so every browser shows it), export and import; and the cards Home
//! Assistant discovery announces, with their availability.

use leptos::prelude::*;
use wasm_bindgen::JsCast;

use super::add::{AddToPanel, AddToPanelButton};
use super::card::Card;
use super::cards::CardView;
use super::discovery::{DEFAULT_DISCOVERY_PREFIX, Discovered, Presence, discover};
use super::draft::{Draft, FIELDS, KINDS};
use super::layout::{DEFAULT_LAYOUT_TOPIC, Layout, LayoutState};
use super::remembered::Remembered;
use crate::explorer::TopicTree;
use crate::mqtt::{Outgoing, Publisher};

/// Where the browser remembers the layout topic the person chose.
const TOPIC_KEY: &str = "roost.panel.topic";

/// The layout topic this browser uses: the one chosen before, or [`DEFAULT_LAYOUT_TOPIC`].
fn stored_topic() -> String {
    window()
        .local_storage()
        .ok()
        .flatten()
        .and_then(|storage| storage.get_item(TOPIC_KEY).ok().flatten())
        .filter(|topic| !topic.is_empty())
        .unwrap_or_else(|| DEFAULT_LAYOUT_TOPIC.to_owned())
}

/// Which card the editor is open for.
#[derive(Debug, Clone, PartialEq)]
struct Editing {
    /// The card's place, or `None` for a new card.
    index: Option<usize>,
    /// The fields.
    draft: RwSignal<Draft>,
}

/// The control panel.
#[component]
pub fn Panel(
    /// Every topic seen: the layout, and the cards' states.
    #[prop(into)]
    tree: Signal<TopicTree>,
) -> impl IntoView {
    let publisher = expect_context::<Publisher>();
    let topic = RwSignal::new(stored_topic());
    let state = Memo::new(move |_| {
        topic.with(|topic| tree.with(|tree| LayoutState::of(tree.get(topic).and_then(|node| node.last()))))
    });
    // The layout just published, shown until the broker sends it (or another browser's) back.
    let working = RwSignal::new(None::<Layout>);
    Effect::new(move |_| {
        state.with(|_| ());
        working.set(None);
    });
    let layout = Memo::new(move |_| {
        working.get().or_else(|| match state.get() {
            LayoutState::Ready(layout) => Some(layout),
            LayoutState::Missing => Some(Layout::new()),
            LayoutState::Invalid(_) => None,
        })
    });
    // What the broker remembers of the cards' topics, asked for as cards appear; read by the cards.
    let remembered = Remembered::new();
    provide_context(remembered);
    Effect::new(move |_| {
        layout.with(|layout| {
            if let Some(layout) = layout {
                remembered.load(
                    layout
                        .cards
                        .iter()
                        .filter_map(Card::shown_topic)
                        .map(str::to_owned)
                        .collect(),
                );
            }
        });
    });
    let message = RwSignal::new(None::<String>);
    let editing = RwSignal::new(false);
    let add = use_context::<AddToPanel>();
    let editor = RwSignal::new(None::<Editing>);

    // Publishes `next` as the layout, retained at QoS 1 so that it outlives this page and reaches every browser.
    let save = move |next: Layout| -> Result<(), String> {
        let json = next.to_json().map_err(|error| error.to_string())?;
        publisher.publish(Outgoing {
            qos: 1,
            retain: true,
            ..Outgoing::new(topic.get_untracked(), json)
        })?;
        working.set(Some(next));
        Ok(())
    };
    let change = move |edit: Box<dyn FnOnce(&mut Layout)>| {
        let Some(mut next) = layout.get_untracked() else {
            return;
        };
        edit(&mut next);
        message.set(save(next).err());
    };

    // "Add to panel" elsewhere on the page: the buttons see the cards, and a request appends its card (once).
    if let Some(add) = add {
        Effect::new(move |_| {
            let cards = layout.with(|layout| layout.as_ref().map(|layout| layout.cards.clone()).unwrap_or_default());
            add.cards.set(cards);
        });
        Effect::new(move |_| {
            let Some(card) = add.request.get() else { return };
            add.request.set(None);
            if !add.has_untracked(&card) {
                change(Box::new(move |layout| layout.cards.push(card)));
            }
        });
    }
    let invalid = move || match state.get() {
        LayoutState::Invalid(error) if working.with(Option::is_none) => Some(view! {
            <div class="panel-invalid" role="alert">
                <p>{format!("The panel on {} cannot be shown. {error}", topic.get())}</p>
                <button on:click=move |_| working.set(Some(Layout::new()))>"Start a new panel"</button>
            </div>
        }),
        _ => None,
    };
    // Removing asks first (`asking`: the card's index), then keeps the card for a while so it can be put back.
    let asking = RwSignal::new(None::<usize>);
    let removed = RwSignal::new(None::<Removed>);
    let remove = move |index: usize| {
        asking.set(None);
        let Some(card) =
            layout.with_untracked(|layout| layout.as_ref().and_then(|layout| layout.cards.get(index).cloned()))
        else {
            return;
        };
        change(Box::new(move |layout| {
            if index < layout.cards.len() {
                layout.cards.remove(index);
            }
        }));
        if message.with_untracked(Option::is_some) {
            return;
        }
        let number = removed.with_untracked(|removed| removed.as_ref().map_or(0, |removed| removed.number + 1));
        removed.set(Some(Removed { index, card, number }));
        set_timeout(
            move || {
                removed.try_update(|removed| {
                    if removed.as_ref().is_some_and(|removed| removed.number == number) {
                        *removed = None;
                    }
                });
            },
            UNDO_WINDOW,
        );
    };
    let undo = move |_| {
        let Some(Removed { index, card, .. }) = removed.get_untracked() else {
            return;
        };
        removed.set(None);
        change(Box::new(move |layout| {
            let at = index.min(layout.cards.len());
            layout.cards.insert(at, card);
        }));
    };
    let toast = move || {
        removed.with(|removed| {
            removed.as_ref().map(|removed| {
                let title = removed.card.shown_title().to_owned();
                view! {
                    <div class="toast" role="status">
                        <span>{format!("Removed “{title}”. ")}</span>
                        <button type="button" class="toast-undo" on:click=undo>"Undo"</button>
                    </div>
                }
            })
        })
    };
    let cards = move || {
        let is_editing = editing.get();
        layout
            .get()
            .map(|layout| {
                let count = layout.cards.len();
                layout
                    .cards
                    .into_iter()
                    .enumerate()
                    .map(|(index, card)| {
                        let title = card.shown_title().to_owned();
                        let controls = is_editing.then(|| {
                            let draft = Draft::of(&card);
                            view! {
                                <div class="card-controls">
                                    <button
                                        aria-label=format!("Move {title} up")
                                        disabled=index == 0
                                        on:click=move |_| change(Box::new(move |layout| layout.move_card(index, -1)))
                                    >"↑"</button>
                                    <button
                                        aria-label=format!("Move {title} down")
                                        disabled=index + 1 == count
                                        on:click=move |_| change(Box::new(move |layout| layout.move_card(index, 1)))
                                    >"↓"</button>
                                    <button
                                        aria-label=format!("Edit {title}")
                                        on:click=move |_| editor.set(Some(Editing { index: Some(index), draft: RwSignal::new(draft.clone()) }))
                                    >"Edit"</button>
                                    {remove_control(index, title.clone(), asking, remove)}
                                </div>
                            }
                        });
                        view! {
                            <li class="card" data-index=index>
                                <CardView card=card tree=tree />
                                {controls}
                            </li>
                        }
                    })
                    .collect_view()
            })
    };
    let empty = move || {
        layout
            .with(|layout| layout.as_ref().is_some_and(|layout| layout.cards.is_empty()))
            .then(|| view! { <p class="panel-empty">"No cards yet. Choose “Edit panel”, then “Add card”."</p> })
    };

    let save_card = move |index: Option<usize>, card| {
        change(Box::new(move |layout| match index {
            Some(index) if index < layout.cards.len() => layout.cards[index] = card,
            _ => layout.cards.push(card),
        }));
        if message.with_untracked(Option::is_none) {
            editor.set(None);
        }
    };

    view! {
        <section class="panel" aria-label="Control panel">
            <div class="panel-head">
                <h2>"Panel"</h2>
                <button
                    class="panel-edit"
                    aria-pressed=move || editing.get().to_string()
                    on:click=move |_| {
                        editing.update(|editing| *editing = !*editing);
                        editor.set(None);
                    }
                >
                    {move || if editing.get() { "Done" } else { "Edit panel" }}
                </button>
            </div>
            {invalid}
            <p class="panel-message" role="status">{move || message.get()}</p>
            {empty}
            <ul class="cards">{cards}</ul>
            {toast}
            <Show when=move || editing.get()>
                <div class="panel-tools">
                    <button
                        class="panel-add"
                        on:click=move |_| editor.set(Some(Editing { index: None, draft: RwSignal::new(Draft::default()) }))
                    >"Add card"</button>
                    <button on:click=move |_| export(layout.get_untracked(), message)>"Export"</button>
                    <label class="panel-import">
                        "Import "
                        <input
                            type="file"
                            accept=".json,application/json"
                            on:change=move |event| import(event, save, message)
                        />
                    </label>
                    <TopicSetting topic=topic />
                </div>
            </Show>
            {move || editor.get().map(|Editing { index, draft }| {
                let previous = index.and_then(|index| layout.with_untracked(|layout| {
                    layout.as_ref().and_then(|layout| layout.cards.get(index).cloned())
                }));
                view! {
                    <CardEditor
                        draft=draft
                        on_save=Callback::new(move |card| save_card(index, card))
                        on_cancel=Callback::new(move |()| editor.set(None))
                        previous=previous
                    />
                }
            })}
        </section>
    }
}

/// How long a removed card can be put back.
const UNDO_WINDOW: std::time::Duration = std::time::Duration::from_secs(10);

/// A card just removed, kept for [`UNDO_WINDOW`] so "Undo" can put it back where it was.
#[derive(Debug, Clone)]
struct Removed {
    /// Where it was.
    index: usize,
    card: Card,
    /// Which removal this is, so an older removal's timer does not hide a newer one's Undo.
    number: u32,
}

/// A card's Remove button, which asks before removing.
fn remove_control(
    index: usize,
    title: String,
    asking: RwSignal<Option<usize>>,
    remove: impl Fn(usize) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    move || {
        if asking.get() == Some(index) {
            view! {
                <span class="card-confirm" role="group" aria-label=format!("Remove {title}?")>
                    {format!("Remove “{title}”? ")}
                    <button type="button" class="danger card-confirm-yes" on:click=move |_| remove(index)>"Remove"</button>
                    <button type="button" class="card-confirm-no" on:click=move |_| asking.set(None)>"Cancel"</button>
                </span>
            }
            .into_any()
        } else {
            view! {
                <button
                    class="danger card-remove"
                    aria-label=format!("Remove {title}")
                    on:click=move |_| asking.set(Some(index))
                >"Remove"</button>
            }
            .into_any()
        }
    }
}

/// The layout topic, changed for this browser only (remembered in localStorage).
#[component]
fn TopicSetting(topic: RwSignal<String>) -> impl IntoView {
    let typed = RwSignal::new(topic.get_untracked());
    let problem = RwSignal::new(None::<String>);
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let chosen = typed.get_untracked().trim().to_owned();
        match roost_codec::TopicName::new(chosen.as_str()) {
            Ok(_) => {
                if let Some(storage) = window().local_storage().ok().flatten() {
                    let _ = storage.set_item(TOPIC_KEY, &chosen);
                }
                problem.set(None);
                topic.set(chosen);
            }
            Err(error) => problem.set(Some(format!("Not a topic name: {error}."))),
        }
    };
    view! {
        <form class="panel-topic" on:submit=submit>
            <label>
                "Layout topic "
                <input type="text" name="layout-topic" prop:value=move || typed.get() on:input=move |event| typed.set(event_target_value(&event)) />
            </label>
            <button type="submit">"Use"</button>
            <span class="card-error" role="alert">{move || problem.get()}</span>
        </form>
    }
}

/// The editor of one card.
#[component]
fn CardEditor(
    draft: RwSignal<Draft>,
    on_save: Callback<super::card::Card>,
    on_cancel: Callback<()>,
    previous: Option<super::card::Card>,
) -> impl IntoView {
    let problem = RwSignal::new(None::<String>);
    let is_new = previous.is_none();
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        match draft.with_untracked(|draft| draft.to_card(previous.as_ref())) {
            Ok(card) => {
                problem.set(None);
                on_save.run(card);
            }
            Err(why) => problem.set(Some(why)),
        }
    };
    // A memo, so that typing in a field (which changes the draft) does not re-render the fields that depend on
    // the kind: a re-rendered input would lose the focus after each key.
    let kind = Memo::new(move |_| draft.with(|draft| draft.kind.clone()));
    // One view function for every field (not one per field), so the wasm holds one copy of its code. The label
    // follows the kind; the input itself is only created or removed when the kind gains or loses the field.
    let fields = FIELDS
        .into_iter()
        .map(|(name, label)| {
            let label = Memo::new(move |_| kind.with(|kind| label(kind)));
            view! {
                <Show when=move || label.with(Option::is_some)>
                    <label class="editor-field">
                        <span>{move || label.get()}</span>
                        <input
                            type="text"
                            name=name
                            prop:value=move || draft.with(|draft| draft.field(name).cloned().unwrap_or_default())
                            on:input=move |event| {
                                draft
                                    .update(|draft| {
                                        if let Some(field) = draft.field_mut(name) {
                                            *field = event_target_value(&event);
                                        }
                                    })
                            }
                        />
                    </label>
                </Show>
            }
        })
        .collect_view();
    view! {
        <form class="editor" aria-label=if is_new { "New card" } else { "Edit card" } on:submit=submit>
            <h3>{if is_new { "New card" } else { "Edit card" }}</h3>
            <label class="editor-field">
                <span>"Type"</span>
                <select
                    name="kind"
                    prop:value=move || kind.get()
                    on:change=move |event| draft.update(|draft| draft.kind = event_target_value(&event))
                >
                    {KINDS.map(|(value, label)| view! { <option value=value>{label}</option> })}
                </select>
            </label>
            {fields}
            <p class="card-error" role="alert">{move || problem.get()}</p>
            <div class="editor-actions">
                <button type="submit">"Save card"</button>
                <button type="button" on:click=move |_| on_cancel.run(())>"Cancel"</button>
            </div>
        </form>
    }
}

/// Offers the layout as a JSON file download.
fn export(layout: Option<Layout>, message: RwSignal<Option<String>>) {
    let Some(layout) = layout else {
        message.set(Some("There is no valid panel to export.".to_owned()));
        return;
    };
    let outcome = (|| -> Result<(), wasm_bindgen::JsValue> {
        let parts = js_sys::Array::of1(&layout.to_pretty_json().into());
        let options = web_sys::BlobPropertyBag::new();
        options.set_type("application/json");
        let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options)?;
        let url = web_sys::Url::create_object_url_with_blob(&blob)?;
        let link: web_sys::HtmlAnchorElement = document().create_element("a")?.unchecked_into();
        link.set_href(&url);
        link.set_download("roost-panel.json");
        link.click();
        web_sys::Url::revoke_object_url(&url)
    })();
    message.set(outcome.err().map(|error| format!("The export failed: {error:?}.")));
}

/// Reads the chosen file, checks it is a panel layout and publishes it as the layout.
fn import(
    event: leptos::ev::Event,
    save: impl Fn(Layout) -> Result<(), String> + 'static,
    message: RwSignal<Option<String>>,
) {
    let input: web_sys::HtmlInputElement = event_target(&event);
    let Some(file) = input.files().and_then(|files| files.get(0)) else {
        return;
    };
    input.set_value("");
    leptos::task::spawn_local(async move {
        let text = wasm_bindgen_futures::JsFuture::from(file.text()).await;
        let outcome = match text.ok().and_then(|text| text.as_string()) {
            None => Err(format!("{} could not be read.", file.name())),
            Some(text) => Layout::from_json(&text)
                .map_err(|error| format!("{}: {error}", file.name()))
                .and_then(&save),
        };
        message.set(Some(match outcome {
            Ok(()) => format!("Imported {}.", file.name()),
            Err(why) => why,
        }));
    });
}

/// The devices Home Assistant discovery announces, as cards with their availability.
#[component]
pub fn DiscoveredDevices(
    /// Every topic seen: the discovery configs, availability and states.
    #[prop(into)]
    tree: Signal<TopicTree>,
) -> impl IntoView {
    // The configs are parsed again only when a message arrived under the prefix, not on every batch of `#`.
    let arrived = Memo::new(move |_| tree.with(|tree| tree.get(DEFAULT_DISCOVERY_PREFIX).map(|node| node.total())));
    let found = Memo::new(move |_| {
        let _ = arrived.get();
        tree.with_untracked(|tree| discover(tree, DEFAULT_DISCOVERY_PREFIX))
    });
    let cards = move || {
        found.with(|(entities, _)| {
            entities
                .iter()
                .cloned()
                .map(
                    |Discovered {
                         config_topic,
                         component,
                         card,
                         availability,
                     }| {
                        let presence = Memo::new(move |_| {
                            availability.presence(|topic| {
                                tree.with(|tree| {
                                    let message = tree.get(topic)?.last()?;
                                    Some((message.payload.as_str().to_owned(), message.received_ms))
                                })
                            })
                        });
                        let name = move || match presence.get() {
                            Presence::Online => "online",
                            Presence::Offline => "offline",
                            Presence::Unknown => "unknown",
                        };
                        view! {
                            <li class="card" data-config=config_topic data-component=component data-presence=name>
                                <CardView card=card.clone() tree=tree offline=Signal::derive(move || presence.get() == Presence::Offline)>
                                    <span class="presence" data-presence=name>{name}</span>
                                </CardView>
                                <AddToPanelButton card=card />
                            </li>
                        }
                    },
                )
                .collect_view()
        })
    };
    let problems = move || {
        found.with(|(_, failed)| {
            failed
                .iter()
                .map(|failed| view! { <li><code>{failed.topic.clone()}</code>": "{failed.why.clone()}</li> })
                .collect_view()
        })
    };
    view! {
        <Show when=move || found.with(|(entities, failed)| !entities.is_empty() || !failed.is_empty())>
            <section class="panel discovered" aria-label="Discovered devices">
                <h2>"Discovered devices"</h2>
                <ul class="cards">{cards}</ul>
                <Show when=move || found.with(|(_, failed)| !failed.is_empty())>
                    <p>"Discovery messages not understood:"</p>
                    <ul class="discovery-problems">{problems}</ul>
                </Show>
            </section>
        </Show>
    }
}
