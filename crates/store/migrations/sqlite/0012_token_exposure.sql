-- Tokens seen in a browser's request (issue 20): when, from which origin, and whether a Space's
-- policy revokes such a token at once.

ALTER TABLE access_tokens ADD COLUMN exposed_at BIGINT;
ALTER TABLE access_tokens ADD COLUMN exposed_origin TEXT;
ALTER TABLE space_policies ADD COLUMN revoke_exposed_tokens BIGINT NOT NULL DEFAULT 0;
