//! The topic explorer: every topic the dashboard sees on `#`, as a tree.
//!
//! - [`model`]: [`TopicTree`], pure data fed with plain [`TopicMessage`]s, with a bounded history per topic
//!   ([`history`] holds the bounds).
//! - [`payload`], [`diff`]: payloads as text, pretty JSON or hex, their numbers, and line diffs; pure.
//! - [`chart`]: a line chart drawn as inline SVG.
//! - [`view`]: the tree view (an ARIA tree; [`keys`] is its keyboard) and the search box; `details.rs`: the
//!   selected topic.

pub mod chart;
pub mod details;
pub mod diff;
pub mod history;
pub mod keys;
pub mod model;
pub mod payload;
pub mod view;

pub use history::HistoryLimits;
pub use model::{MAX_TOPICS, MessageProperties, Payload, Row, TopicMessage, TopicTree};
pub use view::Explorer;
