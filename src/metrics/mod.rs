//! Prometheus metrics, served on their own HTTP port (`--metrics-listen`) by
//! [`endpoint::serve`].
//!
//! Per RPC: requests by gRPC code and a latency histogram, recorded by a tower layer
//! around the gRPC server ([`layer::MetricsLayer`]). Import rows by outcome are counted by the import
//! service as each chunk commits ([`Metrics::count_import_rows`]): every row read has
//! exactly one outcome, so the outcomes sum to the rows committed. Active dialer leases are a gauge read from the database at scrape time, so
//! every replica reports the same truth.
//!
//! The code of a request is its `grpc-status` when the server answers with a status at
//! once (every failed unary call); a status sent in trailers after a successful start
//! (a stream that fails part-way) counts under the code it started with, `OK`.

pub mod endpoint;
pub mod layer;

pub use layer::MetricsLayer;

use crate::import::Counts;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

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
