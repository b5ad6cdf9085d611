-- Notifications. `events` is an outbox of what happened (a run ended, a
-- node went away, a revision was rejected), each row written in the
-- transaction of the change that caused it; an insert wakes the router at
-- once (NOTIFY car_events). The router turns each event into `deliveries`,
-- one per (event, rule, channel) with that as its idempotency key, and marks
-- the event routed in the same transaction. Senders claim due deliveries
-- with FOR UPDATE SKIP LOCKED (replicas share the work, none sends twice),
-- retry with backoff and give up after a bounded time with the last error.
-- `alert_states` remembers, per rule and subject (a node, an agent on a
-- node, the sync), what is firing and when it last sent, for throttling
-- and for the one "resolved" message when it clears.

CREATE TABLE events (
    id        bigserial PRIMARY KEY,
    type      text NOT NULL,
    at        timestamptz NOT NULL DEFAULT now(),
    run_id    text,
    agent     text,
    node      text,
    schedule  text,
    data      jsonb NOT NULL DEFAULT '{}',
    -- When the router turned it into deliveries (or found no rule for it).
    routed_at timestamptz
);
CREATE INDEX events_unrouted ON events (id) WHERE routed_at IS NULL;
CREATE INDEX events_at ON events (at);

CREATE FUNCTION events_wake() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('car_events', '');
    RETURN NULL;
END $$;
CREATE TRIGGER events_wake AFTER INSERT ON events FOR EACH STATEMENT EXECUTE FUNCTION events_wake();

CREATE TABLE deliveries (
    id              bigserial PRIMARY KEY,
    -- `<event id>/<rule>/<channel>`: a second routing of the event adds nothing.
    key             text NOT NULL UNIQUE,
    event_id        bigint NOT NULL,
    event_type      text NOT NULL,
    -- The rule's name; `schedule/<name>` for a Schedule's `notify`; `test` for a test message.
    rule            text NOT NULL,
    channel         text NOT NULL,
    run_id          text,
    agent           text,
    node            text,
    -- Gotify's 0–10.
    priority        int NOT NULL,
    title           text NOT NULL,
    -- Markdown.
    body            text NOT NULL,
    -- The dashboard page it is about (PUBLIC_URL-based), for a click-through.
    url             text,
    -- The event, for webhook bodies.
    data            jsonb NOT NULL DEFAULT '{}',
    -- queued → sending → sent | failed; suppressed (throttled) rows are kept to show why nothing was sent.
    status          text NOT NULL DEFAULT 'queued',
    -- Why it was suppressed, or sent as part of a grouped message.
    note            text,
    attempts        int NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    -- A sender's claim; a claim that lapsed (the sender died) is taken again.
    claimed_until   timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status IN ('queued', 'sending');
CREATE INDEX deliveries_newest ON deliveries (created_at);
CREATE INDEX deliveries_channel ON deliveries (channel, created_at);

CREATE FUNCTION deliveries_wake() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('car_deliveries', '');
    RETURN NULL;
END $$;
CREATE TRIGGER deliveries_wake AFTER INSERT ON deliveries FOR EACH STATEMENT EXECUTE FUNCTION deliveries_wake();

CREATE TABLE alert_states (
    rule         text NOT NULL,
    -- `node/<name>`, `run/<agent>/<node>`, `sync`, or a throttle key.
    subject      text NOT NULL,
    firing       boolean NOT NULL DEFAULT false,
    since        timestamptz,
    last_sent_at timestamptz,
    PRIMARY KEY (rule, subject)
);

-- A node's absence is announced once, after the grace period, and its return once.
ALTER TABLE node_observations ADD COLUMN away_announced boolean NOT NULL DEFAULT false;

-- A node's resource (cpu, memory, disk) over its warning level for a while
-- is announced once (`node.resource_warning`), and once more when it is
-- back under.
CREATE TABLE node_resource_alerts (
    node   text NOT NULL,
    metric text NOT NULL,
    since  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (node, metric)
);
