//! Consent records of contacts, and the condition a campaign requiring consent puts on
//! its claims ([`live_accepted`]).

use crate::domain::consent::{Consent, ConsentKind, ConsentRequirement, NewConsent};
use crate::entity::{consent, contact};
use crate::error::Result;
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
};

/// The `contacts` column summarizing a contact's live consents of the kinds `required`
/// accepts (migration m0020, kept by triggers on `consents`): the latest expiry among its
/// unrevoked records of those kinds, `i64::MAX` for one without expiry, NULL for none.
/// None when nothing is required.
fn summary_column(required: ConsentRequirement) -> Option<&'static str> {
    match required {
        ConsentRequirement::NotRequired => None,
        // Written consent is express consent too.
        ConsentRequirement::Express => Some("consent_express_until"),
        ConsentRequirement::ExpressWritten => Some("consent_written_until"),
    }
}

/// `contacts.<summary> > now`: in a query over `contacts`, keeps only contacts holding a
/// live consent (not revoked, not expired at `now`) of a kind `required` accepts — a
/// column of the row already read, no probe of `consents`. True when nothing is required.
pub fn live_accepted(required: ConsentRequirement, now: i64) -> Expr {
    let Some(column) = summary_column(required) else {
        return Expr::val(true);
    };
    let until = || Expr::col((contact::Entity, Alias::new(column)));
    // Never NULL (no record): also read as a column (PreviewDialable's facts).
    until().is_not_null().and(until().gt(now))
}

/// Whether a contact holds a live consent of an accepted kind at `now`.
pub async fn has_live<C: ConnectionTrait>(
    db: &C,
    contact_id: i64,
    required: ConsentRequirement,
    now: i64,
) -> Result<bool> {
    let q = Query::select()
        .expr(Expr::val(1))
        .from(contact::Entity)
        .and_where(Expr::col((contact::Entity, contact::Column::Id)).eq(contact_id))
        .and_where(live_accepted(required, now))
        .to_owned();
    Ok(db.query_one(&q).await?.is_some())
}

fn decode(c: consent::Model) -> Consent {
    Consent {
        id: c.id,
        account_id: c.account_id,
        contact_id: c.contact_id,
        kind: ConsentKind::from_stored(&c.kind),
        channel: c.channel,
        source: c.source,
        captured_at: c.captured_at,
        expires_at: c.expires_at,
        revoked_at: c.revoked_at,
        revoked_how: c.revoked_how,
        created_at: c.created_at,
    }
}

/// The row of a new consent record of a contact, captured at `now` when `c` gives no
/// time.
fn new_row(account_id: &str, contact_id: i64, c: NewConsent, now: i64) -> consent::ActiveModel {
    consent::ActiveModel {
        id: NotSet,
        account_id: Set(account_id.to_string()),
        contact_id: Set(contact_id),
        kind: Set(c.kind.as_str().to_string()),
        channel: Set(c.channel),
        source: Set(c.source),
        captured_at: Set(c.captured_at.unwrap_or(now)),
        expires_at: Set(c.expires_at),
        revoked_at: Set(None),
        revoked_how: Set(String::new()),
        created_at: Set(now),
    }
}

/// Stores a consent record of a contact, created at `now` (and captured then when `c`
/// gives no time).
pub async fn insert<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    contact_id: i64,
    c: NewConsent,
    now: i64,
) -> Result<Consent> {
    Ok(decode(
        new_row(account_id, contact_id, c, now).insert(db).await?,
    ))
}

/// Stores many consent records (an import chunk's: contact id and consent), created at
/// `now`, 1,000 a statement: 10 columns stay under SQLite's parameter cap.
pub async fn insert_all<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    consents: Vec<(i64, NewConsent)>,
    now: i64,
) -> Result<()> {
    let mut rows = consents
        .into_iter()
        .map(|(contact_id, c)| new_row(account_id, contact_id, c, now))
        .peekable();
    while rows.peek().is_some() {
        let part: Vec<_> = rows.by_ref().take(1000).collect();
        consent::Entity::insert_many(part)
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// A contact's consent records, newest first.
pub async fn of_contact<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    contact_id: i64,
) -> Result<Vec<Consent>> {
    Ok(consent::Entity::find()
        .filter(consent::Column::AccountId.eq(account_id))
        .filter(consent::Column::ContactId.eq(contact_id))
        .order_by_desc(consent::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(decode)
        .collect())
}

/// Revokes a contact's records not revoked yet, at `at`, saying how; returns how many.
pub async fn revoke<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    contact_id: i64,
    at: i64,
    how: &str,
) -> Result<u64> {
    let of_contact = consent::Column::ContactId.eq(contact_id);
    revoke_where(db, account_id, of_contact, at, how).await
}

/// Revokes the records not revoked yet of the account's contact holding `phone` (E.164),
/// at `at`, saying how; returns how many.
pub async fn revoke_of_number<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    phone: &str,
    at: i64,
    how: &str,
) -> Result<u64> {
    let holder = Query::select()
        .column(contact::Column::Id)
        .from(contact::Entity)
        .and_where(Expr::col(contact::Column::AccountId).eq(account_id))
        .and_where(Expr::col(contact::Column::Phone).eq(phone))
        .to_owned();
    let of_holder = consent::Column::ContactId.in_subquery(holder);
    revoke_where(db, account_id, of_holder, at, how).await
}

async fn revoke_where<C: ConnectionTrait>(
    db: &C,
    account_id: &str,
    contact: Expr,
    at: i64,
    how: &str,
) -> Result<u64> {
    Ok(consent::Entity::update_many()
        .col_expr(consent::Column::RevokedAt, Expr::value(at))
        .col_expr(consent::Column::RevokedHow, Expr::value(how))
        .filter(consent::Column::AccountId.eq(account_id))
        .filter(contact)
        .filter(consent::Column::RevokedAt.is_null())
        .exec(db)
        .await?
        .rows_affected)
}
