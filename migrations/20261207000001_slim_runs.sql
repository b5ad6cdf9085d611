-- A slimmer runs table. Each run kept its whole Agent document and script
-- sources (5.3 GB per million runs); now what a run runs with is stored once
-- in `run_inputs`, addressed by its SHA-256, however many runs share it.
-- `needs_model` says whether a run needs the model (the budget gate holds
-- those), so nothing reads the document to decide.
--
-- Nor does a row repeat itself: `context` keeps only what started the run
-- said beyond the other columns (a trigger's payload; the node's part is
-- taken from git when the run is sent, trigger, started_by, a schedule's
-- name and slot from their columns), and a first attempt's `first_run_id`
-- is NULL rather than its own id again.
--
-- The statuses a run can still leave are named once, by `run_is_open`,
-- which the partial index and every query use (RunStatus::OPEN in Rust;
-- a test checks the two agree).
--
-- Indexes ascend by time, as runs are written: PostgreSQL fills a page an
-- ascending insert splits (and reads it backwards for newest first), while
-- a descending index written in time order splits every page in half and
-- takes twice the room. Only `runs_newest` carries the id (40 bytes) for
-- paging; the filtered lists order the few runs of one instant by id after
-- reading them (an incremental sort). The agent statistics' covering index
-- and the agent listing's are one; a schedule's slot is queued once by the
-- primary key (its run's id is made from the slot), not by an index of its
-- own; the status filter indexes only runs that did not succeed (a seventh
-- of them: `status=succeeded` reads the newest-first index); retention
-- finds old runs through `runs_newest`, so it needs no index of its own. A
-- run's attempts were found by a scan of the whole table; retries get a
-- small index of their own.

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
ALTER TABLE runs ALTER COLUMN first_run_id DROP NOT NULL;
UPDATE runs SET inputs = sha256(convert_to(agent_document::text || files::text, 'UTF8')),
                needs_model = agent_document -> 'spec' ? 'prompt',
                first_run_id = NULLIF(first_run_id, id),
                context = context - '{node,trigger,started_by}'::text[]
                          - CASE WHEN trigger = 'schedule' THEN '{schedule,slot}'::text[] ELSE '{}' END;
ALTER TABLE runs ALTER COLUMN inputs SET NOT NULL, ALTER COLUMN needs_model SET NOT NULL;
ALTER TABLE runs DROP COLUMN agent_document, DROP COLUMN files;

-- Room on each page for the frequent updates (last_seq, the follower's
-- lease), which touch no indexed column and so stay on the page (HOT).
ALTER TABLE runs SET (fillfactor = 90);

DROP INDEX runs_open;
CREATE INDEX runs_open ON runs (created_at) WHERE run_is_open(status);
DROP INDEX runs_finished_oldest;
DROP INDEX runs_agent_stats;
DROP INDEX runs_newest, runs_agent_newest, runs_node_newest, runs_agent_node_newest;
CREATE INDEX runs_newest ON runs (created_at, id);
CREATE INDEX runs_agent_newest ON runs (agent, created_at) INCLUDE (status, cost_usd, started_at, finished_at);
CREATE INDEX runs_node_newest ON runs (node, created_at);
CREATE INDEX runs_agent_node_newest ON runs (agent, node, created_at);
CREATE INDEX runs_retries ON runs (first_run_id) WHERE first_run_id IS NOT NULL;
DROP INDEX runs_one_per_slot;
DROP INDEX runs_status_newest;
CREATE INDEX runs_unsucceeded ON runs (status, created_at) WHERE status <> 'succeeded';
