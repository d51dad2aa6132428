-- The events outbox: each event is written in the transaction of the change it reports, so a
-- committed change always has its events and a rolled-back one never does. `snapshot` is the
-- object as the change left it (openmonime's own JSON), rendered per webhook at delivery.
CREATE TABLE events (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    space_id     TEXT NOT NULL REFERENCES spaces(id),
    environment  TEXT NOT NULL CHECK (environment IN ('test', 'live')),
    name         TEXT NOT NULL,
    object_id    TEXT NOT NULL,
    object_type  TEXT NOT NULL,
    snapshot     TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX events_by_tenant ON events (space_id, environment, seq);
