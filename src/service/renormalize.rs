//! `contactd renormalize`: re-reads every stored number (contacts and DNC entries) with
//! today's parser and rewrites the ones it now writes differently.
//!
//! Numbers stored by an earlier parser may not be what libphonenumber makes of them
//! (`+4402079460018`, a national prefix kept after the country code, is `+442079460018`).
//! Such a row is rewritten in its own transaction. Nothing is merged or deleted: when the
//! new number is already held by another row of the account (or two rows would become
//! one number), both are reported as a collision and left as they are, for a person to
//! decide. Numbers the parser no longer reads at all, or reads as not valid, are reported
//! too: an earlier parser may have dropped a digit (`+49 1512 …` stored as `+495123…`),
//! and only the source file can tell which.
//!
//! A contact moved onto a number on the DNC list becomes DNC, so "status = DNC iff the
//! number is listed" holds afterwards; DNC entries are rewritten first for that reason. A
//! rewritten entry makes the contact already holding its new spelling DNC too, and stays
//! listed under its old spelling as well while a contact that cannot move (a collision)
//! holds it.
//! The DNC history (`dnc_events`) keeps the numbers as they were recorded.

use super::Services;
use crate::domain::filter::ContactStatus;
use crate::domain::{Phone, Validation};
use crate::error::Result;
use crate::store;
use std::collections::HashMap;

/// Rows read per page.
const PAGE: u64 = 1000;

/// A stored number that changes, or would.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub account_id: String,
    /// The contact (`None` for a DNC entry).
    pub contact_id: Option<i64>,
    pub old: String,
    pub new: String,
}

/// Two stored rows that would hold one number: neither is changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collision {
    /// The row that would change.
    pub change: Change,
    /// The contact already holding (or also moving to) `change.new` (`None` for the DNC
    /// list, which holds the number already).
    pub holder: Option<i64>,
}

/// A stored number the parser does not accept (left as it is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suspect {
    pub account_id: String,
    pub contact_id: Option<i64>,
    pub phone: String,
    pub reason: String,
}

/// What a run found (and, unless a dry run, did).
#[derive(Debug, Default)]
pub struct Report {
    pub contacts_read: u64,
    pub dnc_entries_read: u64,
    /// Rows rewritten (or, in a dry run, that would be).
    pub changed: Vec<Change>,
    pub collisions: Vec<Collision>,
    /// Not a number libphonenumber reads, or not a possible one.
    pub unreadable: Vec<Suspect>,
    /// Readable but not valid (STRICT): possibly mangled by an earlier parser.
    pub not_valid: Vec<Suspect>,
}

/// What today's parser makes of a stored number (`None`, and reported, if it reads none).
fn reparse(
    account_id: &str,
    contact_id: Option<i64>,
    stored: &str,
    report: &mut Report,
) -> Option<Phone> {
    let suspect = |reason: String| Suspect {
        account_id: account_id.to_string(),
        contact_id,
        phone: stored.to_string(),
        reason,
    };
    match Phone::parse(stored, None, Validation::Lenient) {
        Err(e) => {
            report.unreadable.push(suspect(e.0));
            None
        }
        Ok(phone) => {
            if let Err(e) = Phone::parse(stored, None, Validation::Strict) {
                report.not_valid.push(suspect(e.0));
            }
            Some(phone)
        }
    }
}

impl Services {
    /// Re-normalizes every stored number; with `dry_run` reports without writing.
    pub async fn renormalize(&self, dry_run: bool) -> Result<Report> {
        let mut report = Report::default();
        self.renormalize_dnc(dry_run, &mut report).await?;
        self.renormalize_contacts(dry_run, &mut report).await?;
        Ok(report)
    }

    async fn renormalize_dnc(&self, dry_run: bool, report: &mut Report) -> Result<()> {
        let mut planned: Vec<Change> = Vec::new();
        let mut after: Option<(String, String)> = None;
        loop {
            let cursor = after.as_ref().map(|(a, p)| (a.as_str(), p.as_str()));
            let page =
                store::renormalize::dnc_entries_after(self.store.conn(), cursor, PAGE).await?;
            let Some(last) = page.last().cloned() else {
                break;
            };
            for (account_id, phone) in page {
                report.dnc_entries_read += 1;
                if let Some(p) = reparse(&account_id, None, &phone, report)
                    && p.e164() != phone
                {
                    planned.push(Change {
                        account_id,
                        contact_id: None,
                        new: p.e164().to_string(),
                        old: phone,
                    });
                }
            }
            after = Some(last);
        }
        let targets = count_targets(&planned);
        for change in planned {
            let taken = targets[&(change.account_id.clone(), change.new.clone())] > 1
                || store::dnc::entry(self.store.conn(), &change.account_id, &change.new)
                    .await?
                    .is_some();
            if taken {
                report.collisions.push(Collision {
                    change,
                    holder: None,
                });
                continue;
            }
            if !dry_run {
                self.move_dnc_entry(&change).await?;
            }
            report.changed.push(change);
        }
        Ok(())
    }

    async fn renormalize_contacts(&self, dry_run: bool, report: &mut Report) -> Result<()> {
        let mut planned: Vec<(Change, Phone)> = Vec::new();
        let mut after = 0;
        loop {
            let page = store::renormalize::contacts_after(self.store.conn(), after, PAGE).await?;
            let Some(last) = page.last().map(|c| c.id) else {
                break;
            };
            for c in page {
                report.contacts_read += 1;
                let Some(p) = reparse(&c.account_id, Some(c.id), &c.phone, report) else {
                    continue;
                };
                if p.e164() != c.phone || p.national() != c.phone_national {
                    let change = Change {
                        account_id: c.account_id,
                        contact_id: Some(c.id),
                        old: c.phone,
                        new: p.e164().to_string(),
                    };
                    planned.push((change, p));
                }
            }
            after = last;
        }
        let targets = count_targets(
            &planned
                .iter()
                .filter(|(c, _)| c.old != c.new)
                .map(|(c, _)| c.clone())
                .collect::<Vec<_>>(),
        );
        for (change, phone) in planned {
            let key = (change.account_id.clone(), change.new.clone());
            if change.old != change.new {
                let holder = store::contacts::find_by_phone(
                    self.store.conn(),
                    &change.account_id,
                    &change.new,
                )
                .await?
                .map(|h| h.id);
                let other_mover = targets.get(&key).is_some_and(|n| *n > 1);
                if holder.is_some() || other_mover {
                    report.collisions.push(Collision { change, holder });
                    continue;
                }
            }
            if !dry_run {
                self.move_contact(&change, &phone).await?;
            }
            report.changed.push(change);
        }
        Ok(())
    }

    /// Rewrites one DNC entry's number, keeping "status = DNC iff listed": a contact
    /// holding the new spelling becomes DNC; and when contacts hold both spellings (the
    /// contacts' pass reports them as a collision and leaves both as they are), the old
    /// spelling stays listed beside the new.
    async fn move_dnc_entry(&self, change: &Change) -> Result<()> {
        let account = change.account_id.as_str();
        let txn = self.store.begin_write().await?;
        let old_holder = store::contacts::find_by_phone(&txn, account, &change.old).await?;
        let new_holder = store::contacts::find_by_phone(&txn, account, &change.new).await?;
        if old_holder.is_some() && new_holder.is_some() {
            store::renormalize::copy_dnc_entry(&txn, account, &change.old, &change.new).await?;
        } else {
            store::renormalize::move_dnc_entry(&txn, account, &change.old, &change.new).await?;
        }
        if let Some(holder) = new_holder {
            let current = store::contacts::find(&txn, account, holder.id).await?;
            let mut after = current.clone();
            self.follow_the_list(&txn, &mut after, &change.new).await?;
            store::contacts::save_changes(&txn, &current, &after).await?;
        }
        txn.commit().await?;
        Ok(())
    }

    /// A contact whose number is listed becomes DNC (with the entry's source and time).
    async fn follow_the_list(
        &self,
        txn: &store::Txn,
        contact: &mut crate::domain::Contact,
        phone: &str,
    ) -> Result<()> {
        let listed = store::dnc::entry(txn, &contact.account_id, phone).await?;
        if let Some(d) = listed
            && contact.status != ContactStatus::Dnc
        {
            contact.status = ContactStatus::Dnc;
            contact.dnc_source = Some(d.source);
            contact.dnc_at = Some(d.created_at);
            contact.updated_at = self.now();
        }
        Ok(())
    }

    /// Rewrites one contact's number; a number on the DNC list makes it DNC.
    async fn move_contact(&self, change: &Change, phone: &Phone) -> Result<()> {
        let id = change.contact_id.unwrap_or_default();
        let txn = self.store.begin_write().await?;
        let current = store::contacts::find(&txn, &change.account_id, id).await?;
        let mut after = current.clone();
        after.phone = phone.e164().to_string();
        after.phone_national = phone.national().to_string();
        self.follow_the_list(&txn, &mut after, phone.e164()).await?;
        after.updated_at = self.now();
        store::contacts::save_changes(&txn, &current, &after).await?;
        txn.commit().await?;
        Ok(())
    }
}

/// How many planned changes go to each (account, number).
fn count_targets(changes: &[Change]) -> HashMap<(String, String), usize> {
    let mut out = HashMap::new();
    for c in changes {
        *out.entry((c.account_id.clone(), c.new.clone()))
            .or_insert(0) += 1;
    }
    out
}
