//! Contacts: create (within the plan limit), read with campaigns, update by field mask,
//! delete, list with filters.

use super::{Services, page};
use crate::domain::contact::{
    ContactDraft, check_custom_fields, check_phone_with_extension, check_time_zone,
};
use crate::domain::filter::{ContactFilter, ContactStatus};
use crate::domain::phone::check_extension;
use crate::domain::{Contact, Email, Validation};
use crate::error::{Error, Result, Violation};
use crate::store;
use crate::store::acquire::Db;
use std::collections::BTreeMap;

/// A contact with the campaigns it belongs to.
#[derive(Debug, Clone)]
pub struct ContactView {
    pub contact: Contact,
    pub campaign_ids: Vec<String>,
}

/// ALREADY_EXISTS naming the contact that holds the number.
async fn phone_taken(db: &Db, account_id: &str, phone: &str) -> Error {
    match store::contacts::find_by_phone(db, account_id, phone).await {
        Ok(Some(existing)) => Error::AlreadyExists(format!(
            "phone {phone} already belongs to contact {} in this account",
            existing.id
        )),
        _ => Error::AlreadyExists(format!(
            "phone {phone} already belongs to a contact in this account"
        )),
    }
}

impl Services {
    /// Creates a contact: checks the fields, inserts and reserves a slot under the plan
    /// limit, in one write transaction. The counter row is taken after the contact row,
    /// the order every writer keeps (see `service::import`).
    pub async fn create_contact(
        &self,
        account_id: &str,
        draft: ContactDraft,
    ) -> Result<ContactView> {
        let region = self.account_region(account_id).await?;
        let new = draft
            .check("contact", Some(region), Validation::Strict)
            .map_err(Error::Invalid)?;
        let now = self.now();
        let txn = self.store.begin_write().await?;
        let dnc = store::dnc::entry(&txn, account_id, new.phone.e164()).await?;
        let inserted = store::contacts::create(&txn, account_id, &new, dnc.as_ref(), now).await;
        let contact = match inserted {
            Ok(contact) => contact,
            Err(e) if store::is_unique_violation(&e) => {
                txn.rollback().await?;
                return Err(phone_taken(self.store.conn(), account_id, new.phone.e164()).await);
            }
            Err(e) => return Err(e),
        };
        if store::accounts::reserve_slots(&txn, account_id, 1, now).await? == 0 {
            let acc = store::accounts::get(&txn, account_id).await?;
            txn.rollback().await?;
            return Err(Error::PlanLimit {
                account_id: account_id.to_string(),
                limit: acc.contact_limit,
            });
        }
        txn.commit().await?;
        Ok(ContactView {
            contact,
            campaign_ids: vec![],
        })
    }

    /// One contact with its campaigns.
    pub async fn get_contact(&self, account_id: &str, id: i64) -> Result<ContactView> {
        let contact = store::contacts::find(self.store.conn(), account_id, id).await?;
        let campaign_ids = store::contacts::campaign_ids(self.store.conn(), account_id, id).await?;
        Ok(ContactView {
            contact,
            campaign_ids,
        })
    }

    /// Changes only the fields named in `mask`. `custom_fields` replaces the map;
    /// `custom_fields.KEY` sets one key (an empty value removes it). The phone of a DNC
    /// contact cannot change: that would silently reactivate it (clear DNC first).
    pub async fn update_contact(
        &self,
        account_id: &str,
        id: i64,
        draft: ContactDraft,
        mask: &[String],
    ) -> Result<ContactView> {
        if mask.is_empty() {
            return Err(Error::invalid("update_mask", "names no field to update"));
        }
        let region = self.account_region(account_id).await?;
        let now = self.now();
        let txn = self.store.begin_write().await?;
        let current = store::contacts::find(&txn, account_id, id).await?;
        let mut next = current.clone();
        let mut violations: Vec<Violation> = Vec::new();
        let mut new_phone = None;
        let with_phone = mask.iter().any(|p| p == "phone");
        let with_extension = mask.iter().any(|p| p == "phone_extension");
        for path in mask {
            let field = format!("contact.{path}");
            match path.as_str() {
                // A new number takes the extension written in it (or given beside it
                // under the "phone_extension" path), never the old number's.
                "phone" => match check_phone_with_extension(
                    &draft.phone,
                    if with_extension {
                        &draft.phone_extension
                    } else {
                        ""
                    },
                    draft.region.or(Some(region)),
                    Validation::Strict,
                    (&field, "contact.phone_extension"),
                ) {
                    Ok((p, ext)) => {
                        new_phone = Some(p);
                        next.phone_extension = ext;
                    }
                    Err(v) => violations.push(v),
                },
                "phone_extension" if with_phone => {}
                "phone_extension" => match check_extension(&draft.phone_extension) {
                    Ok(ext) => next.phone_extension = ext,
                    Err(e) => violations.push(Violation::new(&field, e.0)),
                },
                "first_name" | "last_name" | "company" | "title" => {
                    let value = draft_text(&draft, path).trim().to_string();
                    if value.chars().count() > crate::domain::contact::MAX_TEXT {
                        violations.push(Violation::new(&field, "is too long"));
                        continue;
                    }
                    match path.as_str() {
                        "first_name" => next.first_name = value,
                        "last_name" => next.last_name = value,
                        "company" => next.company = value,
                        _ => next.title = value,
                    }
                }
                "email" => {
                    if draft.email.trim().is_empty() {
                        next.email = String::new();
                    } else {
                        match Email::parse(&draft.email) {
                            Ok(e) => next.email = e.into_string(),
                            Err(reason) => violations.push(Violation::new(&field, reason)),
                        }
                    }
                }
                "time_zone" => match check_time_zone(&field, &draft.time_zone) {
                    Ok(tz) => next.time_zone = tz,
                    Err(v) => violations.push(v),
                },
                "custom_fields" => {
                    next.custom_fields =
                        check_custom_fields(&field, &draft.custom_fields, &mut violations);
                }
                p if p.starts_with("custom_fields.") => {
                    let key = &p["custom_fields.".len()..];
                    match draft.custom_fields.get(key).map(|v| v.trim()) {
                        Some(v) if !v.is_empty() => {
                            let one = BTreeMap::from([(key.to_string(), v.to_string())]);
                            next.custom_fields.extend(check_custom_fields(
                                "contact.custom_fields",
                                &one,
                                &mut violations,
                            ));
                        }
                        _ => {
                            next.custom_fields.remove(key);
                        }
                    }
                }
                other => violations.push(Violation::new(
                    "update_mask",
                    format!("{other:?} is not an updatable field"),
                )),
            }
        }
        if !violations.is_empty() {
            return Err(Error::Invalid(violations));
        }
        if next.custom_fields.len() > crate::domain::contact::MAX_CUSTOM_FIELDS {
            return Err(Error::invalid(
                "contact.custom_fields",
                "has too many entries",
            ));
        }
        if let Some(phone) = &new_phone
            && phone.e164() != current.phone
        {
            if current.status == ContactStatus::Dnc {
                return Err(Error::FailedPrecondition(format!(
                    "contact {id} is on the Do-Not-Call list; its phone cannot change until DNC is cleared"
                )));
            }
            let dnc = store::dnc::entry(&txn, account_id, phone.e164()).await?;
            next.phone = phone.e164().to_string();
            next.phone_national = phone.national().to_string();
            if let Some(d) = dnc {
                next.status = ContactStatus::Dnc;
                next.dnc_source = Some(d.source);
                next.dnc_at = Some(d.created_at);
            }
        }
        next.updated_at = now;
        match store::contacts::save_changes(&txn, &current, &next).await {
            Ok(contact) => {
                txn.commit().await?;
                let campaign_ids =
                    store::contacts::campaign_ids(self.store.conn(), account_id, id).await?;
                Ok(ContactView {
                    contact,
                    campaign_ids,
                })
            }
            Err(e) if store::is_unique_violation(&e) => {
                txn.rollback().await?;
                let phone = new_phone.map(|p| p.e164().to_string()).unwrap_or_default();
                Err(phone_taken(self.store.conn(), account_id, &phone).await)
            }
            Err(e) => Err(e),
        }
    }

    /// Deletes a contact and frees its slot. Its DNC entry stays on the list.
    pub async fn delete_contact(&self, account_id: &str, id: i64) -> Result<()> {
        let txn = self.store.begin_write().await?;
        if !store::contacts::delete(&txn, account_id, id).await? {
            return Err(Error::not_found("contact", id));
        }
        store::accounts::adjust_count(&txn, account_id, -1).await?;
        txn.commit().await?;
        Ok(())
    }

    /// A page of contacts matching `filter`, newest first, and the next page's token.
    pub async fn list_contacts(
        &self,
        account_id: &str,
        filter: &ContactFilter,
        page_size: i32,
        page_token: &str,
    ) -> Result<(Vec<Contact>, String)> {
        store::accounts::get(self.store.conn(), account_id).await?;
        let size = page::page_size(page_size);
        let before = page::decode(page_token)?;
        let mut rows =
            store::contacts::list_contacts(self.store.conn(), account_id, filter, before, size + 1)
                .await?;
        let next = if rows.len() as u64 > size {
            rows.truncate(size as usize);
            rows.last().map(|c| page::encode(c.id)).unwrap_or_default()
        } else {
            String::new()
        };
        Ok((rows, next))
    }
}

fn draft_text<'a>(draft: &'a ContactDraft, path: &str) -> &'a str {
    match path {
        "first_name" => &draft.first_name,
        "last_name" => &draft.last_name,
        "company" => &draft.company,
        _ => &draft.title,
    }
}
