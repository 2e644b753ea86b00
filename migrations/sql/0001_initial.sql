-- contactd initial schema. One template for both backends: `{ID}` is the auto-increment
-- primary key and `{KEY}` a text column compared byte-wise (prefix search uses range
-- predicates on these, so they need byte order: COLLATE "C" on PostgreSQL, SQLite's
-- default BINARY). Timestamps are Unix milliseconds (BIGINT) on both backends.

CREATE TABLE accounts (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    plan            TEXT NOT NULL,
    contact_limit   BIGINT NOT NULL,
    contact_count   BIGINT NOT NULL DEFAULT 0,
    default_region  TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    CHECK (contact_count >= 0)
);

CREATE TABLE import_batches (
    id                   TEXT PRIMARY KEY,
    account_id           TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    client_request_id    TEXT,
    status               TEXT NOT NULL,
    file_name            TEXT NOT NULL DEFAULT '',
    campaign_id          TEXT NOT NULL DEFAULT '',
    mapping              TEXT NOT NULL DEFAULT '[]',
    delimiter            TEXT NOT NULL DEFAULT '',
    encoding             TEXT NOT NULL DEFAULT '',
    header               TEXT NOT NULL DEFAULT '',
    rows_read            BIGINT NOT NULL DEFAULT 0,
    imported             BIGINT NOT NULL DEFAULT 0,
    updated              BIGINT NOT NULL DEFAULT 0,
    duplicates_in_file   BIGINT NOT NULL DEFAULT 0,
    duplicates_existing  BIGINT NOT NULL DEFAULT 0,
    invalid              BIGINT NOT NULL DEFAULT 0,
    over_limit           BIGINT NOT NULL DEFAULT 0,
    dnc                  BIGINT NOT NULL DEFAULT 0,
    dnc_excluded         BIGINT NOT NULL DEFAULT 0,
    added_to_campaign    BIGINT NOT NULL DEFAULT 0,
    error_message        TEXT NOT NULL DEFAULT '',
    started_at           BIGINT NOT NULL,
    heartbeat_at         BIGINT NOT NULL,
    finished_at          BIGINT
);
CREATE UNIQUE INDEX import_batches_request_uq ON import_batches (account_id, client_request_id);
CREATE INDEX import_batches_account_idx ON import_batches (account_id, started_at, id);
CREATE INDEX import_batches_status_idx ON import_batches (status, heartbeat_at);

CREATE TABLE contacts (
    id                  {ID},
    account_id          TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    phone               {KEY} NOT NULL,
    phone_national      {KEY} NOT NULL,
    first_name          TEXT NOT NULL DEFAULT '',
    last_name           TEXT NOT NULL DEFAULT '',
    email               TEXT NOT NULL DEFAULT '',
    company             TEXT NOT NULL DEFAULT '',
    title               TEXT NOT NULL DEFAULT '',
    name_key            {KEY} NOT NULL DEFAULT '',
    last_key            {KEY} NOT NULL DEFAULT '',
    custom_fields       TEXT NOT NULL DEFAULT '{}',
    time_zone           TEXT NOT NULL DEFAULT '',
    status              TEXT NOT NULL DEFAULT 'ACTIVE',
    dnc_source          TEXT NOT NULL DEFAULT '',
    dnc_at              BIGINT,
    call_count          BIGINT NOT NULL DEFAULT 0,
    last_called_at      BIGINT,
    last_outcome        TEXT NOT NULL DEFAULT '',
    total_talk_seconds  BIGINT NOT NULL DEFAULT 0,
    import_batch_id     TEXT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);
CREATE UNIQUE INDEX contacts_phone_uq ON contacts (account_id, phone);
CREATE INDEX contacts_account_id_idx ON contacts (account_id, id);
CREATE INDEX contacts_national_idx ON contacts (account_id, phone_national);
CREATE INDEX contacts_name_idx ON contacts (account_id, name_key);
CREATE INDEX contacts_last_name_idx ON contacts (account_id, last_key);
CREATE INDEX contacts_last_called_idx ON contacts (account_id, last_called_at);
CREATE INDEX contacts_status_idx ON contacts (account_id, status, id);

CREATE TABLE campaign_members (
    account_id        TEXT NOT NULL,
    campaign_id       TEXT NOT NULL,
    contact_id        BIGINT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    attempts          INTEGER NOT NULL DEFAULT 0,
    last_attempt_at   BIGINT,
    lease_owner       TEXT,
    lease_expires_at  BIGINT,
    added_at          BIGINT NOT NULL,
    PRIMARY KEY (account_id, campaign_id, contact_id)
);
CREATE INDEX campaign_members_contact_idx ON campaign_members (contact_id);

CREATE TABLE dnc_entries (
    account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    phone       TEXT NOT NULL,
    source      TEXT NOT NULL,
    reason      TEXT NOT NULL DEFAULT '',
    actor       TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (account_id, phone)
);

CREATE TABLE dnc_events (
    id          {ID},
    account_id  TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    phone       TEXT NOT NULL,
    added       BOOLEAN NOT NULL,
    source      TEXT NOT NULL,
    reason      TEXT NOT NULL DEFAULT '',
    actor       TEXT NOT NULL DEFAULT '',
    contact_id  BIGINT,
    created_at  BIGINT NOT NULL
);
CREATE INDEX dnc_events_phone_idx ON dnc_events (account_id, phone, id);
CREATE INDEX dnc_events_account_idx ON dnc_events (account_id, id);

CREATE TABLE import_errors (
    id          {ID},
    batch_id    TEXT NOT NULL REFERENCES import_batches (id) ON DELETE CASCADE,
    line        BIGINT NOT NULL,
    column_name TEXT NOT NULL DEFAULT '',
    raw_value   TEXT NOT NULL DEFAULT '',
    reason      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    raw_record  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX import_errors_batch_idx ON import_errors (batch_id, line, id);

CREATE TABLE calls (
    id                {ID},
    account_id        TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    external_id       TEXT NOT NULL,
    contact_id        BIGINT REFERENCES contacts (id) ON DELETE SET NULL,
    phone             TEXT NOT NULL,
    direction         TEXT NOT NULL,
    campaign_id       TEXT NOT NULL DEFAULT '',
    started_at        BIGINT NOT NULL,
    duration_seconds  BIGINT NOT NULL DEFAULT 0,
    outcome           TEXT NOT NULL,
    sentiment         TEXT NOT NULL DEFAULT '',
    recording_url     TEXT NOT NULL DEFAULT '',
    transcript        TEXT NOT NULL DEFAULT '',
    transcript_url    TEXT NOT NULL DEFAULT '',
    dnc_requested     BOOLEAN NOT NULL DEFAULT FALSE,
    dialer_id         TEXT NOT NULL DEFAULT '',
    created_at        BIGINT NOT NULL
);
CREATE UNIQUE INDEX calls_external_uq ON calls (account_id, external_id);
CREATE INDEX calls_contact_idx ON calls (account_id, contact_id, id);

CREATE TABLE call_requests (
    id                {ID},
    account_id        TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    contact_id        BIGINT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    phone             TEXT NOT NULL,
    requested_by      TEXT NOT NULL DEFAULT '',
    status            TEXT NOT NULL,
    lease_owner       TEXT,
    lease_expires_at  BIGINT,
    created_at        BIGINT NOT NULL,
    done_at           BIGINT
);
CREATE INDEX call_requests_pending_idx ON call_requests (status, id);
CREATE INDEX call_requests_contact_idx ON call_requests (contact_id);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    account_id   TEXT REFERENCES accounts (id) ON DELETE CASCADE,
    name         TEXT NOT NULL DEFAULT '',
    secret_hash  TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    revoked_at   BIGINT
);
CREATE UNIQUE INDEX api_keys_hash_uq ON api_keys (secret_hash);
