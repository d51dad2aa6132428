-- Webhooks: where a Space's events of one environment are delivered. `signing_secret` is the
-- HS256 secret or the ES256 private scalar (hex); it never leaves the store but to sign.
CREATE TABLE webhooks (
    seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    space_id        TEXT NOT NULL REFERENCES spaces(id),
    environment     TEXT NOT NULL CHECK (environment IN ('test', 'live')),
    name            TEXT NOT NULL,
    url             TEXT NOT NULL,
    enabled         BIGINT NOT NULL,
    events          TEXT NOT NULL,
    api_release     TEXT NOT NULL,
    signing_method  TEXT NOT NULL CHECK (signing_method IN ('HS256', 'ES256')),
    signing_secret  TEXT NOT NULL,
    public_key      TEXT,
    headers         TEXT NOT NULL,
    alert_emails    TEXT NOT NULL,
    metadata        TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT
);
CREATE INDEX webhooks_by_tenant ON webhooks (space_id, environment, seq);
