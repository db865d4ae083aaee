-- venue-hq: the PostgreSQL schema of the Venue Edge headquarters receiver.
--
-- `venue-hq serve` and `venue-hq token add` apply this very file at start (it is built into
-- the binary), in the schema named by --pg-schema (default venue_hq), which they create if
-- it is missing. Every statement is idempotent. To apply it by hand instead:
--
--   psql "$DATABASE_URL" -c 'CREATE SCHEMA IF NOT EXISTS venue_hq' \
--        -c 'SET search_path TO venue_hq' -f deploy/hq/postgres.sql
--
-- Names are unqualified: they land in the first schema of search_path.
--
-- records and revenue_lines are partitioned by business day. venue-hq creates the day's
-- partitions itself before it stores a batch that needs them, named records_pYYYYMMDD and
-- revenue_lines_pYYYYMMDD, each FOR VALUES FROM (day) TO (day + 1). There is no default
-- partition. Dropping or detaching a day's partitions removes that day from the reports.

CREATE TABLE IF NOT EXISTS meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);
INSERT INTO meta (key, value) VALUES ('schema_version', '1') ON CONFLICT (key) DO NOTHING;

-- One row per edge box: registered by `token add --edge`, updated by every stored batch.
CREATE TABLE IF NOT EXISTS edges (
    edge_id        text PRIMARY KEY,
    last_batch_seq bigint,
    batches        bigint NOT NULL DEFAULT 0,
    records        bigint NOT NULL DEFAULT 0,
    duplicates     bigint NOT NULL DEFAULT 0,
    first_seen     timestamptz,
    last_seen      timestamptz
);

-- Bearer tokens, as SHA-256 digests only. An edge token names its edge box.
CREATE TABLE IF NOT EXISTS tokens (
    token_sha256 text PRIMARY KEY,
    role         text NOT NULL CHECK (role IN ('edge', 'manager', 'finance', 'auditor')),
    edge_id      text,
    label        text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    CHECK ((role = 'edge') = (edge_id IS NOT NULL))
);

-- Every batch stored: an edge box's batch number is taken once.
CREATE TABLE IF NOT EXISTS batches (
    edge_id     text NOT NULL,
    batch_seq   bigint NOT NULL,
    records     bigint NOT NULL,
    accepted    bigint NOT NULL DEFAULT 0,
    duplicates  bigint NOT NULL DEFAULT 0,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (edge_id, batch_seq)
);

-- Every record, once per (edge_id, kind, event_id) and business day. `data` is the
-- record's data as the edge box sent it; `at` its time as sent (RFC 3339 text).
CREATE TABLE IF NOT EXISTS records (
    edge_id       text NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('scan', 'sale', 'order', 'refund', 'rebook', 'bill', 'payout')),
    event_id      text NOT NULL,
    seq           bigint NOT NULL,
    business_date date NOT NULL,
    at            text NOT NULL,
    data          jsonb NOT NULL,
    batch_seq     bigint NOT NULL,
    CONSTRAINT records_once UNIQUE (edge_id, kind, event_id, business_date)
) PARTITION BY RANGE (business_date);

-- The revenue lines of stored money records (sale, order, refund): what reports sum.
-- Amounts are integer fen. A void is a sale line with a negative amount and count.
CREATE TABLE IF NOT EXISTS revenue_lines (
    edge_id       text NOT NULL,
    business_date date NOT NULL,
    record_kind   text NOT NULL,
    event_id      text NOT NULL,
    source        text NOT NULL,
    product       text,
    merchant      text,
    area          text,
    category      text,
    party         text,
    kind          text NOT NULL CHECK (kind IN ('sale', 'refund')),
    amount_fen    bigint NOT NULL,
    count         bigint NOT NULL
) PARTITION BY RANGE (business_date);

-- The audit chain head each fresh batch carried (Venue-Audit-Head): `venue-hq audit check`
-- finds a box whose log was cut back or rebuilt from them.
CREATE TABLE IF NOT EXISTS audit_heads (
    edge_id     text NOT NULL,
    batch_seq   bigint NOT NULL,
    audit_row   bigint NOT NULL,
    audit_hash  text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (edge_id, batch_seq)
);
