//! Ingest speed on PostgreSQL against a bare `COPY` of the same rows (ignored by default:
//! run it on a release build):
//!
//! ```sh
//! cargo test -p venue-hq --release --test ingest_speed -- --ignored --nocapture
//! ```
//!
//! `VENUE_HQ_SPEED_RECORDS` (default 1,000,000) sale records, one revenue line each, over
//! 30 business days, from two edge boxes uploading at once in zstd batches of
//! `VENUE_HQ_SPEED_BATCH` (default 5,000) records. The baseline copies the same records
//! and lines with binary `COPY` into the same tables (partitions made beforehand) in a
//! schema of its own. `VENUE_HQ_SPEED_DB=sqlite` measures SQLite instead (no baseline).

mod common;

use std::sync::Arc;
use std::time::Instant;

use chrono::NaiveDate;
use common::{Db, Server, ndjson, pg_url, ticket_sale};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::Type;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn day_of(seq: u64) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 1).unwrap() + chrono::Duration::days((seq % 30) as i64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run it on a release build with --ignored"]
async fn ingest_against_copy() {
    let records = env_or("VENUE_HQ_SPEED_RECORDS", 1_000_000) as u64;
    let batch = env_or("VENUE_HQ_SPEED_BATCH", 5_000) as u64;
    let edges = ["edge-a", "edge-b"];
    let per_edge = records / edges.len() as u64;

    // The bodies, compressed as an edge box sends them, made before the clock starts.
    let mut bodies: Vec<Vec<(u64, Vec<u8>)>> = Vec::new();
    for edge in edges {
        let mut mine = Vec::new();
        let mut seq = 0u64;
        let mut n = 1u64;
        while seq < per_edge {
            let end = (seq + batch).min(per_edge);
            let recs: Vec<_> = (seq..end)
                .map(|s| {
                    let day = day_of(s).to_string();
                    ticket_sale(edge, s, &format!("o-{s}"), &day, "park-day", 12000)
                })
                .collect();
            mine.push((n, zstd::bulk::compress(&ndjson(&recs), 3).unwrap()));
            seq = end;
            n += 1;
        }
        bodies.push(mine);
    }

    let db = match std::env::var("VENUE_HQ_SPEED_DB").as_deref() {
        Ok("sqlite") => Db::Sqlite,
        _ => Db::Postgres,
    };
    let hq = Arc::new(Server::start(db).await);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (edge, mine) in edges.into_iter().zip(bodies) {
        let token = hq.edge_token(edge);
        let hq = hq.clone();
        tasks.push(tokio::spawn(async move {
            for (n, body) in mine {
                let auth = format!("Bearer {token}");
                let seq = n.to_string();
                let headers = [
                    ("authorization", auth.as_str()),
                    ("venue-edge-id", edge),
                    ("venue-batch-seq", seq.as_str()),
                    ("content-type", "application/x-ndjson"),
                    ("content-encoding", "zstd"),
                ];
                let a = hq.send("POST", "/api/v1/batches", &headers, body).await;
                assert_eq!(a.status, 200, "{}", a.text());
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let ingest = started.elapsed();
    assert_eq!(common::count_rows(&hq, "records").await, records as i64);
    let rate = |d: std::time::Duration| records as f64 / d.as_secs_f64();
    if db == Db::Sqlite {
        println!(
            "venue-hq ingest on SQLite: {records} records in {:.2} s ({:.0}/s)",
            ingest.as_secs_f64(),
            rate(ingest)
        );
        return;
    }

    // Baseline: COPY of the same rows into the same tables.
    let schema = format!("{}_copy", hq.schema);
    let (client, conn) = tokio_postgres::connect(&pg_url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
        .batch_execute(&format!(
            "CREATE SCHEMA \"{schema}\"; SET search_path TO \"{schema}\"; {}",
            venue_hq::store::PG_SCHEMA_SQL
        ))
        .await
        .unwrap();
    for d in 0..30 {
        let day = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap() + chrono::Duration::days(d);
        let next = day.succ_opt().unwrap();
        let suffix = day.format("%Y%m%d");
        for table in ["records", "revenue_lines"] {
            client
                .batch_execute(&format!(
                    "CREATE TABLE {table}_p{suffix} PARTITION OF {table} FOR VALUES FROM ('{day}') TO ('{next}')"
                ))
                .await
                .unwrap();
        }
    }
    let started = Instant::now();
    let data: Vec<String> = (0..per_edge)
        .map(|s| {
            ticket_sale("x", s, "x", &day_of(s).to_string(), "park-day", 12000)["data"].to_string()
        })
        .collect();
    let sink = client
        .copy_in("COPY records (edge_id, kind, event_id, seq, business_date, at, data, batch_seq) FROM STDIN (FORMAT binary)")
        .await
        .unwrap();
    let writer = BinaryCopyInWriter::new(
        sink,
        &[
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::INT8,
            Type::DATE,
            Type::TEXT,
            Type::JSONB,
            Type::INT8,
        ],
    );
    let mut writer = std::pin::pin!(writer);
    for edge in edges {
        for s in 0..per_edge {
            let day = day_of(s);
            let json = Jsonb(&data[s as usize]);
            writer
                .as_mut()
                .write(&[
                    &edge,
                    &"sale",
                    &format!("o-{s}"),
                    &(s as i64),
                    &day,
                    &format!("{day}T10:00:00+08:00"),
                    &json,
                    &((s / batch + 1) as i64),
                ])
                .await
                .unwrap();
        }
    }
    writer.finish().await.unwrap();
    let sink = client
        .copy_in("COPY revenue_lines (edge_id, business_date, record_kind, event_id, source, product, merchant, area, category, party, kind, amount_fen, count) FROM STDIN (FORMAT binary)")
        .await
        .unwrap();
    let writer = BinaryCopyInWriter::new(
        sink,
        &[
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
        ],
    );
    let mut writer = std::pin::pin!(writer);
    let none: Option<&str> = None;
    for edge in edges {
        for s in 0..per_edge {
            writer
                .as_mut()
                .write(&[
                    &edge,
                    &day_of(s),
                    &"sale",
                    &format!("o-{s}"),
                    &"ticket",
                    &Some("park-day"),
                    &none,
                    &Some("park"),
                    &Some("ticket"),
                    &Some("p-park"),
                    &"sale",
                    &12000i64,
                    &1i64,
                ])
                .await
                .unwrap();
        }
    }
    writer.finish().await.unwrap();
    let copy = started.elapsed();
    client
        .batch_execute(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .await
        .unwrap();
    println!(
        "venue-hq ingest: {records} records in {:.2} s ({:.0}/s); COPY of the same rows: {:.2} s ({:.0}/s); ratio {:.2}x COPY",
        ingest.as_secs_f64(),
        rate(ingest),
        copy.as_secs_f64(),
        rate(copy),
        copy.as_secs_f64() / ingest.as_secs_f64()
    );
}

/// JSON text as `jsonb` in binary COPY.
#[derive(Debug)]
struct Jsonb<'a>(&'a str);

impl tokio_postgres::types::ToSql for Jsonb<'_> {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        out.extend_from_slice(&[1]);
        out.extend_from_slice(self.0.as_bytes());
        Ok(tokio_postgres::types::IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::JSONB
    }

    tokio_postgres::types::to_sql_checked!();
}
