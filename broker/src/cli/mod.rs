//! `roost pub` and `roost sub`: command-line MQTT clients with the flags, output and exit codes of mosquitto_pub
//! and mosquitto_sub 2.0, built on the sans-IO [`roost_codec::client::Client`] and driven by tokio.
//!
//! One job per file:
//! - [`args`]: the command lines (clap).
//! - `options`: what the shared flags mean together: version, client identifier, will, `-D` properties, `-L`.
//! - `transport`: TCP or WebSocket, plain or over TLS; the only file here that knows sockets.
//! - `tls`: the TLS flags (`--cafile`, `--capath`, `--cert`, `--key`, `--insecure`) as a rustls configuration.
//! - `driver`: the [`Session`](driver) loop feeding bytes and time to the client and writing what it queues.
//! - `publish` and `subscribe`: the two tools.
//! - `output`: how `roost sub` prints a message (`-v`, `-F`, `-N`).
//! - `debug`: `-d`, one line per packet.
//! - [`error`]: what ends a tool, its wording and exit code.
//! - `passwd`: `roost passwd`, mosquitto_passwd's password file editor.

/// Writes a line to stderr, ignoring failure: unlike `eprintln!`, a closed stderr must not make a tool panic.
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

pub mod args;
mod debug;
pub(crate) mod driver;
pub mod error;
pub(crate) mod options;
mod output;
mod passwd;
mod publish;
mod subscribe;
mod tls;
pub(crate) mod transport;

use std::future::Future;
use std::process::ExitCode;

pub use args::{ConnectArgs, PubArgs, SubArgs};
pub use error::CliError;
pub use passwd::{PasswdArgs, run_passwd};

/// Runs `roost pub` to completion and returns its exit code.
pub fn run_pub(args: PubArgs) -> ExitCode {
    let quiet = args.connect.quiet;
    finish("pub", quiet, block_on(publish::run(args)))
}

/// Runs `roost sub` to completion and returns its exit code.
pub fn run_sub(args: SubArgs) -> ExitCode {
    let quiet = args.connect.quiet;
    finish("sub", quiet, block_on(subscribe::run(args)))
}

/// Runs `future` on a single-threaded runtime: one connection needs no more.
fn block_on<F: Future<Output = Result<(), CliError>>>(future: F) -> Result<(), CliError> {
    match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime.block_on(future),
        Err(source) => Err(CliError::Io {
            what: "Unable to start the runtime".into(),
            source,
        }),
    }
}

/// Prints the error (usage errors even with `--quiet`, as mosquitto) and turns the result into an exit code.
fn finish(tool: &str, quiet: bool, result: Result<(), CliError>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if e.is_usage() {
                note!("{e}\n\nUse 'roost {tool} --help' to see usage.");
            } else if !quiet {
                note!("{e}");
            }
            ExitCode::from(e.exit_code())
        }
    }
}
