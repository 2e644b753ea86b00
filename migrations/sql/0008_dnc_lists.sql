-- Named DNC lists per account (suppression files a customer brings: CRM opt-outs,
-- purchased lists, the national registry's area-code files) and their entries. A list's
-- entries are kept apart from `dnc_entries` (the manual and call-request list), so that
-- replacing or deleting a list can never remove a number someone asked not to be called.
-- An entry blocks a number while `expires_at` is NULL or later than now: the dialer's
-- queries carry that condition, so an expired entry stops blocking without a sweep.
CREATE TABLE dnc_lists (
    id           {ID},
    account_id   TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    source       TEXT NOT NULL DEFAULT '',
    description  TEXT NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE UNIQUE INDEX dnc_lists_name_uq ON dnc_lists (account_id, name);

-- One row per (number, list). The primary key serves the dialer's "is this number on a
-- live list entry" probe by (account_id, phone); `list_id` finds a list's rows to delete.
-- `import_id` is the import that last wrote the row: replacing a list deletes the rows
-- the replacing import did not write, once it has written all of its own.
CREATE TABLE dnc_list_entries (
    account_id  TEXT NOT NULL,
    phone       TEXT NOT NULL,
    list_id     BIGINT NOT NULL REFERENCES dnc_lists (id) ON DELETE CASCADE,
    expires_at  BIGINT,
    import_id   BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (account_id, phone, list_id)
);
CREATE INDEX dnc_list_entries_list_idx ON dnc_list_entries (list_id, import_id);

-- One row per ImportDncList; a request id (NULL when none) makes a retry return the
-- stored result.
CREATE TABLE dnc_list_imports (
    id              {ID},
    account_id      TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    list_id         BIGINT NOT NULL REFERENCES dnc_lists (id) ON DELETE CASCADE,
    request_id      TEXT,
    status          TEXT NOT NULL,
    replace_list    BOOLEAN NOT NULL DEFAULT FALSE,
    lines_read      BIGINT NOT NULL DEFAULT 0,
    added           BIGINT NOT NULL DEFAULT 0,
    already_listed  BIGINT NOT NULL DEFAULT 0,
    invalid         BIGINT NOT NULL DEFAULT 0,
    removed         BIGINT NOT NULL DEFAULT 0,
    first_invalid   TEXT NOT NULL DEFAULT '',
    error           TEXT NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL,
    finished_at     BIGINT
);
CREATE UNIQUE INDEX dnc_list_imports_request_uq ON dnc_list_imports (account_id, request_id);
