//! "Add to panel" in one tap, from a discovered device or a topic in the explorer: [`AddToPanel`] carries the
//! request to the panel (which owns the layout and publishes it) and tells the buttons which cards are there.

use leptos::prelude::*;

use super::card::Card;

/// Provided by the app: the card another part of the page asks the panel to add, and the panel's cards.
#[derive(Debug, Clone, Copy)]
pub struct AddToPanel {
    /// Set by a button, taken by the panel.
    pub request: RwSignal<Option<Card>>,
    /// The panel's cards as the panel shows them now.
    pub cards: RwSignal<Vec<Card>>,
}

impl AddToPanel {
    /// Nothing asked, no cards yet.
    pub fn new() -> Self {
        AddToPanel {
            request: RwSignal::new(None),
            cards: RwSignal::new(Vec::new()),
        }
    }

    /// Whether the panel has a card of `card`'s type on its topic (tracked).
    pub fn has(self, card: &Card) -> bool {
        self.cards.with(|cards| cards.iter().any(|on| same(on, card)))
    }

    /// [`AddToPanel::has`], untracked.
    pub fn has_untracked(self, card: &Card) -> bool {
        self.cards.with_untracked(|cards| cards.iter().any(|on| same(on, card)))
    }
}

/// The same kind of card on the same topic.
fn same(a: &Card, b: &Card) -> bool {
    a.type_name() == b.type_name() && a.shown_topic() == b.shown_topic()
}

impl Default for AddToPanel {
    fn default() -> Self {
        Self::new()
    }
}

/// "Add to panel" for `card`, or "On the panel" (disabled) once it is there. Nothing without an [`AddToPanel`].
#[component]
pub fn AddToPanelButton(
    /// The card to add.
    card: Card,
) -> impl IntoView {
    let add = use_context::<AddToPanel>()?;
    let there = {
        let card = card.clone();
        Memo::new(move |_| add.has(&card))
    };
    let label = format!("Add {} to the panel", card.shown_title());
    Some(view! {
        <button
            type="button"
            class="add-to-panel"
            aria-label=label
            disabled=move || there.get()
            on:click=move |_| add.request.set(Some(card.clone()))
        >
            {move || if there.get() { "On the panel" } else { "Add to panel" }}
        </button>
    })
}
