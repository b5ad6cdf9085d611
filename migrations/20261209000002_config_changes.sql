-- Edits written in pull-request mode: the branch each was pushed to and the
-- pull (merge) request opened for it, shown as proposed until merged or
-- closed (the git webhook's pull_request events move `state`).
CREATE TABLE config_changes (
    id         bigserial PRIMARY KEY,
    kind       text NOT NULL,
    name       text NOT NULL,
    title      text NOT NULL,
    branch     text NOT NULL,
    commit     text NOT NULL,
    forge      text NOT NULL,
    number     bigint NOT NULL,
    url        text NOT NULL,
    state      text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'merged', 'closed')),
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (forge, number)
);
CREATE INDEX config_changes_open ON config_changes (created_at DESC) WHERE state = 'open';
