//! Building and running the server: connect and migrate, bind (port 0 works, so tests
//! run many servers), then serve ContactService, health and reflection until the
//! shutdown future resolves, draining in-flight requests for a bounded time.

use crate::config::Settings;
use crate::domain::{Clock, SystemClock};
use crate::grpc::ContactApi;
use crate::pb::{self, contact_service_server::ContactServiceServer};
use crate::service::Services;
use crate::store;
use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::Server;
use tonic_health::{ServingStatus, server::HealthReporter};

/// Largest accepted request message (an import chunk is at most 4 MiB of CSV).
pub const MAX_MESSAGE_BYTES: usize = 8 * 1024 * 1024;

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
}

/// A built server, bound and migrated, not yet serving.
pub struct Application {
    listener: TcpListener,
    addr: SocketAddr,
    services: Services,
    grace: Duration,
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
        let url = &settings.database.database_url;
        if !settings.no_migrate {
            store::migrate(url).await?;
        }
        let db = store::connect(url, settings.database.db_max_connections).await?;
        let services = Services::new(db, clock);
        // Imports a dead server left running would otherwise say "running" forever.
        if let Err(e) = services.fail_interrupted_imports().await {
            tracing::warn!(error = %e, "could not mark interrupted imports as failed");
        }
        let listener = TcpListener::bind(settings.listen).await?;
        let addr = listener.local_addr()?;
        Ok(Self {
            listener,
            addr,
            services,
            grace: Duration::from_secs(settings.shutdown_grace_secs),
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

    /// Serves until `shutdown` resolves; then health turns NOT_SERVING, new connections are
    /// refused, and in-flight requests get the grace period to finish.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartupError> {
        let (reporter, health_service) = tonic_health::server::health_reporter();
        // Build only succeeds once the database answered and is migrated: serving now.
        set_health(&reporter, ServingStatus::Serving).await;
        let watchdog = tokio::spawn(watch_database(self.services.clone(), reporter.clone()));

        let reflection_v1 = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()?;
        let reflection_v1alpha = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1alpha()?;
        let api = ContactServiceServer::new(ContactApi::new(self.services.clone()))
            .max_decoding_message_size(MAX_MESSAGE_BYTES);

        let draining = Arc::new(tokio::sync::Notify::new());
        let drain_signal = draining.clone();
        let health_on_stop = reporter.clone();
        let stop = async move {
            shutdown.await;
            tracing::info!("shutdown requested: draining");
            set_health(&health_on_stop, ServingStatus::NotServing).await;
            drain_signal.notify_one();
        };
        tracing::info!(addr = %self.addr, "contactd serving");
        let server = Server::builder()
            .trace_fn(|req| tracing::info_span!("rpc", method = %req.uri().path()))
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .add_service(api)
            .serve_with_incoming_shutdown(TcpListenerStream::new(self.listener), stop);
        let grace = self.grace;
        let result = tokio::select! {
            r = server => r.map_err(StartupError::from),
            _ = async { draining.notified().await; tokio::time::sleep(grace).await } => {
                tracing::warn!(?grace, "grace period over: dropping unfinished requests");
                Ok(())
            }
        };
        watchdog.abort();
        self.services.db().clone().close().await.ok();
        result
    }
}

async fn set_health(reporter: &HealthReporter, status: ServingStatus) {
    reporter.set_service_status("", status).await;
    reporter
        .set_service_status("contacts.v1.ContactService", status)
        .await;
}

/// Keeps health in step with the database: NOT_SERVING while it does not answer.
async fn watch_database(services: Services, reporter: HealthReporter) {
    let mut up = true;
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let ok = tokio::time::timeout(Duration::from_secs(2), services.db().ping())
            .await
            .is_ok_and(|r| r.is_ok());
        if ok != up {
            up = ok;
            tracing::warn!(database_up = ok, "database reachability changed");
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
