//! The connection form: broker URL, client id, credentials, MQTT version, keep alive, clean start and session
//! expiry, a will, and the explorer's subscription; named profiles and the settings in use kept in localStorage.
//!
//! - [`profiles`]: profiles and the active settings as JSON, pure.
//! - [`form`]: the [`ConnectionForm`] component, and [`SubscriptionProblems`] (refused subscriptions in words).

pub mod form;
pub mod profiles;

pub use form::{ConnectionForm, SubscriptionProblems};
