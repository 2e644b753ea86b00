//! Deadlines on streaming RPCs.
//!
//! tonic bounds a call by the client's `grpc-timeout` only until the handler returns its
//! response; the messages of a streaming response come after that, unbounded. The
//! streaming handlers read the header themselves ([`deadline`]) and stop their work when
//! it passes: an export's stream ends with DEADLINE_EXCEEDED ([`bounded`]), which drops
//! the reader behind it; an import hands the deadline to the service, which ends its
//! batch as cancelled with exact counts.
//!
//! Every request also waits for the database only within its deadline: [`DeadlineLayer`]
//! puts the limit where the store reads it ([`crate::store::acquire`]).

use super::BoxStream;
use crate::error::Error;
use crate::store::acquire;
use futures::StreamExt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Instant;
use tonic::metadata::MetadataMap;

/// When the request's `grpc-timeout` runs out, measured from now (the handler starts as
/// the request arrives); `None` without a valid header.
pub fn deadline(metadata: &MetadataMap) -> Option<Instant> {
    let value = metadata.get("grpc-timeout")?.to_str().ok()?;
    Some(Instant::now() + parse_timeout(value)?)
}

/// A layer around the server: the handler of each request that carries a
/// `grpc-timeout` runs with its database waits bounded by it
/// ([`acquire::with_deadline`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct DeadlineLayer;

impl<S> tower::Layer<S> for DeadlineLayer {
    type Service = DeadlineService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        DeadlineService { inner }
    }
}

/// See [`DeadlineLayer`].
#[derive(Debug, Clone)]
pub struct DeadlineService<S> {
    inner: S,
}

impl<S, B> tower::Service<http::Request<B>> for DeadlineService<S>
where
    S: tower::Service<http::Request<B>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let limit = req
            .headers()
            .get("grpc-timeout")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_timeout)
            .map(acquire::wait_limit);
        Box::pin(acquire::with_deadline(limit, self.inner.call(req)))
    }
}

/// A `grpc-timeout` value per the gRPC over HTTP/2 spec: at most 8 digits and a unit
/// (`H`, `M`, `S`, `m`, `u`, `n`). A malformed value is ignored, as tonic ignores it.
fn parse_timeout(value: &str) -> Option<Duration> {
    let digits = value.get(..value.len().checked_sub(1)?)?;
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match &value[digits.len()..] {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// `stream` until `deadline`: then one DEADLINE_EXCEEDED and the end. The inner stream
/// is dropped at that moment, which stops the work feeding it.
pub fn bounded<T: Send + 'static>(
    stream: BoxStream<T>,
    deadline: Option<Instant>,
    what: &'static str,
) -> BoxStream<T> {
    let Some(deadline) = deadline else {
        return stream;
    };
    let expired = Box::pin(tokio::time::sleep_until(deadline));
    Box::pin(futures::stream::unfold(
        Some((stream, expired)),
        move |state| async move {
            let (mut stream, mut expired) = state?;
            tokio::select! {
                biased;
                item = stream.next() => item.map(|item| (item, Some((stream, expired)))),
                () = &mut expired => Some((Err(Error::deadline_exceeded(what).into()), None)),
            }
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeout_units_follow_the_spec() {
        assert_eq!(parse_timeout("2H"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_timeout("3M"), Some(Duration::from_secs(180)));
        assert_eq!(parse_timeout("5S"), Some(Duration::from_secs(5)));
        assert_eq!(parse_timeout("1500m"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_timeout("250u"), Some(Duration::from_micros(250)));
        assert_eq!(
            parse_timeout("99999999n"),
            Some(Duration::from_nanos(99_999_999))
        );
    }

    #[test]
    fn malformed_grpc_timeouts_are_ignored() {
        for bad in [
            "",
            "S",
            "5",
            "5s",
            "123456789S",
            "-5S",
            "+5S",
            "1.5S",
            "5SS",
            "5é",
        ] {
            assert_eq!(parse_timeout(bad), None, "{bad:?}");
        }
    }

    #[tokio::test]
    async fn a_bounded_stream_ends_with_deadline_exceeded() {
        // Two messages, then a stream that would never end.
        let stalled: BoxStream<u32> =
            Box::pin(futures::stream::iter([Ok(1), Ok(2)]).chain(futures::stream::pending()));
        let deadline = Instant::now() + Duration::from_millis(50);
        let got: Vec<_> = bounded(stalled, Some(deadline), "test").collect().await;
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got[0].as_ref().unwrap(), &1);
        assert_eq!(got[1].as_ref().unwrap(), &2);
        let status = got[2].as_ref().unwrap_err();
        assert_eq!(status.code(), tonic::Code::DeadlineExceeded);
        assert!(status.message().contains("grpc-timeout"), "{status:?}");
    }
}
