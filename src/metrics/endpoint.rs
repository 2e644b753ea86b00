//! `GET /metrics` over HTTP/1.1, an axum route on its own listener.

use super::Metrics;
use axum::{Router, http::header::CONTENT_TYPE, routing::get};
use std::future::Future;
use std::sync::Arc;

/// The Prometheus text exposition format's content type.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4";

/// Serves `GET /metrics` on `listener` until the task is dropped (any other path is 404).
/// `before_scrape` refreshes gauges that are read from the database.
pub async fn serve<F, Fut>(
    listener: tokio::net::TcpListener,
    metrics: Arc<Metrics>,
    before_scrape: F,
) where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let before_scrape = Arc::new(before_scrape);
    let scrape = move || {
        let (metrics, before_scrape) = (metrics.clone(), before_scrape.clone());
        async move {
            before_scrape().await;
            ([(CONTENT_TYPE, TEXT_FORMAT)], metrics.render())
        }
    };
    let app = Router::new().route("/metrics", get(scrape));
    if let Err(e) = axum::serve(listener, app).await {
        tracing::error!(error = %e, "the metrics endpoint stopped");
    }
}
