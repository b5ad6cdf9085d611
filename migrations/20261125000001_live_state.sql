-- Live state: what the last good revision declared, how syncing went, and
-- what the server observed of each node.

-- One row: where the config source stands.
CREATE TABLE sync_state (
    id                 boolean PRIMARY KEY DEFAULT true CHECK (id),
    head_revision      text,
    head_author        text,
    head_message       text,
    head_committed_at  timestamptz,
    fetched_at         timestamptz,
    fetch_error        text,
    attempted_revision text,
    attempted_at       timestamptz,
    applied_revision   text,
    applied_at         timestamptz,
    -- Diagnostics of the attempted revision (errors and warnings).
    diagnostics        jsonb NOT NULL DEFAULT '[]',
    -- Per-object status against the attempted revision.
    objects            jsonb NOT NULL DEFAULT '[]'
);
INSERT INTO sync_state DEFAULT VALUES;

-- Every revision the server tried, newest last.
CREATE TABLE sync_history (
    id           bigserial PRIMARY KEY,
    revision     text NOT NULL,
    author       text,
    message      text,
    committed_at timestamptz,
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz NOT NULL,
    trigger      text NOT NULL,
    outcome      text NOT NULL CHECK (outcome IN ('applied', 'invalid')),
    added        integer NOT NULL DEFAULT 0,
    changed      integer NOT NULL DEFAULT 0,
    removed      integer NOT NULL DEFAULT 0,
    errors       jsonb NOT NULL DEFAULT '[]'
);

-- The objects of the applied revision, as written in git.
CREATE TABLE objects (
    kind       text NOT NULL,
    name       text NOT NULL,
    revision   text NOT NULL,
    file       text NOT NULL,
    line       integer NOT NULL,
    document   jsonb NOT NULL,
    hash       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, name)
);

-- Python sources of script agents, by path in the repository.
CREATE TABLE scripts (
    path     text PRIMARY KEY,
    revision text NOT NULL,
    source   text NOT NULL,
    hash     text NOT NULL
);

-- What the server saw of each node's runner. Kept when a node leaves git:
-- an enrolled node that git does not declare is drift, not nothing.
CREATE TABLE node_observations (
    name          text PRIMARY KEY,
    enrolled      boolean NOT NULL DEFAULT false,
    reachable     boolean NOT NULL DEFAULT false,
    version       text,
    os            text,
    capabilities  jsonb NOT NULL DEFAULT '[]',
    last_seen     timestamptz,
    last_checked  timestamptz,
    last_error    text
);

-- Changes made to live objects outside git (a paused schedule).
CREATE TABLE live_overrides (
    kind    text NOT NULL,
    name    text NOT NULL,
    field   text NOT NULL,
    value   jsonb NOT NULL,
    reason  text,
    set_by  text,
    set_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, name, field)
);
