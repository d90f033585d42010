//! [`PublishForm`]: publish a message by hand, save it, and publish saved messages with one click.

use leptos::prelude::*;

use super::draft::{Draft, PayloadFormat};
use super::saved::{self, STORAGE_KEY, SavedMessage};
use crate::components::fields::{Outcome, check_field, outcome_view, qos_select, text_field};
use crate::mqtt::Publisher;

/// A topic another part of the page asks the publish form to fill in ("Publish to this topic" in the explorer):
/// provided as a context by the page; the form follows it while it is there.
#[derive(Debug, Clone, Copy)]
pub struct PublishTarget(pub RwSignal<Option<String>>);

/// The publish form and the saved-message buttons. Publishes through the [`Publisher`] context.
#[component]
pub fn PublishForm(
    /// Where in localStorage the saved messages are kept; [`STORAGE_KEY`] unless a test wants its own.
    #[prop(optional, into)]
    storage_key: Option<String>,
) -> impl IntoView {
    let storage_key = StoredValue::new(storage_key.unwrap_or_else(|| STORAGE_KEY.to_owned()));
    let publisher = use_context::<Publisher>();
    let draft = RwSignal::new(Draft::default());
    let topic_input = NodeRef::<leptos::html::Input>::new();
    if let Some(PublishTarget(target)) = use_context::<PublishTarget>() {
        Effect::new(move |_| {
            if let Some(topic) = target.get() {
                draft.update(|draft| draft.topic = topic);
                if let Some(input) = topic_input.get_untracked() {
                    // The person goes on with the payload; the form may be far down the page.
                    input.scroll_into_view();
                    let _ = input.focus();
                }
            }
        });
    }
    let outcome = RwSignal::new(Outcome::None);
    let save_name = RwSignal::new(String::new());
    let (loaded, load_problem) = match storage_key.with_value(|key| saved::load(key)) {
        Ok(None) => (Vec::new(), None),
        Ok(Some(text)) => match saved::from_json(&text) {
            Ok(list) => (list, None),
            Err(why) => (
                Vec::new(),
                Some(format!(
                    "The saved messages in this browser cannot be read ({why}); saving replaces them."
                )),
            ),
        },
        Err(why) => (Vec::new(), Some(why)),
    };
    let saved = RwSignal::new(loaded);
    let saved_outcome = RwSignal::new(load_problem.map(Err));

    let publish = move |draft: Draft| {
        let result = draft.to_outgoing().and_then(|outgoing| {
            let topic = outgoing.topic.clone();
            let publisher = publisher.ok_or_else(|| "The dashboard cannot publish here.".to_owned())?;
            publisher.publish(outgoing).map(|()| format!("Published to {topic}."))
        });
        outcome.set(Some(result));
    };
    let keep = move |list: Vec<SavedMessage>| {
        let stored = storage_key.with_value(|key| saved::store(key, &saved::to_json(&list)));
        saved.set(list);
        stored
    };
    let save = move |_| {
        let draft = draft.get_untracked();
        if let Err(why) = draft.to_outgoing() {
            saved_outcome.set(Some(Err(format!("Not saved: {why}"))));
            return;
        }
        let name = match save_name.get_untracked().trim() {
            "" => draft.topic.clone(),
            name => name.to_owned(),
        };
        let list = saved::with_saved(
            saved.get_untracked(),
            SavedMessage {
                name: name.clone(),
                draft,
            },
        );
        saved_outcome.set(Some(keep(list).map(|()| format!("Saved as {name:?}."))));
        save_name.set(String::new());
    };
    let json_hint = move || {
        draft.with(Draft::json_hint).map(|hint| match hint {
            Ok(()) => view! { <p class="json-hint" data-valid="true" aria-live="polite">"Valid JSON"</p> }.into_any(),
            Err(why) => view! {
                <p class="json-hint error" data-valid="false" aria-live="polite">{format!("Not valid JSON: {why}")}</p>
            }
            .into_any(),
        })
    };

    view! {
        <section class="publish" aria-label="Publish">
            <h2>"Publish"</h2>
            <form
                class="form publish-form"
                on:submit=move |event| {
                    event.prevent_default();
                    publish(draft.get_untracked());
                }
            >
                <label>
                    "Topic"
                    <input
                        node_ref=topic_input
                        class="publish-topic"
                        type="text"
                        required
                        autocomplete="off"
                        prop:value=move || draft.with(|draft| draft.topic.clone())
                        on:input=move |event| draft.update(|draft| draft.topic = event_target_value(&event))
                    />
                </label>
                <label>
                    "Payload"
                    <textarea
                        class="publish-payload"
                        rows="4"
                        prop:value=move || draft.with(|draft| draft.payload.clone())
                        on:input=move |event| draft.update(|draft| draft.payload = event_target_value(&event))
                    ></textarea>
                </label>
                {json_hint}
                <div class="form-row">
                    <label>
                        "Format "
                        <select
                            class="publish-format"
                            prop:value=move || draft.with(|draft| draft.format.name())
                            on:change=move |event| {
                                draft.update(|draft| draft.format = PayloadFormat::from_name(&event_target_value(&event)))
                            }
                        >
                            <option value="text">"Text"</option>
                            <option value="json">"JSON"</option>
                        </select>
                    </label>
                    {qos_select(
                        "QoS ",
                        "publish-qos",
                        move || draft.with(|v| v.qos),
                        move |qos| draft.update(|v| v.qos = qos),
                    )}
                    {check_field(
                        " Retain",
                        "publish-retain",
                        move || draft.with(|v| v.retain),
                        move |checked| draft.update(|v| v.retain = checked),
                    )}
                </div>
                <details class="publish-properties">
                    <summary>"MQTT 5 properties"</summary>
                    {text_field(
                        "Content type",
                        "publish-content-type",
                        move || draft.with(|v| v.content_type.clone()),
                        move |text| draft.update(|v| v.content_type = text),
                    )}
                    {text_field(
                        "Response topic",
                        "publish-response-topic",
                        move || draft.with(|v| v.response_topic.clone()),
                        move |text| draft.update(|v| v.response_topic = text),
                    )}
                    {text_field(
                        "Correlation data",
                        "publish-correlation-data",
                        move || draft.with(|v| v.correlation_data.clone()),
                        move |text| draft.update(|v| v.correlation_data = text),
                    )}
                    <label>
                        "Message expiry (seconds)"
                        <input
                            class="publish-message-expiry"
                            type="text"
                            inputmode="numeric"
                            prop:value=move || draft.with(|draft| draft.message_expiry.clone())
                            on:input=move |event| draft.update(|draft| draft.message_expiry = event_target_value(&event))
                        />
                    </label>
                    <label>
                        "User properties (one name=value per line)"
                        <textarea
                            class="publish-user-properties"
                            rows="2"
                            prop:value=move || draft.with(|draft| draft.user_properties.clone())
                            on:input=move |event| {
                                draft.update(|draft| draft.user_properties = event_target_value(&event))
                            }
                        ></textarea>
                    </label>
                </details>
                <div class="form-row">
                    <button class="publish-submit" type="submit">"Publish"</button>
                    <label>
                        "Save as "
                        <input
                            class="save-name"
                            type="text"
                            placeholder="name (the topic if empty)"
                            prop:value=move || save_name.get()
                            on:input=move |event| save_name.set(event_target_value(&event))
                        />
                    </label>
                    <button class="save-message" type="button" on:click=save>"Save"</button>
                </div>
                {outcome_view(outcome, "publish-outcome")}
            </form>
            <h3>"Saved messages"</h3>
            {outcome_view(saved_outcome, "saved-outcome")}
            <Show
                when=move || saved.with(|saved| !saved.is_empty())
                fallback=|| view! { <p class="saved-none">"None yet: fill in the form and press Save."</p> }
            >
                <ul class="saved">
                    <For
                        each=move || saved.get()
                        key=|saved: &SavedMessage| (saved.name.clone(), saved.draft.clone())
                        children=move |entry: SavedMessage| {
                            let SavedMessage { name, draft: saved_draft } = entry;
                            let for_publish = saved_draft.clone();
                            let remove_name = name.clone();
                            view! {
                                <li data-name=name.clone()>
                                    <button
                                        class="saved-publish"
                                        title=format!("Publish to {}", saved_draft.topic)
                                        on:click=move |_| publish(for_publish.clone())
                                    >
                                        {name.clone()}
                                    </button>
                                    <button
                                        class="saved-edit"
                                        aria-label=format!("Edit {name}")
                                        on:click=move |_| draft.set(saved_draft.clone())
                                    >
                                        "Edit"
                                    </button>
                                    <button
                                        class="saved-remove"
                                        aria-label=format!("Remove {name}")
                                        on:click=move |_| {
                                            let list: Vec<_> = saved
                                                .get_untracked()
                                                .into_iter()
                                                .filter(|saved| saved.name != remove_name)
                                                .collect();
                                            saved_outcome.set(keep(list).err().map(Err));
                                        }
                                    >
                                        "Remove"
                                    </button>
                                </li>
                            }
                        }
                    />
                </ul>
            </Show>
        </section>
    }
}
