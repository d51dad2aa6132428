-- Tokens that are about to stop (issue 20): when each was last announced as expiring or idle,
-- so every node announces it once, and a Space's idle expiry.

ALTER TABLE access_tokens ADD COLUMN expiring_notified_at BIGINT;
ALTER TABLE access_tokens ADD COLUMN idle_notified_at BIGINT;
ALTER TABLE space_policies ADD COLUMN idle_token_expiry_seconds BIGINT;
