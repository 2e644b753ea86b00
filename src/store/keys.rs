//! API keys (hashed).

use crate::domain::apikey::{ApiKey, GeneratedKey};
use crate::entity::api_key;
use crate::error::{Error, Result};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, sea_query::Expr,
};

fn decode(k: api_key::Model) -> ApiKey {
    ApiKey {
        id: k.id,
        account_id: k.account_id,
        name: k.name,
        created_at: k.created_at,
        revoked_at: k.revoked_at,
    }
}

/// Stores a generated key (its id and hash) of `account_id` (`None`: internal).
pub async fn insert<C: ConnectionTrait>(
    db: &C,
    key: GeneratedKey,
    account_id: Option<&str>,
    name: &str,
    now: i64,
) -> Result<ApiKey> {
    let active: api_key::ActiveModel = api_key::Model {
        id: key.id,
        account_id: account_id.map(str::to_string),
        name: name.to_string(),
        secret_hash: key.hash,
        created_at: now,
        revoked_at: None,
    }
    .into();
    Ok(decode(active.insert(db).await?))
}

/// The live (not revoked) key with this hash.
pub async fn find_live<C: ConnectionTrait>(db: &C, hash: &str) -> Result<Option<ApiKey>> {
    Ok(api_key::Entity::find()
        .filter(api_key::Column::SecretHash.eq(hash))
        .filter(api_key::Column::RevokedAt.is_null())
        .one(db)
        .await?
        .map(decode))
}

/// All keys, oldest first, optionally of one account.
pub async fn list<C: ConnectionTrait>(db: &C, account_id: Option<&str>) -> Result<Vec<ApiKey>> {
    let mut q = api_key::Entity::find().order_by_asc(api_key::Column::CreatedAt);
    if let Some(a) = account_id {
        q = q.filter(api_key::Column::AccountId.eq(a));
    }
    Ok(q.all(db).await?.into_iter().map(decode).collect())
}

/// How many keys are live.
pub async fn count_live<C: ConnectionTrait>(db: &C) -> Result<u64> {
    Ok(api_key::Entity::find()
        .filter(api_key::Column::RevokedAt.is_null())
        .count(db)
        .await?)
}

/// Revokes a key; NOT_FOUND if there is no live key with that id.
pub async fn revoke<C: ConnectionTrait>(db: &C, id: &str, now: i64) -> Result<()> {
    let res = api_key::Entity::update_many()
        .col_expr(api_key::Column::RevokedAt, Expr::value(now))
        .filter(api_key::Column::Id.eq(id))
        .filter(api_key::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    if res.rows_affected == 0 {
        return Err(Error::not_found("live API key", id));
    }
    Ok(())
}
