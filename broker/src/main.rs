//! `roost`: the Roost MQTT broker's command line. Parses arguments, sets up logging and signals, and runs
//! [`roost_broker::Server`].

use std::io::IsTerminal as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
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
}

#[derive(Debug, Args)]
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
    /// file, or in the working directory] (storage is not yet wired in: see README).
    #[arg(long, value_name = "DIR", conflicts_with = "memory")]
    data: Option<PathBuf>,
    /// Keep everything in memory: nothing survives a restart (`[storage] dir = ""`).
    #[arg(long)]
    memory: bool,
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
    let config = args.config()?;
    let shutdown = CancellationToken::new();
    tokio::spawn(on_signal(shutdown.clone()).context("cannot listen for signals")?);
    let server = Server::bind(config).await?;
    server.run(shutdown).await.context("serving failed")
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
