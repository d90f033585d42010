//! `roost`: the Roost MQTT broker's command line. Parses arguments, sets up logging and signals, and runs
//! [`roost_broker::Server`].

use std::io::IsTerminal as _;
use std::net::SocketAddr;
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
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address for MQTT over TCP; port 0 picks a free port.
    #[arg(long, value_name = "ADDR", default_value_t = Config::DEFAULT_MQTT_ADDR)]
    mqtt: SocketAddr,
    /// Address for HTTP: the dashboard at / and MQTT over WebSocket at /mqtt; port 0 picks a free port.
    #[arg(long, value_name = "ADDR", default_value_t = Config::DEFAULT_HTTP_ADDR)]
    http: SocketAddr,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let args = match cli.command.unwrap_or(Command::Serve(cli.serve)) {
        Command::Serve(args) => args,
        Command::Pub(args) => return roost_broker::cli::run_pub(args),
        Command::Sub(args) => return roost_broker::cli::run_sub(args),
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
    let config = Config {
        mqtt_addr: args.mqtt,
        http_addr: args.http,
        ..Config::default()
    };
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
