//! Binding the listeners, running them, and shutting down.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::auth::sessions::{self, Sessions};
use crate::auth::{Auth, AuthError};
use crate::broker::Broker;
use crate::config::Config;
use crate::history::History;
use crate::store::{State, Store, StoreError};
use crate::sys;
use crate::transport::http::AppState;
use crate::transport::limit::ConnectionLimits;
use crate::transport::tls::{Tls, TlsError};
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
    /// The TLS listeners, when configured, and their certificate.
    secure: Option<Secure>,
    /// The store and what it recovered; `None` keeps everything in memory.
    storage: Option<Storage>,
    /// The dashboard's login sessions: in the data directory's `sessions` file, or in memory without one.
    sessions: Arc<Sessions>,
}

/// The listeners that need TLS, bound, and the TLS state they share.
#[derive(Debug)]
struct Secure {
    tls: Arc<Tls>,
    mqtts: Option<(TcpListener, SocketAddr)>,
    https: Option<(TcpListener, SocketAddr)>,
}

/// Why the broker cannot start: a listener cannot be bound, the TLS files cannot be used, or the password or ACL
/// file cannot be read or understood.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A listener could not be bound.
    #[error(transparent)]
    Bind(#[from] BindError),
    /// The TLS certificate, key or client CA cannot be used.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The password or ACL file could not be read or understood.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The data directory cannot be used (it cannot be created or read, or another process uses it).
    #[error(transparent)]
    Storage(#[from] StoreError),
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

impl Server {
    /// Binds the listeners named in `config` (MQTT and HTTP, and MQTT over TLS and HTTPS when configured), after
    /// reading the password and ACL files and loading the TLS certificate, so a bad file stops the start with a message naming it.
    pub async fn bind(config: Config) -> Result<Server, StartError> {
        let secure = match &config.tls {
            Some(files) if config.mqtts_addr.is_some() || config.https_addr.is_some() => Some(Secure {
                tls: Tls::load(files)?,
                mqtts: None,
                https: None,
            }),
            _ => None,
        };
        let auth = Arc::new(Auth::load(&config.auth)?);
        let storage = match &config.storage.dir {
            Some(dir) => Some(open_storage(dir, &config)?),
            None => None,
        };
        // Opened after the store, which created the directory and holds its lock, so no other roost writes it.
        let sessions = Arc::new(match &config.storage.dir {
            Some(dir) => Sessions::open(dir.join(sessions::FILE_NAME), SystemTime::now()),
            None => Sessions::memory(),
        });
        let (mqtt, mqtt_addr) = bind("MQTT", config.mqtt_addr).await?;
        let (http, http_addr) = bind("HTTP", config.http_addr).await?;
        let secure = match secure {
            Some(mut secure) => {
                if let Some(addr) = config.mqtts_addr {
                    secure.mqtts = Some(bind("MQTT over TLS", addr).await?);
                }
                if let Some(addr) = config.https_addr {
                    secure.https = Some(bind("HTTPS", addr).await?);
                }
                Some(secure)
            }
            None => None,
        };
        Ok(Server {
            config,
            auth,
            mqtt,
            http,
            mqtt_addr,
            http_addr,
            secure,
            storage,
            sessions,
        })
    }

    /// The address MQTT over TLS is bound to, when `mqtts_addr` is configured (with the real port for port 0).
    pub fn mqtts_addr(&self) -> Option<SocketAddr> {
        self.secure.as_ref()?.mqtts.as_ref().map(|(_, addr)| *addr)
    }

    /// The address HTTPS (dashboard and MQTT over secure WebSocket) is bound to, when `https_addr` is configured.
    pub fn https_addr(&self) -> Option<SocketAddr> {
        self.secure.as_ref()?.https.as_ref().map(|(_, addr)| *addr)
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
            secure,
            storage,
            sessions,
        } = self;
        let drain_timeout = config.drain_timeout;
        // One per-address count for every MQTT transport: TCP, TLS and WebSocket.
        let mqtt_limits = ConnectionLimits::new(0, config.max_connections_per_address);
        let (store, recovered) = match storage {
            Some(Storage { store, state }) => (store, Some(state)),
            None => (Store::memory(), None),
        };
        let history = Arc::new(match &config.storage.dir {
            Some(dir) => History::open(config.history.clone(), dir),
            None => History::memory(config.history.clone()),
        });
        let broker = Broker::with_auth(
            config,
            auth,
            store.clone(),
            recovered,
            Arc::clone(&history),
            shutdown.clone(),
        );
        tokio::spawn(Arc::clone(&history).run(shutdown.clone()));
        broker.recheck_logins_on_reload();
        crate::bridge::start(&broker, &shutdown);
        // Fail-stop: once a write or fdatasync fails nothing more is acknowledged, and the broker stops, exiting
        // non-zero, rather than run on with promises it cannot keep.
        let failed = tokio::spawn({
            let (store, shutdown) = (store.clone(), shutdown.clone());
            async move {
                tokio::select! {
                    why = store.failed() => {
                        tracing::error!("{why}: stopping; nothing more is acknowledged");
                        shutdown.cancel();
                        Some(why)
                    }
                    () = shutdown.cancelled() => None,
                }
            }
        });
        tracing::info!("MQTT listening on {mqtt_addr}");
        tracing::info!("dashboard at http://{http_addr}/, MQTT over WebSocket at ws://{http_addr}/mqtt");
        let state = AppState {
            broker: Arc::clone(&broker),
            mqtt_limits: Arc::clone(&mqtt_limits),
            sessions,
            tls: secure.as_ref().map(|secure| Arc::clone(&secure.tls)),
        };
        let mut https = None;
        if let Some(Secure {
            tls,
            mqtts,
            https: https_listener,
        }) = secure
        {
            tokio::spawn(Arc::clone(&tls).watch(shutdown.clone()));
            if let Some((listener, addr)) = mqtts {
                tracing::info!("MQTT over TLS listening on {addr}");
                let serve = tcp::serve(
                    listener,
                    Arc::clone(&broker),
                    Arc::clone(&mqtt_limits),
                    Some(Arc::clone(&tls)),
                    shutdown.clone(),
                );
                tokio::spawn(serve);
            }
            if let Some((listener, addr)) = https_listener {
                tracing::info!("dashboard at https://{addr}/, MQTT over secure WebSocket at wss://{addr}/mqtt");
                let serve = http::serve(listener, state.clone(), Some(tls), shutdown.clone());
                https = Some(tokio::spawn(serve));
            }
        }

        let http = tokio::spawn(http::serve(http, state, None, shutdown.clone()));
        // `$SYS` publishing stops with the same token; it holds no connection, so the drain does not wait for it.
        tokio::spawn(sys::run(Arc::clone(&broker), shutdown.clone()));
        tcp::serve(mqtt, Arc::clone(&broker), mqtt_limits, None, shutdown.clone()).await;

        tracing::info!(open = broker.open_connections(), "shutting down: closing connections");
        let drained = async {
            broker.drained().await;
            if let Some(https) = https {
                match https.await {
                    Ok(Ok(())) => {}
                    failed => return failed,
                }
            }
            http.await
        };
        let served = match tokio::time::timeout(drain_timeout, drained).await {
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
        };
        if let Err(error) = history.save() {
            tracing::warn!(%error, "history: cannot save the last of it");
        }
        if let Ok(Some(why)) = failed.await {
            return Err(io::Error::other(format!("storage failed: {why}")));
        }
        // What was submitted is written and synced before the process ends.
        store
            .close()
            .map_err(|error| io::Error::other(format!("storage: {error}")))?;
        served
    }
}

/// The opened store and what it recovered.
#[derive(Debug)]
struct Storage {
    store: Store,
    state: State,
}

/// Opens the store in `dir` (which locks it: a second roost on it gets `StoreError::InUse`).
fn open_storage(dir: &std::path::Path, config: &Config) -> Result<Storage, StartError> {
    let (store, recovered) = Store::open(dir, config.storage.store_options())?;
    let stats = store.stats();
    tracing::info!(
        dir = %dir.display(),
        retained = recovered.state.retained.len(),
        sessions = recovered.state.sessions.len(),
        bytes = stats.live_bytes,
        "storage: opened"
    );
    Ok(Storage {
        store,
        state: recovered.state,
    })
}

async fn bind(service: &'static str, addr: SocketAddr) -> Result<(TcpListener, SocketAddr), BindError> {
    let error = |source| BindError { service, addr, source };
    let listener = TcpListener::bind(addr).await.map_err(error)?;
    let local = listener.local_addr().map_err(error)?;
    Ok((listener, local))
}
