-- The index a campaign requiring consent probes once per claimed contact: an EXISTS on a
-- live consent of an accepted kind (store::consents::live_accepted). Partial on
-- unrevoked records (a revoked one never satisfies the rule) and covering kind and
-- expiry, so the probe is answered from the index on both backends.
CREATE INDEX consents_live_idx ON consents (contact_id, kind, expires_at)
    WHERE revoked_at IS NULL;
