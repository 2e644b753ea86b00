-- One lease per person, and the person's recent dials, in one narrow row per contact
-- (created on the contact's first lease or call). A claim's upsert decides on this row's
-- latest version, so two dialers in two campaigns can never hold one person at once and
-- the account-wide frequency rules hold whatever the interleaving.
CREATE TABLE dial_state (
    contact_id        BIGINT PRIMARY KEY REFERENCES contacts (id) ON DELETE CASCADE,
    account_id        TEXT NOT NULL,
    lease_owner       TEXT,
    lease_campaign    TEXT,
    lease_started_at  BIGINT,
    lease_expires_at  BIGINT,
    recent_dials      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX dial_state_lease_idx ON dial_state (account_id, lease_owner, lease_campaign);

ALTER TABLE accounts ADD COLUMN max_calls_per_day INTEGER NOT NULL DEFAULT 3;
ALTER TABLE accounts ADD COLUMN max_calls_per_week INTEGER NOT NULL DEFAULT 7;
ALTER TABLE accounts ADD COLUMN min_call_spacing_seconds BIGINT NOT NULL DEFAULT 3600;

ALTER TABLE call_requests ADD COLUMN window_override BOOLEAN NOT NULL DEFAULT FALSE;

-- Live leases move over (one per contact: the latest expiry), then the per-campaign lease
-- columns go.
INSERT INTO dial_state (contact_id, account_id, lease_owner, lease_campaign, lease_started_at, lease_expires_at)
    SELECT contact_id, MIN(account_id), MIN(lease_owner), MIN(campaign_id),
           MAX(lease_expires_at) - 3600000, MAX(lease_expires_at)
    FROM campaign_members
    WHERE lease_expires_at IS NOT NULL
    GROUP BY contact_id;
ALTER TABLE campaign_members DROP COLUMN lease_owner;
ALTER TABLE campaign_members DROP COLUMN lease_expires_at;
