//! Prometheus metrics, served on their own HTTP port (`--metrics-listen`).
//!
//! Per RPC: requests by gRPC code and a latency histogram, recorded by a tower layer
//! around the server ([`MetricsLayer`]). Import rows by outcome are counted by the import
//! service as each chunk commits ([`Metrics::count_import_rows`]): every row read has
//! exactly one outcome, so the outcomes sum to the rows committed. Active dialer leases are a gauge read from the database at scrape time, so
//! every replica reports the same truth.
//!
//! The code of a request is its `grpc-status` when the server answers with a status at
//! once (every failed unary call); a status sent in trailers after a successful start
//! (a stream that fails part-way) counts under the code it started with, `OK`.

use crate::import::Counts;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

/// The service's metrics, in their own registry.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    /// `contactd_rpc_requests_total{method, code}`.
    pub requests: IntCounterVec,
    /// `contactd_rpc_duration_seconds{method}`.
    pub latency: HistogramVec,
    /// `contactd_import_rows_total{outcome}`.
    pub import_rows: IntCounterVec,
    /// `contactd_active_leases`.
    pub active_leases: IntGauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let registry = Registry::new_custom(Some("contactd".into()), None).expect("valid prefix");
        let requests = IntCounterVec::new(
            Opts::new(
                "rpc_requests_total",
                "gRPC requests by method and status code",
            ),
            &["method", "code"],
        )
        .expect("valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "rpc_duration_seconds",
                "gRPC request latency until response headers",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
            ]),
            &["method"],
        )
        .expect("valid metric");
        let import_rows = IntCounterVec::new(
            Opts::new("import_rows_total", "CSV/structured import rows by outcome"),
            &["outcome"],
        )
        .expect("valid metric");
        let active_leases =
            IntGauge::new("active_leases", "dialer leases live now").expect("valid metric");
        for m in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(import_rows.clone()),
            Box::new(active_leases.clone()),
        ] {
            registry.register(m).expect("unique metric");
        }
        Metrics {
            registry,
            requests,
            latency,
            import_rows,
            active_leases,
        }
    }

    /// Counts the rows of one committed import chunk by outcome. DNC is not an outcome
    /// (a DNC row is also imported, updated or a duplicate) and is not counted here.
    pub fn count_import_rows(&self, c: &Counts) {
        for (outcome, n) in [
            ("imported", c.imported),
            ("updated", c.updated),
            ("duplicate_in_file", c.duplicates_in_file),
            ("duplicate_existing", c.duplicates_existing),
            ("invalid", c.invalid),
            ("over_limit", c.over_limit),
        ] {
            if n > 0 {
                self.import_rows
                    .with_label_values(&[outcome])
                    .inc_by(n as u64);
            }
        }
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding cannot fail");
        String::from_utf8(out).expect("exposition is UTF-8")
    }
}

/// Serves `GET /metrics` on `listener` until the task is dropped. `before_scrape` refreshes
/// gauges that are read from the database.
pub async fn serve<F, Fut>(
    listener: tokio::net::TcpListener,
    metrics: Arc<Metrics>,
    before_scrape: F,
) where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send,
{
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let before_scrape = Arc::new(before_scrape);
    loop {
        let Ok((mut socket, _)) = listener.accept().await else {
            continue;
        };
        let metrics = metrics.clone();
        let before_scrape = before_scrape.clone();
        tokio::spawn(async move {
            let mut head = Vec::with_capacity(1024);
            let mut buf = [0u8; 1024];
            // Read the request head (bounded); the body of a GET is empty.
            while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
                match socket.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let line = String::from_utf8_lossy(&head);
            let response = if line.starts_with("GET /metrics ") {
                before_scrape().await;
                let body = metrics.render();
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
            } else {
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_string()
            };
            let _ = socket.write_all(response.as_bytes()).await;
        });
    }
}

/// A tower layer recording requests and latency per gRPC method.
#[derive(Debug, Clone)]
pub struct MetricsLayer(pub Arc<Metrics>);

impl<S> tower::Layer<S> for MetricsLayer {
    type Service = MetricsService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        MetricsService {
            inner,
            metrics: self.0.clone(),
        }
    }
}

/// See [`MetricsLayer`].
#[derive(Debug, Clone)]
pub struct MetricsService<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

impl<S, B, R> tower::Service<http::Request<B>> for MetricsService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let method = req
            .uri()
            .path()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string();
        let metrics = self.metrics.clone();
        let started = Instant::now();
        let future = self.inner.call(req);
        Box::pin(async move {
            let result = future.await;
            let code = match &result {
                Ok(resp) => resp
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<i32>().ok())
                    .map(|c| format!("{:?}", tonic::Code::from_i32(c)))
                    .unwrap_or_else(|| "Ok".into()),
                Err(_) => "TransportError".into(),
            };
            metrics
                .latency
                .with_label_values(&[&method])
                .observe(started.elapsed().as_secs_f64());
            metrics.requests.with_label_values(&[&method, &code]).inc();
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_names_every_metric() {
        let m = Metrics::new();
        m.requests.with_label_values(&["GetContact", "Ok"]).inc();
        m.count_import_rows(&Counts {
            rows: 4,
            imported: 3,
            invalid: 1,
            ..Default::default()
        });
        let text = m.render();
        assert!(
            text.contains("contactd_rpc_requests_total{code=\"Ok\",method=\"GetContact\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("contactd_import_rows_total{outcome=\"imported\"} 3"),
            "{text}"
        );
        assert!(
            text.contains("contactd_import_rows_total{outcome=\"invalid\"} 1"),
            "{text}"
        );
        assert!(!text.contains("outcome=\"updated\""), "{text}");
        assert!(text.contains("contactd_active_leases 0"));
    }
}
