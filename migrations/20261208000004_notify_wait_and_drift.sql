-- A rule's `wait`: a message about an alert is held until `waiting_until`
-- and dropped (suppressed) if the alert clears first; `subject` says what
-- the alert is about (`node/nas`, `run/agent/node`, `sync`, `drift/...`).
ALTER TABLE deliveries ADD COLUMN subject text, ADD COLUMN waiting_until timestamptz;
CREATE INDEX deliveries_waiting ON deliveries (rule, subject) WHERE waiting_until IS NOT NULL AND status = 'queued';

-- Drift the server has announced (`drift.detected`), by kind and object, so
-- each difference is announced once and its end once, whichever replica looks.
CREATE TABLE drift_seen (
    key   text PRIMARY KEY,
    -- The item as announced (kind, object, message, fix), for the message when it ends.
    data  jsonb NOT NULL,
    since timestamptz NOT NULL DEFAULT now()
);
