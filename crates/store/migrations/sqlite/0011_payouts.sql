-- Payouts: money sent out of a financial account to a bank, momo or wallet account, and the
-- test rail's record of what its providers were asked to pay. Times are microseconds since the
-- epoch, on the Space's test clock in the test environment.

-- A payout. `held` is its amount plus its fees, debited from `source_id` at creation under
-- `source_reference` (NULL when nothing was held: a payout created failed). `next_attempt_at`
-- is when the worker next asks the rail about it (NULL: never again, or not yet sent).
-- `deleted_at`: deleted while pending; the row stays so that the hold and its reversal keep an
-- owner the ledger check can find, and reads no longer see it.
CREATE TABLE payouts (
    seq                    INTEGER PRIMARY KEY AUTOINCREMENT,
    id                     TEXT NOT NULL UNIQUE,
    space_id               TEXT NOT NULL REFERENCES spaces(id),
    environment            TEXT NOT NULL CHECK (environment IN ('test', 'live')),
    status                 TEXT NOT NULL CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
    currency               TEXT NOT NULL,
    amount                 BIGINT NOT NULL CHECK (amount > 0),
    fees                   TEXT NOT NULL,
    held                   BIGINT NOT NULL CHECK (held >= amount),
    source_id              TEXT NOT NULL REFERENCES financial_accounts(id),
    source_reference       TEXT,
    destination_type       TEXT NOT NULL CHECK (destination_type IN ('bank', 'momo', 'wallet')),
    provider_id            TEXT NOT NULL,
    destination_account    TEXT NOT NULL,
    destination_reference  TEXT,
    failure_code           TEXT,
    failure_message        TEXT,
    metadata               TEXT,
    next_attempt_at        BIGINT,
    deleted_at             BIGINT,
    created_at             BIGINT NOT NULL,
    updated_at             BIGINT NOT NULL
);
CREATE INDEX payouts_by_tenant ON payouts (space_id, environment, seq);
CREATE INDEX payouts_due ON payouts (next_attempt_at) WHERE status IN ('pending', 'processing');

-- What the test rail's providers were asked to pay, once per payout: the rail key is the
-- payout's idempotency key at the provider, so asking again (after a crash, or from a second
-- node) finds the same transfer instead of paying twice.
CREATE TABLE test_rail_payouts (
    rail_key             TEXT PRIMARY KEY,
    space_id             TEXT NOT NULL REFERENCES spaces(id),
    destination_type     TEXT NOT NULL,
    provider_id          TEXT NOT NULL,
    destination_account  TEXT NOT NULL,
    currency             TEXT NOT NULL,
    amount               BIGINT NOT NULL,
    reference            TEXT NOT NULL,
    accepted_at          BIGINT NOT NULL
);
