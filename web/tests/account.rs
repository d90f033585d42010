//! Logging in, in headless Chromium: the broker's answers read, the screen chosen from them, and the login form,
//! which sends the password and keeps it nowhere (the test runner's server has no login API, so the login is
//! refused with its HTTP status, in words).

use leptos::prelude::*;
use roost_web::account::api::{self, refusal};
use roost_web::account::{LoginView, SessionInfo};
use roost_web::app::Screen;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::{Element, HtmlElement, HtmlInputElement};

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn session_answers_are_read() {
    let info = SessionInfo::from_json(r#"{"user":"alice","admin":true,"anonymous":false,"remember_days":30}"#).unwrap();
    assert_eq!(
        info,
        SessionInfo {
            user: Some("alice".into()),
            admin: true,
            anonymous: false,
            remember_days: 30,
        }
    );
    let nobody = SessionInfo::from_json(r#"{"user":null,"anonymous":true}"#).unwrap();
    assert_eq!((nobody.user, nobody.admin, nobody.anonymous), (None, false, true));
    assert!(SessionInfo::from_json("<html>").is_err());
    assert!(SessionInfo::from_json("[1]").is_err());
}

#[wasm_bindgen_test]
fn refusals_are_in_words() {
    assert_eq!(
        refusal(401, r#"{"error":"wrong user name or password"}"#),
        "Wrong user name or password."
    );
    assert_eq!(refusal(404, "not found\n"), "The broker answered HTTP 404.");
}

#[wasm_bindgen_test]
fn the_screen_follows_the_broker() {
    let closed = SessionInfo {
        remember_days: 30,
        ..SessionInfo::default()
    };
    let open = SessionInfo {
        anonymous: true,
        ..closed.clone()
    };
    let alice = SessionInfo {
        user: Some("alice".into()),
        ..closed.clone()
    };
    // Anonymous refused and nobody logged in: the form, without a way back.
    assert_eq!(
        Screen::choose(Ok(closed), false),
        Screen::Login {
            remember_days: 30,
            may_cancel: false
        }
    );
    // Anonymous welcome: the dashboard at once, the form only when asked for (with a way back).
    assert_eq!(
        Screen::choose(Ok(open.clone()), false),
        Screen::Dashboard(Some(open.clone()))
    );
    assert_eq!(
        Screen::choose(Ok(open), true),
        Screen::Login {
            remember_days: 30,
            may_cancel: true
        }
    );
    // Logged in: the dashboard, asked or not.
    assert_eq!(Screen::choose(Ok(alice.clone()), true), Screen::Dashboard(Some(alice)));
    // No login API where the page came from: the dashboard as configured.
    assert_eq!(Screen::choose(Err("404".into()), false), Screen::Dashboard(None));
    // No answer at all: offline (the page came from the service worker's cache).
    assert_eq!(Screen::choose(Err(api::UNREACHABLE.into()), false), Screen::Offline);
}

/// Resolves after `ms` milliseconds of the browser's clock.
async fn pause(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        web_sys::window()
            .unwrap()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
            .unwrap();
    });
    wasm_bindgen_futures::JsFuture::from(promise).await.unwrap();
}

#[wasm_bindgen_test]
async fn the_login_form_sends_the_password_and_keeps_it_nowhere() {
    let document = web_sys::window().unwrap().document().unwrap();
    let parent = document.create_element("div").unwrap().unchecked_into::<HtmlElement>();
    document.body().unwrap().append_child(&parent).unwrap();
    let _handle = leptos::mount::mount_to(parent.clone(), || {
        view! { <LoginView remember_days=30 may_cancel=false /> }
    });
    let one = |selector: &str| -> Element {
        parent
            .query_selector(selector)
            .unwrap()
            .unwrap_or_else(|| panic!("no {selector}"))
    };
    assert!(one(".login-form").text_content().unwrap().contains("for 30 days"));
    assert!(parent.query_selector(".login-cancel").unwrap().is_none());
    let user = one("input.login-user").unchecked_into::<HtmlInputElement>();
    user.set_value("alice");
    user.dispatch_event(&web_sys::Event::new("input").unwrap()).unwrap();
    let password = one("input.login-password").unchecked_into::<HtmlInputElement>();
    password.set_value("wonderland");
    one("button.login-submit").unchecked_into::<HtmlElement>().click();
    // Emptied as the form is sent, before any answer.
    assert_eq!(password.value(), "");
    // The answer (bounded wait): the runner's server has no /api/login.
    let mut said = String::new();
    for _ in 0..100 {
        leptos::task::tick().await;
        if let Some(error) = parent.query_selector(".login-outcome.error").unwrap() {
            said = error.text_content().unwrap_or_default();
            break;
        }
        pause(50).await;
    }
    assert!(said.starts_with("The broker answered HTTP 4"), "the form said {said:?}");
    assert_eq!(password.value(), "");
    assert_eq!(user.value(), "alice", "the user name stays for another try");
    let storage = web_sys::window().unwrap().local_storage().unwrap().unwrap();
    for i in 0..storage.length().unwrap() {
        let key = storage.key(i).unwrap().unwrap();
        let value = storage.get_item(&key).unwrap().unwrap_or_default();
        assert!(!value.contains("wonderland"), "{key} holds the password");
    }
}
