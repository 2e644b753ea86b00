//! The dry run: the file parsed and checked against the stored contacts, the DNC list
//! and the plan's room exactly as an import would, with nothing stored.

use super::chunk::{merge, over_limit};
use super::parsing::Parsing;
use super::{ImportRequest, InputStream, PREVIEW_ERRORS};
use crate::domain::filter::ContactStatus;
use crate::domain::{Contact, NewContact, Region};
use crate::error::Result;
use crate::import::pipeline::{Parsed, RowError};
use crate::import::{Counts, Header, Outcome, Rejection};
use crate::service::Services;
use crate::store;
use std::collections::{BTreeMap, HashMap};

/// What a preview found.
#[derive(Debug, Clone)]
pub struct ImportPreview {
    pub header: Header,
    pub sample: Vec<NewContact>,
    pub counts: Counts,
    /// The first invalid or over-limit rows: (line, error).
    pub errors: Vec<(i64, RowError)>,
    /// Rows with a local number, by the region it was read in (the row's country, else
    /// the import's).
    pub regions: BTreeMap<String, i64>,
    /// Mapped columns that are empty in every row.
    pub empty_columns: Vec<String>,
}

impl Services {
    /// A dry run: what importing the input would do. Stores nothing.
    pub async fn preview_import(
        &self,
        req: ImportRequest,
        sample_rows: usize,
        input: InputStream,
    ) -> Result<ImportPreview> {
        let account = store::accounts::get(self.store.conn(), &req.account_id).await?;
        let region = Region::parse(&account.default_region).ok();
        let _slot = self.import_slots.take(&req.account_id)?;
        let mut pipe = Parsing::start(
            self.parse_options(&req, region),
            input,
            self.max_import_bytes,
        )
        .await?;
        let mut preview = ImportPreview {
            header: pipe.header.clone(),
            sample: Vec::new(),
            counts: Counts::default(),
            errors: Vec::new(),
            regions: BTreeMap::new(),
            empty_columns: Vec::new(),
        };
        let mut room = (account.contact_limit - account.contact_count).max(0);
        let over = over_limit(account.contact_limit);
        loop {
            let rows = match pipe.parsed.recv().await {
                None => return Err(pipe.input_error().await),
                Some(Err(e)) => return Err(e),
                Some(Ok(Parsed::Rows(rows))) => rows,
                Some(Ok(Parsed::End {
                    encoding,
                    empty_columns,
                })) => {
                    preview.header.encoding = encoding;
                    preview.empty_columns = empty_columns;
                    return Ok(preview);
                }
                Some(Ok(Parsed::Header(_))) => continue,
            };
            let c = &mut preview.counts;
            c.rows += rows.len() as i64;
            let mut valid = Vec::new();
            for row in rows {
                if let Some(r) = row.region {
                    *preview.regions.entry(r.code().to_string()).or_default() += 1;
                }
                match row.outcome {
                    Outcome::Invalid(e) => {
                        c.reject(e.kind);
                        if preview.errors.len() < PREVIEW_ERRORS {
                            preview.errors.push((row.line, e));
                        }
                    }
                    Outcome::DuplicateInFile => c.duplicates_in_file += 1,
                    Outcome::Valid(contact) => {
                        if preview.sample.len() < sample_rows {
                            preview.sample.push(contact.clone());
                        }
                        valid.push((row.line, contact));
                    }
                }
            }
            let phones: Vec<String> = valid
                .iter()
                .map(|(_, c)| c.phone.e164().to_string())
                .collect();
            let existing: HashMap<String, Contact> =
                store::contacts::by_phones(self.store.conn(), &req.account_id, &phones)
                    .await?
                    .into_iter()
                    .map(|c| (c.phone.clone(), c))
                    .collect();
            let dnc: Vec<String> = store::dnc::entries(self.store.conn(), &req.account_id, &phones)
                .await?
                .into_iter()
                .map(|e| e.phone)
                .collect();
            for (line, new_values) in valid {
                let phone = new_values.phone.e164();
                let on_dnc = match existing.get(phone) {
                    Some(current) => {
                        if merge(current, &new_values, req.policy, 0).is_some() {
                            c.updated += 1;
                        } else {
                            c.duplicates_existing += 1;
                        }
                        current.status == ContactStatus::Dnc || dnc.iter().any(|p| p == phone)
                    }
                    None if room > 0 => {
                        room -= 1;
                        c.imported += 1;
                        dnc.iter().any(|p| p == phone)
                    }
                    None => {
                        c.reject(Rejection::OverLimit);
                        if preview.errors.len() < PREVIEW_ERRORS {
                            preview.errors.push((line, over.clone()));
                        }
                        continue;
                    }
                };
                c.dnc += on_dnc as i64;
                if req.campaign_id.is_some() {
                    if on_dnc {
                        c.dnc_excluded += 1;
                    } else {
                        c.added_to_campaign += 1;
                    }
                }
            }
        }
    }
}
