-- Webhook triggers (`POST /api/v1/hooks/{name}`). A trigger's cooldown
-- must hold across server replicas and under a storm of calls, so the time
-- its last call started runs is one row per trigger that a call claims with
-- one atomic statement (`INSERT … ON CONFLICT DO UPDATE … WHERE` the
-- cooldown has passed): of many calls at once, exactly one gets it.
-- Every call to a declared trigger is kept for the dashboard and for
-- finding out why an alert did (not) start anything: the newest 100 per
-- trigger, older ones are deleted as new ones come.

CREATE TABLE trigger_state (
    trigger    text PRIMARY KEY,
    -- When a call last started runs ('-infinity' when the call that
    -- claimed the cooldown started none and gave it back).
    started_at timestamptz NOT NULL,
    -- The value before the last claim, to give a claim back.
    previous   timestamptz
);

CREATE TABLE trigger_calls (
    id      bigserial PRIMARY KEY,
    trigger text NOT NULL,
    at      timestamptz NOT NULL DEFAULT now(),
    -- started, condition_false, cooling_down, nothing_to_start, refused, invalid
    outcome text NOT NULL,
    -- The HTTP status the caller got.
    status  smallint NOT NULL,
    run_ids text[] NOT NULL DEFAULT '{}',
    -- Why nothing (or not everything) started; never holds the secret.
    reason  text,
    ip      text
);
-- The newest calls of a trigger, and keeping only those.
CREATE INDEX trigger_calls_newest ON trigger_calls (trigger, id DESC);
