-- Runs: each time an agent runs on a node, from queued to its end, with
-- every status change, its approvals and what it cost. The events
-- themselves live in DATA_DIR/logs/{id}.jsonl; `last_seq` says how far the
-- server has them.

CREATE TABLE runs (
    id            text PRIMARY KEY,
    agent         text NOT NULL,
    node          text NOT NULL,
    status        text NOT NULL CHECK (status IN ('queued', 'dispatched', 'running', 'awaiting_approval',
                                                  'succeeded', 'failed', 'timed_out', 'cancelled', 'lost')),
    -- What started it: manual, schedule, trigger, retry.
    trigger       text NOT NULL,
    -- Who or what: a user, a schedule's or trigger's name.
    started_by    text,
    -- A schedule's slot (with `started_by` the schedule): one fire per slot and node.
    slot          timestamptz,
    attempt       integer NOT NULL DEFAULT 1,
    -- The first attempt of a retried run (itself for the first).
    first_run_id  text NOT NULL,
    -- The config revision and the Agent document it ran with.
    revision      text,
    agent_document jsonb NOT NULL,
    -- Script sources sent with it, by path relative to the agent's file.
    files         jsonb NOT NULL DEFAULT '{}',
    context       jsonb NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    -- Not dispatched before (retry backoff, a busy node, a schedule's jitter).
    not_before    timestamptz,
    -- Not dispatched while another run of the agent goes on the node (overlap: queue).
    after_previous boolean NOT NULL DEFAULT false,
    dispatched_at timestamptz,
    started_at    timestamptz,
    finished_at   timestamptz,
    -- The server replica following it, until when.
    follower      text,
    lease_until   timestamptz,
    last_seq      bigint NOT NULL DEFAULT 0,
    summary       text,
    report        jsonb,
    error         jsonb,
    input_tokens  bigint NOT NULL DEFAULT 0,
    output_tokens bigint NOT NULL DEFAULT 0,
    cache_creation_input_tokens bigint NOT NULL DEFAULT 0,
    cache_read_input_tokens     bigint NOT NULL DEFAULT 0,
    cost_usd      double precision NOT NULL DEFAULT 0,
    turns         integer NOT NULL DEFAULT 0
);
-- Newest first, with and without filters (cursor paging on (created_at, id)).
CREATE INDEX runs_newest ON runs (created_at DESC, id DESC);
CREATE INDEX runs_agent_newest ON runs (agent, created_at DESC, id DESC);
CREATE INDEX runs_node_newest ON runs (node, created_at DESC, id DESC);
CREATE INDEX runs_status_newest ON runs (status, created_at DESC, id DESC);
-- Work to do: queued runs, and runs someone must follow.
CREATE INDEX runs_open ON runs (created_at) WHERE status IN ('queued', 'dispatched', 'running', 'awaiting_approval');
-- A schedule fires a slot once per node, whichever replica gets there first.
CREATE UNIQUE INDEX runs_one_per_slot ON runs (started_by, slot, agent, node) WHERE trigger = 'schedule' AND attempt = 1;

-- Every status change, with when and why.
CREATE TABLE run_transitions (
    id       bigserial PRIMARY KEY,
    run_id   text NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    at       timestamptz NOT NULL DEFAULT now(),
    status   text NOT NULL,
    reason   text
);
CREATE INDEX run_transitions_run ON run_transitions (run_id, id);

-- Tool calls held for a human.
CREATE TABLE approvals (
    id           text PRIMARY KEY,
    run_id       text NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    request_id   text NOT NULL,
    agent        text NOT NULL,
    node         text NOT NULL,
    tool         text NOT NULL,
    input        jsonb NOT NULL,
    reason       text,
    status       text NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'expired')),
    requested_at timestamptz NOT NULL,
    decided_at   timestamptz,
    decided_by   text,
    comment      text,
    UNIQUE (run_id, request_id)
);
CREATE INDEX approvals_pending ON approvals (requested_at) WHERE status = 'pending';

-- Schedule slots that did not become runs (overlap skip, misfire), so the
-- history shows them; fired slots are runs.
CREATE TABLE schedule_skips (
    schedule text NOT NULL,
    slot     timestamptz NOT NULL,
    agent    text NOT NULL,
    node     text NOT NULL,
    reason   text NOT NULL,
    at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (schedule, slot, agent, node)
);

-- Where each schedule got to: the newest slot handled.
CREATE TABLE schedule_state (
    schedule  text PRIMARY KEY,
    last_slot timestamptz NOT NULL
);
