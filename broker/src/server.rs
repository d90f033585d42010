//! Binding the listeners, running them, and shutting down.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::auth::{Auth, AuthError};
use crate::broker::Broker;
use crate::config::Config;
use crate::sys;
use crate::transport::{http, tcp};

/// A broker whose listeners are bound but not yet accepting. Binding first lets callers learn the real ports (when
/// asked for port 0) and report a port in use before anything else starts.
#[derive(Debug)]
pub struct Server {
    config: Config,
    auth: Arc<Auth>,
    mqtt: TcpListener,
    http: TcpListener,
    mqtt_addr: SocketAddr,
    http_addr: SocketAddr,
}

/// A listener could not be bound; names the service and address so the message is useful on its own.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen for {service} on {addr}")]
pub struct BindError {
    /// `MQTT` or `HTTP`.
    pub service: &'static str,
    /// The address that was asked for.
    pub addr: SocketAddr,
    /// Why binding failed, typically "Address already in use".
    #[source]
    pub source: io::Error,
}

/// Why the broker cannot start: a listener, or the password or ACL file.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A listener could not be bound.
    #[error(transparent)]
    Bind(#[from] BindError),
    /// The password or ACL file could not be read or understood.
    #[error(transparent)]
    Auth(#[from] AuthError),
}

impl Server {
    /// Reads the password and ACL files and binds the MQTT and HTTP listeners named in `config`.
    pub async fn bind(config: Config) -> Result<Server, StartError> {
        let auth = Arc::new(Auth::load(&config.auth)?);
        let (mqtt, mqtt_addr) = bind("MQTT", config.mqtt_addr).await?;
        let (http, http_addr) = bind("HTTP", config.http_addr).await?;
        Ok(Server {
            config,
            auth,
            mqtt,
            http,
            mqtt_addr,
            http_addr,
        })
    }

    /// The address MQTT over TCP is bound to (with the real port when port 0 was asked for).
    pub fn mqtt_addr(&self) -> SocketAddr {
        self.mqtt_addr
    }

    /// The address HTTP (dashboard and MQTT over WebSocket) is bound to.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// The users and ACLs in force, for reloading them (SIGHUP) while the server runs.
    pub fn auth(&self) -> Arc<Auth> {
        Arc::clone(&self.auth)
    }

    /// Serves until `shutdown` is cancelled, then stops accepting, lets open connections close (MQTT 5 clients are
    /// told why) and returns once they have, or after [`Config::drain_timeout`].
    pub async fn run(self, shutdown: CancellationToken) -> io::Result<()> {
        let Server {
            config,
            auth,
            mqtt,
            http,
            mqtt_addr,
            http_addr,
        } = self;
        let drain_timeout = config.drain_timeout;
        let broker = Broker::with_auth(config, auth, shutdown.clone());
        tracing::info!("MQTT listening on {mqtt_addr}");
        tracing::info!("dashboard at http://{http_addr}/, MQTT over WebSocket at ws://{http_addr}/mqtt");

        let http = tokio::spawn(http::serve(http, Arc::clone(&broker), shutdown.clone()));
        // `$SYS` publishing stops with the same token; it holds no connection, so the drain does not wait for it.
        tokio::spawn(sys::run(Arc::clone(&broker), shutdown.clone()));
        tcp::serve(mqtt, Arc::clone(&broker), shutdown.clone()).await;

        tracing::info!(open = broker.open_connections(), "shutting down: closing connections");
        let drained = async {
            broker.drained().await;
            http.await
        };
        match tokio::time::timeout(drain_timeout, drained).await {
            Ok(Ok(result)) => result,
            Ok(Err(join_error)) => Err(io::Error::other(join_error)),
            Err(_elapsed) => {
                // Whatever is left is abandoned: the runtime drops those tasks when it stops.
                tracing::warn!(
                    open = broker.open_connections(),
                    "connections still open after {drain_timeout:?}"
                );
                Ok(())
            }
        }
    }
}

async fn bind(service: &'static str, addr: SocketAddr) -> Result<(TcpListener, SocketAddr), BindError> {
    let error = |source| BindError { service, addr, source };
    let listener = TcpListener::bind(addr).await.map_err(error)?;
    let local = listener.local_addr().map_err(error)?;
    Ok((listener, local))
}
