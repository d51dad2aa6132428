-- Deliveries: one row per (webhook, event), written in the transaction that publishes the event
-- (the fan-out to the webhooks subscribed at that moment), so a committed event is always
-- delivered and a rolled-back one never is. A worker takes a due row by leasing it
-- (`lease_id`, `lease_until`); a worker that dies mid-attempt loses the lease when it expires
-- and another takes the row again.
CREATE TABLE deliveries (
    seq              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id       TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    event_id         TEXT NOT NULL REFERENCES events(id),
    -- The event's row number too: the worker reads events by it (a primary-key lookup whatever
    -- the planner's statistics say; see `claim_due_deliveries`).
    event_seq        BIGINT NOT NULL,
    space_id         TEXT NOT NULL REFERENCES spaces(id),
    environment      TEXT NOT NULL CHECK (environment IN ('test', 'live')),
    state            TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts         BIGINT NOT NULL,
    next_attempt_at  BIGINT,
    lease_id         TEXT,
    lease_until      BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    UNIQUE (webhook_id, event_id)
);
-- Only pending rows are indexed for the claim, and nothing indexes the lease, so taking a lease
-- touches no index (on PostgreSQL, a heap-only update) and a delivered row leaves the index:
-- the claim's scan stays as short as the queue, however long the table grows.
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE state = 'pending';
-- A queue table: every row is updated twice within seconds of its insert, and each update leaves
-- a dead version the claim's index scan must step over until a vacuum. Vacuum and analyze it
-- after every thousand changes rather than after a fifth of the table has changed (the default).
ALTER TABLE deliveries SET (
    autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000,
    autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 1000
);

-- The delivery log: every attempt, kept 30 days. `response_head` is the answer's first bytes.
CREATE TABLE delivery_attempts (
    seq            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id     TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    event_id       TEXT NOT NULL,
    event_seq      BIGINT NOT NULL,
    space_id       TEXT NOT NULL,
    environment    TEXT NOT NULL,
    attempt        BIGINT NOT NULL,
    started_at     BIGINT NOT NULL,
    duration_ms    BIGINT NOT NULL,
    outcome        TEXT NOT NULL,
    status_code    BIGINT,
    response_head  TEXT,
    error          TEXT,
    next_attempt_at BIGINT
);
CREATE INDEX delivery_attempts_by_webhook ON delivery_attempts (webhook_id, seq);
CREATE INDEX delivery_attempts_by_age ON delivery_attempts (started_at);

-- Since when every delivery to the webhook has failed (NULL while the last one succeeded): five
-- days of it disables the webhook.
ALTER TABLE webhooks ADD COLUMN failing_since BIGINT;
