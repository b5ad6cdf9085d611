-- A slimmer runs table. Each run kept its whole Agent document and script
-- sources (5.3 GB per million runs); now what a run runs with is stored once
-- in `run_inputs`, addressed by its SHA-256, however many runs share it.
-- `needs_model` says whether a run needs the model (the budget gate holds
-- those), so nothing reads the document to decide.
--
-- The statuses a run can still leave are named once, by `run_is_open`,
-- which the partial index and every query use (RunStatus::OPEN in Rust;
-- a test checks the two agree). Indexes: the agent statistics' covering
-- index and the agent listing's are one; retention finds old runs through
-- `runs_newest`, so it needs no index of its own. A run's attempts were
-- found by a scan of the whole table; retries (attempt > 1) get a small
-- index of their own.

CREATE FUNCTION run_is_open(status text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT status IN ('queued', 'dispatched', 'running', 'awaiting_approval') $$;

CREATE TABLE run_inputs (
    -- SHA-256 of what the row holds. Rows made by this migration hash
    -- PostgreSQL's rendering, rows made since the server's: either way one
    -- hash names one content.
    hash  bytea PRIMARY KEY,
    -- The Agent document as git declared it when the run was queued.
    agent jsonb NOT NULL,
    -- Script sources sent with it, by path relative to the agent's file.
    files jsonb NOT NULL DEFAULT '{}'
);

INSERT INTO run_inputs (hash, agent, files)
SELECT DISTINCT ON (hash) hash, agent_document, files
FROM (SELECT sha256(convert_to(agent_document::text || files::text, 'UTF8')) AS hash, agent_document, files
      FROM runs) r;

ALTER TABLE runs ADD COLUMN inputs bytea REFERENCES run_inputs (hash);
ALTER TABLE runs ADD COLUMN needs_model boolean;
UPDATE runs SET inputs = sha256(convert_to(agent_document::text || files::text, 'UTF8')),
                needs_model = agent_document -> 'spec' ? 'prompt';
ALTER TABLE runs ALTER COLUMN inputs SET NOT NULL, ALTER COLUMN needs_model SET NOT NULL;
ALTER TABLE runs DROP COLUMN agent_document, DROP COLUMN files;

-- Room on each page for the frequent updates (last_seq, the follower's
-- lease), which touch no indexed column and so stay on the page (HOT).
ALTER TABLE runs SET (fillfactor = 90);

DROP INDEX runs_open;
CREATE INDEX runs_open ON runs (created_at) WHERE run_is_open(status);
DROP INDEX runs_finished_oldest;
DROP INDEX runs_agent_stats;
DROP INDEX runs_agent_newest;
CREATE INDEX runs_agent_newest ON runs (agent, created_at DESC, id DESC)
    INCLUDE (status, cost_usd, started_at, finished_at);
CREATE INDEX runs_retries ON runs (first_run_id) WHERE attempt > 1;
