-- Security: who may use the server (users, their sessions, API keys, the
-- first admin's setup link), how nodes are trusted (enrollment tokens, node
-- keys), the encrypted secret store, and the append-only audit log.
-- Secrets and tokens are never stored as written: tokens as SHA-256 (they
-- are 256 random bits, so a slow hash adds nothing), passwords as argon2id,
-- secrets encrypted with AES-256-GCM under the server's SECRET_KEY.

CREATE TABLE users (
    id            bigserial PRIMARY KEY,
    username      text NOT NULL UNIQUE,
    -- argon2id, as a PHC string.
    password_hash text NOT NULL,
    role          text NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    disabled      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    last_login_at timestamptz
);

-- Dashboard sessions; the cookie holds the token, this table its hash.
CREATE TABLE sessions (
    token_hash   bytea PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    -- Idle sessions end SESSION_IDLE_TIMEOUT after this; every session at expires_at.
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    ip           text,
    user_agent   text
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);

CREATE TABLE api_keys (
    id           text PRIMARY KEY,
    name         text NOT NULL,
    role         text NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    -- The key's first characters, so people can tell keys apart.
    prefix       text NOT NULL,
    token_hash   bytea NOT NULL UNIQUE,
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    last_used_at timestamptz,
    revoked_at   timestamptz
);

-- The one-time link that creates the first admin when ADMIN_USERNAME and
-- ADMIN_PASSWORD are not set (one row; a restart before setup replaces it).
CREATE TABLE setup_token (
    id         boolean PRIMARY KEY DEFAULT true CHECK (id),
    token_hash bytea NOT NULL,
    expires_at timestamptz NOT NULL
);

-- One-time tokens a node's install script enrolls with.
CREATE TABLE enrollment_tokens (
    id          text PRIMARY KEY,
    token_hash  bytea NOT NULL UNIQUE,
    -- The node name it is for; NULL: any name.
    node        text,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    -- The node that enrolled with it.
    used_by     text,
    revoked_at  timestamptz
);

-- Nodes that enrolled, with where their runner listens. A node git does
-- not declare stays here (and shows as drift) until its keys are revoked.
CREATE TABLE node_enrollments (
    name        text PRIMARY KEY,
    address     text NOT NULL,
    os          text,
    version     text,
    token_id    text,
    enrolled_at timestamptz NOT NULL DEFAULT now()
);

-- Node keys: the runner and the server both use a node's key. A key is
-- derived from SECRET_KEY and its id, so only its hash is kept here.
-- `next` (being handed to the runner), `current` (the one the server
-- uses), `previous` (still valid while a rotation completes), `revoked`.
CREATE TABLE node_keys (
    id           text PRIMARY KEY,
    node         text NOT NULL,
    key_hash     bytea NOT NULL,
    state        text NOT NULL CHECK (state IN ('next', 'current', 'previous', 'revoked')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX node_keys_node ON node_keys (node);
CREATE UNIQUE INDEX node_keys_one_current ON node_keys (node) WHERE state = 'current';

-- The secret store behind {secret: NAME}: nonce || AES-256-GCM ciphertext,
-- with the name as associated data (a value cannot be moved to another name).
CREATE TABLE secrets (
    name       text PRIMARY KEY,
    ciphertext bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text NOT NULL
);

-- A known value encrypted with SECRET_KEY, so that a server started with
-- another key says so at start-up instead of failing later.
CREATE TABLE secret_key_check (
    id         boolean PRIMARY KEY DEFAULT true CHECK (id),
    ciphertext bytea NOT NULL
);

-- Who did what, when, from where. Never holds a secret. Rows are only
-- ever added: the triggers below refuse changes and deletions.
CREATE TABLE audit_log (
    id         bigserial PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    -- user, api_key, node, schedule, trigger, git, system
    actor_kind text NOT NULL,
    actor      text NOT NULL,
    -- e.g. auth.login, auth.login_failed, api_key.created, run.started, sync.applied
    action     text NOT NULL,
    -- What it was done to: a run id, a key id, a revision, a node.
    target     text,
    ip         text,
    detail     jsonb NOT NULL DEFAULT '{}'
);
-- Filters, and the login throttle's counts of recent failures.
CREATE INDEX audit_action ON audit_log (action, at);
CREATE INDEX audit_actor ON audit_log (actor, at);
CREATE INDEX audit_ip ON audit_log (ip, at) WHERE action = 'auth.login_failed';

CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % is not allowed', TG_OP;
END
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only();
