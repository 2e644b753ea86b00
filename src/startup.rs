//! Building and running the server: connect and migrate, bind (port 0 works, so tests
//! run many servers), then serve ContactService, health and reflection until the
//! shutdown future resolves, draining in-flight requests for a bounded time.

use crate::config::Settings;
use crate::domain::{Clock, SystemClock};
use crate::grpc::{ContactApi, auth::Gate};
use crate::metrics::MetricsLayer;
use crate::pb::{self, contact_service_server::ContactServiceServer};
use crate::service::Services;
use crate::store;
use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};
use tokio::net::TcpListener;
use tonic::codec::CompressionEncoding;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig, server::TcpIncoming};
use tonic_health::{ServingStatus, server::HealthReporter};

use crate::grpc::MAX_MESSAGE_BYTES;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot open the database: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("cannot listen: {0}")]
    Bind(#[from] std::io::Error),
    #[error("reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("server: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error(
        "{0} requires API keys and none exists: create one with `contactd keys create`, \
         or pass --insecure to serve without authentication"
    )]
    NoApiKeys(SocketAddr),
    #[error("{0}")]
    Service(#[from] crate::error::Error),
    #[error("TLS: cannot read {path}: {source}")]
    TlsFile {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

/// A built server, bound and migrated (unless disabled), not yet serving.
pub struct Application {
    /// Whether the database had every migration of this build applied at start-up.
    schema_current: bool,
    listener: TcpListener,
    addr: SocketAddr,
    services: Services,
    grace: Duration,
    auth_required: bool,
    metrics_listener: Option<TcpListener>,
    tls: Option<ServerTlsConfig>,
}

impl Application {
    /// Connects, migrates (unless disabled) and binds.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        Self::build_with_clock(settings, Arc::new(SystemClock)).await
    }

    /// As [`build`](Self::build), with a given clock (tests use a fixed one).
    pub async fn build_with_clock(
        settings: Settings,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StartupError> {
        crate::domain::phone::prepare();
        let url = &settings.database.database_url;
        if !settings.no_migrate {
            store::migrate(url).await?;
        }
        let db = store::connect_with(
            url,
            settings.database.db_max_connections,
            Duration::from_millis(settings.database.db_acquire_timeout_ms),
        )
        .await?;
        if store::backend(&db) == sea_orm::DbBackend::Postgres {
            tune_allocator();
        }
        let pending = store::pending_migrations(&db).await;
        if pending > 0 {
            tracing::error!(
                pending,
                "the database lacks migrations this build needs: health stays NOT_SERVING \
                 until `contactd migrate` has run"
            );
        }
        let tls = tls_config(&settings)?;
        let services = Services::new(db, clock)
            .with_import_stale(Duration::from_secs(settings.import_stale_secs))
            .with_max_import_bytes(settings.max_import_bytes)
            .with_max_concurrent_exports(
                settings.max_concurrent_exports,
                settings.max_account_exports,
            )
            .with_max_concurrent_imports(
                settings.max_concurrent_imports,
                settings.max_account_imports,
            )
            .with_export_stall(Duration::from_secs(settings.export_stall_secs));
        // Imports a dead server left running would otherwise say "running" forever
        // (and [`sweep_interrupted_imports`] keeps looking while serving).
        if let Err(e) = services.fail_interrupted_imports().await {
            tracing::warn!(error = %e, "could not mark interrupted imports as failed");
        }
        let auth_required = settings.auth_required();
        if auth_required && services.live_key_count().await? == 0 {
            return Err(StartupError::NoApiKeys(settings.listen));
        }
        if !auth_required {
            tracing::warn!(
                listen = %settings.listen,
                insecure = settings.insecure,
                "authentication is off: requests without an API key act as internal"
            );
        }
        let listener = TcpListener::bind(settings.listen).await?;
        let addr = listener.local_addr()?;
        let metrics_listener = match settings.metrics_listen {
            Some(a) => Some(TcpListener::bind(a).await?),
            None => None,
        };
        Ok(Self {
            schema_current: pending == 0,
            tls,
            metrics_listener,
            listener,
            addr,
            services,
            grace: Duration::from_secs(settings.shutdown_grace_secs),
            auth_required,
        })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The metrics endpoint's address, when enabled.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    /// Serves until `shutdown` resolves; then health turns NOT_SERVING, new connections are
    /// refused, and in-flight requests get the grace period to finish.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartupError> {
        let (reporter, health_service) = tonic_health::server::health_reporter();
        // Build only succeeds once the database answered: serving now, if it is migrated.
        set_health(
            &reporter,
            if self.schema_current {
                ServingStatus::Serving
            } else {
                ServingStatus::NotServing
            },
        )
        .await;
        let watchdog = tokio::spawn(watch_database(
            self.services.clone(),
            reporter.clone(),
            self.schema_current,
        ));
        let sweeper = tokio::spawn(sweep_interrupted_imports(self.services.clone()));
        let metrics_task = self.metrics_listener.map(|listener| {
            let svc = self.services.clone();
            tokio::spawn(crate::metrics::endpoint::serve(
                listener,
                svc.metrics().clone(),
                move || {
                    let svc = svc.clone();
                    async move { svc.refresh_gauges().await }
                },
            ))
        });

        let reflection_v1 = reflection().build_v1()?;
        let reflection_v1alpha = reflection().build_v1alpha()?;
        let api = ContactServiceServer::new(ContactApi::new(
            self.services.clone(),
            Gate::new(self.services.clone(), self.auth_required),
        ))
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        // Negotiated gzip: a client may compress what it sends (an import's CSV shrinks
        // several times) and is answered compressed when it says it accepts gzip; clients
        // that say nothing get plain messages as before. The size cap applies to the
        // decompressed message, so a small compressed one cannot expand past it.
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip);

        let draining = Arc::new(tokio::sync::Notify::new());
        let drain_signal = draining.clone();
        let health_on_stop = reporter.clone();
        let stop = async move {
            shutdown.await;
            tracing::info!("shutdown requested: draining");
            set_health(&health_on_stop, ServingStatus::NotServing).await;
            drain_signal.notify_one();
        };
        // Without TCP_NODELAY a multi-segment response waits on the peer's delayed ACK (~40 ms).
        let incoming = TcpIncoming::from(self.listener)
            .with_nodelay(Some(true))
            .with_keepalive(Some(Duration::from_secs(60)));
        tracing::info!(addr = %self.addr, "contactd serving");
        let mut builder = Server::builder();
        if let Some(tls) = self.tls {
            builder = builder.tls_config(tls)?;
        }
        let server = builder
            .trace_fn(request_span)
            .layer(MetricsLayer(self.services.metrics().clone()))
            .layer(crate::grpc::deadline::DeadlineLayer)
            .layer(tower::util::MapResponseLayer::new(
                crate::grpc::message_cap_status,
            ))
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .add_service(api)
            .serve_with_incoming_shutdown(incoming, stop);
        let grace = self.grace;
        let result = tokio::select! {
            r = server => r.map_err(StartupError::from),
            _ = async { draining.notified().await; tokio::time::sleep(grace).await } => {
                tracing::warn!(?grace, "grace period over: dropping unfinished requests");
                Ok(())
            }
        };
        watchdog.abort();
        sweeper.abort();
        if let Some(t) = metrics_task {
            t.abort();
        }
        self.services.store().pool().clone().close().await.ok();
        result
    }
}

/// Reflection over our API, health, and google.rpc (so grpcurl decodes BadRequest details).
/// Both v1 and v1alpha are served: grpcurl before 1.9 only speaks v1alpha.
fn reflection() -> tonic_reflection::server::Builder<'static> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
}

/// The TLS configuration from the settings' PEM files, if TLS is on.
fn tls_config(settings: &Settings) -> Result<Option<ServerTlsConfig>, StartupError> {
    let read = |path: &std::path::Path| {
        std::fs::read(path).map_err(|source| StartupError::TlsFile {
            path: path.to_path_buf(),
            source,
        })
    };
    let (Some(cert), Some(key)) = (&settings.tls_cert, &settings.tls_key) else {
        return Ok(None);
    };
    let mut tls = ServerTlsConfig::new().identity(Identity::from_pem(read(cert)?, read(key)?));
    if let Some(ca) = &settings.tls_client_ca {
        tls = tls.client_ca_root(Certificate::from_pem(read(ca)?));
    }
    Ok(Some(tls))
}

/// The span of one request: its method, a request id (the caller's `x-request-id`, or a
/// new one), and the account, recorded by the auth gate once it is known.
fn request_span(req: &http::Request<()>) -> tracing::Span {
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    tracing::info_span!(
        "rpc",
        method = %req.uri().path(),
        request_id = %request_id,
        account = tracing::field::Empty
    )
}

async fn set_health(reporter: &HealthReporter, status: ServingStatus) {
    reporter.set_service_status("", status).await;
    reporter
        .set_service_status("contacts.v1.ContactService", status)
        .await;
}

/// Keeps health in step with the database: NOT_SERVING while it does not answer, or
/// (started with migrations off) until it has every migration this build needs.
async fn watch_database(services: Services, reporter: HealthReporter, mut schema_current: bool) {
    let mut up = schema_current;
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let answers = tokio::time::timeout(Duration::from_secs(2), services.store().pool().ping())
            .await
            .is_ok_and(|r| r.is_ok());
        if answers && !schema_current {
            schema_current = store::pending_migrations(services.store().pool()).await == 0;
        }
        let ok = answers && schema_current;
        if ok != up {
            up = ok;
            tracing::warn!(
                database_up = answers,
                schema_current,
                "serving status changed"
            );
            set_health(
                &reporter,
                if ok {
                    ServingStatus::Serving
                } else {
                    ServingStatus::NotServing
                },
            )
            .await;
        }
    }
}

/// Every few seconds, marks imports whose server died (stale heartbeat) as failed.
/// Every replica runs this: a server that dies mid-import is noticed by the others, or
/// by itself once restarted, without waiting for a restart of anything. Safe with
/// replicas: a live import refreshes its heartbeat far more often than the timeout.
async fn sweep_interrupted_imports(services: Services) {
    let every = (services.import_stale / 2).clamp(Duration::from_secs(1), Duration::from_secs(10));
    loop {
        tokio::time::sleep(every).await;
        if let Err(e) = services.fail_interrupted_imports().await {
            tracing::debug!(error = %e, "import sweep failed; retrying later");
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

/// glibc's malloc serves a block above its mmap threshold (128 KiB at first) by a mapping
/// of its own, returned to the system when freed, but raises that threshold to the size
/// of every such block freed (up to 32 MiB): after the first chunk of an import, the
/// chunks' column arrays and statement buffers (hundreds of KiB to a few MiB) come from
/// the threads' arenas, which keep them when freed. A threshold fixed at 256 KiB keeps
/// the large blocks mapped and unmapped: the 1,000,000-row import's RSS growth on
/// PostgreSQL 63.4 MiB as glibc has it, 57.9 with 64 KiB, 57.4 with 256 KiB
/// (BENCHMARKS.md, import): the larger threshold, for fewer blocks mapped one by one.
/// PostgreSQL only: on SQLite the import's growth is 50–54 MiB without it, and with it
/// the fresh pages of its statements' mapped blocks (faults, zeroing, unmapping) took
/// ~8 % of the import's samples in `perf` and made it ~10 % slower.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a parameter of glibc's allocator; any value is valid.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
    }
}
