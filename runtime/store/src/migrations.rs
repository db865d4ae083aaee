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
    // 4: an accepted POS message is one row of `sales`, its lines kept in it as JSON; that
    // row is also its idempotency record. Only refusals, which are rare, keep a row of
    // their own. (Per sale this drops three inserts into indexes keyed by event id, whose
    // pages one group commit had to write once per terminal.)
    r#"
    ALTER TABLE sales ADD COLUMN lines TEXT NOT NULL DEFAULT '[]';
    UPDATE sales SET lines = (
        SELECT json_group_array(json_object('sku', sku, 'category', category, 'qty', qty,
                                            'unit_price_fen', unit_price_fen) ORDER BY line_no)
        FROM sale_lines l WHERE l.event_id = sales.event_id)
    WHERE EXISTS (SELECT 1 FROM sale_lines l WHERE l.event_id = sales.event_id);
    CREATE TABLE pos_refusals (
        device   TEXT NOT NULL,
        event_id TEXT NOT NULL,
        error    TEXT NOT NULL,
        at       TEXT NOT NULL,
        PRIMARY KEY (device, event_id)
    ) WITHOUT ROWID;
    INSERT INTO pos_refusals (device, event_id, error, at)
        SELECT device, event_id, COALESCE(error, 'rejected'), at FROM pos_events WHERE status = 'rejected';
    DROP TABLE pos_events;
    DROP TABLE sale_lines;
    "#,
    // 5: a POS sale's row keeps the ids of its revenue facts (consecutive: one job writes
    // them), and the index of facts by event id goes. It had a hot page per terminal that
    // every group commit of sales wrote again; only voids and refunds looked anything up
    // in it, and they find the facts through the sale now.
    r#"
    ALTER TABLE sales ADD COLUMN facts_first INTEGER;
    ALTER TABLE sales ADD COLUMN facts_last INTEGER;
    UPDATE sales SET (facts_first, facts_last) = (
        SELECT MIN(f.id), MAX(f.id) FROM revenue_facts f
        WHERE f.source = 'pos' AND f.fact_id = sales.event_id);
    DROP INDEX facts_by_fact;
    "#,
    // 6: fewer pages per group commit of sales (the sales journal wrote 2.1 WAL frames a
    // sale before, 1.2 after, in commits of about 200 sales; see BENCHMARKS.md). Indexes
    // whose key is per terminal or per account have a hot page for each, which every group
    // commit wrote again:
    // - a POS message's transfer is kept unique by its sale's row id (`fact_ref`, growing)
    //   instead of by its event id; other transfers stay unique by `(fact_kind, fact_id)`;
    // - entries are keyed by (transfer, leg), which replaces the index by transfer;
    // - each account's running totals are a row of `ledger_accounts`, which replaces the
    //   index of entries by account (the trial balance and party balances read the totals);
    // - sales are listed by day only (nothing asked for a day's sales by merchant).
    // Tables are rebuilt, so this runs with foreign keys off and checks them before it
    // commits (see `migrate`).
    r#"
    CREATE TABLE ledger_transfers_v6 (
        id            INTEGER PRIMARY KEY,
        fact_kind     TEXT NOT NULL,
        fact_id       TEXT NOT NULL,
        fact_ref      INTEGER,                -- the row id in `sales` of a POS message's fact
        at            TEXT NOT NULL,
        business_date TEXT NOT NULL,
        memo          TEXT NOT NULL
    );
    INSERT INTO ledger_transfers_v6 (id, fact_kind, fact_id, fact_ref, at, business_date, memo)
        SELECT t.id, t.fact_kind, t.fact_id,
               CASE WHEN t.fact_kind IN ('pos-sale', 'pos-refund', 'pos-void')
                    THEN (SELECT s.rowid FROM sales s WHERE s.event_id = t.fact_id) END,
               t.at, t.business_date, t.memo
        FROM ledger_transfers t ORDER BY t.id;
    CREATE TABLE ledger_entries_v6 (
        transfer_id INTEGER NOT NULL REFERENCES ledger_transfers(id),
        leg         INTEGER NOT NULL,
        account     TEXT NOT NULL,
        debit_fen   INTEGER NOT NULL CHECK (debit_fen >= 0),
        credit_fen  INTEGER NOT NULL CHECK (credit_fen >= 0),
        PRIMARY KEY (transfer_id, leg)
    ) WITHOUT ROWID;
    INSERT INTO ledger_entries_v6 (transfer_id, leg, account, debit_fen, credit_fen)
        SELECT transfer_id, ROW_NUMBER() OVER (PARTITION BY transfer_id ORDER BY rowid) - 1,
               account, debit_fen, credit_fen
        FROM ledger_entries;
    DROP TABLE ledger_entries;
    DROP TABLE ledger_transfers;
    ALTER TABLE ledger_transfers_v6 RENAME TO ledger_transfers;
    ALTER TABLE ledger_entries_v6 RENAME TO ledger_entries;
    CREATE UNIQUE INDEX ledger_by_fact ON ledger_transfers(fact_kind, fact_id)
        WHERE fact_ref IS NULL;
    CREATE UNIQUE INDEX ledger_by_sale ON ledger_transfers(fact_kind, fact_ref)
        WHERE fact_ref IS NOT NULL;
    -- Sums in SQLite turn into floating point on overflow; the checks refuse that instead.
    CREATE TABLE ledger_accounts (
        account    TEXT PRIMARY KEY,
        debit_fen  INTEGER NOT NULL CHECK (typeof(debit_fen) = 'integer'),
        credit_fen INTEGER NOT NULL CHECK (typeof(credit_fen) = 'integer')
    ) WITHOUT ROWID;
    INSERT INTO ledger_accounts (account, debit_fen, credit_fen)
        SELECT account, SUM(debit_fen), SUM(credit_fen) FROM ledger_entries GROUP BY account;
    DROP INDEX sales_by_day;
    CREATE INDEX sales_by_day ON sales(business_date);
    "#,
    // 7: scans are no longer indexed by ticket. Nothing asks for a ticket's scans (the
    // admission rules read the ticket's own row: entries used, inside, last entry), and
    // that index cost every scan's commit a page at a random place of a large index.
    r#"
    DROP INDEX scans_by_ticket;
    "#,
    // 8: the outbox without AUTOINCREMENT. Its counter lives in `sqlite_sequence`, a page
    // every commit that queues a record had to write again (one of the ~5.8 pages of a
    // scan's commit). The numbers still never go back: a record takes the next after the
    // highest queued, or, with the outbox empty, after the highest ever sent
    // (`outbox::push`); `outbox_seq_floor` keeps where the old counter stood.
    r#"
    CREATE TABLE outbox_seq_floor (seq INTEGER PRIMARY KEY);
    INSERT INTO outbox_seq_floor (seq)
        SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'outbox'), 0);
    CREATE TABLE outbox_new (
        seq           INTEGER PRIMARY KEY,
        kind          TEXT NOT NULL,          -- scan | sale | order | refund | rebook | bill | payout
        event_id      TEXT NOT NULL,
        business_date TEXT NOT NULL,
        at            TEXT NOT NULL,
        data          TEXT NOT NULL,          -- JSON
        queued_ms     INTEGER NOT NULL        -- when it was queued (Unix ms), for batch age
    );
    INSERT INTO outbox_new (seq, kind, event_id, business_date, at, data, queued_ms)
        SELECT seq, kind, event_id, business_date, at, data, queued_ms FROM outbox;
    DROP TABLE outbox;
    ALTER TABLE outbox_new RENAME TO outbox;
    DELETE FROM sqlite_sequence WHERE name = 'outbox';
    "#,
    // 9: visit dates written YYYY-MM-DD exactly. Until now an order's visit date was kept
    // as the caller spelled it (`2027-1-5`, ` 2027-01-05`), so one day could be counted in
    // several capacity buckets and its tickets were refused at the gate on their own day.
    // Every spelling of a date is rewritten to its one form, and the capacity sold under a
    // loose spelling is added to that day's bucket. A text that names no calendar day is
    // left as it was (nothing the old parser accepted is such a text).
    r#"
    CREATE TEMP TABLE loose_dates (
        loose TEXT PRIMARY KEY, d TEXT, y TEXT, rest TEXT, m TEXT, dd TEXT, canonical TEXT
    );
    INSERT INTO loose_dates (loose, d)
        SELECT v, trim(v) FROM (
            SELECT visit_date AS v FROM tickets UNION SELECT visit_date FROM orders
            UNION SELECT visit_date FROM sold UNION SELECT visit_date FROM slot_sold
            UNION SELECT to_date FROM rebooks UNION SELECT from_date FROM rebooks)
        WHERE v NOT GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]' OR date(v) IS NOT v;
    UPDATE loose_dates SET y = substr(d, 1, instr(d, '-') - 1), rest = substr(d, instr(d, '-') + 1);
    UPDATE loose_dates SET m = substr(rest, 1, instr(rest, '-') - 1), dd = substr(rest, instr(rest, '-') + 1);
    UPDATE loose_dates
        SET canonical = printf('%04d-%02d-%02d', CAST(y AS INTEGER), CAST(m AS INTEGER), CAST(dd AS INTEGER))
        WHERE length(y) BETWEEN 1 AND 4 AND length(m) BETWEEN 1 AND 2 AND length(dd) BETWEEN 1 AND 2
          AND y NOT GLOB '*[^0-9]*' AND m NOT GLOB '*[^0-9]*' AND dd NOT GLOB '*[^0-9]*';
    UPDATE loose_dates SET canonical = NULL WHERE date(canonical) IS NOT canonical;
    DELETE FROM loose_dates WHERE canonical IS NULL OR canonical = loose;
    UPDATE tickets SET visit_date = (SELECT canonical FROM loose_dates WHERE loose = visit_date)
        WHERE visit_date IN (SELECT loose FROM loose_dates);
    UPDATE orders SET visit_date = (SELECT canonical FROM loose_dates WHERE loose = visit_date)
        WHERE visit_date IN (SELECT loose FROM loose_dates);
    UPDATE rebooks SET to_date = (SELECT canonical FROM loose_dates WHERE loose = to_date)
        WHERE to_date IN (SELECT loose FROM loose_dates);
    UPDATE rebooks SET from_date = (SELECT canonical FROM loose_dates WHERE loose = from_date)
        WHERE from_date IN (SELECT loose FROM loose_dates);
    INSERT INTO sold (area, visit_date, sold)
        SELECT s.area, l.canonical, s.sold FROM sold s JOIN loose_dates l ON l.loose = s.visit_date WHERE true
        ON CONFLICT (area, visit_date) DO UPDATE SET sold = sold + excluded.sold;
    DELETE FROM sold WHERE visit_date IN (SELECT loose FROM loose_dates);
    INSERT INTO slot_sold (product, visit_date, slot, sold)
        SELECT s.product, l.canonical, s.slot, s.sold FROM slot_sold s JOIN loose_dates l ON l.loose = s.visit_date WHERE true
        ON CONFLICT (product, visit_date, slot) DO UPDATE SET sold = sold + excluded.sold;
    DELETE FROM slot_sold WHERE visit_date IN (SELECT loose FROM loose_dates);
    DROP TABLE loose_dates;
    "#,
    // 10: presence per (ticket, area, business day). One flag per ticket refused a ticket
    // granting two areas at the second while it was inside the first, and let an exit at an
    // area the ticket was not inside lower that area's count; a count that never reset kept
    // visitors who left without an exit scan inside forever. A ticket is inside an area on
    // a day while its row exists; an area's count belongs to its day, so each day starts at
    // 0, and the rows a day leaves behind are who never scanned out. Tickets inside now
    // are carried over into the area of their last admitted entry, on their last entry day.
    r#"
    CREATE TABLE ticket_presence (
        ticket_id     TEXT NOT NULL REFERENCES tickets(ticket_id),
        area          TEXT NOT NULL,
        business_date TEXT NOT NULL,
        entered_at    TEXT NOT NULL,
        PRIMARY KEY (ticket_id, area, business_date)
    ) WITHOUT ROWID;
    CREATE INDEX ticket_presence_by_day ON ticket_presence(business_date, area);
    INSERT INTO ticket_presence (ticket_id, area, business_date, entered_at)
        SELECT t.ticket_id, s.area, t.last_entry_date, MAX(s.at)
        FROM tickets t JOIN scans s ON s.ticket_id = t.ticket_id
        WHERE t.inside = 1 AND t.last_entry_date IS NOT NULL
          AND s.direction = 'in' AND s.decision = 'admit' AND s.business_date = t.last_entry_date
        GROUP BY t.ticket_id;
    CREATE TABLE area_presence (
        area          TEXT NOT NULL,
        business_date TEXT NOT NULL,
        inside        INTEGER NOT NULL CHECK (inside >= 0),
        PRIMARY KEY (area, business_date)
    ) WITHOUT ROWID;
    INSERT INTO area_presence (area, business_date, inside)
        SELECT area, business_date, COUNT(*) FROM ticket_presence GROUP BY area, business_date;
    DROP TABLE presence;
    ALTER TABLE tickets DROP COLUMN inside;
    "#,
    // 11: staff accounts. A token belongs to a user (its roles are the user's), has a short
    // public id, may expire and be revoked; the audit names the user and, in `via`, the
    // token or session it came through. The role tokens of before become the tokens of one
    // user per role they held (`legacy-{role}`, no password, so it cannot sign in).
    r#"
    CREATE TABLE users (
        username      TEXT PRIMARY KEY,
        display_name  TEXT NOT NULL,
        roles         TEXT NOT NULL,
        password_hash TEXT,
        disabled      INTEGER NOT NULL DEFAULT 0,
        created_at    TEXT NOT NULL,
        updated_at    TEXT NOT NULL
    );
    INSERT INTO users (username, display_name, roles, password_hash, disabled, created_at, updated_at)
        SELECT 'legacy-' || replace(role, ':', '-'), 'tokens issued before staff accounts', role,
               NULL, 0, MIN(created_at), MIN(created_at)
        FROM tokens GROUP BY role;
    ALTER TABLE tokens ADD COLUMN token_id TEXT;
    ALTER TABLE tokens ADD COLUMN username TEXT REFERENCES users(username);
    ALTER TABLE tokens ADD COLUMN expires_at TEXT;
    ALTER TABLE tokens ADD COLUMN revoked_at TEXT;
    UPDATE tokens SET token_id = 'tok_' || substr(token_sha256, 1, 12),
                      username = 'legacy-' || replace(role, ':', '-');
    CREATE UNIQUE INDEX tokens_by_id ON tokens(token_id);
    CREATE TABLE sessions (
        session_sha256 TEXT PRIMARY KEY,
        session_id     TEXT NOT NULL UNIQUE,
        username       TEXT NOT NULL REFERENCES users(username),
        csrf           TEXT NOT NULL,
        created_at     TEXT NOT NULL,
        expires_at     TEXT NOT NULL,
        ended_at       TEXT
    );
    ALTER TABLE audit ADD COLUMN via TEXT NOT NULL DEFAULT '';
    "#,
    // 12: devices' MQTT credentials. A gate or POS terminal logs in to the embedded broker
    // with its id and a generated password, kept as a mosquitto `$7$` hash so the same
    // hash serves an exported mosquitto password file.
    r#"
    CREATE TABLE device_credentials (
        device_id     TEXT PRIMARY KEY,
        password_hash TEXT NOT NULL,
        created_at    TEXT NOT NULL,
        revoked_at    TEXT
    );
    "#,
    // 13: the audit log as a hash chain: each row keeps the hash of the row before it and
    // its own. Rows written before are chained by the runtime at its next start.
    r#"
    ALTER TABLE audit ADD COLUMN prev_hash TEXT;
    ALTER TABLE audit ADD COLUMN hash TEXT;
    "#,
    // 14: the console's search by a visitor's ID number goes through the keyed index.
    r#"
    CREATE INDEX tickets_by_id_index ON tickets(id_index) WHERE id_index IS NOT NULL;
    "#,
    // 15: the province of a visitor's resident ID (its first two digits), derived at sale
    // time and kept apart from the sealed number, for the consumption analysis's origin.
    r#"
    ALTER TABLE tickets ADD COLUMN id_province TEXT;
    "#,
    // 16: revenue per business day and key, kept on write by triggers on `revenue_facts`
    // (a fact's insert adds it, a void takes it back), so that a report of a year reads a
    // few thousand rows instead of every fact. A POS sale counts once, under its first
    // fact (the one whose predecessor by id is not of the same sale), as the report and HQ
    // count it. `''` stands for "no such key" (a ticket has no merchant).
    r#"
    CREATE TABLE revenue_daily (
        business_date TEXT NOT NULL,
        source        TEXT NOT NULL,
        product       TEXT NOT NULL,
        merchant      TEXT NOT NULL,
        area          TEXT NOT NULL,
        category      TEXT NOT NULL,
        gross_fen     INTEGER NOT NULL,
        refunds_fen   INTEGER NOT NULL,
        count         INTEGER NOT NULL,
        PRIMARY KEY (business_date, source, product, merchant, area, category)
    ) WITHOUT ROWID;
    INSERT INTO revenue_daily
    SELECT business_date, source, COALESCE(product, ''), COALESCE(merchant, ''),
           COALESCE(area, ''), category,
           SUM(CASE WHEN kind = 'sale' THEN amount_fen ELSE 0 END),
           SUM(CASE WHEN kind = 'refund' THEN amount_fen ELSE 0 END),
           SUM(CASE WHEN kind = 'sale' AND (source = 'ticket' OR NOT EXISTS
                   (SELECT 1 FROM revenue_facts p
                    WHERE p.id = f.id - 1 AND p.source = 'pos' AND p.fact_id = f.fact_id))
               THEN count ELSE 0 END)
    FROM revenue_facts f WHERE voided = 0
    GROUP BY business_date, source, COALESCE(product, ''), COALESCE(merchant, ''),
             COALESCE(area, ''), category;
    CREATE TRIGGER revenue_daily_add AFTER INSERT ON revenue_facts WHEN NEW.voided = 0
    BEGIN
        INSERT INTO revenue_daily VALUES (
            NEW.business_date, NEW.source, COALESCE(NEW.product, ''),
            COALESCE(NEW.merchant, ''), COALESCE(NEW.area, ''), NEW.category,
            CASE WHEN NEW.kind = 'sale' THEN NEW.amount_fen ELSE 0 END,
            CASE WHEN NEW.kind = 'refund' THEN NEW.amount_fen ELSE 0 END,
            CASE WHEN NEW.kind = 'sale' AND (NEW.source = 'ticket' OR NOT EXISTS
                    (SELECT 1 FROM revenue_facts p
                     WHERE p.id = NEW.id - 1 AND p.source = 'pos' AND p.fact_id = NEW.fact_id))
                 THEN NEW.count ELSE 0 END)
        ON CONFLICT DO UPDATE SET
            gross_fen = gross_fen + excluded.gross_fen,
            refunds_fen = refunds_fen + excluded.refunds_fen,
            count = count + excluded.count;
    END;
    CREATE TRIGGER revenue_daily_void AFTER UPDATE OF voided ON revenue_facts
    WHEN NEW.voided = 1 AND OLD.voided = 0
    BEGIN
        UPDATE revenue_daily SET
            gross_fen = gross_fen - CASE WHEN OLD.kind = 'sale' THEN OLD.amount_fen ELSE 0 END,
            refunds_fen = refunds_fen - CASE WHEN OLD.kind = 'refund' THEN OLD.amount_fen ELSE 0 END,
            count = count - CASE WHEN OLD.kind = 'sale' AND (OLD.source = 'ticket' OR NOT EXISTS
                    (SELECT 1 FROM revenue_facts p
                     WHERE p.id = OLD.id - 1 AND p.source = 'pos' AND p.fact_id = OLD.fact_id))
                 THEN OLD.count ELSE 0 END
        WHERE business_date = OLD.business_date AND source = OLD.source
          AND product = COALESCE(OLD.product, '') AND merchant = COALESCE(OLD.merchant, '')
          AND area = COALESCE(OLD.area, '') AND category = OLD.category;
    END;
    "#,
    // 17: the ticket a POS sale was paid with (one-code wallets, contract 1.1.0), and the
    // index that finds a ticket's purchases for the one-code report.
    r#"
    ALTER TABLE sales ADD COLUMN ticket_code TEXT;
    CREATE INDEX sales_by_ticket_code ON sales(ticket_code) WHERE ticket_code IS NOT NULL;
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
    // A migration may rebuild a table others refer to (create, copy, drop, rename: the
    // procedure of SQLite's "ALTER TABLE" page), which needs foreign keys off; they are
    // checked before each migration commits, and the caller turns them on afterwards.
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let version = index as i64 + 1;
        let tx = conn.unchecked_transaction()?;
        tx.execute_batch(sql)?;
        let broken: i64 =
            tx.query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })?;
        if broken > 0 {
            return Err(StoreError::Migration {
                version,
                message: format!("{broken} rows would break a foreign key"),
            });
        }
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
        tracing::info!(version, "store: migrated");
    }
    Ok(())
}

/// Brings an empty database to schema `version`, as an older binary left it (tests of
/// the migrations, here and in the crates whose data they carry across).
#[cfg(any(test, feature = "testing"))]
pub fn at_version(conn: &Connection, version: usize) {
    for sql in &MIGRATIONS[..version] {
        conn.execute_batch(sql)
            .expect("a migration of the binary applies");
    }
    conn.pragma_update(None, "user_version", version as i64)
        .expect("user_version is writable");
}

/// Brings the database to the newest schema (tests of migrated data elsewhere).
#[cfg(any(test, feature = "testing"))]
pub fn migrate_for_test(conn: &Connection) {
    migrate(conn).expect("the migrations apply");
}

#[cfg(test)]
mod tests;
