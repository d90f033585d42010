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
        Ok(config)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let Command::Serve(args) = cli.command.unwrap_or(Command::Serve(cli.serve));
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
    let server = Server::bind(config).await?;
    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));
    server.run(shutdown).await.context("serving failed")
}

/// Cancels `shutdown` on SIGINT (Ctrl-C) or SIGTERM (systemd, docker stop).
async fn cancel_on_signal(shutdown: CancellationToken) {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        #[cfg(unix)]
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
        #[cfg(not(unix))]
        std::future::pending::<()>().await;
    };
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("signal received, shutting down");
    shutdown.cancel();
}
