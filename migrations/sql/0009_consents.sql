-- Consent records per contact (TCPA prior express consent, and its written form for
-- telemarketing): what kind, through which channel, from what evidence (a web form's URL,
-- a recording), when captured, until when, and when and how revoked. A consent is live
-- while it is not revoked and not expired; rows are never deleted but with the contact.
CREATE TABLE consents (
    id           {ID},
    account_id   TEXT NOT NULL,
    contact_id   BIGINT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL,
    channel      TEXT NOT NULL DEFAULT '',
    source       TEXT NOT NULL DEFAULT '',
    captured_at  BIGINT NOT NULL,
    expires_at   BIGINT,
    revoked_at   BIGINT,
    revoked_how  TEXT NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL
);
CREATE INDEX consents_contact_idx ON consents (contact_id, id);
