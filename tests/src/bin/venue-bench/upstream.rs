//! Upstream: a million records from an edge box's outbox to HQ over loopback, on SQLite
//! and on PostgreSQL, against a binary `COPY` of the same rows straight into HQ's
//! PostgreSQL tables.

use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use venue_devices::link::Link;
use venue_tests::hq::{Hq, HqDatabase, pg_url};

use super::*;

/// Records per batch in this benchmark (the default is 2,000).
const BATCH: u32 = 10_000;

struct Rec {
    event_id: String,
    data: String,
}

/// `n` POS-sale records as the sale path queues them (one revenue line each).
fn records(n: u64) -> Vec<Rec> {
    (0..n)
        .map(|i| {
            let amount = 100 + (i % 9000) as i64;
            Rec {
                event_id: format!("bench-pos-{:03}-{i:09}", i % 100),
                data: serde_json::json!({
                    "device": format!("bench-pos-{:03}", i % 100), "merchant": "m-tea-house", "kind": "sale",
                    "refers_to": null, "payment": "wechat", "total_fen": amount,
                    "revenue": [{"source": "pos", "product": null, "merchant": "m-tea-house", "area": "park",
                                 "category": "food", "party": "p-tea-house", "kind": "sale",
                                 "amount_fen": amount, "count": 1}],
                })
                .to_string(),
            }
        })
        .collect()
}

pub(crate) async fn upstream(n: u64) -> anyhow::Result<Vec<Row>> {
    let recs = Arc::new(records(n));
    let copy_rate = copy_baseline(&recs).await?;
    eprintln!("upstream: COPY of {n} records and their revenue lines: {copy_rate:.0} records/s");
    let mut rows = Vec::new();
    for db in [HqDatabase::Sqlite, HqDatabase::Postgres] {
        let rate = through_hq(db, recs.clone()).await?;
        let name = if db == HqDatabase::Sqlite {
            "SQLite"
        } else {
            "PostgreSQL"
        };
        eprintln!("upstream: edge box to HQ on {name}: {rate:.0} records/s");
        rows.push(Row {
            bench: format!("upstream, {n} records, edge box to HQ on {name}, batches of {BATCH}"),
            measure: "records/s, outbox to HQ's commit".into(),
            value: rate,
            unit: "records/s".into(),
            baseline: "PostgreSQL binary COPY of the same rows".into(),
            baseline_value: copy_rate,
            ratio: rate / copy_rate,
            target: ">= 0.3x COPY".into(),
        });
    }
    Ok(rows)
}

/// Queues the records in a stopped box's outbox, starts it, and times the upload until HQ
/// holds them all.
async fn through_hq(db: HqDatabase, recs: Arc<Vec<Rec>>) -> anyhow::Result<f64> {
    let hq = Hq::start(db).await;
    let link = Link::start(hq.http_addr.parse()?).await?;
    link.set_down(true);
    let mut edge = Edge::start(EdgeOptions {
        extra_toml: format!(
            "\n[uplink]\nurl = \"http://{}\"\ntoken = \"{}\"\nbatch_records = {BATCH}\nbatch_age_ms = 100\nbackoff_min_ms = 50\nbackoff_max_ms = 200\n",
            link.addr, "pending"
        ),
        ..EdgeOptions::default()
    })
    .await;
    edge.stop();
    let edge_id = format!("edge-{}", edge.zone);
    let text = std::fs::read_to_string(&edge.config_path)?.replace(
        "token = \"pending\"",
        &format!("token = \"{}\"", hq.edge_token(&edge_id)),
    );
    std::fs::write(&edge.config_path, text)?;
    let db_path = edge.data_dir().join(venue_edge::runtime::STORE_FILE);
    let n = recs.len() as i64;
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let mut conn = rusqlite::Connection::open(db_path)?;
        let tx = conn.transaction()?;
        {
            let (today, at) = (Edge::today(), Edge::now_at());
            let mut stmt = tx.prepare(
                "INSERT INTO outbox (kind, event_id, business_date, at, data, queued_ms) VALUES ('sale', ?1, ?2, ?3, ?4, 0)",
            )?;
            for r in recs.iter() {
                stmt.execute(rusqlite::params![r.event_id, today, at, r.data])?;
            }
        }
        tx.commit()?;
        Ok(())
    })
    .await??;
    link.set_down(false);
    let started = Instant::now();
    edge.spawn().await;
    let deadline = started + Duration::from_secs(1800);
    loop {
        let edges = hq.edges().await;
        let held = edges["edges"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| e["edge_id"] == edge_id.as_str())
            .and_then(|e| e["records"].as_i64())
            .unwrap_or(0);
        if held >= n {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "HQ holds only {held} of {n} records"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    let today = Edge::today();
    let report = hq
        .revenue(&format!("from={today}&to={today}&period=day&by=edge"))
        .await;
    anyhow::ensure!(
        report["total"]["count"].as_i64() == Some(n),
        "HQ's report counts {} sales, not {n}",
        report["total"]["count"]
    );
    Ok(n as f64 / seconds)
}

/// Binary COPY of the records and their revenue lines into HQ's own (partitioned)
/// PostgreSQL tables, in a fresh schema, in one transaction.
async fn copy_baseline(recs: &[Rec]) -> anyhow::Result<f64> {
    // `venue-hq token add` applies HQ's schema to a fresh PostgreSQL schema.
    let hq = Hq::start(HqDatabase::Postgres).await;
    let schema = hq.pg_schema.clone();
    let (client, connection) = tokio_postgres::connect(&pg_url(), tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    let today = Edge::today();
    let day = chrono::NaiveDate::parse_from_str(&today, "%Y-%m-%d")?;
    let next = day.succ_opt().unwrap_or(day);
    let suffix = day.format("%Y%m%d");
    client
        .batch_execute(&format!(
            "SET search_path TO {schema};
             CREATE TABLE IF NOT EXISTS records_p{suffix} PARTITION OF records FOR VALUES FROM ('{day}') TO ('{next}');
             CREATE TABLE IF NOT EXISTS revenue_lines_p{suffix} PARTITION OF revenue_lines FOR VALUES FROM ('{day}') TO ('{next}');"
        ))
        .await?;
    let at = Edge::now_at();
    let started = Instant::now();
    client.batch_execute("BEGIN").await?;
    let sink = client
        .copy_in("COPY records (edge_id, kind, event_id, seq, business_date, at, data, batch_seq) FROM STDIN (FORMAT binary)")
        .await?;
    let types = [
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::INT8,
        Type::DATE,
        Type::TEXT,
        Type::JSONB,
        Type::INT8,
    ];
    let writer = BinaryCopyInWriter::new(sink, &types);
    let mut writer = std::pin::pin!(writer);
    for (i, r) in recs.iter().enumerate() {
        let data = RawJsonb(&r.data);
        let row: [&(dyn ToSql + Sync); 8] = [
            &"edge-copy",
            &"sale",
            &r.event_id,
            &(i as i64),
            &day,
            &at,
            &data,
            &1i64,
        ];
        writer.as_mut().write(&row).await?;
    }
    writer.finish().await?;
    let sink = client
        .copy_in("COPY revenue_lines (edge_id, business_date, record_kind, event_id, source, product, merchant, area, category, party, kind, amount_fen, count) FROM STDIN (FORMAT binary)")
        .await?;
    let types = [
        Type::TEXT,
        Type::DATE,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::INT8,
        Type::INT8,
    ];
    let writer = BinaryCopyInWriter::new(sink, &types);
    let mut writer = std::pin::pin!(writer);
    let none: Option<&str> = None;
    for (i, r) in recs.iter().enumerate() {
        let amount = 100 + (i % 9000) as i64;
        let row: [&(dyn ToSql + Sync); 13] = [
            &"edge-copy",
            &day,
            &"sale",
            &r.event_id,
            &"pos",
            &none,
            &"m-tea-house",
            &"park",
            &"food",
            &"p-tea-house",
            &"sale",
            &amount,
            &1i64,
        ];
        writer.as_mut().write(&row).await?;
    }
    writer.finish().await?;
    client.batch_execute("COMMIT").await?;
    let seconds = started.elapsed().as_secs_f64();
    Ok(recs.len() as f64 / seconds)
}

/// JSON text written as `jsonb` as it is (no parse on the client side).
#[derive(Debug)]
struct RawJsonb<'a>(&'a str);

impl ToSql for RawJsonb<'_> {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        use bytes::BufMut;
        out.put_u8(1);
        out.put_slice(self.0.as_bytes());
        Ok(tokio_postgres::types::IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::JSONB
    }

    tokio_postgres::types::to_sql_checked!();
}
