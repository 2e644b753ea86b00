//! Import batches and their rejected rows: one batch, a page of batches, a page of
//! rejected rows, and the rejected rows as a CSV to fix and import again.

use crate::domain::batch::{ImportBatch, RejectedRow};
use crate::error::{Error, Result};
use crate::service::{Services, page};
use crate::store;
use tokio::sync::mpsc;

impl Services {
    /// One import batch of the account.
    pub async fn get_import_batch(&self, account_id: &str, id: &str) -> Result<ImportBatch> {
        store::import::get_batch(self.store.conn(), account_id, id).await
    }

    /// A page of the account's batches, newest first, and the next page's token.
    pub async fn list_import_batches(
        &self,
        account_id: &str,
        page_size: i32,
        page_token: &str,
    ) -> Result<(Vec<ImportBatch>, String)> {
        store::accounts::get(self.store.conn(), account_id).await?;
        let size = page::page_size(page_size);
        let after = page::decode_keyed(page_token)?;
        let mut rows =
            store::import::list_batches(self.store.conn(), account_id, after, size + 1).await?;
        let next = page::split_keyed(&mut rows, size, |b| page::encode_keyed(b.started_at, &b.id));
        Ok((rows, next))
    }

    /// A page of a batch's rejected rows in line order, the next page's token, and how
    /// many rejected rows the batch counted but did not keep.
    pub async fn list_import_errors(
        &self,
        account_id: &str,
        batch_id: &str,
        page_size: i32,
        page_token: &str,
    ) -> Result<(Vec<RejectedRow>, String, i64)> {
        let batch = store::import::get_batch(self.store.conn(), account_id, batch_id).await?;
        let size = if page_size <= 0 {
            100
        } else {
            page::page_size(page_size)
        };
        let after = match page::decode_keyed(page_token)? {
            Some((line, id)) => Some((line, id.parse().map_err(|_| page::bad_token())?)),
            None => None,
        };
        let mut rows =
            store::import::list_errors(self.store.conn(), batch_id, after, size + 1).await?;
        let next = page::split_keyed(&mut rows, size, |e| {
            page::encode_keyed(e.line, &e.id.to_string())
        });
        Ok((rows, next, batch.counts.rejected_not_stored))
    }

    /// The batch's rejected rows as CSV — the file's own columns plus `reason` — in
    /// pieces on the receiver, read page by page (bounded memory); and how many rejected
    /// rows the batch counted but did not keep (missing from the CSV).
    pub async fn export_import_errors(
        &self,
        account_id: &str,
        batch_id: &str,
    ) -> Result<(i64, mpsc::Receiver<Result<Vec<u8>>>)> {
        let batch = store::import::get_batch(self.store.conn(), account_id, batch_id).await?;
        let not_stored = batch.counts.rejected_not_stored;
        let columns = batch.columns;
        let (tx, rx) = mpsc::channel(4);
        let db = self.store.conn().clone();
        tokio::spawn(async move {
            let mut after = None;
            let mut w = csv::Writer::from_writer(Vec::new());
            let mut head = columns.clone();
            head.push("reason".into());
            let _ = w.write_record(&head);
            loop {
                let page = match store::import::list_errors(&db, &batch.id, after, 1000).await {
                    Ok(p) => p,
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                };
                for e in &page {
                    let mut record = e.record.clone();
                    if record.len() < columns.len() {
                        record.resize(columns.len(), String::new());
                    }
                    record.insert(columns.len(), e.reason.clone());
                    let _ = w.write_record(&record);
                }
                let done = page.len() < 1000;
                after = page.last().map(|e| (e.line, e.id));
                let bytes = match w.into_inner() {
                    Ok(b) => b,
                    Err(e) => {
                        let _ = tx.send(Err(Error::Internal(e.to_string()))).await;
                        return;
                    }
                };
                w = csv::Writer::from_writer(Vec::new());
                if (!bytes.is_empty() && tx.send(Ok(bytes)).await.is_err()) || done {
                    return;
                }
            }
        });
        Ok((not_stored, rx))
    }
}
