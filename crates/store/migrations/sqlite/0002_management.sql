-- Self-service management: token usage, Space policies.

ALTER TABLE access_tokens ADD COLUMN last_used_at BIGINT;
ALTER TABLE access_tokens ADD COLUMN last_used_ip TEXT;
ALTER TABLE access_tokens ADD COLUMN request_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE access_tokens ADD COLUMN rotated_to TEXT;

CREATE TABLE space_policies (
    space_id                   TEXT PRIMARY KEY REFERENCES spaces(id),
    max_token_lifetime_seconds BIGINT,
    allow_unbound_tokens       BIGINT NOT NULL DEFAULT 1,
    updated_at                 BIGINT NOT NULL
);
