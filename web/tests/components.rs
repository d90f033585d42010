//! Components rendered in headless Chromium.

use leptos::prelude::*;
use roost_codec::ReasonCode;
use roost_web::components::ConnectionStatus;
use roost_web::mqtt::ConnectionState;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::HtmlElement;

wasm_bindgen_test_configure!(run_in_browser);

/// A fresh element in the page's body to mount into.
fn container() -> HtmlElement {
    let document = document();
    let element = document.create_element("div").unwrap().unchecked_into::<HtmlElement>();
    document.body().unwrap().append_child(&element).unwrap();
    element
}

#[wasm_bindgen_test]
async fn connection_status_follows_the_state() {
    let state = RwSignal::new(ConnectionState::Connecting);
    let parent = container();
    let _mounted = leptos::mount::mount_to(parent.clone(), move || {
        view! { <ConnectionStatus state=state broker="ws://pi.local/mqtt" /> }
    });
    let section = || parent.query_selector(".status").unwrap().expect("a .status element");
    let text = || parent.text_content().unwrap_or_default();

    assert_eq!(section().get_attribute("data-state").as_deref(), Some("connecting"));
    assert!(text().contains("Connecting"), "{}", text());
    assert!(text().contains("ws://pi.local/mqtt"), "{}", text());

    state.set(ConnectionState::Connected {
        reason_code: ReasonCode::Success,
        client_id: "roost-1".into(),
    });
    leptos::task::tick().await;
    assert_eq!(section().get_attribute("data-state").as_deref(), Some("connected"));
    assert!(text().contains("Connected") && text().contains("Success (0x00)") && text().contains("roost-1"));

    state.set(ConnectionState::Disconnected {
        why: "The broker disconnected: Server shutting down (0x8B).".into(),
    });
    leptos::task::tick().await;
    assert_eq!(section().get_attribute("data-state").as_deref(), Some("disconnected"));
    assert!(
        text().contains("Disconnected") && text().contains("Server shutting down"),
        "{}",
        text()
    );
}
