-- Checkout sessions and the receipts completed ones leave. `token` is the hosted page's
-- capability (the last segment of `redirectUrl`); `line_items` and `payment_options` are JSON.
CREATE TABLE checkout_sessions (
    seq              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id               TEXT NOT NULL UNIQUE,
    space_id         TEXT NOT NULL REFERENCES spaces(id),
    environment      TEXT NOT NULL CHECK (environment IN ('test', 'live')),
    status           TEXT NOT NULL CHECK (status IN ('pending', 'cancelled', 'expired', 'completed')),
    name             TEXT NOT NULL,
    description      TEXT,
    order_number     TEXT NOT NULL UNIQUE,
    reference        TEXT,
    token            TEXT NOT NULL UNIQUE,
    cancel_url       TEXT,
    success_url      TEXT,
    callback_state   TEXT,
    line_items       TEXT NOT NULL,
    account_id       TEXT NOT NULL REFERENCES financial_accounts(id),
    payment_options  TEXT NOT NULL,
    primary_color    TEXT,
    started_at       BIGINT,
    expire_at        BIGINT NOT NULL,
    metadata         TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT
);
CREATE INDEX checkout_sessions_by_tenant ON checkout_sessions (space_id, environment, seq);
CREATE INDEX checkout_sessions_expiring ON checkout_sessions (expire_at) WHERE status = 'pending';

-- A receipt: one per completed session, by its order number; `entitlements` is JSON, changed
-- only under the row's lock.
CREATE TABLE receipts (
    order_number  TEXT PRIMARY KEY,
    space_id      TEXT NOT NULL REFERENCES spaces(id),
    environment   TEXT NOT NULL CHECK (environment IN ('test', 'live')),
    order_name    TEXT,
    currency      TEXT NOT NULL,
    amount        BIGINT NOT NULL,
    entitlements  TEXT NOT NULL,
    metadata      TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
