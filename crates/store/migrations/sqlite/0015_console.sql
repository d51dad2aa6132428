-- The web console (issue 19): passwords, one-time sign-in links and server-side sessions.
-- Secrets (link and cookie) are kept only as their SHA-256.

CREATE TABLE monimeer_passwords (
    monimeer_id TEXT PRIMARY KEY REFERENCES monimeers (id),
    -- The sign-in address, lower-cased: one Monimeer per address can sign in with a password.
    email       TEXT NOT NULL UNIQUE,
    hash        TEXT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE console_sign_in_links (
    secret_hash TEXT PRIMARY KEY,
    monimeer_id TEXT NOT NULL REFERENCES monimeers (id),
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);

CREATE TABLE console_sessions (
    id          TEXT PRIMARY KEY,
    secret_hash TEXT NOT NULL UNIQUE,
    monimeer_id TEXT NOT NULL REFERENCES monimeers (id),
    csrf        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    ended_at    BIGINT,
    ip          TEXT
);
CREATE INDEX console_sessions_by_monimeer ON console_sessions (monimeer_id);
