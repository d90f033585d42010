//! The topic tree's keyboard, as the WAI-ARIA tree view pattern has it: one Tab stop, Up/Down to the previous
//! and next line, Home/End to the first and last, Right to expand a closed level or go to its first child,
//! Left to collapse an open level or go to its parent, Enter or Space to select. Pure: rows in, an action out.

use super::model::Row;

/// What a key does on the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TreeAction {
    /// Move the focus to this line.
    Focus(usize),
    /// Open this line's level (the focus stays).
    Expand(usize),
    /// Close this line's level (the focus stays).
    Collapse(usize),
    /// Select this line's topic.
    Select(usize),
}

/// What `key` (a `KeyboardEvent.key`) does on `rows` with the focus on line `current`; `is_open` says whether
/// a topic's level is expanded. `None` for keys the tree leaves alone.
pub fn tree_key(rows: &[Row], current: usize, key: &str, is_open: impl Fn(&str) -> bool) -> Option<TreeAction> {
    let last = rows.len().checked_sub(1)?;
    let current = current.min(last);
    let row = &rows[current];
    Some(match key {
        "ArrowDown" => TreeAction::Focus((current + 1).min(last)),
        "ArrowUp" => TreeAction::Focus(current.saturating_sub(1)),
        "Home" => TreeAction::Focus(0),
        "End" => TreeAction::Focus(last),
        "ArrowRight" if row.has_children && !is_open(&row.topic) => TreeAction::Expand(current),
        "ArrowRight" => match rows.get(current + 1) {
            Some(next) if row.has_children && next.depth > row.depth => TreeAction::Focus(current + 1),
            _ => TreeAction::Focus(current),
        },
        "ArrowLeft" if row.has_children && is_open(&row.topic) => TreeAction::Collapse(current),
        "ArrowLeft" => TreeAction::Focus(
            rows[..current]
                .iter()
                .rposition(|above| above.depth < row.depth)
                .unwrap_or(current),
        ),
        "Enter" | " " => TreeAction::Select(current),
        _ => return None,
    })
}
