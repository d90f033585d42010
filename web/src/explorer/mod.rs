//! The topic explorer: every topic the dashboard sees on `#`, as a tree.
//!
//! - [`model`]: [`TopicTree`], pure data fed with plain [`TopicMessage`]s.
//! - [`view`]: the tree view, the search box and the selected topic's details.

pub mod model;
pub mod view;

pub use model::{MAX_TOPICS, Payload, Row, TopicMessage, TopicTree};
pub use view::Explorer;
