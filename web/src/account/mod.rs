//! Logging in to the broker that serves the dashboard (issue 12): the page asks `/api/session` who it is; without
//! a session, where the broker does not take anonymous clients from this address, it shows [`LoginView`] instead
//! of the dashboard. A login leaves an `HttpOnly` cookie the page cannot read and the broker accepts on `/mqtt`
//! from this origin, so the MQTT connection carries no credentials. The password exists only in the password
//! input until the form is sent, which empties it; nothing stores it.
//!
//! - [`api`]: the broker's login API over `fetch`, and [`SessionInfo`] (pure: parsed from JSON).
//! - [`view`]: [`LoginView`] and [`AccountBar`] (who is logged in, log out, and the administrators' reload).

pub mod api;
pub mod view;

pub use api::SessionInfo;
pub use view::{AccountBar, LoginView};
