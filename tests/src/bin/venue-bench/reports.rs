//! Reports on a year of one busy zone: the Today page's queries, a month's consumption
//! analysis and a year's revenue by month, each against a plain SQL `GROUP BY` over the
//! same rows (issue 27, part 4). The seed writes `days` days of `per_day` POS sales (each
//! with its revenue fact) and `per_day` admitted scans (an entry and an exit of
//! `per_day / 2` tickets, with their orders and ticket revenue) straight into the store.

use super::*;

use rusqlite::params;
use venue_domain::reports::consumption::{self, ConsumptionQuery};
use venue_domain::reports::flow::{self, FlowQuery, Interval};
use venue_domain::reports::{self, GroupBy, Period, RevenueQuery};
use venue_model::BusinessDate;

const CATEGORIES: [&str; 4] = ["food", "drink", "souvenir", "photo"];
const MERCHANTS: [&str; 4] = [
    "m-tea-house",
    "m-gift-shop",
    "m-coaster-photo",
    "m-tea-house",
];
const CHANNELS: [&str; 3] = ["web", "window", "ota"];

fn seed(
    conn: &rusqlite::Connection,
    days: u32,
    per_day: u32,
    today: BusinessDate,
) -> rusqlite::Result<()> {
    let mut order = conn.prepare(
        "INSERT INTO orders (order_id, order_ref, body_sha256, channel, visit_date, total_fen, status,
                             payment_method, payment_ref, created_at, business_date)
         VALUES (?1, ?1, '', ?2, ?3, 48000, 'paid', 'wechat', ?1, ?3, ?3)",
    )?;
    let mut ticket = conn.prepare(
        "INSERT INTO tickets (ticket_id, order_id, code, product, visit_date, price_fen, status, id_province)
         VALUES (?1, ?2, ?1, 'park-day', ?3, 12000, 'valid', ?4)",
    )?;
    let mut scan = conn.prepare(
        "INSERT INTO scans (device, event_id, area, code, ticket_id, direction, at, business_date, count,
                            offline, decision, reason, admitted, message, latency_us)
         VALUES ('g-north-1', ?1, 'park', ?2, ?2, ?3, ?4, ?5, 1, 0, 'admit', 'ok', 1, '', 900)",
    )?;
    let mut sale = conn.prepare(
        "INSERT INTO sales (event_id, device, merchant, kind, at, business_date, payment, total_fen,
                            received_at, lines, facts_first, facts_last)
         VALUES (?1, 'pos-tea-1', ?2, 'sale', ?3, ?4, 'wechat', ?5, ?3, ?6, NULL, NULL)",
    )?;
    let mut fact = conn.prepare(
        "INSERT INTO revenue_facts (source, fact_id, kind, product, merchant, area, category, business_date, amount_fen, count)
         VALUES (?1, ?2, 'sale', ?3, ?4, 'park', ?5, ?6, ?7, 1)",
    )?;
    let provinces = ["浙江", "上海", "江苏", "北京", "广东"];
    for d in 0..days {
        let day = BusinessDate::from_naive(today.naive() - chrono::Duration::days(i64::from(d)));
        let ds = day.to_string();
        conn.execute_batch("BEGIN")?;
        let tickets = per_day / 2;
        for t in 0..tickets {
            let tid = format!("t{d}-{t}");
            if t % 4 == 0 {
                order.execute(params![
                    format!("o{d}-{}", t / 4),
                    CHANNELS[(t / 4 % 3) as usize],
                    ds
                ])?;
            }
            ticket.execute(params![
                tid,
                format!("o{d}-{}", t / 4),
                ds,
                provinces[(t % 5) as usize]
            ])?;
            fact.execute(params![
                "ticket",
                tid,
                "park-day",
                Option::<&str>::None,
                "ticket",
                ds,
                12000
            ])?;
            // In between 09:00 and 13:59, out two to four hours later.
            let (h, m) = (9 + t % 5, t % 60);
            scan.execute(params![
                format!("e{d}-{t}-i"),
                tid,
                "in",
                format!("{ds}T{h:02}:{m:02}:00+08:00"),
                ds
            ])?;
            scan.execute(params![
                format!("e{d}-{t}-o"),
                tid,
                "out",
                format!("{ds}T{:02}:{m:02}:00+08:00", h + 2 + t % 3),
                ds
            ])?;
        }
        for n in 0..per_day {
            let id = format!("s{d}-{n}");
            let c = CATEGORIES[(n % 4) as usize];
            let amount = 500 + i64::from(n % 80) * 100;
            let at = format!("{ds}T{:02}:{:02}:00+08:00", 9 + n % 9, n % 60);
            let lines = format!(
                r#"[{{"sku":"sku-{}","category":"{c}","qty":1,"unit_price_fen":{amount}}}]"#,
                n % 200
            );
            sale.execute(params![
                id,
                MERCHANTS[(n % 4) as usize],
                at,
                ds,
                amount,
                lines
            ])?;
            fact.execute(params![
                "pos",
                id,
                Option::<&str>::None,
                MERCHANTS[(n % 4) as usize],
                c,
                ds,
                amount
            ])?;
        }
        conn.execute_batch("COMMIT")?;
        if d % 30 == 29 {
            eprintln!("reports: {} of {days} days seeded", d + 1);
        }
    }
    conn.execute_batch("ANALYZE")?;
    Ok(())
}

/// The best of `n` runs of `f`, in milliseconds, and each run.
fn timed<T>(n: usize, mut f: impl FnMut() -> anyhow::Result<T>) -> anyhow::Result<(f64, Vec<f64>)> {
    let mut runs = Vec::new();
    for _ in 0..n {
        let started = Instant::now();
        std::hint::black_box(f()?);
        runs.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let best = runs.iter().copied().fold(f64::INFINITY, f64::min);
    Ok((best, runs))
}

pub(crate) async fn reports_bench(days: u32, per_day: u32) -> anyhow::Result<Vec<Row>> {
    let dir = tempfile::tempdir()?;
    let config =
        venue_domain::config::Config::parse(demo::DEMO_VENUE, std::path::Path::new("bench"))?;
    let venue =
        venue_domain::venue::Venue::new(config, venue_domain::realname::IdVault::ephemeral());
    let path = dir.path().join("s.sqlite3");
    drop(venue_store::Store::open(&path)?);
    let today = venue.clock.today();
    let started = Instant::now();
    {
        let conn = rusqlite::Connection::open(&path)?;
        conn.pragma_update(None, "synchronous", "OFF")?;
        seed(&conn, days, per_day, today)?;
    }
    eprintln!(
        "reports: {} sales and {} scans seeded in {:.0} s",
        u64::from(days) * u64::from(per_day),
        u64::from(days) * u64::from(per_day),
        started.elapsed().as_secs_f64()
    );
    let conn = venue_store::open_reader(&path)?;
    let day = today;
    let month_from = BusinessDate::from_naive(today.naive() - chrono::Duration::days(29));
    let year_from =
        BusinessDate::from_naive(today.naive() - chrono::Duration::days(i64::from(days) - 1));

    // The Today page: flow per 15 minutes, sold per area, revenue by area and by category.
    let (today_ms, today_runs) = timed(5, || {
        let f = flow::flow(
            &conn,
            &venue,
            &FlowQuery {
                date: day,
                interval: Interval::QuarterHour,
            },
        )?;
        let mut sold = 0;
        for a in &venue.config.areas {
            sold += venue_domain::ticketing::sold_for(&conn, &a.id, day)?;
        }
        let mut rows = 0;
        for by in [GroupBy::Area, GroupBy::Category] {
            let q = RevenueQuery {
                from: day.naive(),
                to: day.naive(),
                period: Period::Day,
                by,
            };
            rows += reports::build(&q, &reports::edge::revenue_by_day(&conn, &venue, &q)?)?
                .rows
                .len();
        }
        Ok((f.areas.len(), sold, rows))
    })?;
    let (today_base, _) = timed(5, || {
        let a: i64 = conn.query_row(
            "SELECT COUNT(*) FROM (SELECT area, direction, COUNT(*) FROM scans WHERE business_date = ?1 GROUP BY area, direction)",
            [day], |r| r.get(0))?;
        let b: i64 = conn.query_row(
            "SELECT COUNT(*) FROM (SELECT area, category, SUM(amount_fen) FROM revenue_facts WHERE business_date = ?1 GROUP BY area, category)",
            [day], |r| r.get(0))?;
        Ok(a + b)
    })?;
    // A month's consumption analysis.
    let (month_ms, month_runs) = timed(2, || {
        let q = ConsumptionQuery {
            from: month_from,
            to: today,
        };
        Ok(consumption::consumption(&conn, &venue, &q)?.visitors)
    })?;
    let (month_base, _) = timed(2, || {
        let a: i64 = conn.query_row(
            "SELECT COUNT(*) FROM (SELECT category, SUM(amount_fen) FROM revenue_facts
             WHERE business_date BETWEEN ?1 AND ?2 AND source = 'pos' GROUP BY category)",
            params![month_from, today],
            |r| r.get(0),
        )?;
        let b: i64 = conn.query_row(
            "SELECT COUNT(DISTINCT ticket_id) FROM scans WHERE business_date BETWEEN ?1 AND ?2 AND direction = 'in'",
            params![month_from, today], |r| r.get(0))?;
        Ok(a + b)
    })?;
    // A year's revenue by month and area.
    let (year_ms, year_runs) = timed(2, || {
        let q = RevenueQuery {
            from: year_from.naive(),
            to: today.naive(),
            period: Period::Month,
            by: GroupBy::Area,
        };
        Ok(
            reports::build(&q, &reports::edge::revenue_by_day(&conn, &venue, &q)?)?
                .rows
                .len(),
        )
    })?;
    let (year_base, _) = timed(2, || {
        let n: i64 = conn.query_row(
            "SELECT COUNT(*) FROM (SELECT substr(business_date, 1, 7), area, SUM(amount_fen) FROM revenue_facts
             WHERE business_date BETWEEN ?1 AND ?2 GROUP BY 1, 2)",
            params![year_from, today], |r| r.get(0))?;
        Ok(n)
    })?;
    eprintln!(
        "reports: runs today {today_runs:?} ms, month {month_runs:?} ms, year {year_runs:?} ms"
    );
    let row = |measure: &str, value: f64, baseline: &str, base: f64, target: &str| Row {
        bench: "reports".into(),
        measure: measure.into(),
        value,
        unit: "ms".into(),
        baseline: baseline.into(),
        baseline_value: base,
        ratio: value / base.max(0.001),
        target: target.into(),
    };
    Ok(vec![
        row(
            "the Today page's queries, one day of a year",
            today_ms,
            "GROUP BY of the day's scans and facts",
            today_base,
            "< 200 ms",
        ),
        row(
            "consumption analysis, 30 days",
            month_ms,
            "GROUP BY of the month's facts and distinct scanned tickets",
            month_base,
            "< 1000 ms",
        ),
        row(
            "revenue by month and area, a year",
            year_ms,
            "GROUP BY month and area over the year's facts",
            year_base,
            "< 1000 ms",
        ),
    ])
}
