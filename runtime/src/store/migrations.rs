//! Numbered schema migrations. A migration is never edited once released: a change is a
//! new entry at the end. `PRAGMA user_version` records how far a database has come.

use rusqlite::Connection;

use super::StoreError;

/// Each entry moves the schema from version `index` to `index + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: ticketing, admission, dead letters, tokens, plugin scratch space, audit.
    r#"
    CREATE TABLE orders (
        order_id      TEXT PRIMARY KEY,
        order_ref     TEXT NOT NULL UNIQUE,
        body_sha256   TEXT NOT NULL,
        channel       TEXT NOT NULL,
        visit_date    TEXT NOT NULL,
        slot          TEXT,
        total_fen     INTEGER NOT NULL,
        status        TEXT NOT NULL,
        payment_method TEXT NOT NULL,
        payment_ref   TEXT NOT NULL,
        group_code    TEXT UNIQUE,
        source_plugin TEXT,
        created_at    TEXT NOT NULL,
        business_date TEXT NOT NULL
    );
    CREATE TABLE tickets (
        ticket_id     TEXT PRIMARY KEY,
        order_id      TEXT NOT NULL REFERENCES orders(order_id),
        code          TEXT NOT NULL UNIQUE,
        product       TEXT NOT NULL,
        visit_date    TEXT NOT NULL,
        slot          TEXT,
        price_fen     INTEGER NOT NULL,
        status        TEXT NOT NULL,          -- valid | refunded
        entries_used  INTEGER NOT NULL DEFAULT 0,
        inside        INTEGER NOT NULL DEFAULT 0,
        last_entry_date TEXT,
        visitor_name  TEXT,
        id_type       TEXT,
        id_cipher     BLOB,                   -- AES-256-GCM, nonce || ciphertext
        id_index      TEXT,                   -- keyed HMAC of the number, for matching
        id_masked     TEXT,
        group_code    TEXT
    );
    CREATE INDEX tickets_by_order ON tickets(order_id);
    CREATE INDEX tickets_by_group ON tickets(group_code) WHERE group_code IS NOT NULL;
    CREATE TABLE sold (
        area       TEXT NOT NULL,
        visit_date TEXT NOT NULL,
        sold       INTEGER NOT NULL,
        PRIMARY KEY (area, visit_date)
    ) WITHOUT ROWID;
    CREATE TABLE slot_sold (
        product    TEXT NOT NULL,
        visit_date TEXT NOT NULL,
        slot       TEXT NOT NULL,
        sold       INTEGER NOT NULL,
        PRIMARY KEY (product, visit_date, slot)
    ) WITHOUT ROWID;
    CREATE TABLE presence (
        area   TEXT PRIMARY KEY,
        inside INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE refunds (
        refund_id   TEXT PRIMARY KEY,
        refund_ref  TEXT NOT NULL UNIQUE,
        order_id    TEXT NOT NULL REFERENCES orders(order_id),
        body_sha256 TEXT NOT NULL,
        amount_fen  INTEGER NOT NULL,
        reason      TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        business_date TEXT NOT NULL
    );
    CREATE TABLE refund_tickets (
        refund_id  TEXT NOT NULL REFERENCES refunds(refund_id),
        ticket_id  TEXT NOT NULL UNIQUE REFERENCES tickets(ticket_id),
        amount_fen INTEGER NOT NULL
    );
    CREATE TABLE rebooks (
        rebook_id  TEXT PRIMARY KEY,
        ticket_id  TEXT NOT NULL REFERENCES tickets(ticket_id),
        from_date  TEXT NOT NULL,
        from_slot  TEXT,
        to_date    TEXT NOT NULL,
        to_slot    TEXT,
        created_at TEXT NOT NULL
    );
    CREATE TABLE scans (
        device        TEXT NOT NULL,
        event_id      TEXT NOT NULL,
        area          TEXT NOT NULL,
        code          TEXT NOT NULL,
        ticket_id     TEXT,
        direction     TEXT NOT NULL,
        at            TEXT NOT NULL,
        business_date TEXT NOT NULL,
        count         INTEGER NOT NULL,
        offline       INTEGER NOT NULL,
        decision      TEXT NOT NULL,
        reason        TEXT NOT NULL,
        admitted      INTEGER NOT NULL,
        entries_left  INTEGER,
        message       TEXT NOT NULL,
        conflict      INTEGER NOT NULL DEFAULT 0,
        latency_us    INTEGER NOT NULL,
        PRIMARY KEY (device, event_id)
    );
    CREATE INDEX scans_by_day ON scans(business_date, area);
    CREATE INDEX scans_by_ticket ON scans(ticket_id);
    CREATE TABLE dead_letters (
        id       INTEGER PRIMARY KEY,
        topic    TEXT NOT NULL,
        device   TEXT NOT NULL,
        plugin   TEXT,
        payload  BLOB NOT NULL,
        reason   TEXT NOT NULL,
        event_id TEXT,
        at       TEXT NOT NULL
    );
    CREATE TABLE whitelist_seq (
        gate TEXT PRIMARY KEY,
        seq  INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE tokens (
        token_sha256 TEXT PRIMARY KEY,
        role         TEXT NOT NULL,
        label        TEXT NOT NULL,
        created_at   TEXT NOT NULL
    );
    CREATE TABLE plugin_kv (
        plugin TEXT NOT NULL,
        key    TEXT NOT NULL,
        value  BLOB NOT NULL,
        PRIMARY KEY (plugin, key)
    ) WITHOUT ROWID;
    CREATE TABLE audit (
        id      INTEGER PRIMARY KEY,
        at      TEXT NOT NULL,
        actor   TEXT NOT NULL,
        action  TEXT NOT NULL,
        subject TEXT NOT NULL,
        detail  TEXT NOT NULL
    );
    "#,
    // 2: sales journal, revenue facts, ledger, contracts, bills, payouts.
    r#"
    CREATE TABLE pos_events (
        device   TEXT NOT NULL,
        event_id TEXT NOT NULL,
        status   TEXT NOT NULL,               -- accepted | rejected
        error    TEXT,
        at       TEXT NOT NULL,
        PRIMARY KEY (device, event_id)
    ) WITHOUT ROWID;
    CREATE TABLE sales (
        event_id      TEXT PRIMARY KEY,
        device        TEXT NOT NULL,
        merchant      TEXT NOT NULL,
        kind          TEXT NOT NULL,          -- sale | refund | void
        refers_to     TEXT,
        at            TEXT NOT NULL,
        business_date TEXT NOT NULL,
        payment       TEXT NOT NULL,
        total_fen     INTEGER NOT NULL,
        voided        INTEGER NOT NULL DEFAULT 0,
        refunded_fen  INTEGER NOT NULL DEFAULT 0,
        received_at   TEXT NOT NULL
    );
    CREATE INDEX sales_by_day ON sales(business_date, merchant);
    CREATE TABLE sale_lines (
        event_id       TEXT NOT NULL,
        line_no        INTEGER NOT NULL,
        sku            TEXT NOT NULL,
        category       TEXT NOT NULL,
        qty            INTEGER NOT NULL,
        unit_price_fen INTEGER NOT NULL,
        amount_fen     INTEGER NOT NULL,
        PRIMARY KEY (event_id, line_no)
    ) WITHOUT ROWID;
    -- Every money fact settlement and reports count, one row per (fact, category).
    CREATE TABLE revenue_facts (
        id            INTEGER PRIMARY KEY,
        source        TEXT NOT NULL,          -- ticket | pos
        fact_id       TEXT NOT NULL,          -- ticket_id (tickets), event_id (pos)
        kind          TEXT NOT NULL,          -- sale | refund
        product       TEXT,
        merchant      TEXT,
        area          TEXT,
        category      TEXT NOT NULL,
        business_date TEXT NOT NULL,
        amount_fen    INTEGER NOT NULL,
        count         INTEGER NOT NULL,
        voided        INTEGER NOT NULL DEFAULT 0,
        bill_id       TEXT
    );
    CREATE INDEX facts_by_day ON revenue_facts(business_date);
    CREATE INDEX facts_by_fact ON revenue_facts(fact_id);
    CREATE TABLE ledger_transfers (
        id            INTEGER PRIMARY KEY,
        fact_kind     TEXT NOT NULL,
        fact_id       TEXT NOT NULL,
        at            TEXT NOT NULL,
        business_date TEXT NOT NULL,
        memo          TEXT NOT NULL,
        UNIQUE (fact_kind, fact_id)
    );
    CREATE TABLE ledger_entries (
        transfer_id INTEGER NOT NULL REFERENCES ledger_transfers(id),
        account     TEXT NOT NULL,
        debit_fen   INTEGER NOT NULL CHECK (debit_fen >= 0),
        credit_fen  INTEGER NOT NULL CHECK (credit_fen >= 0)
    );
    CREATE INDEX ledger_by_account ON ledger_entries(account);
    CREATE INDEX ledger_by_transfer ON ledger_entries(transfer_id);
    CREATE TABLE contracts (
        id             TEXT NOT NULL,
        version        INTEGER NOT NULL,
        party          TEXT NOT NULL,
        effective_from TEXT NOT NULL,
        body           TEXT NOT NULL,
        created_at     TEXT NOT NULL,
        PRIMARY KEY (id, version)
    );
    CREATE TABLE bills (
        bill_id          TEXT PRIMARY KEY,
        party            TEXT NOT NULL,
        contract         TEXT NOT NULL,
        contract_version INTEGER NOT NULL,
        kind             TEXT NOT NULL,
        period_start     TEXT NOT NULL,
        period_end       TEXT NOT NULL,
        version          INTEGER NOT NULL,
        status           TEXT NOT NULL,
        amounts          TEXT NOT NULL,
        approved_by      TEXT,
        reason           TEXT,
        created_at       TEXT NOT NULL,
        updated_at       TEXT NOT NULL,
        UNIQUE (party, period_start, period_end, version)
    );
    CREATE INDEX bills_by_status ON bills(status, party);
    CREATE TABLE payouts (
        payout_id    TEXT PRIMARY KEY,
        bill_id      TEXT NOT NULL REFERENCES bills(bill_id),
        attempt      INTEGER NOT NULL,
        amount_fen   INTEGER NOT NULL,
        account      TEXT NOT NULL,
        status       TEXT NOT NULL,           -- requested | pending | succeeded | failed
        provider_ref TEXT,
        reason       TEXT,
        requested_by TEXT NOT NULL,
        created_at   TEXT NOT NULL,
        updated_at   TEXT NOT NULL,
        UNIQUE (bill_id, attempt)
    );
    "#,
    // 3: the outbox to HQ and the uplink's batches.
    r#"
    CREATE TABLE outbox (
        seq           INTEGER PRIMARY KEY AUTOINCREMENT,
        kind          TEXT NOT NULL,          -- scan | sale | order | refund | rebook | bill | payout
        event_id      TEXT NOT NULL,
        business_date TEXT NOT NULL,
        at            TEXT NOT NULL,
        data          TEXT NOT NULL,          -- JSON
        queued_ms     INTEGER NOT NULL        -- when it was queued (Unix ms), for batch age
    );
    -- A batch is fixed once formed: a retry resends the same seq with the same records.
    CREATE TABLE uplink_batches (
        batch_seq  INTEGER PRIMARY KEY,
        first_seq  INTEGER NOT NULL,
        last_seq   INTEGER NOT NULL,
        records    INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        attempts   INTEGER NOT NULL DEFAULT 0,
        acked_at   TEXT,
        accepted   INTEGER,
        duplicates INTEGER
    );
    "#,
];

/// The schema version this binary writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

pub(super) fn migrate(conn: &Connection) -> Result<(), StoreError> {
    let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let version = index as i64 + 1;
        let tx = conn.unchecked_transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
        tracing::info!(version, "store: migrated");
    }
    Ok(())
}
