//! The connection settings in headless Chromium: checking them into the codec's options, their JSON (no
//! password), profiles, and the connection form (Connect, refusals in words, profiles in localStorage), and the
//! refused-subscription alert.

use std::sync::{Arc, Mutex};

use leptos::prelude::*;
use roost_codec::{ProtocolVersion, QoS};
use roost_web::connection::profiles::{
    MAX_PROFILES, profiles_from_json, profiles_to_json, settings_from_json, with_profile,
};
use roost_web::connection::{ConnectionForm, SubscriptionProblems};
use roost_web::mqtt::{ConnectionSettings, MqttVersion, generated_client_id};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::{Element, HtmlElement, HtmlInputElement, HtmlSelectElement};

wasm_bindgen_test_configure!(run_in_browser);

fn settings() -> ConnectionSettings {
    ConnectionSettings::new("ws://pi.local:8080/mqtt", "roost-dashboard-0000002a")
}

#[wasm_bindgen_test]
fn default_settings_are_mqtt5_clean_with_keep_alive_and_everything() {
    let (options, filter) = settings().check().unwrap();
    assert_eq!(options.version, ProtocolVersion::V5);
    assert_eq!(options.client_id.as_ref() as &str, "roost-dashboard-0000002a");
    assert_eq!((options.keep_alive, options.clean_start), (60, true));
    assert_eq!(options.session_expiry_interval, None);
    assert!(options.will.is_none() && options.username.is_none() && options.password.is_none());
    assert_eq!(options.maximum_packet_size.map(|size| size.get()), Some(1024 * 1024));
    assert_eq!(filter.as_str(), "#");
}

#[wasm_bindgen_test]
fn every_setting_reaches_the_client_options() {
    let chosen = ConnectionSettings {
        username: "ann".into(),
        password: "secret".into(),
        keep_alive: 15,
        clean_start: false,
        session_expiry: 3600,
        will_topic: "dash/status".into(),
        will_payload: "gone".into(),
        will_qos: 1,
        will_retain: true,
        filter: "house/#".into(),
        ..settings()
    };
    let (options, filter) = chosen.check().unwrap();
    assert_eq!(options.username.as_deref(), Some("ann"));
    assert_eq!(options.password.as_deref(), Some(&b"secret"[..]));
    assert_eq!((options.keep_alive, options.clean_start), (15, false));
    assert_eq!(options.session_expiry_interval, Some(3600));
    let will = options.will.expect("a will");
    assert_eq!(
        (will.topic.as_str(), &will.payload[..], will.qos, will.retain),
        ("dash/status", &b"gone"[..], QoS::AtLeastOnce, true)
    );
    assert_eq!(filter.as_str(), "house/#");
    // MQTT 3.1.1 has no session expiry property.
    let v311 = ConnectionSettings {
        version: MqttVersion::V311,
        ..chosen
    };
    let (options, _) = v311.check().unwrap();
    assert_eq!(
        (options.version, options.session_expiry_interval),
        (ProtocolVersion::V311, None)
    );
}

#[wasm_bindgen_test]
fn wrong_settings_are_refused_in_words() {
    let refused = |change: fn(&mut ConnectionSettings)| {
        let mut wrong = settings();
        change(&mut wrong);
        wrong.check().unwrap_err()
    };
    assert!(refused(|s| s.url = "http://pi.local/mqtt".into()).starts_with("The broker URL must start with ws://"));
    assert!(refused(|s| s.filter = "a/#/b".into()).starts_with("The subscription \"a/#/b\" is not a topic filter"));
    assert!(refused(|s| s.will_topic = "a/+".into()).starts_with("The will topic is not a topic name"));
    assert!(
        refused(|s| {
            s.will_topic = "w".into();
            s.will_qos = 3;
        })
        .starts_with("QoS 3 does not exist")
    );
    assert_eq!(
        refused(|s| {
            s.version = MqttVersion::V311;
            s.client_id.clear();
            s.clean_start = false;
        }),
        "MQTT 3.1.1 needs a client id to keep a session: enter one or tick Clean start."
    );
    assert_eq!(
        refused(|s| {
            s.version = MqttVersion::V311;
            s.password = "x".into();
        }),
        "MQTT 3.1.1 sends a password only with a user name."
    );
    let mut empty_id = settings();
    empty_id.client_id.clear();
    assert!(empty_id.check().is_ok(), "MQTT 5: the broker assigns one");
}

#[wasm_bindgen_test]
fn settings_round_trip_through_json_without_the_password() {
    let chosen = ConnectionSettings {
        password: "secret".into(),
        version: MqttVersion::V311,
        keep_alive: 5,
        will_topic: "w".into(),
        will_qos: 2,
        ..settings()
    };
    let json = chosen.to_json().to_string();
    assert!(!json.contains("secret"), "{json}");
    let back = settings_from_json(&json, &settings()).unwrap();
    assert_eq!(
        back,
        ConnectionSettings {
            password: String::new(),
            ..chosen
        }
    );
    // Missing or mistyped fields keep the defaults.
    let odd = settings_from_json(
        r#"{"keep_alive":70000,"will_qos":9,"clean_start":"no","url":"ws://x/mqtt"}"#,
        &settings(),
    )
    .unwrap();
    assert_eq!(
        odd,
        ConnectionSettings {
            url: "ws://x/mqtt".into(),
            ..settings()
        }
    );
    assert_eq!(settings_from_json("[1]", &settings()), None);
    assert_eq!(settings_from_json("{", &settings()), None);
}

#[wasm_bindgen_test]
fn profiles_are_named_sorted_and_bounded() {
    let profiles = with_profile(Vec::new(), "pi", settings()).unwrap();
    let other = ConnectionSettings {
        url: "ws://other/mqtt".into(),
        ..settings()
    };
    let profiles = with_profile(profiles, "attic", other.clone()).unwrap();
    assert_eq!(
        profiles.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>(),
        ["attic", "pi"]
    );
    let back = profiles_from_json(&profiles_to_json(&profiles), &settings()).unwrap();
    assert_eq!(back, profiles);
    let replaced = with_profile(profiles, "pi", other.clone()).unwrap();
    assert_eq!(replaced.len(), 2);
    assert_eq!(replaced[1].1, other);
    let mut many = Vec::new();
    for i in 0..MAX_PROFILES {
        many = with_profile(many, &format!("p{i:02}"), settings()).unwrap();
    }
    assert!(
        with_profile(many.clone(), "one more", settings())
            .unwrap_err()
            .starts_with("At most 20 profiles")
    );
    assert!(with_profile(many, "p00", other).is_ok(), "replacing is fine when full");
    assert!(profiles_from_json("[]", &settings()).is_err());
}

#[wasm_bindgen_test]
fn generated_client_ids_are_distinct_and_valid_everywhere() {
    let a = generated_client_id(0.25);
    assert_eq!(a, "roost-dashboard-3fffffff");
    assert_ne!(a, generated_client_id(0.5));
    assert!(a.len() <= 23 || a.len() == 24, "short");
    assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
}

/// A `ConnectionForm` whose Connect records the settings (or refuses with `refuse`).
struct Mounted {
    parent: HtmlElement,
    applied: Arc<Mutex<Vec<ConnectionSettings>>>,
    _handle: leptos::mount::UnmountHandle<leptos::tachys::view::any_view::AnyViewState>,
}

impl Mounted {
    fn new(prefix: &'static str, refuse: Option<&'static str>) -> Self {
        let document = document();
        let parent = document.create_element("div").unwrap().unchecked_into::<HtmlElement>();
        document.body().unwrap().append_child(&parent).unwrap();
        let applied = Arc::new(Mutex::new(Vec::new()));
        let record = applied.clone();
        let handle = leptos::mount::mount_to(parent.clone(), move || {
            let on_apply = Callback::new(move |settings: ConnectionSettings| match refuse {
                Some(why) => Err(why.to_owned()),
                None => {
                    record.lock().unwrap().push(settings);
                    Ok(())
                }
            });
            view! { <ConnectionForm initial=settings() on_apply=on_apply storage_prefix=prefix /> }.into_any()
        });
        Self {
            parent,
            applied,
            _handle: handle,
        }
    }

    fn one(&self, selector: &str) -> Element {
        self.parent
            .query_selector(selector)
            .unwrap()
            .unwrap_or_else(|| panic!("no {selector}"))
    }

    fn text(&self, selector: &str) -> String {
        self.one(selector).text_content().unwrap_or_default()
    }

    fn fill(&self, selector: &str, value: &str) {
        let element = self.one(selector);
        if let Some(input) = element.dyn_ref::<HtmlInputElement>() {
            input.set_value(value);
            element.dispatch_event(&web_sys::Event::new("input").unwrap()).unwrap();
        } else {
            element.unchecked_ref::<HtmlSelectElement>().set_value(value);
            element.dispatch_event(&web_sys::Event::new("change").unwrap()).unwrap();
        }
    }

    fn value(&self, selector: &str) -> String {
        self.one(selector).unchecked_into::<HtmlInputElement>().value()
    }

    fn click(&self, selector: &str) {
        self.one(selector).unchecked_into::<HtmlElement>().click();
    }

    fn applied(&self) -> Vec<ConnectionSettings> {
        std::mem::take(&mut *self.applied.lock().unwrap())
    }
}

fn clear(prefix: &str) {
    let storage = window().local_storage().unwrap().unwrap();
    for key in ["roost.profiles", "roost.connection"] {
        storage.remove_item(&format!("{prefix}{key}")).unwrap();
    }
}

#[wasm_bindgen_test]
async fn connect_applies_what_was_typed_and_keeps_it() {
    let prefix = "test.connect.";
    clear(prefix);
    let shown = Mounted::new(prefix, None);
    // Reactive properties (the inputs' values) are set on the next tick.
    leptos::task::tick().await;
    assert_eq!(shown.value(".connect-url"), "ws://pi.local:8080/mqtt");
    assert_eq!(shown.value(".connect-client-id"), "roost-dashboard-0000002a");
    shown.fill(".connect-client-id", "tablet");
    shown.fill(".connect-username", "ann");
    shown.fill(".connect-password", "secret");
    shown.fill(".connect-version", "3.1.1");
    shown.fill(".connect-keep-alive", "20");
    shown.click(".connect-clean-start");
    shown.fill(".connect-filter", "house/#");
    shown.fill(".connect-will-topic", "dash/status");
    shown.fill(".connect-will-payload", "gone");
    shown.click(".connect-apply");
    leptos::task::tick().await;
    assert_eq!(
        shown.text(".connect-outcome"),
        "Connecting to ws://pi.local:8080/mqtt as tablet."
    );
    let applied = shown.applied();
    assert_eq!(
        applied,
        [ConnectionSettings {
            client_id: "tablet".into(),
            username: "ann".into(),
            password: "secret".into(),
            version: MqttVersion::V311,
            keep_alive: 20,
            clean_start: false,
            filter: "house/#".into(),
            will_topic: "dash/status".into(),
            will_payload: "gone".into(),
            ..settings()
        }]
    );
    // Kept for the next visit, without the password.
    let kept = window()
        .local_storage()
        .unwrap()
        .unwrap()
        .get_item("test.connect.roost.connection")
        .unwrap()
        .unwrap();
    assert!(kept.contains("\"tablet\"") && !kept.contains("secret"), "{kept}");
    // A new id is generated on request.
    shown.click(".connect-new-id");
    leptos::task::tick().await;
    let id = shown.value(".connect-client-id");
    assert!(id.starts_with("roost-dashboard-") && id.len() == 24, "{id}");
}

#[wasm_bindgen_test]
async fn wrong_settings_and_refusals_are_said_in_words_and_not_applied() {
    let prefix = "test.connect.wrong.";
    clear(prefix);
    let shown = Mounted::new(prefix, None);
    // Reactive properties (the inputs' values) are set on the next tick.
    leptos::task::tick().await;
    shown.fill(".connect-keep-alive", "soon");
    shown.click(".connect-apply");
    leptos::task::tick().await;
    assert_eq!(
        shown.text(".connect-outcome"),
        "Keep alive must be a whole number of seconds from 0 to 65535."
    );
    assert_eq!(
        shown.one(".connect-outcome").get_attribute("role").as_deref(),
        Some("alert")
    );
    shown.fill(".connect-keep-alive", "60");
    shown.fill(".connect-filter", "a/#/b");
    shown.click(".connect-apply");
    leptos::task::tick().await;
    assert!(
        shown
            .text(".connect-outcome")
            .starts_with("The subscription \"a/#/b\" is not a topic filter")
    );
    assert!(shown.applied().is_empty());

    let refusing = Mounted::new(prefix, Some("The dashboard has closed its connection."));
    leptos::task::tick().await;
    refusing.click(".connect-apply");
    leptos::task::tick().await;
    assert_eq!(
        refusing.text(".connect-outcome"),
        "The dashboard has closed its connection."
    );
}

#[wasm_bindgen_test]
async fn profiles_are_saved_loaded_and_deleted() {
    let prefix = "test.connect.profiles.";
    clear(prefix);
    let shown = Mounted::new(prefix, None);
    // Reactive properties (the inputs' values) are set on the next tick.
    leptos::task::tick().await;
    shown.click(".connect-save-profile");
    leptos::task::tick().await;
    assert_eq!(shown.text(".profile-outcome"), "Enter a name for the profile.");
    shown.fill(".connect-url", "ws://attic.local/mqtt");
    shown.fill(".connect-password", "secret");
    shown.fill(".connect-profile-name", "attic");
    shown.click(".connect-save-profile");
    leptos::task::tick().await;
    assert_eq!(
        shown.text(".profile-outcome"),
        "Profile \"attic\" saved (without its password)."
    );

    // Another page finds it; choosing it fills the form.
    let again = Mounted::new(prefix, None);
    leptos::task::tick().await;
    assert_eq!(again.value(".connect-url"), "ws://pi.local:8080/mqtt");
    again.fill(".connect-profile", "attic");
    leptos::task::tick().await;
    assert_eq!(again.value(".connect-url"), "ws://attic.local/mqtt");
    assert_eq!(again.value(".connect-password"), "", "passwords are not saved");
    assert_eq!(again.value(".connect-profile-name"), "attic");
    again.click(".connect-delete-profile");
    leptos::task::tick().await;
    assert_eq!(again.text(".profile-outcome"), "Profile \"attic\" deleted.");
    again.click(".connect-delete-profile");
    leptos::task::tick().await;
    assert_eq!(again.text(".profile-outcome"), "There is no profile named \"attic\".");
}

#[wasm_bindgen_test]
async fn refused_subscriptions_are_alerts() {
    let problems = RwSignal::new(Vec::<String>::new());
    let document = document();
    let parent = document.create_element("div").unwrap().unchecked_into::<HtmlElement>();
    document.body().unwrap().append_child(&parent).unwrap();
    let _handle = leptos::mount::mount_to(parent.clone(), move || {
        view! { <SubscriptionProblems problems=problems /> }.into_any()
    });
    leptos::task::tick().await;
    assert!(parent.query_selector(".subscription-problems").unwrap().is_none());
    problems.set(vec![
        "The broker refused the subscription to #: Not authorized (0x87).".into(),
    ]);
    leptos::task::tick().await;
    let shown = parent
        .query_selector(".subscription-problems")
        .unwrap()
        .expect("an alert");
    assert_eq!(shown.get_attribute("role").as_deref(), Some("alert"));
    assert_eq!(
        shown.text_content().unwrap(),
        "The broker refused the subscription to #: Not authorized (0x87)."
    );
}
