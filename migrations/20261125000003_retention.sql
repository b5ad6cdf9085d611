-- Retention: finished runs older than RETENTION_DAYS are deleted with their
-- log files, but what they used and cost must still add up in the usage
-- statistics. Before deleting a batch of runs, the sweep adds them here,
-- one row per UTC day (of `created_at`), agent and node; usage queries sum
-- `runs` and these rows. A run is in exactly one of the two: it moves in
-- the same transaction that deletes it.

CREATE TABLE usage_daily (
    day    date NOT NULL,
    agent  text NOT NULL,
    node   text NOT NULL,
    runs   bigint NOT NULL DEFAULT 0,
    succeeded bigint NOT NULL DEFAULT 0,
    -- Every other final status: failed, timed_out, cancelled, lost.
    failed bigint NOT NULL DEFAULT 0,
    input_tokens  bigint NOT NULL DEFAULT 0,
    output_tokens bigint NOT NULL DEFAULT 0,
    cache_creation_input_tokens bigint NOT NULL DEFAULT 0,
    cache_read_input_tokens     bigint NOT NULL DEFAULT 0,
    cost_usd double precision NOT NULL DEFAULT 0,
    PRIMARY KEY (day, agent, node)
);

-- The sweep looks for old finished runs, oldest first; open runs are never
-- its business (runs_open covers those).
CREATE INDEX runs_finished_oldest ON runs (created_at)
    WHERE status IN ('succeeded', 'failed', 'timed_out', 'cancelled', 'lost');
