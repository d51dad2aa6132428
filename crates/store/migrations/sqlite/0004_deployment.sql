-- One-time facts about this deployment, shared by every node: each row is inserted once (the
-- primary key decides a race between nodes) and never changed. `cursor_key` seals list cursors;
-- `quickstart` records that the first start on an empty database set up its owner.
CREATE TABLE deployment (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
