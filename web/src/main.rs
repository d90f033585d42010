//! The dashboard's entry point: Trunk builds this binary into `dist/`.

fn main() {
    console_error_panic_hook::set_once();
    roost_web::app::start();
}
