-- Collecting money: payment codes, the payments they take, USSD OTPs, and each Space's test
-- clock. Times are microseconds since the epoch; in the test environment they are on the
-- Space's test clock (system time plus `test_clocks.offset_us`).

-- A payment code. `ussd_code` is unique among the deployment's live (pending or processing)
-- codes: a dial string names one code at a time. `payments_completed` and `collected` measure a
-- recurrent code against its target.
CREATE TABLE payment_codes (
    seq                   INTEGER PRIMARY KEY AUTOINCREMENT,
    id                    TEXT NOT NULL UNIQUE,
    space_id              TEXT NOT NULL REFERENCES spaces(id),
    environment           TEXT NOT NULL CHECK (environment IN ('test', 'live')),
    mode                  TEXT NOT NULL CHECK (mode IN ('one_time', 'recurrent')),
    status                TEXT NOT NULL CHECK (status IN ('pending', 'processing', 'completed', 'expired', 'cancelled')),
    name                  TEXT,
    currency              TEXT NOT NULL,
    amount                BIGINT NOT NULL CHECK (amount > 0),
    enabled               BIGINT NOT NULL,
    expire_at             BIGINT NOT NULL,
    customer_name         TEXT,
    ussd_code             TEXT NOT NULL,
    reference             TEXT,
    authorized_providers  TEXT,
    authorized_phone      TEXT,
    target_count          BIGINT,
    target_total          BIGINT,
    account_id            TEXT NOT NULL REFERENCES financial_accounts(id),
    payments_completed    BIGINT NOT NULL,
    collected             BIGINT NOT NULL,
    metadata              TEXT,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT
);
CREATE INDEX payment_codes_by_tenant ON payment_codes (space_id, environment, seq);
CREATE UNIQUE INDEX payment_codes_live_dial ON payment_codes (ussd_code) WHERE status IN ('pending', 'processing');
CREATE INDEX payment_codes_expiring ON payment_codes (expire_at) WHERE status IN ('pending', 'processing');

-- A payment: created when a dial is admitted, completed when its provider confirms
-- (`completes_at`, for a provider that confirms later). `fees` is the JSON list charged at
-- completion, as separate debits beside the credit (one `transaction_reference`).
CREATE TABLE payments (
    seq                    INTEGER PRIMARY KEY AUTOINCREMENT,
    id                     TEXT NOT NULL UNIQUE,
    space_id               TEXT NOT NULL REFERENCES spaces(id),
    environment            TEXT NOT NULL CHECK (environment IN ('test', 'live')),
    status                 TEXT NOT NULL CHECK (status IN ('pending', 'processing', 'completed')),
    currency               TEXT NOT NULL,
    amount                 BIGINT NOT NULL CHECK (amount > 0),
    name                   TEXT,
    reference              TEXT,
    account_id             TEXT NOT NULL REFERENCES financial_accounts(id),
    transaction_reference  TEXT,
    order_number           TEXT,
    fees                   TEXT NOT NULL,
    provider               TEXT NOT NULL,
    provider_reference     TEXT NOT NULL,
    phone_masked           TEXT NOT NULL,
    fingerprint            TEXT NOT NULL,
    -- What the payment was made through: a payment code (and, later, a checkout session).
    owner_type             TEXT NOT NULL,
    owner_id               TEXT NOT NULL,
    owner_metadata         TEXT,
    metadata               TEXT,
    completes_at           BIGINT,
    created_at             BIGINT NOT NULL,
    updated_at             BIGINT
);
CREATE INDEX payments_by_tenant ON payments (space_id, environment, seq);
CREATE INDEX payments_completing ON payments (completes_at) WHERE status = 'processing';
CREATE INDEX payments_by_owner ON payments (owner_id);

-- A USSD OTP; `dial_code` is unique among pending ones.
CREATE TABLE ussd_otps (
    seq                   INTEGER PRIMARY KEY AUTOINCREMENT,
    id                    TEXT NOT NULL UNIQUE,
    space_id              TEXT NOT NULL REFERENCES spaces(id),
    environment           TEXT NOT NULL CHECK (environment IN ('test', 'live')),
    status                TEXT NOT NULL CHECK (status IN ('pending', 'verified', 'expired')),
    dial_code             TEXT NOT NULL,
    authorized_phone      TEXT NOT NULL,
    verification_message  TEXT,
    metadata              TEXT,
    expire_at             BIGINT NOT NULL,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT
);
CREATE INDEX ussd_otps_by_tenant ON ussd_otps (space_id, environment, seq);
CREATE UNIQUE INDEX ussd_otps_pending_dial ON ussd_otps (dial_code) WHERE status = 'pending';
CREATE INDEX ussd_otps_expiring ON ussd_otps (expire_at) WHERE status = 'pending';

-- Each Space's test clock: how far the test environment's time runs ahead of the system's.
CREATE TABLE test_clocks (
    space_id   TEXT PRIMARY KEY REFERENCES spaces(id),
    offset_us  BIGINT NOT NULL CHECK (offset_us >= 0)
);

-- A fee's debit names its fee (`originatingFee.code` on the entry).
ALTER TABLE financial_transactions ADD COLUMN fee_code TEXT;
