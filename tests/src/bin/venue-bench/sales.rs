//! Sales ingest: POS terminals publishing sales over MQTT, each acknowledged only after its
//! commit, against raw rusqlite batched inserts of the rows the same sales write.

use venue_devices::pos_load::{self, PosLoadSpec};

use super::*;

/// Demo merchants the bench terminals are spread over.
const MERCHANTS: [&str; 3] = ["m-tea-house", "m-gift-shop", "m-coaster-photo"];

pub(crate) async fn sales(
    seconds: u64,
    terminals: usize,
    window: usize,
) -> anyhow::Result<Vec<Row>> {
    let extra: String = (0..terminals)
        .map(|i| {
            format!(
                "\n[[pos]]\nid = \"bench-pos-{i:03}\"\nmerchant = \"{}\"\nplugin = \"std-json-pos\"\n",
                MERCHANTS[i % MERCHANTS.len()]
            )
        })
        .collect();
    let mut edge = Edge::start(EdgeOptions {
        extra_toml: extra,
        ..EdgeOptions::default()
    })
    .await;
    let spec = PosLoadSpec {
        mqtt: edge.mqtt_addr.clone(),
        zone: edge.zone.clone(),
        terminals: (0..terminals)
            .map(|i| {
                let merchant = MERCHANTS[i % MERCHANTS.len()];
                (format!("bench-pos-{i:03}"), merchant.to_owned())
            })
            .collect(),
        window,
        warmup: Duration::from_secs(3),
        duration: Duration::from_secs(seconds),
        utc_offset_s: 8 * 3600,
    };
    // The terminals run on a thread of their own, so the bench's own runtime stays free
    // to read the box's counters.
    let load = pos_load::run_on_own_thread(spec);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = store_counters(&edge).await;
    let cpu = host::CpuTimes::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let stolen = host::stolen_since(cpu);
    let after = store_counters(&edge).await;
    let report = tokio::task::spawn_blocking(move || load.join())
        .await?
        .map_err(|_| anyhow::anyhow!("the POS load thread panicked"))??;
    eprintln!("sales: {}", after.since(before));
    eprintln!(
        "host: {} of the machine's CPU time stolen during the counted seconds",
        host::percent(stolen)
    );
    let rate = report.rate();
    let measured = report.accepted;
    eprintln!(
        "sales: {} sales acked in the {seconds} s counted ({rate:.0}/s) by {terminals} terminals ({window} in flight each); {measured} acked in all, {} rejected",
        report.accepted_counted, report.rejected
    );
    anyhow::ensure!(
        report.rejected == 0,
        "{} sales rejected, the first: {:?}",
        report.rejected,
        report.first_rejection
    );

    // Durable: every acked sale is in the journal after the box is killed.
    edge.kill();
    let db = edge.data_dir().join(venue_edge::runtime::STORE_FILE);
    let journaled: i64 = rusqlite::Connection::open(&db)?.query_row(
        "SELECT COUNT(*) FROM sales WHERE device LIKE 'bench-pos-%'",
        [],
        |r| r.get(0),
    )?;
    anyhow::ensure!(
        journaled as u64 >= measured,
        "{measured} sales acked, only {journaled} journaled after SIGKILL"
    );

    let raw_rate = raw_inserts(200_000)?;
    eprintln!("sales: raw batched inserts of the same rows: {raw_rate:.0} sales/s");
    Ok(vec![Row {
        bench: format!(
            "sales ingest, {terminals} POS terminals, {window} in flight each, {seconds} s"
        ),
        measure: "sales/s acked after commit".into(),
        value: rate,
        unit: "sales/s".into(),
        baseline: "raw rusqlite batched inserts of the same rows".into(),
        baseline_value: raw_rate,
        ratio: rate / raw_rate,
        target: ">= 20,000/s and >= 0.3x".into(),
    }])
}

/// The rows one sale of the bench writes (a revenue fact per category, the sale with its
/// two lines and its facts' ids, a ledger transfer with two entries and its two accounts'
/// totals, the outbox record for HQ), inserted with prepared statements in transactions of
/// 1,000 sales, into a copy of the schema with the same pragmas. Returns sales per second.
fn raw_inserts(n: u64) -> anyhow::Result<f64> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("raw.sqlite3");
    // The same schema and pragmas as the store: open the store once, then write raw.
    drop(venue_store::Store::open(&path)?);
    let mut conn = rusqlite::Connection::open(&path)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
    )?;
    let today = Edge::today();
    let at = Edge::now_at();
    let started = Instant::now();
    let mut done = 0u64;
    while done < n {
        let tx = conn.transaction()?;
        {
            let mut sale = tx.prepare_cached(
                "INSERT INTO sales (event_id, device, merchant, kind, refers_to, at, business_date, payment, total_fen, received_at, lines, facts_first, facts_last)
                 VALUES (?1, 'raw-pos', 'm-tea-house', 'sale', NULL, ?2, ?3, 'cash', 3600, ?2, ?4, ?5, ?6)",
            )?;
            let mut fact = tx.prepare_cached(
                "INSERT INTO revenue_facts (source, fact_id, kind, merchant, area, category, business_date, amount_fen, count)
                 VALUES ('pos', ?1, 'sale', 'm-tea-house', 'park', ?2, ?3, 1800, 1)",
            )?;
            let mut transfer = tx.prepare_cached(
                "INSERT INTO ledger_transfers (fact_kind, fact_id, fact_ref, at, business_date, memo) VALUES ('pos-sale', ?1, ?2, ?3, ?4, 'pos-sale')",
            )?;
            let mut entry = tx.prepare_cached(
                "INSERT INTO ledger_entries (transfer_id, leg, account, debit_fen, credit_fen) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            let mut totals = tx.prepare_cached(
                "INSERT INTO ledger_accounts (account, debit_fen, credit_fen) VALUES (?1, ?2, ?3)
                 ON CONFLICT (account) DO UPDATE SET debit_fen = debit_fen + excluded.debit_fen,
                                                     credit_fen = credit_fen + excluded.credit_fen",
            )?;
            let mut outbox = tx.prepare_cached(
                "INSERT INTO outbox (kind, event_id, business_date, at, data, queued_ms) VALUES ('sale', ?1, ?2, ?3, ?4, 0)",
            )?;
            let lines = r#"[{"sku":"tea-01","category":"food","qty":1,"unit_price_fen":1800},{"sku":"juice","category":"drink","qty":2,"unit_price_fen":900}]"#;
            let record = r#"{"device":"raw-pos","merchant":"m-tea-house","kind":"sale","refers_to":null,"payment":"cash","total_fen":3600,"revenue":[{"source":"pos","product":null,"merchant":"m-tea-house","area":"park","category":"drink","party":"p-tea-house","kind":"sale","amount_fen":1800,"count":1},{"source":"pos","product":null,"merchant":"m-tea-house","area":"park","category":"food","party":"p-tea-house","kind":"sale","amount_fen":1800,"count":0}]}"#;
            for i in done..(done + 1000).min(n) {
                let id = format!("raw-{i:09}");
                let mut facts = [0i64; 2];
                for (k, cat) in ["food", "drink"].into_iter().enumerate() {
                    fact.execute(rusqlite::params![id, cat, today])?;
                    facts[k] = tx.last_insert_rowid();
                }
                sale.execute(rusqlite::params![id, at, today, lines, facts[0], facts[1]])?;
                let row = tx.last_insert_rowid();
                transfer.execute(rusqlite::params![id, row, at, today])?;
                let t = tx.last_insert_rowid();
                for (leg, (account, debit, credit)) in [
                    ("cash:cash", 3600, 0),
                    ("revenue:merchant:m-tea-house", 0, 3600),
                ]
                .into_iter()
                .enumerate()
                {
                    entry.execute(rusqlite::params![t, leg as i64, account, debit, credit])?;
                    totals.execute(rusqlite::params![account, debit, credit])?;
                }
                outbox.execute(rusqlite::params![id, today, at, record])?;
            }
        }
        tx.commit()?;
        done = (done + 1000).min(n);
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

/// The store's group commits, the jobs in them and the WAL frames they wrote.
#[derive(Clone, Copy)]
pub(crate) struct StoreCounters {
    commits: u64,
    jobs: u64,
    frames: u64,
}

impl StoreCounters {
    /// What happened between `before` and this reading.
    pub(crate) fn since(self, before: StoreCounters) -> StoreCounters {
        StoreCounters {
            commits: self.commits - before.commits,
            jobs: self.jobs - before.jobs,
            frames: self.frames - before.frames,
        }
    }
}

impl std::fmt::Display for StoreCounters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let per = |n: u64, d: u64| n as f64 / d.max(1) as f64;
        write!(
            f,
            "{} group commits of {:.2} jobs, {:.1} WAL frames per commit ({:.2} per job)",
            self.commits,
            per(self.jobs, self.commits),
            per(self.frames, self.commits),
            per(self.frames, self.jobs)
        )
    }
}

/// The store's counters so far, from `/metrics`.
pub(crate) async fn store_counters(edge: &Edge) -> StoreCounters {
    let text = edge
        .api
        .get("/metrics", None)
        .await
        .map(|r| r.text())
        .unwrap_or_default();
    let value = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().last())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0) as u64
    };
    StoreCounters {
        commits: value("venue_edge_store_commits_total"),
        jobs: value("venue_edge_store_jobs_total"),
        frames: value("venue_edge_store_wal_frames_total"),
    }
}

/// The store alone: the same sales journaled through `sales::record` in the store's group
/// commits, from `tasks` concurrent writers over `terminals` devices, with no MQTT, broker
/// or plugin in the way. Tells how much of the ingest path is the journal itself.
pub(crate) async fn sales_store(
    count: u64,
    terminals: usize,
    tasks: usize,
) -> anyhow::Result<Vec<Row>> {
    use venue_domain::sales::{Sale, SaleKind, SaleLine};
    use venue_store::StoreError;
    let dir = tempfile::tempdir()?;
    let config =
        venue_domain::config::Config::parse(demo::DEMO_VENUE, std::path::Path::new("bench"))?;
    let venue = Arc::new(venue_domain::venue::Venue::new(
        config,
        venue_domain::realname::IdVault::ephemeral(),
    ));
    let store = venue_store::Store::open(&dir.path().join("s.sqlite3"))?;
    let next = Arc::new(AtomicU64::new(0));
    let at = Edge::now_at();
    let counters = || {
        use venue_store::{COMMITS, COMMITTED_JOBS, WAL_FRAMES_WRITTEN};
        StoreCounters {
            commits: COMMITS.load(Ordering::Relaxed),
            jobs: COMMITTED_JOBS.load(Ordering::Relaxed),
            frames: WAL_FRAMES_WRITTEN.load(Ordering::Relaxed),
        }
    };
    let before = counters();
    let started = Instant::now();
    let mut running = Vec::new();
    for _ in 0..tasks {
        let (store, venue, next, at) = (store.clone(), venue.clone(), next.clone(), at.clone());
        running.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= count {
                    return anyhow::Ok(());
                }
                // Terminal by terminal, as 100 terminals interleave their own sequences.
                let t = n as usize % terminals;
                let merchant = MERCHANTS[t % MERCHANTS.len()];
                let sale = Sale {
                    event_id: format!("bench-pos-{t:03}-00001-{:06}", n / terminals as u64),
                    merchant: merchant.into(),
                    kind: SaleKind::Sale,
                    refers_to: None,
                    at: at.clone(),
                    payment: if n % 2 == 0 { "cash" } else { "wechat" }.into(),
                    lines: vec![
                        SaleLine {
                            sku: "tea-01".into(),
                            category: "food".into(),
                            qty: 1,
                            unit_price_fen: venue_model::money::Fen::new(1800),
                        },
                        SaleLine {
                            sku: "juice".into(),
                            category: "drink".into(),
                            qty: 2,
                            unit_price_fen: venue_model::money::Fen::new(900),
                        },
                    ],
                    total_fen: venue_model::money::Fen::new(3600),
                    ticket_code: None,
                };
                let venue = venue.clone();
                let recorded = store
                    .write_rerunnable(move |c| -> Result<_, StoreError> {
                        Ok(venue_domain::sales::record(
                            c,
                            &venue,
                            &format!("bench-pos-{t:03}"),
                            merchant,
                            &sale,
                            venue.clock.now(),
                        )?)
                    })
                    .await?;
                anyhow::ensure!(recorded.ack.error.is_none(), "{:?}", recorded.ack.error);
            }
        }));
    }
    for t in running {
        t.await??;
    }
    let rate = count as f64 / started.elapsed().as_secs_f64();
    let store_work = counters().since(before);
    eprintln!("sales-store: {count} sales journaled by {tasks} writers: {rate:.0}/s");
    eprintln!("sales-store: {store_work}");
    let raw_rate = raw_inserts(200_000)?;
    eprintln!("sales-store: raw batched inserts of the same rows: {raw_rate:.0} sales/s");
    Ok(vec![Row {
        bench: format!("sales journal alone, {tasks} writers over {terminals} terminals"),
        measure: "sales/s through sales::record and group commit".into(),
        value: rate,
        unit: "sales/s".into(),
        baseline: "raw rusqlite batched inserts of the same rows".into(),
        baseline_value: raw_rate,
        ratio: rate / raw_rate,
        target: "(breakdown)".into(),
    }])
}
