-- A callback handed out by a claim stays `pending` until the call of its delivery is
-- recorded. `held_until` is the end of the lease that delivered it (0: not out on a
-- lease): a claim's read of the campaign's pending callbacks in due order skips the held
-- ones, so callbacks out on lease never fill the read and hide the due ones behind them.
-- A lease given back without a call sets it to 0 again; one that runs out is passed by
-- the clock. Safety does not rest on it: every hand-out re-checks the person's lease.
ALTER TABLE callbacks ADD COLUMN held_until BIGINT NOT NULL DEFAULT 0;
