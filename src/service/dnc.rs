//! The Do-Not-Call list: mark and clear (contacts and/or bare numbers), check numbers
//! (failing closed), and the history of changes.
//!
//! Marking a number, in one transaction: the list entry, a history row, the contact's
//! status, revoking every dialer lease on it and cancelling its open call requests — so
//! from the commit on, no campaign and no dialer can reach it.

use super::bulk::{BulkCounts, Walk};
use super::{Services, page};
use crate::domain::call::CallRequestStatus;
use crate::domain::contact::check_phone;
use crate::domain::dnc::{DncEntry, DncEvent, DncSource};
use crate::domain::filter::Selection;
use crate::domain::{Contact, Phone, Region, Validation};
use crate::error::{Error, Result};
use crate::store::contacts::Lock;
use crate::store::{self, Txn, dnc::Change};
use std::collections::HashMap;

/// Most numbers in one MarkDnc/ClearDnc/CheckDnc request.
pub const MAX_PHONES: usize = 10_000;

/// What a DNC change applies to.
#[derive(Debug, Clone, Default)]
pub struct DncTargets {
    /// Contacts by id or filter.
    pub selection: Option<Selection>,
    /// Bare numbers as given (parsed with `region`, else the account's).
    pub phones: Vec<String>,
    pub region: Option<Region>,
}

/// One number's DNC state.
#[derive(Debug, Clone)]
pub struct DncCheck {
    pub phone: String,
    /// E.164, "" when it could not be parsed.
    pub e164: String,
    /// Listed, or unparseable (fail closed).
    pub dnc: bool,
    pub entry: Option<DncEntry>,
    /// Live entries of named DNC lists holding the number.
    pub lists: Vec<store::dnc_lists::Hit>,
    pub error: String,
}

/// Puts numbers (E.164, distinct) on the list and applies it to their contacts, inside
/// the caller's write transaction: one statement per table for the whole slice. Returns
/// how many numbers changed (a new entry, or a contact flipped to DNC).
pub(crate) async fn add_dnc(
    txn: &Txn,
    account_id: &str,
    phones: &[String],
    change: &Change<'_>,
) -> Result<i64> {
    let added = store::dnc::add(txn, account_id, phones, change).await?;
    let holders = holders(txn, account_id, phones).await?;
    let flipped: HashMap<&String, i64> = holders
        .iter()
        .filter(|(_, c)| store::dnc::needs_dnc(c))
        .map(|(phone, c)| (phone, c.id))
        .collect();
    let flip: Vec<i64> = flipped.values().copied().collect();
    store::dnc::set_contacts_dnc(txn, &flip, change.source, change.at).await?;
    let ids: Vec<i64> = holders.values().map(|c| c.id).collect();
    store::leases::revoke(txn, account_id, &ids, change.at).await?;
    let dnc = crate::domain::callback::CancelReason::Dnc;
    store::callbacks::cancel_for_contacts(txn, account_id, None, &ids, dnc, change.at).await?;
    store::calls::close_requests(
        txn,
        account_id,
        &ids,
        CallRequestStatus::Cancelled,
        change.at,
    )
    .await?;
    let events: Vec<(String, Option<i64>)> = phones
        .iter()
        .filter(|p| added.contains(*p))
        .map(|p| (p.clone(), holders.get(p).map(|c| c.id)))
        .collect();
    store::dnc::record_events(txn, account_id, &events, true, change).await?;
    let changed = phones
        .iter()
        .filter(|p| added.contains(*p) || flipped.contains_key(p))
        .count();
    Ok(changed as i64)
}

/// Takes numbers (E.164, distinct) off the list and reactivates their contacts. Returns
/// how many numbers changed (listed, or held by a DNC contact).
async fn remove_dnc(
    txn: &Txn,
    account_id: &str,
    phones: &[String],
    change: &Change<'_>,
) -> Result<i64> {
    let removed = store::dnc::remove(txn, account_id, phones).await?;
    let holders = holders(txn, account_id, phones).await?;
    let changed: Vec<&String> = phones
        .iter()
        .filter(|p| removed.contains(*p) || holders.get(*p).is_some_and(store::dnc::is_dnc))
        .collect();
    let ids: Vec<i64> = changed
        .iter()
        .filter_map(|p| holders.get(*p).map(|c| c.id))
        .collect();
    store::dnc::set_contacts_active(txn, &ids, change.at).await?;
    let events: Vec<(String, Option<i64>)> = changed
        .iter()
        .map(|p| ((*p).clone(), holders.get(*p).map(|c| c.id)))
        .collect();
    store::dnc::record_events(txn, account_id, &events, false, change).await?;
    Ok(changed.len() as i64)
}

/// The account's contacts holding these numbers, by number.
async fn holders(
    txn: &Txn,
    account_id: &str,
    phones: &[String],
) -> Result<HashMap<String, Contact>> {
    Ok(store::contacts::by_phones(txn, account_id, phones)
        .await?
        .into_iter()
        .map(|c| (c.phone.clone(), c))
        .collect())
}

/// Puts numbers (E.164, distinct) on the list inside the caller's write transaction,
/// locking their contacts first (the lock order every writer keeps).
pub(crate) async fn mark_numbers(
    txn: &Txn,
    account_id: &str,
    phones: &[String],
    change: &Change<'_>,
) -> Result<i64> {
    apply(txn, account_id, phones, change, Direction::Mark).await
}

/// Applies a change to numbers (E.164, distinct); returns how many changed.
async fn apply(
    txn: &Txn,
    account_id: &str,
    phones: &[String],
    change: &Change<'_>,
    dir: Direction,
) -> Result<i64> {
    let targets = store::contacts::Targets::Phones(phones);
    store::contacts::lock_in_number_order(txn, account_id, targets, Lock::Update).await?;
    match dir {
        Direction::Mark => add_dnc(txn, account_id, phones, change).await,
        Direction::Clear => remove_dnc(txn, account_id, phones, change).await,
    }
}

/// Which way a change goes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Mark,
    Clear,
}

impl Services {
    /// Puts contacts and/or numbers on the DNC list.
    pub async fn mark_dnc(
        &self,
        account_id: &str,
        targets: DncTargets,
        source: DncSource,
        reason: &str,
        actor: &str,
    ) -> Result<BulkCounts> {
        let change = Change {
            source,
            reason,
            actor,
            at: self.now(),
        };
        self.apply_dnc(account_id, targets, &change, Direction::Mark)
            .await
    }

    /// Takes contacts and/or numbers off the DNC list: a manual act, so `actor` is
    /// required; the only way a DNC contact becomes ACTIVE again.
    pub async fn clear_dnc(
        &self,
        account_id: &str,
        targets: DncTargets,
        reason: &str,
        actor: &str,
    ) -> Result<BulkCounts> {
        if actor.trim().is_empty() {
            return Err(Error::invalid(
                "actor",
                "is required: clearing DNC is a manual act by a named person",
            ));
        }
        let change = Change {
            source: DncSource::Manual,
            reason,
            actor,
            at: self.now(),
        };
        self.apply_dnc(account_id, targets, &change, Direction::Clear)
            .await
    }

    async fn apply_dnc(
        &self,
        account_id: &str,
        targets: DncTargets,
        change: &Change<'_>,
        dir: Direction,
    ) -> Result<BulkCounts> {
        let region = self.account_region(account_id).await?;
        let mut counts = BulkCounts::default();
        let unchanged = match dir {
            Direction::Mark => "already_dnc",
            Direction::Clear => "not_dnc",
        };
        if let Some(selection) = &targets.selection {
            let mut walk = Walk::new(account_id, selection);
            while let Some((txn, chunk)) = walk.next_in_txn(&self.store).await? {
                // Distinct: a number belongs to one contact of the account.
                let phones: Vec<String> = chunk.iter().map(|c| c.1.clone()).collect();
                let changed = apply(&txn, account_id, &phones, change, dir).await?;
                counts.matched += chunk.len() as i64;
                counts.changed += changed;
                counts.skip(unchanged, chunk.len() as i64 - changed);
                txn.commit().await?;
            }
            counts.skip("not_found", walk.not_found());
        }
        let mut valid = Vec::new();
        for raw in &targets.phones {
            match parse_phone(raw, targets.region.or(Some(region))) {
                Ok(p) => valid.push(p.e164().to_string()),
                Err(_) => counts.skip("invalid_phone", 1),
            }
        }
        valid.sort();
        valid.dedup();
        for chunk in valid.chunks(super::bulk::CHUNK as usize) {
            let txn = self.store.begin_write().await?;
            let changed = apply(&txn, account_id, chunk, change, dir).await?;
            txn.commit().await?;
            counts.matched += chunk.len() as i64;
            counts.changed += changed;
            counts.skip(unchanged, chunk.len() as i64 - changed);
        }
        Ok(counts)
    }

    /// The DNC state of each number, in order. An unparseable number is reported as DNC
    /// with the reason (fail closed: the caller must not dial what we cannot check).
    pub async fn check_dnc(
        &self,
        account_id: &str,
        phones: &[String],
        region: Option<Region>,
    ) -> Result<Vec<DncCheck>> {
        let region = region.or(Some(self.account_region(account_id).await?));
        let parsed: Vec<_> = phones.iter().map(|p| parse_phone(p, region)).collect();
        let e164s: Vec<String> = parsed
            .iter()
            .filter_map(|p| p.as_ref().ok().map(|p| p.e164().to_string()))
            .collect();
        let entries = store::dnc::entries(self.store.conn(), account_id, &e164s).await?;
        let hits =
            store::dnc_lists::live_hits(self.store.conn(), account_id, &e164s, self.now()).await?;
        Ok(phones
            .iter()
            .zip(parsed)
            .map(|(raw, parsed)| match parsed {
                Ok(p) => {
                    let entry = entries.iter().find(|e| e.phone == p.e164()).cloned();
                    let lists: Vec<_> = hits
                        .iter()
                        .filter(|h| h.phone == p.e164())
                        .cloned()
                        .collect();
                    DncCheck {
                        phone: raw.clone(),
                        e164: p.e164().to_string(),
                        dnc: entry.is_some() || !lists.is_empty(),
                        entry,
                        lists,
                        error: String::new(),
                    }
                }
                Err(reason) => DncCheck {
                    phone: raw.clone(),
                    e164: String::new(),
                    dnc: true,
                    entry: None,
                    lists: Vec::new(),
                    error: reason,
                },
            })
            .collect())
    }

    /// A page of the DNC history (one number's when `phone` is given), newest first.
    pub async fn list_dnc_events(
        &self,
        account_id: &str,
        phone: &str,
        page_size: i32,
        page_token: &str,
    ) -> Result<(Vec<DncEvent>, String)> {
        let region = self.account_region(account_id).await?;
        let phone = if phone.trim().is_empty() {
            None
        } else {
            Some(
                parse_phone(phone, Some(region))
                    .map_err(|reason| Error::invalid("phone", reason))?,
            )
        };
        let size = page::page_size(page_size);
        let before = page::decode(page_token)?;
        let rows = store::dnc::events(
            self.store.conn(),
            account_id,
            phone.as_ref().map(Phone::e164),
            before,
            size + 1,
        )
        .await?;
        Ok(page::split(rows, size, |e| e.id))
    }
}

/// DNC numbers are parsed leniently: listing a number must not fail because its range is
/// not (yet) assigned.
fn parse_phone(raw: &str, region: Option<Region>) -> std::result::Result<Phone, String> {
    check_phone(raw, region, Validation::Lenient, "phone").map_err(|v| v.reason)
}
