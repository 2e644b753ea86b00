//! Named DNC lists: create, read, rename, delete, and ImportDncList.
//!
//! An import reads the client's bytes on a worker thread ([`crate::import::dnc_file`])
//! while this task writes the previous batch, joined by bounded channels, so memory
//! stays at a few batches whatever the file's size. Each batch is one write
//! transaction: it locks the contacts holding its numbers (the order every writer
//! keeps), revokes their dialer leases, upserts the entries and the import's counts.
//! From its commit on no claim hands those numbers out, and a lease handed out just
//! before is gone. Replacing a list removes the entries the new file lacks only once the
//! whole file is committed, so the old entries keep blocking until then.

use super::{Services, page};
use crate::domain::Region;
use crate::domain::dnc::{DncList, DncListImport};
use crate::error::{Error, Result};
use crate::import::dnc_file::{self, Batch, Format, MAX_INVALID_LINES, Spec};
use crate::store::{self, dnc_lists::Target};
use futures::{Stream, StreamExt};
use std::pin::Pin;

/// A list with its entry count.
#[derive(Debug, Clone)]
pub struct DncListView {
    pub list: DncList,
    pub entries: i64,
}

pub use crate::domain::dnc::DncListFields;

/// Which list an import goes to.
#[derive(Debug, Clone)]
pub enum ListRef {
    Id(i64),
    /// Created with this source when missing.
    Name {
        name: String,
        source: String,
    },
}

/// An ImportDncList request, checked.
#[derive(Debug, Clone)]
pub struct DncImportRequest {
    pub account_id: String,
    pub list: ListRef,
    pub format: Format,
    pub region: Option<Region>,
    pub expires_at: Option<i64>,
    pub phone_column: String,
    pub expire_column: String,
    pub replace: bool,
    pub request_id: Option<String>,
}

/// What an import did (or, replayed, what it did the first time).
#[derive(Debug, Clone)]
pub struct DncImportOutcome {
    pub import: DncListImport,
    pub invalid_lines: Vec<(i64, String)>,
    pub replayed: bool,
}

/// The file's bytes, chunk by chunk.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Vec<u8>>> + Send + 'static>>;

/// Batches parsed ahead of the writer.
const BATCHES_AHEAD: usize = 2;

impl Services {
    /// Creates a list; the name is unique in the account.
    pub async fn create_dnc_list(
        &self,
        account_id: &str,
        name: &str,
        source: &str,
        description: &str,
    ) -> Result<DncListView> {
        store::accounts::get(self.store.conn(), account_id).await?;
        let txn = self.store.begin_write().await?;
        let list =
            store::dnc_lists::create(&txn, account_id, name, source, description, self.now())
                .await?;
        txn.commit().await?;
        Ok(DncListView { list, entries: 0 })
    }

    /// One list with its entry count.
    pub async fn get_dnc_list(&self, account_id: &str, id: i64) -> Result<DncListView> {
        let list = store::dnc_lists::get(self.store.conn(), account_id, id).await?;
        self.with_counts(vec![list]).await.map(|mut v| v.remove(0))
    }

    async fn with_counts(&self, lists: Vec<DncList>) -> Result<Vec<DncListView>> {
        let ids: Vec<i64> = lists.iter().map(|l| l.id).collect();
        let counts = store::dnc_lists::entry_counts(self.store.conn(), &ids).await?;
        Ok(lists
            .into_iter()
            .map(|list| DncListView {
                entries: counts.get(&list.id).copied().unwrap_or(0),
                list,
            })
            .collect())
    }

    /// A page of the account's lists, newest first.
    pub async fn list_dnc_lists(
        &self,
        account_id: &str,
        page_size: i32,
        page_token: &str,
    ) -> Result<(Vec<DncListView>, String)> {
        store::accounts::get(self.store.conn(), account_id).await?;
        let size = page::page_size(page_size);
        let before = page::decode(page_token)?;
        let rows = store::dnc_lists::page(self.store.conn(), account_id, before, size + 1).await?;
        let (rows, next) = page::split(rows, size, |l| l.id);
        Ok((self.with_counts(rows).await?, next))
    }

    /// Changes a list's name, source or description.
    pub async fn update_dnc_list(
        &self,
        account_id: &str,
        id: i64,
        fields: DncListFields,
    ) -> Result<DncListView> {
        let txn = self.store.begin_write().await?;
        let current = store::dnc_lists::get(&txn, account_id, id).await?;
        let list = store::dnc_lists::update(&txn, &current, fields, self.now()).await?;
        txn.commit().await?;
        self.with_counts(vec![list]).await.map(|mut v| v.remove(0))
    }

    /// Deletes a list and its entries (the manual and call-request list is not touched);
    /// returns how many entries went.
    pub async fn delete_dnc_list(&self, account_id: &str, id: i64) -> Result<i64> {
        let txn = self.store.begin_write().await?;
        let removed = store::dnc_lists::delete(&txn, account_id, id).await?;
        txn.commit().await?;
        Ok(removed)
    }

    /// Streams a file into a list (see the module's comment). A request id seen before
    /// returns the stored result and reads nothing.
    pub async fn import_dnc_list(
        &self,
        req: DncImportRequest,
        input: ByteStream,
    ) -> Result<DncImportOutcome> {
        let account = store::accounts::get(self.store.conn(), &req.account_id).await?;
        if let Some(rid) = &req.request_id
            && let Some(done) =
                store::dnc_lists::import_by_request(self.store.conn(), &req.account_id, rid).await?
        {
            return replay(done, rid);
        }
        let _slot = self.import_slots.take(&req.account_id)?;
        let region = match req.region {
            Some(r) => r,
            None => Region::parse(&account.default_region).map_err(Error::Internal)?,
        };
        let now = self.now();
        let list = self.import_target(&req, now).await?;
        let started = async {
            let txn = self.store.begin_write().await?;
            let record = store::dnc_lists::start_import(
                &txn,
                &req.account_id,
                list.id,
                req.request_id.as_deref(),
                req.replace,
                now,
            )
            .await?;
            txn.commit().await?;
            Ok::<_, Error>(record)
        };
        let record = match started.await {
            Ok(r) => r,
            Err(e) if store::is_unique_violation(&e) => {
                let rid = req.request_id.as_deref().unwrap_or_default();
                let done =
                    store::dnc_lists::import_by_request(self.store.conn(), &req.account_id, rid)
                        .await?
                        .ok_or(e)?;
                return replay(done, rid);
            }
            Err(e) => return Err(e),
        };
        let spec = Spec {
            format: req.format,
            region,
            expires_at: req.expires_at,
            phone_column: req.phone_column.clone(),
            expire_column: req.expire_column.clone(),
        };
        let mut outcome = DncImportOutcome {
            import: record,
            invalid_lines: Vec::new(),
            replayed: false,
        };
        let result = self.read_dnc_file(&spec, input, &mut outcome).await;
        let now = self.now();
        let import = &mut outcome.import;
        import.finished_at = Some(now);
        import.first_invalid = outcome
            .invalid_lines
            .iter()
            .map(|(line, reason)| format!("{line}\t{}", reason.replace(['\n', '\t'], " ")))
            .collect::<Vec<_>>()
            .join("\n");
        match &result {
            Ok(()) => import.status = "completed".into(),
            Err(e) => {
                import.status = "failed".into();
                import.error = e.to_string();
            }
        }
        let saved = async {
            let txn = self.store.begin_write().await?;
            if result.is_ok() && req.replace {
                import.removed =
                    store::dnc_lists::remove_stale(&txn, import.list_id, import.id).await?;
            }
            store::dnc_lists::touch(&txn, import.list_id, now).await?;
            let saved = store::dnc_lists::save_import(&txn, import).await?;
            txn.commit().await?;
            Ok::<_, Error>(saved)
        }
        .await;
        result?;
        outcome.import = saved?;
        Ok(outcome)
    }

    /// The list an import writes to: by id, or by name (created when missing).
    async fn import_target(&self, req: &DncImportRequest, now: i64) -> Result<DncList> {
        match &req.list {
            ListRef::Id(id) => store::dnc_lists::get(self.store.conn(), &req.account_id, *id).await,
            ListRef::Name { name, source } => {
                if let Some(l) =
                    store::dnc_lists::by_name(self.store.conn(), &req.account_id, name).await?
                {
                    return Ok(l);
                }
                let created = async {
                    let txn = self.store.begin_write().await?;
                    let list =
                        store::dnc_lists::create(&txn, &req.account_id, name, source, "", now)
                            .await?;
                    txn.commit().await?;
                    Ok(list)
                };
                match created.await {
                    // Created at the same moment by another import of the same name.
                    Err(Error::AlreadyExists(_)) => {
                        store::dnc_lists::by_name(self.store.conn(), &req.account_id, name)
                            .await?
                            .ok_or_else(|| Error::not_found("DNC list", name))
                    }
                    other => other,
                }
            }
        }
    }

    /// Feeds the client's bytes to the reading thread and writes its batches.
    async fn read_dnc_file(
        &self,
        spec: &Spec,
        mut input: ByteStream,
        outcome: &mut DncImportOutcome,
    ) -> Result<()> {
        let (bytes_tx, bytes_rx) = tokio::sync::mpsc::channel::<std::io::Result<Vec<u8>>>(4);
        let (batch_tx, mut batch_rx) = tokio::sync::mpsc::channel::<Batch>(BATCHES_AHEAD);
        let spec = spec.clone();
        let reader = tokio::task::spawn_blocking(move || {
            dnc_file::read(ChannelReader::new(bytes_rx), &spec, &mut |b| {
                batch_tx.blocking_send(b).is_ok()
            })
        });
        let max = self.max_import_bytes;
        let feed = async move {
            let mut total = 0u64;
            while let Some(chunk) = input.next().await {
                let chunk = match chunk {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = bytes_tx
                            .send(Err(std::io::Error::other(e.to_string())))
                            .await;
                        return Err(e);
                    }
                };
                total += chunk.len() as u64;
                if total > max {
                    let _ = bytes_tx.send(Err(std::io::Error::other("too large"))).await;
                    return Err(Error::Cap {
                        what: format!("the DNC file ({total} bytes so far)"),
                        cap: max,
                    });
                }
                if bytes_tx.send(Ok(chunk)).await.is_err() {
                    break;
                }
            }
            Ok(())
        };
        let write = async {
            while let Some(batch) = batch_rx.recv().await {
                self.write_batch(batch, outcome).await?;
            }
            Ok::<_, Error>(())
        };
        let (fed, written) = tokio::join!(feed, write);
        let read = reader
            .await
            .map_err(|e| Error::Internal(format!("the DNC file reader stopped: {e}")))?;
        fed?;
        written?;
        read
    }

    async fn write_batch(&self, batch: Batch, outcome: &mut DncImportOutcome) -> Result<()> {
        let import = &mut outcome.import;
        let phones: Vec<String> = batch.rows.iter().map(|r| r.0.clone()).collect();
        let account = import.account_id.clone();
        let txn = self.store.begin_write().await?;
        let holders = store::dnc_lists::lock_holders(&txn, &account, &phones).await?;
        let now = self.now();
        store::leases::revoke(&txn, &account, &holders, now).await?;
        let target = Target {
            account_id: &account,
            list_id: import.list_id,
            import_id: import.id,
            now,
        };
        let dnc = crate::domain::callback::CancelReason::Dnc;
        store::callbacks::cancel_for_contacts(&txn, &account, None, &holders, dnc, target.now)
            .await?;
        let w = store::dnc_lists::add_entries(&txn, &target, &batch.rows).await?;
        import.lines_read += batch.read;
        import.added += w.added;
        import.already_listed += w.updated + batch.repeated;
        import.invalid += batch.invalid;
        let room = MAX_INVALID_LINES.saturating_sub(outcome.invalid_lines.len());
        outcome
            .invalid_lines
            .extend(batch.invalid_lines.into_iter().take(room));
        *import = store::dnc_lists::save_import(&txn, import).await?;
        txn.commit().await?;
        Ok(())
    }
}

/// Whether a live entry of a named list blocks this number (E.164) at `now`.
pub(crate) async fn on_a_list(
    db: &store::Txn,
    account_id: &str,
    e164: &str,
    now: i64,
) -> Result<bool> {
    let phones = [e164.to_string()];
    Ok(!store::dnc_lists::blocked(db, account_id, &phones, now)
        .await?
        .is_empty())
}

/// CheckDialable's detail for a number a list blocks.
pub(crate) fn list_detail(hit: &store::dnc_lists::Hit) -> String {
    let until = match hit.expires_at {
        Some(at) => format!(" until {}", crate::domain::timezone::utc_text(at)),
        None => String::new(),
    };
    format!(
        "{} is on DNC list {:?} (id {}){until}",
        hit.phone, hit.list_name, hit.list_id
    )
}

/// The stored result of an import with this request id (a running one is refused: its
/// result is not known yet).
fn replay(done: DncListImport, request_id: &str) -> Result<DncImportOutcome> {
    if done.status == "running" {
        return Err(Error::FailedPrecondition(format!(
            "an import with request id {request_id:?} is still running; retry when it ends"
        )));
    }
    let invalid_lines = done
        .first_invalid
        .lines()
        .filter_map(|l| {
            let (line, reason) = l.split_once('\t')?;
            Some((line.parse().ok()?, reason.to_string()))
        })
        .collect();
    Ok(DncImportOutcome {
        import: done,
        invalid_lines,
        replayed: true,
    })
}

/// The bytes a channel delivers, as a blocking reader (the reading thread's side).
struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<std::io::Result<Vec<u8>>>,
    chunk: Vec<u8>,
    at: usize,
}

impl ChannelReader {
    fn new(rx: tokio::sync::mpsc::Receiver<std::io::Result<Vec<u8>>>) -> Self {
        Self {
            rx,
            chunk: Vec::new(),
            at: 0,
        }
    }
}

impl std::io::Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.chunk.len() {
            match self.rx.blocking_recv() {
                Some(Ok(c)) => {
                    self.chunk = c;
                    self.at = 0;
                }
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.at);
        buf[..n].copy_from_slice(&self.chunk[self.at..n + self.at]);
        self.at += n;
        Ok(n)
    }
}
