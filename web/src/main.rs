//! The dashboard's entry point: Trunk builds this binary into `dist/`.

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(roost_web::App);
}
