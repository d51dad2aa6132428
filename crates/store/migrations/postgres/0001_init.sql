-- openmonime schema v1 for PostgreSQL. Times are Unix microseconds (BIGINT); JSON is TEXT.
-- `seq` columns give every tenant list a stable order for cursors.

CREATE TABLE monimeers (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    email         TEXT,
    created_at    BIGINT NOT NULL,
    offboarded_at BIGINT
);

CREATE TABLE spaces (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE space_roles (
    space_id    TEXT NOT NULL REFERENCES spaces(id),
    name        TEXT NOT NULL,
    permissions TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (space_id, name)
);

CREATE TABLE memberships (
    space_id    TEXT NOT NULL REFERENCES spaces(id),
    monimeer_id TEXT NOT NULL REFERENCES monimeers(id),
    role        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (space_id, monimeer_id)
);
CREATE INDEX memberships_by_monimeer ON memberships (monimeer_id);

CREATE TABLE access_tokens (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    token_hash   TEXT NOT NULL UNIQUE,
    hint         TEXT NOT NULL,
    monimeer_id  TEXT NOT NULL REFERENCES monimeers(id),
    name         TEXT NOT NULL,
    environment  TEXT NOT NULL CHECK (environment IN ('test', 'live')),
    permissions  TEXT NOT NULL,
    space_id     TEXT,
    allowed_ips  TEXT NOT NULL,
    expires_at   BIGINT,
    api_version  TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    revoked_at   BIGINT
);
CREATE INDEX access_tokens_by_monimeer ON access_tokens (monimeer_id, seq);

-- Every write that changes what a token may do appends here; each node follows the feed to evict
-- cached authorizations that another process (a node, the admin CLI) made stale.
CREATE TABLE auth_changes (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind       TEXT NOT NULL,
    subject    TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE financial_accounts (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    space_id    TEXT NOT NULL REFERENCES spaces(id),
    environment TEXT NOT NULL CHECK (environment IN ('test', 'live')),
    uvan        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    currency    TEXT NOT NULL CHECK (currency IN ('SLE', 'USD')),
    reference   TEXT,
    description TEXT,
    metadata    TEXT,
    balance     BIGINT NOT NULL DEFAULT 0 CHECK (balance >= 0),
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT,
    UNIQUE (space_id, environment, reference)
);
CREATE INDEX financial_accounts_by_tenant ON financial_accounts (space_id, environment, seq);

CREATE TABLE financial_transactions (
    seq            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id             TEXT NOT NULL UNIQUE,
    space_id       TEXT NOT NULL,
    environment    TEXT NOT NULL,
    account_id     TEXT NOT NULL REFERENCES financial_accounts(id),
    kind           TEXT NOT NULL CHECK (kind IN ('credit', 'debit')),
    currency       TEXT NOT NULL,
    amount         BIGINT NOT NULL CHECK (amount > 0),
    balance_after  BIGINT NOT NULL CHECK (balance_after >= 0),
    reference      TEXT NOT NULL,
    owner_id       TEXT NOT NULL,
    owner_type     TEXT NOT NULL,
    owner_metadata TEXT,
    metadata       TEXT,
    created_at     BIGINT NOT NULL
);
CREATE INDEX financial_transactions_by_tenant ON financial_transactions (space_id, environment, seq);
CREATE INDEX financial_transactions_by_account ON financial_transactions (account_id, seq);
CREATE INDEX financial_transactions_by_reference ON financial_transactions (space_id, environment, reference);

CREATE TABLE internal_transfers (
    seq                   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id                    TEXT NOT NULL UNIQUE,
    space_id              TEXT NOT NULL,
    environment           TEXT NOT NULL,
    status                TEXT NOT NULL,
    currency              TEXT NOT NULL,
    amount                BIGINT NOT NULL CHECK (amount > 0),
    source_id             TEXT NOT NULL,
    destination_id        TEXT NOT NULL,
    transaction_reference TEXT,
    description           TEXT,
    failure_code          TEXT,
    failure_message       TEXT,
    metadata              TEXT,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT
);
CREATE INDEX internal_transfers_by_tenant ON internal_transfers (space_id, environment, seq);

CREATE TABLE ledger_adjustments (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    space_id    TEXT NOT NULL,
    environment TEXT NOT NULL,
    account_id  TEXT NOT NULL REFERENCES financial_accounts(id),
    amount      BIGINT NOT NULL CHECK (amount > 0),
    reference   TEXT NOT NULL,
    actor       TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE idempotency_records (
    space_id      TEXT NOT NULL,
    environment   TEXT NOT NULL,
    monimeer_id   TEXT NOT NULL,
    idem_key      TEXT NOT NULL,
    fingerprint   TEXT NOT NULL,
    response_body TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (space_id, environment, monimeer_id, idem_key)
);
CREATE INDEX idempotency_records_by_age ON idempotency_records (created_at);

CREATE TABLE audit_events (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    space_id    TEXT,
    environment TEXT,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    subject     TEXT NOT NULL,
    detail      TEXT,
    ip          TEXT,
    created_at  BIGINT NOT NULL
);
CREATE INDEX audit_events_by_tenant ON audit_events (space_id, environment, seq);
