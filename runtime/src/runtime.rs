//! Start-up and ordered shutdown of one edge box.
//!
//! Start: store, ID vault, plugins, broker (embedded and attached in process unless
//! `mqtt.url`, else an MQTT client of that broker), publishers, device dispatcher, HTTP.
//!
//! Stop, front to back: stop accepting HTTP and device messages; let requests and
//! deliveries in flight finish (they commit and answer); flush whitelist deltas and
//! alerts; disconnect from the broker; stop the embedded broker. A delivery that was not
//! taken before the stop is not acknowledged, so the broker delivers it again later.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::Auth;
use crate::http::{self, Api};
use crate::metrics::Metrics;
use crate::pipeline::Devices;
use crate::{alerts, closing, intake, whitelist};
use venue_bus::Bus;
use venue_bus::broker::EmbeddedBroker;
use venue_domain::config::Config;
use venue_domain::realname::IdVault;
use venue_domain::venue::{SharedVenue, Venue};
use venue_plugin_host::PluginHost;
use venue_store::Store;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("HTTPS: {0}")]
    Tls(String),
    #[error("the MQTT login: {0}")]
    MqttLogin(String),
    #[error("MQTT over TLS: {0}")]
    MqttTls(String),
    #[error(transparent)]
    Store(#[from] venue_store::StoreError),
    #[error(transparent)]
    Vault(#[from] venue_domain::realname::VaultError),
    #[error(transparent)]
    Plugin(#[from] venue_plugin_host::PluginError),
    #[error(transparent)]
    Broker(#[from] venue_bus::broker::BrokerError),
    #[error(transparent)]
    Bus(#[from] venue_bus::BusError),
    #[error("cannot listen for HTTP on {addr}: {source}")]
    Http {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot create the data folder {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A running edge box.
pub struct Running {
    pub http_addr: SocketAddr,
    /// The API is served over HTTPS.
    pub https: bool,
    /// Where devices connect: the embedded broker, or the external one.
    pub mqtt_addr: String,
    /// Where devices connect over TLS to the embedded broker (`[mqtt] tls_listen`).
    pub mqtt_tls_addr: Option<SocketAddr>,
    pub venue: SharedVenue,
    pub store: Store,
    pub plugins: Arc<PluginHost>,
    front: CancellationToken,
    back: CancellationToken,
    front_tasks: TaskTracker,
    back_tasks: TaskTracker,
    broker: Option<EmbeddedBroker>,
    tls_front: Option<venue_bus::tls_front::TlsFront>,
}

/// How long start-up waits for the broker before serving anyway.
const BROKER_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// The SQLite file inside the data folder.
pub const STORE_FILE: &str = "venue-edge.sqlite3";
/// The secret key file inside the data folder.
pub use venue_domain::realname::SECRET_FILE;

/// The runtime's user name and password at an external broker, when the config gives a
/// user name: the password from `VENUE_EDGE_MQTT_PASSWORD` or `password_file`.
fn broker_login(
    mqtt: &venue_domain::config::MqttConfig,
) -> Result<Option<(String, String)>, StartError> {
    let Some(user) = &mqtt.username else {
        return Ok(None);
    };
    if let Ok(password) = std::env::var("VENUE_EDGE_MQTT_PASSWORD") {
        return Ok(Some((user.clone(), password)));
    }
    let Some(path) = &mqtt.password_file else {
        return Err(StartError::MqttLogin(format!(
            "[mqtt] username {user} needs password_file or VENUE_EDGE_MQTT_PASSWORD"
        )));
    };
    let password = std::fs::read_to_string(path)
        .map_err(|e| StartError::MqttLogin(format!("{}: {e}", path.display())))?;
    Ok(Some((user.clone(), password.trim().to_owned())))
}

pub async fn start(config: Config) -> Result<Running, StartError> {
    let started = Instant::now();
    let data_dir = config.edge.data_dir.clone();
    std::fs::create_dir_all(&data_dir).map_err(|source| StartError::DataDir {
        path: data_dir.clone(),
        source,
    })?;
    let store = Store::open(&data_dir.join(STORE_FILE))?;
    let vault = IdVault::for_box(&config.edge)?;
    let plugin_dir = config.plugin_dir();
    let http_listen = config.edge.http;
    let mqtt = config.mqtt.clone();
    let venue = Venue::new(config, vault);
    let metrics = Arc::new(Metrics::new());

    let (alert_tx, alert_rx) = alerts::channel();
    let recent_alerts = Arc::new(alerts::Recent::default());
    let plugins = Arc::new(PluginHost::new(
        &data_dir.join("cache"),
        Some(store.clone()),
        venue.clock,
        alert_tx.clone(),
    )?);
    plugins.set_trust(venue_plugin_host::Trust {
        require_signatures: venue.config.plugins.require_signatures,
        keys: venue.config.plugins.trusted_keys.clone(),
    });
    // Compiling plugins is CPU work (and the first load of a key-value space a store
    // read): off the async threads.
    let failed = {
        let (plugins, dir) = (plugins.clone(), plugin_dir.clone());
        tokio::task::spawn_blocking(move || plugins.load_dir(&dir))
            .await
            .unwrap_or_default()
    };
    for (path, e) in failed {
        tracing::error!(manifest = %path.display(), error = %e, "plugin not loaded; its devices are dead-lettered until it is fixed");
    }

    let broker = match &mqtt.url {
        Some(_) => None,
        None => {
            let access = mqtt.device_logins.then(|| -> Result<_, StartError> {
                let directory = crate::device_logins::StoreDirectory::new(
                    venue_store::open_reader(store.path())
                        .map_err(venue_store::StoreError::from)?,
                    alert_tx.clone(),
                    venue.clock,
                );
                Ok(venue_bus::broker::DeviceAccess {
                    zone: venue.zone().to_owned(),
                    directory: Arc::new(directory),
                })
            });
            Some(EmbeddedBroker::start(mqtt.listen, access.transpose()?).await?)
        }
    };
    let (host, port, mqtt_tls) = match (&mqtt.url, &broker) {
        (Some(url), _) => {
            let url = venue_bus::parse_url(url)?;
            let tls = match url.tls {
                true => Some(Arc::new(
                    venue_domain::https::client_config(mqtt.ca_file.as_deref(), "mqtt.ca_file")
                        .map_err(StartError::MqttTls)?,
                )),
                false => None,
            };
            (url.host, url.port, tls)
        }
        (None, Some(b)) => (b.local_addr().ip().to_string(), b.local_addr().port(), None),
        (None, None) => unreachable!("an embedded broker is started when no url is given"),
    };
    let mqtt_addr = format!("{host}:{port}");
    // MQTT over TLS in front of the embedded broker.
    let tls_front = match (&broker, mqtt.tls_listen, &mqtt.tls_cert, &mqtt.tls_key) {
        (Some(b), Some(listen), Some(cert), Some(key)) => {
            let acceptor = crate::tls::acceptor(cert, key).map_err(StartError::MqttTls)?;
            let front = venue_bus::tls_front::TlsFront::start(listen, acceptor, b.local_addr())
                .await
                .map_err(|e| StartError::MqttTls(format!("mqtt.tls_listen {listen}: {e}")))?;
            Some(front)
        }
        _ => None,
    };

    let front = CancellationToken::new();
    let back = CancellationToken::new();
    let front_tasks = TaskTracker::new();
    let back_tasks = TaskTracker::new();
    let (bus, inbox) = match &broker {
        Some(embedded) => Bus::attach(embedded, venue.zone()).await,
        None => {
            let client_id = format!("{}-{}", mqtt.client_id, venue.zone());
            let login = broker_login(&mqtt)?;
            let (bus, inbox) = Bus::connect(
                &host,
                port,
                &client_id,
                login,
                mqtt_tls,
                venue.zone(),
                back.clone(),
            );
            if !bus.wait_connected(BROKER_WAIT).await {
                // Serve HTTP anyway: tickets can be sold while the broker is down, and the
                // client keeps reconnecting. /healthz says "degraded" meanwhile.
                tracing::warn!(broker = %mqtt_addr, "the MQTT broker is not reachable yet; continuing and retrying");
            }
            (bus, inbox)
        }
    };

    {
        // Audit rows from before the chain existed join it, in order, once.
        let chained = store
            .write(|c| -> Result<usize, venue_store::StoreError> {
                Ok(venue_domain::audit::chain_unchained(c)?)
            })
            .await?;
        if chained > 0 {
            tracing::info!(chained, "audit rows from before the hash chain chained");
        }
    }
    {
        let (contracts, now) = (venue.config.contracts.clone(), venue.clock.now_rfc3339());
        let added = store
            .write(move |c| -> Result<usize, venue_store::StoreError> {
                Ok(venue_domain::settlement::contracts::seed(
                    c, &contracts, &now,
                )?)
            })
            .await?;
        if added > 0 {
            tracing::info!(added, "contracts from the config stored");
        }
    }
    // Credentials are read from the store on every request, through a connection of
    // their own: a token revoked or a user disabled by the command line stops at once.
    let auth = Arc::new(Auth::new(
        venue_store::open_reader(store.path()).map_err(venue_store::StoreError::from)?,
    ));

    let (wl_tx, wl_rx) = whitelist::channel();
    back_tasks.spawn(alerts::run(
        bus.clone(),
        alert_rx,
        recent_alerts.clone(),
        back.clone(),
    ));
    back_tasks.spawn(closing::run(
        store.clone(),
        venue.clone(),
        alert_tx.clone(),
        back.clone(),
    ));
    back_tasks.spawn(
        whitelist::Publisher {
            venue: venue.clone(),
            bus: bus.clone(),
            plugins: plugins.clone(),
            store: store.clone(),
        }
        .run(wl_rx, back.clone()),
    );

    let devices = Arc::new(Devices {
        venue: venue.clone(),
        store: store.clone(),
        bus: bus.clone(),
        plugins: plugins.clone(),
        alerts: alert_tx.clone(),
        whitelist: wl_tx.clone(),
        metrics: metrics.clone(),
    });
    {
        let front = front.clone();
        let handlers = front_tasks.clone();
        front_tasks.spawn(async move {
            tokio::select! {
                _ = intake::dispatch(devices, inbox, handlers) => {}
                _ = front.cancelled() => {}
            }
        });
    }

    let uplink_state = Arc::new(crate::uplink::UplinkState::default());
    if let Some(config) = venue.config.uplink.clone() {
        back_tasks.spawn(
            crate::uplink::Uplink {
                config,
                edge_id: venue.config.edge.id.clone(),
                store: store.clone(),
                db_path: data_dir.join(STORE_FILE),
                state: uplink_state.clone(),
                metrics: metrics.clone(),
                alerts: alert_tx.clone(),
                clock: venue.clock,
            }
            .run(back.clone()),
        );
    }

    let listener = TcpListener::bind(http_listen)
        .await
        .map_err(|source| StartError::Http {
            addr: http_listen,
            source,
        })?;
    let http_addr = listener.local_addr().map_err(|source| StartError::Http {
        addr: http_listen,
        source,
    })?;
    let tls = match (&venue.config.edge.tls_cert, &venue.config.edge.tls_key) {
        (Some(cert), Some(key)) => Some(crate::tls::acceptor(cert, key).map_err(StartError::Tls)?),
        _ => None,
    };
    let api = Arc::new(Api {
        venue: venue.clone(),
        store: store.clone(),
        auth,
        sign_ins: Default::default(),
        plugins: plugins.clone(),
        whitelist: wl_tx,
        metrics,
        bus,
        plugin_dir,
        started,
        uplink: uplink_state,
        tls: tls.is_some(),
        alerts: recent_alerts,
    });
    front_tasks.spawn(http::serve(listener, api, tls.clone(), front.clone()));
    tracing::info!(%http_addr, mqtt = %mqtt_addr, zone = venue.zone(), ready_ms = started.elapsed().as_millis() as u64, "venue-edge ready");
    Ok(Running {
        http_addr,
        https: tls.is_some(),
        mqtt_addr,
        mqtt_tls_addr: tls_front.as_ref().map(|f| f.local_addr()),
        venue,
        store,
        plugins,
        front,
        back,
        front_tasks,
        back_tasks,
        broker,
        tls_front,
    })
}

impl Running {
    /// Re-reads every plugin manifest (SIGHUP): changed plugins are replaced, calls in
    /// flight finish on the old versions.
    pub async fn reload_plugins(&self) {
        let dir = self.venue.config.plugin_dir();
        let plugins = self.plugins.clone();
        let errors = tokio::task::spawn_blocking(move || plugins.load_dir(&dir))
            .await
            .unwrap_or_default();
        tracing::info!(errors = errors.len(), "plugins reloaded");
    }

    /// Stops in order; see the module documentation.
    pub async fn shutdown(self) {
        self.front.cancel();
        self.front_tasks.close();
        // Includes the dispatcher's handlers in flight: each finishes within its own
        // bounds (plugin deadlines, store commits) and publishes its answer.
        self.front_tasks.wait().await;
        self.back.cancel();
        self.back_tasks.close();
        self.back_tasks.wait().await;
        if let Some(front) = &self.tls_front {
            front.shutdown();
        }
        if let Some(broker) = self.broker {
            broker.shutdown().await;
        }
        tracing::info!("venue-edge stopped");
    }
}
