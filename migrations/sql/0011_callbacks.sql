-- Scheduled callbacks: a person asked, during a call of a campaign, to be called back at a
-- time. `requested_at` is that time as asked (read in `time_zone` when it was given as a
-- local time); `due_at` is when a claim of the campaign may next hand the person out: the
-- requested time, moved to the calling window's next opening (or past the frequency
-- rules) when a claim finds it closed. A row is `pending` until the call of its delivery
-- is recorded (`delivered`), or `cancelled` (DNC, another call outcome, removal from the
-- campaign: `cancel_reason`). Rows go with their contact.
CREATE TABLE callbacks (
    id             {ID},
    account_id     TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    campaign_id    TEXT NOT NULL,
    contact_id     BIGINT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    requested_at   BIGINT NOT NULL,
    time_zone      TEXT NOT NULL DEFAULT '',
    local_time     TEXT NOT NULL DEFAULT '',
    due_at         BIGINT NOT NULL,
    status         TEXT NOT NULL,
    cancel_reason  TEXT NOT NULL DEFAULT '',
    call_id        BIGINT,
    settled_call_id BIGINT,
    created_at     BIGINT NOT NULL,
    settled_at     BIGINT
);
-- The claim's one query: a campaign's pending callbacks in due order.
CREATE INDEX callbacks_due_idx ON callbacks (account_id, campaign_id, status, due_at, id);
-- RecordCall, DNC marks and CheckDialable: a contact's callbacks.
CREATE INDEX callbacks_contact_idx ON callbacks (contact_id, status);
-- ListCallbacks: an account's callbacks by id.
CREATE INDEX callbacks_account_idx ON callbacks (account_id, id);
