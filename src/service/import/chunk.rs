//! One chunk of checked rows written in one transaction: DNC lookups, the plan's room,
//! new contacts inserted, stored duplicates merged under the policy, campaign
//! memberships, rejected rows kept, and the batch's counts — all or nothing.

use super::writer::{PhaseTimes, Writing};
use super::{DuplicatePolicy, MAX_STORED_REJECTED_ROWS};
use crate::domain::consent::NewConsent;
use crate::domain::dnc::DncEntry;
use crate::domain::filter::ContactStatus;
use crate::domain::{Contact, NewContact};
use crate::error::{Error, Result};
use crate::import::pipeline::{Row, RowError};
use crate::import::{Counts, Outcome, Rejection};
use crate::service::Services;
use crate::store;
use crate::store::import::NewRows;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

impl Services {
    /// Writes one chunk of rows in one transaction; returns its counts and where the
    /// time went.
    ///
    /// Every writer takes its locks in one order — contact rows, then the account's
    /// counter row, then the batch row — so the chunks of one import (and concurrent
    /// imports) insert side by side and queue only for the short end of each other's
    /// transaction. New numbers are inserted first and plan slots reserved for what was
    /// inserted; rows that do not fit after all are removed again, last lines first,
    /// in the same transaction.
    ///
    /// Nothing here waits on anything but the database, whose deadlock detection then
    /// sees every wait. New rows are inserted, and stored duplicates updated, in number
    /// order, so two imports into one account lock the numbers they share in one order.
    pub(super) async fn commit_chunk(
        &self,
        ctx: &Writing<'_>,
        rows: Vec<Row>,
    ) -> Result<(Counts, PhaseTimes)> {
        let started = Instant::now();
        let mut times = PhaseTimes::default();
        let mut d = Counts {
            rows: rows.len() as i64,
            ..Default::default()
        };
        let mut errors = Vec::new();
        let mut candidates = Vec::new();
        // The consents rows give, by number (a number is valid on one row of a file).
        let mut consents: HashMap<String, NewConsent> = HashMap::new();
        for row in rows {
            match row.outcome {
                Outcome::Invalid(e) => {
                    d.reject(e.kind);
                    errors.push((
                        row.line,
                        store::import::error_row(ctx.id, row.line, &e, &row.raw),
                    ));
                }
                Outcome::DuplicateInFile => d.duplicates_in_file += 1,
                Outcome::Valid(c) => {
                    if let Some(consent) = row.consent {
                        consents.insert(c.phone.e164().to_string(), consent);
                    }
                    candidates.push((row.line, c, row.raw))
                }
            }
        }
        let now = self.now();
        let txn = self.store.begin_write().await?;
        let mut mark = Instant::now();
        times.begin += mark - started;
        let mut lap = |phase: &mut Duration| {
            let t = Instant::now();
            *phase += t - mark;
            mark = t;
        };
        if !candidates.is_empty() {
            let phones: Vec<String> = candidates
                .iter()
                .map(|(_, c, _)| c.phone.e164().to_string())
                .collect();
            let dnc: HashMap<String, DncEntry> = store::dnc::entries(&txn, ctx.account_id, &phones)
                .await?
                .into_iter()
                .map(|e| (e.phone.clone(), e))
                .collect();
            // The room as last committed, read without a lock. With room for every row
            // (the common case) all of them are inserted at once, and the numbers the
            // account already has come back as conflicts, read only then. Near the limit
            // the stored numbers are read first, so that duplicates do not take slots
            // from new numbers, and rows that cannot fit are not inserted at all.
            let account = store::accounts::get(&txn, ctx.account_id).await?;
            let room = (account.contact_limit - account.contact_count).max(0) as usize;
            let mut existing: HashMap<String, Contact> = HashMap::new();
            let mut dups = Vec::new();
            let mut to_insert = candidates;
            if room < to_insert.len() {
                existing = store::contacts::by_phones(&txn, ctx.account_id, &phones)
                    .await?
                    .into_iter()
                    .map(|c| (c.phone.clone(), c))
                    .collect();
                let new;
                (new, dups) = to_insert
                    .into_iter()
                    .partition(|(_, c, _)| !existing.contains_key(c.phone.e164()));
                to_insert = new;
                for (line, _, raw) in to_insert.drain(room.min(to_insert.len())..) {
                    d.reject(Rejection::OverLimit);
                    let e = over_limit(account.contact_limit);
                    errors.push((line, store::import::error_row(ctx.id, line, &e, &raw)));
                }
            }
            lap(&mut times.lookup);
            let mut by_number: Vec<_> = to_insert.iter().collect();
            by_number.sort_unstable_by(|a, b| a.1.phone.e164().cmp(b.1.phone.e164()));
            let models: Vec<_> = by_number
                .into_iter()
                .map(|(_, c, _)| {
                    let entry = dnc.get(c.phone.e164());
                    store::contacts::new_row(
                        ctx.account_id,
                        c,
                        entry,
                        Some(ctx.id.to_string()),
                        now,
                    )
                })
                .collect();
            lap(&mut times.prepare);
            // New contacts' ids are needed only as campaign members and consents' owners.
            let want_ids = ctx.campaign_id.is_some() || !consents.is_empty();
            let inserted = store::import::insert_contacts(&txn, models, want_ids).await?;
            lap(&mut times.insert);
            // Inserted rows (in line order), with their ids when read.
            let mut kept: Vec<(_, Option<i64>)> = Vec::new();
            match inserted {
                NewRows::All => kept.extend(to_insert.into_iter().map(|row| (row, None))),
                NewRows::Rows(rows) => {
                    let new_ids: HashMap<String, i64> =
                        rows.into_iter().map(|r| (r.phone, r.id)).collect();
                    for row in to_insert {
                        match new_ids.get(row.1.phone.e164()) {
                            Some(&id) => kept.push((row, Some(id))),
                            // Stored before, or by a concurrent transaction: a duplicate.
                            None => dups.push(row),
                        }
                    }
                }
            }
            dups.sort_unstable_by(|a, b| a.1.phone.e164().cmp(b.1.phone.e164()));
            if !dups.is_empty() {
                let dup_phones: Vec<String> = dups
                    .iter()
                    .map(|(_, c, _)| c.phone.e164().to_string())
                    .collect();
                // Stored numbers this chunk writes (updates, or memberships that must not
                // lose their contact) are locked in number order before the first write,
                // as every writer of several contacts does; then read as they are now.
                let lock = match (ctx.policy, ctx.campaign_id) {
                    (DuplicatePolicy::Skip, None) => None,
                    (DuplicatePolicy::Skip, Some(_)) => Some(store::contacts::Lock::Memberships),
                    _ => Some(store::contacts::Lock::Update),
                };
                if let Some(lock) = lock {
                    let targets = store::contacts::Targets::Phones(&dup_phones);
                    store::contacts::lock_in_number_order(&txn, ctx.account_id, targets, lock)
                        .await?;
                }
                existing = store::contacts::by_phones(&txn, ctx.account_id, &dup_phones)
                    .await?
                    .into_iter()
                    .map(|c| (c.phone.clone(), c))
                    .collect();
            }
            let is_dnc = |c: &Contact| c.status == ContactStatus::Dnc || dnc.contains_key(&c.phone);
            // Members: (contact id, DNC).
            let mut members: Vec<(i64, bool)> = Vec::new();
            // Consent records: of new contacts, and of stored ones the policy updates.
            let mut consent_rows = Vec::new();
            let mut consent_of = |contact_id: i64, phone: &str| {
                if let Some(c) = consents.remove(phone) {
                    consent_rows.push((contact_id, c));
                }
            };
            for (_, new_values, _) in &dups {
                let Some(current) = existing.get(new_values.phone.e164()) else {
                    // Conflicted, yet not readable: deleted again since. Nothing to add.
                    d.duplicates_existing += 1;
                    continue;
                };
                let listed = is_dnc(current);
                d.dnc += listed as i64;
                match merge(current, new_values, ctx.policy, now) {
                    Some(changed) => {
                        store::contacts::save_changes(&txn, current, &changed).await?;
                        d.updated += 1;
                    }
                    None => d.duplicates_existing += 1,
                }
                if ctx.policy != DuplicatePolicy::Skip {
                    consent_of(current.id, &current.phone);
                }
                members.push((current.id, listed));
            }
            // The counter row, once every contact row this chunk touches is locked.
            let granted =
                store::accounts::reserve_slots(&txn, ctx.account_id, kept.len() as i64, now).await?
                    as usize;
            if granted < kept.len() {
                // Another writer took the room since it was read.
                let removed: Vec<_> = kept.drain(granted..).collect();
                let phones: Vec<String> = removed
                    .iter()
                    .map(|((_, c, _), _)| c.phone.e164().to_string())
                    .collect();
                store::contacts::delete_by_phones(&txn, ctx.account_id, &phones).await?;
                let e = over_limit(account.contact_limit);
                for ((line, _, raw), _) in removed {
                    d.reject(Rejection::OverLimit);
                    errors.push((line, store::import::error_row(ctx.id, line, &e, &raw)));
                }
            }
            for ((_, c, _), id) in &kept {
                let listed = dnc.contains_key(c.phone.e164());
                d.imported += 1;
                d.dnc += listed as i64;
                if let Some(id) = id {
                    consent_of(*id, c.phone.e164());
                    members.push((*id, listed));
                }
            }
            store::consents::insert_all(&txn, ctx.account_id, consent_rows, now).await?;
            if let Some(campaign) = ctx.campaign_id {
                let (excluded, ids): (Vec<_>, Vec<_>) =
                    members.iter().partition(|(_, listed)| *listed);
                d.dnc_excluded = excluded.len() as i64;
                let ids: Vec<i64> = ids.iter().map(|(id, _)| *id).collect();
                d.added_to_campaign =
                    store::campaigns::add_members(&txn, ctx.account_id, campaign, &ids, now).await?
                        as i64;
            }
        }
        // Invalid and over-limit rows interleave; stored in line order, as many as the
        // batch still has room for.
        errors.sort_by_key(|(line, _)| *line);
        let rejected = errors.len() as i64;
        let before = ctx.rejected_kept.fetch_add(rejected, Ordering::Relaxed);
        let keep = (MAX_STORED_REJECTED_ROWS - before).clamp(0, rejected);
        errors.truncate(keep as usize);
        d.rejected_not_stored = rejected - keep;
        store::import::insert_errors(&txn, errors.into_iter().map(|(_, e)| e).collect()).await?;
        if !store::import::add_counts(&txn, ctx.id, &d, now).await? {
            txn.rollback().await?;
            return Err(Error::FailedPrecondition(format!(
                "import batch {} is no longer running",
                ctx.id
            )));
        }
        lap(&mut times.rest);
        txn.commit().await?;
        lap(&mut times.commit);
        Ok((d, times))
    }
}

pub(super) fn over_limit(limit: i64) -> RowError {
    RowError {
        column: String::new(),
        raw_value: String::new(),
        reason: format!("the account is at its plan limit of {limit} contacts"),
        kind: Rejection::OverLimit,
    }
}

/// The stored contact changed by a duplicate row under `policy`, or `None` if nothing
/// changes. The phone never changes, so the DNC status stays right.
pub(super) fn merge(
    current: &Contact,
    row: &NewContact,
    policy: DuplicatePolicy,
    now: i64,
) -> Option<Contact> {
    if policy == DuplicatePolicy::Skip {
        return None;
    }
    let all = policy == DuplicatePolicy::UpdateAll;
    let pick = |cur: &str, new: &str| -> Option<String> {
        let take = !new.is_empty() && new != cur && (all || cur.is_empty());
        take.then(|| new.to_string())
    };
    let email = row.email.as_ref().map(|e| e.as_str()).unwrap_or_default();
    let mut after = current.clone();
    let mut changed = false;
    for (new, slot) in [
        (&row.first_name[..], &mut after.first_name),
        (&row.last_name, &mut after.last_name),
        (email, &mut after.email),
        (&row.company, &mut after.company),
        (&row.title, &mut after.title),
        (&row.time_zone, &mut after.time_zone),
        (&row.phone_extension, &mut after.phone_extension),
    ] {
        if let Some(v) = pick(slot, new) {
            *slot = v;
            changed = true;
        }
    }
    for (k, v) in &row.custom_fields {
        let cur = after.custom_fields.get(k).cloned().unwrap_or_default();
        if let Some(v) = pick(&cur, v) {
            after.custom_fields.insert(k.clone(), v);
            changed = true;
        }
    }
    if !changed {
        return None;
    }
    after.updated_at = now;
    Some(after)
}
