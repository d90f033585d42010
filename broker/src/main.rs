//! `roost`: the Roost MQTT broker's command line. Parses arguments, sets up logging and signals, and runs
//! [`roost_broker::Server`].

use std::io::IsTerminal as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use roost_broker::config::{Anonymous, data_dir};
use roost_broker::{Config, Server};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;

/// An MQTT broker with a browser dashboard.
#[derive(Debug, Parser)]
#[command(name = "roost", version, about, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// `roost` alone means `roost serve`, so its flags are accepted here too.
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the broker (the default).
    Serve(ServeArgs),
    /// Publish messages, like mosquitto_pub.
    Pub(roost_broker::cli::PubArgs),
    /// Subscribe and print messages, like mosquitto_sub.
    Sub(roost_broker::cli::SubArgs),
    /// Generate load and measure throughput, latency and connection rate.
    Bench(roost_broker::bench::BenchArgs),
    /// Create or change users of a password file, like mosquitto_passwd.
    Passwd(roost_broker::cli::PasswdArgs),
    /// Write a self-signed TLS certificate and key for this machine's names and addresses.
    Cert(roost_broker::cert::CertArgs),
}

#[derive(Debug, Clone, Args)]
struct ServeArgs {
    /// A TOML configuration file (see README.md); the flags below override it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address for MQTT over TCP [default: 0.0.0.0:1883]; port 0 picks a free port.
    #[arg(long, value_name = "ADDR")]
    mqtt: Option<SocketAddr>,
    /// Address for HTTP: the dashboard at / and MQTT over WebSocket at /mqtt [default: 0.0.0.0:8080]; port 0 picks
    /// a free port.
    #[arg(long, value_name = "ADDR")]
    http: Option<SocketAddr>,
    /// The data directory for retained messages and persistent sessions [default: `data` beside the config
    /// file, or in the working directory].
    #[arg(long, value_name = "DIR", conflicts_with = "memory")]
    data: Option<PathBuf>,
    /// Keep everything in memory: nothing survives a restart (`[storage] dir = ""`).
    #[arg(long)]
    memory: bool,
    /// Whether clients may connect without a user name: true, false or loopback (only from this machine)
    /// [default: false, or the file's `[auth] allow_anonymous`].
    #[arg(long, value_name = "WHO", value_parser = parse_anonymous)]
    allow_anonymous: Option<Anonymous>,
}

fn parse_anonymous(value: &str) -> Result<Anonymous, String> {
    match value {
        "true" => Ok(Anonymous::Allow),
        "false" => Ok(Anonymous::Deny),
        "loopback" => Ok(Anonymous::Loopback),
        other => Err(format!("{other:?} is not true, false or loopback")),
    }
}

impl ServeArgs {
    /// The configuration: defaults, then the file, then the flags.
    fn config(&self) -> anyhow::Result<Config> {
        let mut config = match &self.config {
            Some(path) => Config::from_file(path)?,
            None => Config::default(),
        };
        if let Some(addr) = self.mqtt {
            config.mqtt_addr = addr;
        }
        if let Some(addr) = self.http {
            config.http_addr = addr;
        }
        if let Some(dir) = &self.data {
            config.storage.dir = Some(dir.clone());
        }
        if self.memory {
            config.storage.dir = None;
        }
        if let Some(anonymous) = self.allow_anonymous {
            config.auth.allow_anonymous = anonymous;
        }
        Ok(config)
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version print and succeed; a usage error exits 1, as mosquitto_pub, mosquitto_sub and
        // mosquitto do (clap's own convention is 2), so scripts written for them read the same code.
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let args = match cli.command.unwrap_or(Command::Serve(cli.serve)) {
        Command::Serve(args) => args,
        Command::Pub(args) => return roost_broker::cli::run_pub(args),
        Command::Sub(args) => return roost_broker::cli::run_sub(args),
        Command::Bench(args) => return roost_broker::bench::run_bench(args),
        Command::Passwd(args) => return roost_broker::cli::run_passwd(args),
        Command::Cert(args) => return roost_broker::cert::run_cert(args),
    };
    // Logs go to stderr, coloured only for a person at a terminal (journald and files get plain text).
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            EnvFilter::builder()
                .with_default_directive(LevelFilter::INFO.into())
                .from_env_lossy(),
        )
        .init();
    match serve(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line, no backtrace: these are operator errors such as a port in use.
            eprintln!("roost: {error:#}");
            ExitCode::FAILURE
        }
    }
}

#[tokio::main]
async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let mut config = args.config()?;
    let data = data_dir(config.storage.dir.as_deref(), config.config_file.as_deref());
    let made = roost_broker::auth::first_start(&mut config.auth, &data)
        .with_context(|| format!("cannot create the password file in {}", data.display()))?;
    if let Some(made) = made {
        // At once: whatever fails later, the password of the file just made is not lost.
        show_first_start(&made);
    }
    let shutdown = CancellationToken::new();
    tokio::spawn(on_signal(shutdown.clone()).context("cannot listen for signals")?);
    // Registered before the listeners are bound, as the others, so a SIGHUP never kills a running broker.
    let hangup = Hangup::register().context("cannot listen for SIGHUP")?;
    let server = Server::bind(config).await?;
    // A reload reads `[auth]` from the file again, the flags still overriding it, and the password file
    // settled as at start (never made anew).
    server.auth().set_source(Box::new(move || {
        let mut config = args.config().map_err(|error| format!("{error:#}"))?;
        roost_broker::auth::default_password_file(&mut config.auth, &data);
        Ok(config.auth)
    }));
    tokio::spawn(hangup.reload_on_each(server.auth()));
    server.run(shutdown).await.context("serving failed")
}

/// Shows the administrator's password once, on standard output (the log goes to standard error), with how to
/// change it. It is not kept anywhere else.
fn show_first_start(made: &roost_broker::auth::FirstStart) {
    let file = made.path.display();
    let user = &made.user;
    println!(
        "\nRoost made the password file {file} with the user \"{user}\".\n\
         Its password, shown this once: {}\n\
         Change it with: roost passwd {file} {user}   (then send roost SIGHUP, or restart it)\n",
        made.password
    );
}

/// SIGHUP: read `[auth]` of the configuration file and the password and ACL files again, as Mosquitto does.
#[cfg(unix)]
struct Hangup(tokio::signal::unix::Signal);

#[cfg(unix)]
impl Hangup {
    fn register() -> std::io::Result<Self> {
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).map(Hangup)
    }

    /// Reloads on each SIGHUP; connections stay up, and each one's next check uses the new rules. A broken file
    /// is logged and the rules in force are kept.
    async fn reload_on_each(mut self, auth: std::sync::Arc<roost_broker::auth::Auth>) {
        while self.0.recv().await.is_some() {
            match auth.reload() {
                Ok(()) => tracing::info!("SIGHUP: [auth], password and ACL files reloaded"),
                Err(error) => {
                    tracing::error!(%error, "SIGHUP: reload failed; the previous users and ACL stay in force");
                }
            }
        }
    }
}

/// Elsewhere there is no SIGHUP: the files are read at start only.
#[cfg(not(unix))]
struct Hangup;

#[cfg(not(unix))]
impl Hangup {
    fn register() -> std::io::Result<Self> {
        Ok(Hangup)
    }

    async fn reload_on_each(self, _auth: std::sync::Arc<roost_broker::auth::Auth>) {}
}

/// Registers SIGINT (Ctrl-C) and SIGTERM (systemd, docker stop) handlers now, before the listeners are bound, so
/// a signal that arrives at any point after start-up shuts down gracefully instead of killing the process; returns
/// a future that cancels `shutdown` on the first of them.
#[cfg(unix)]
fn on_signal(shutdown: CancellationToken) -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        tracing::info!("signal received, shutting down");
        shutdown.cancel();
    })
}

/// Elsewhere only Ctrl-C is known; it registers when first polled.
#[cfg(not(unix))]
fn on_signal(shutdown: CancellationToken) -> std::io::Result<impl std::future::Future<Output = ()>> {
    Ok(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            tracing::info!("signal received, shutting down");
            shutdown.cancel();
        }
    })
}
