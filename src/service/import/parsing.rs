//! The client's input handed to the parsing worker (`crate::import::pipeline`, on a
//! blocking thread) by a forwarder task that counts the bytes against the file cap; the
//! header is read before anything is stored.

use super::{ImportRequest, InputStream};
use crate::domain::Region;
use crate::error::{Error, Result};
use crate::import::Header;
use crate::import::pipeline::{self, Input, ParseOptions, Parsed};
use crate::service::Services;
use futures::StreamExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use tokio::sync::mpsc;

/// The client's input being parsed, its header known.
pub(super) struct Parsing {
    pub(super) header: Header,
    pub(super) parsed: mpsc::Receiver<Result<Parsed>>,
    forwarder: tokio::task::JoinHandle<Result<()>>,
    pub(super) bytes: Arc<AtomicI64>,
}

impl Parsing {
    /// Starts parsing `input`; more than `max_bytes` of file fails it with a Cap error.
    pub(super) async fn start(
        opts: ParseOptions,
        mut input: InputStream,
        max_bytes: u64,
    ) -> Result<Parsing> {
        let (in_tx, in_rx) = mpsc::channel::<Input>(4);
        let (out_tx, mut parsed) = mpsc::channel(2);
        tokio::task::spawn_blocking(move || pipeline::run(opts, in_rx, out_tx));
        let bytes = Arc::new(AtomicI64::new(0));
        let counter = bytes.clone();
        let forwarder = tokio::spawn(async move {
            while let Some(item) = input.next().await {
                let item = item?;
                if let Input::Chunk(c) = &item {
                    let total =
                        counter.fetch_add(c.len() as i64, Ordering::Relaxed) + c.len() as i64;
                    if total as u64 > max_bytes {
                        return Err(Error::Cap {
                            what: format!("the import file ({total} bytes received so far)"),
                            cap: max_bytes,
                        });
                    }
                }
                if in_tx.send(item).await.is_err() {
                    return Ok(());
                }
            }
            let _ = in_tx.send(Input::End).await;
            Ok(())
        });
        let mut p = Parsing {
            header: Header::default(),
            parsed: mpsc::channel(1).1,
            forwarder,
            bytes,
        };
        match parsed.recv().await {
            Some(Ok(Parsed::Header(h))) => {
                p.header = h;
                p.parsed = parsed;
                Ok(p)
            }
            Some(Err(e)) => Err(e),
            Some(Ok(_)) => Err(Error::Internal("the import worker sent rows first".into())),
            None => Err(p.input_error().await),
        }
    }

    /// Why the worker stopped before the end: what the forwarder saw.
    pub(super) async fn input_error(&mut self) -> Error {
        match (&mut self.forwarder).await {
            Ok(Err(e)) => e,
            _ => Error::Cancelled("the client went away before the end of the file".into()),
        }
    }
}

impl Services {
    pub(super) fn parse_options(
        &self,
        req: &ImportRequest,
        account_region: Option<Region>,
    ) -> ParseOptions {
        ParseOptions {
            explicit: req.explicit.clone(),
            region: req.region.or(account_region),
            mode: req.mode,
            unmapped_as_custom: req.unmapped_as_custom,
            delimiter: req.delimiter,
            has_header: req.has_header,
        }
    }
}
