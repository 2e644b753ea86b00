//! PostgreSQL: `dial_state` loses its foreign key to `contacts`; a statement trigger on
//! `contacts` deletes the rows of deleted contacts instead.
//!
//! The foreign key cost every first lease of a person a referential check (a query and a
//! row lock on the contact, run as a trigger per inserted row): about 11 µs of a claim's
//! PostgreSQL time per contact, half the per-contact budget, measured with `EXPLAIN
//! ANALYZE` on a claim of 100 new persons. The claim already holds the contact's row lock
//! (`FOR NO KEY UPDATE`) when it writes `dial_state`, and deleting a contact waits for that
//! lock, so a lease can never be written for a contact being deleted; what the key still
//! did — remove a deleted contact's row — the trigger does once per DELETE statement.
//! Contact ids are never reused, so even a row left behind would only take space.
//!
//! SQLite keeps the key (changing one there rebuilds the table; the cost is not measured
//! against a target there).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        on_postgres(
            manager,
            "ALTER TABLE dial_state DROP CONSTRAINT IF EXISTS dial_state_contact_id_fkey;
                 CREATE FUNCTION dial_state_forget_deleted_contacts() RETURNS trigger
                 LANGUAGE plpgsql AS $$
                 BEGIN
                   DELETE FROM dial_state d USING deleted_contacts o WHERE d.contact_id = o.id;
                   RETURN NULL;
                 END $$;
                 CREATE TRIGGER contacts_forget_dial_state AFTER DELETE ON contacts
                   REFERENCING OLD TABLE AS deleted_contacts
                   FOR EACH STATEMENT EXECUTE FUNCTION dial_state_forget_deleted_contacts();",
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        on_postgres(
            manager,
            "DROP TRIGGER IF EXISTS contacts_forget_dial_state ON contacts;
                 DROP FUNCTION IF EXISTS dial_state_forget_deleted_contacts();
                 DELETE FROM dial_state d WHERE NOT EXISTS
                   (SELECT 1 FROM contacts c WHERE c.id = d.contact_id);
                 ALTER TABLE dial_state ADD CONSTRAINT dial_state_contact_id_fkey
                   FOREIGN KEY (contact_id) REFERENCES contacts(id) ON DELETE CASCADE;",
        )
        .await
    }
}

/// Runs `sql` on PostgreSQL; nothing on SQLite.
async fn on_postgres(manager: &SchemaManager<'_>, sql: &str) -> Result<(), DbErr> {
    if manager.get_database_backend() == DbBackend::Postgres {
        manager.get_connection().execute_unprepared(sql).await?;
    }
    Ok(())
}
