-- Every token records the token whose request created it (NULL: the operator's CLI or the quick
-- start), so revoking a leaked token can revoke everything it minted, transitively.
ALTER TABLE access_tokens ADD COLUMN created_by TEXT;
CREATE INDEX access_tokens_by_creator ON access_tokens (created_by);
