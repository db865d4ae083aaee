-- venue-hq on SQLite: the same tables as deploy/hq/postgres.sql, without partitions.
-- Applied at every start; every statement is idempotent.
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO meta (key, value) VALUES ('schema_version', '1') ON CONFLICT (key) DO NOTHING;

CREATE TABLE IF NOT EXISTS edges (
    edge_id        TEXT PRIMARY KEY,
    last_batch_seq INTEGER,
    batches        INTEGER NOT NULL DEFAULT 0,
    records        INTEGER NOT NULL DEFAULT 0,
    duplicates     INTEGER NOT NULL DEFAULT 0,
    first_seen     TEXT,
    last_seen      TEXT
);

CREATE TABLE IF NOT EXISTS tokens (
    token_sha256 TEXT PRIMARY KEY,
    role         TEXT NOT NULL CHECK (role IN ('edge', 'manager', 'finance', 'auditor')),
    edge_id      TEXT,
    label        TEXT NOT NULL DEFAULT '',
    created_at   TEXT NOT NULL,
    CHECK ((role = 'edge') = (edge_id IS NOT NULL))
);

CREATE TABLE IF NOT EXISTS batches (
    edge_id     TEXT NOT NULL,
    batch_seq   INTEGER NOT NULL,
    records     INTEGER NOT NULL,
    accepted    INTEGER NOT NULL DEFAULT 0,
    duplicates  INTEGER NOT NULL DEFAULT 0,
    received_at TEXT NOT NULL,
    PRIMARY KEY (edge_id, batch_seq)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS records (
    edge_id       TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('scan', 'sale', 'order', 'refund', 'rebook', 'bill', 'payout')),
    event_id      TEXT NOT NULL,
    seq           INTEGER NOT NULL,
    business_date TEXT NOT NULL,
    at            TEXT NOT NULL,
    data          TEXT NOT NULL,
    batch_seq     INTEGER NOT NULL,
    UNIQUE (edge_id, kind, event_id)
);

CREATE TABLE IF NOT EXISTS revenue_lines (
    edge_id       TEXT NOT NULL,
    business_date TEXT NOT NULL,
    record_kind   TEXT NOT NULL,
    event_id      TEXT NOT NULL,
    source        TEXT NOT NULL,
    product       TEXT,
    merchant      TEXT,
    area          TEXT,
    category      TEXT,
    party         TEXT,
    kind          TEXT NOT NULL CHECK (kind IN ('sale', 'refund')),
    amount_fen    INTEGER NOT NULL,
    count         INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS revenue_lines_by_day ON revenue_lines (business_date);

-- The audit chain head each fresh batch carried (Venue-Audit-Head): `venue-hq audit check`
-- finds a box whose log was cut back or rebuilt from them.
CREATE TABLE IF NOT EXISTS audit_heads (
    edge_id     TEXT NOT NULL,
    batch_seq   INTEGER NOT NULL,
    audit_row   INTEGER NOT NULL,
    audit_hash  TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (edge_id, batch_seq)
) WITHOUT ROWID;
