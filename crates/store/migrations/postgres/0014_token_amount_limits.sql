-- Money limits per token (issue 20): the limits, as JSON, and every movement a limited token
-- made, for the rolling 24-hour total; written in the moving transaction.

ALTER TABLE access_tokens ADD COLUMN amount_limits TEXT NOT NULL DEFAULT '[]';

CREATE TABLE token_movements (
    token_id   TEXT NOT NULL,
    currency   TEXT NOT NULL,
    amount     BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX token_movements_by_token ON token_movements (token_id, currency, created_at);
