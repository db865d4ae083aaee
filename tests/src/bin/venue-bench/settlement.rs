//! Settling a day of a million sales across 50 parties against a bare GROUP BY.

use super::*;

use venue_domain::reports;

pub(crate) async fn settlement(sales: u32, parties: u32) -> anyhow::Result<Vec<Row>> {
    use venue_store::StoreError;
    let dir = tempfile::tempdir()?;
    // The demo venue plus merchants, parties and commission contracts up to `parties`.
    let mut text = demo::DEMO_VENUE.to_owned();
    let extra = parties.saturating_sub(4);
    for i in 0..extra {
        text.push_str(&format!(
            "\n[[merchants]]\nid = \"m-b{i}\"\narea = \"park\"\n\n[[parties]]\nid = \"p-b{i}\"\n\n[[contracts]]\nid = \"c-b{i}\"\nparty = \"p-b{i}\"\nkind = \"commission\"\nmerchants = [\"m-b{i}\"]\nrates = {{ food = 1000, drink = 1200 }}\ndefault_rate_bp = 1500\n"
        ));
    }
    let config = venue_domain::config::Config::parse(&text, std::path::Path::new("bench"))?;
    let venue =
        venue_domain::venue::Venue::new(config, venue_domain::realname::IdVault::ephemeral());
    let store = venue_store::Store::open(&dir.path().join("s.sqlite3"))?;
    let day = venue.clock.today();
    let (contracts, now) = (venue.config.contracts.clone(), venue.clock.now_rfc3339());
    store
        .write(move |c| -> Result<usize, StoreError> {
            Ok(venue_domain::settlement::contracts::seed(
                c, &contracts, &now,
            )?)
        })
        .await?;
    let mut merchants: Vec<String> = venue
        .config
        .merchants
        .iter()
        .map(|m| m.id.clone())
        .collect();
    merchants.truncate(parties as usize);
    let d = day.to_string();
    let started = Instant::now();
    store
        .write(move |c| -> Result<(), StoreError> {
            let mut stmt = c.prepare(
                "INSERT INTO revenue_facts (source, fact_id, kind, merchant, area, category, business_date, amount_fen, count)
                 VALUES ('pos', ?1, 'sale', ?2, 'park', ?3, ?4, ?5, 1)",
            )?;
            let categories = ["food", "drink", "souvenir"];
            for n in 0..sales as usize {
                let m = &merchants[n % merchants.len()];
                stmt.execute(rusqlite::params![format!("s{n}"), m, categories[n % 3], d, 100 + (n % 9000) as i64])?;
            }
            Ok(())
        })
        .await?;
    eprintln!(
        "settlement: {sales} sales written in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let d = day.to_string();
    let started = Instant::now();
    let groups = store
        .write(move |c| -> Result<i64, StoreError> {
            let mut stmt = c.prepare(
                "SELECT merchant, category, SUM(amount_fen) FROM revenue_facts WHERE business_date = ?1 GROUP BY merchant, category",
            )?;
            let rows = stmt.query_map([&d], |r| r.get::<_, i64>(2))?;
            Ok(rows.count() as i64)
        })
        .await?;
    let group_s = started.elapsed().as_secs_f64();
    let venue = std::sync::Arc::new(venue);
    let started = Instant::now();
    let bills = venue_domain::settlement::settle_with_plugins(
        &venue,
        &store,
        &PluginHost::new(
            &dir.path().join("cache"),
            None,
            venue.clock,
            tokio::sync::mpsc::channel(1).0,
        )?,
        day,
        &venue_domain::actor::Actor::system("bench"),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let settle_s = started.elapsed().as_secs_f64();
    eprintln!(
        "settlement: {} bills in {settle_s:.3} s; bare GROUP BY ({groups} groups) {group_s:.3} s",
        bills.len()
    );
    anyhow::ensure!(
        bills.len() as u32 >= parties.min(merchants_len(&venue)),
        "expected a bill per party"
    );
    let mut rows = vec![Row {
        bench: format!("settlement, {sales} sales of one day, {parties} parties"),
        measure: format!("all {} daily bills", bills.len()),
        value: settle_s,
        unit: "s".into(),
        baseline: "bare GROUP BY merchant, category".into(),
        baseline_value: group_s,
        ratio: settle_s / group_s,
        target: "< 2 s".into(),
    }];
    // The revenue report of that day, as a manager asks for it, on the store's reader.
    for by in ["merchant", "category"] {
        let pairs = vec![
            ("from".to_owned(), day.to_string()),
            ("to".to_owned(), day.to_string()),
            ("by".to_owned(), by.to_owned()),
        ];
        let query = reports::RevenueQuery::parse(&pairs, &reports::GroupBy::EDGE)?;
        let (v, q) = (venue.clone(), query.clone());
        let started = Instant::now();
        let days = store
            .read(move |c| Ok::<_, StoreError>(reports::edge::revenue_by_day(c, &v, &q)))
            .await??;
        let report = reports::build(&query, &days)?;
        let report_s = started.elapsed().as_secs_f64();
        anyhow::ensure!(
            report.total.count == i64::from(sales),
            "the report counts {} sales of {sales}",
            report.total.count
        );
        eprintln!(
            "revenue report by {by}: {} rows in {report_s:.3} s",
            report.rows.len()
        );
        rows.push(Row {
            bench: format!("revenue report, {sales} sales of one day"),
            measure: format!("by={by}, {} rows", report.rows.len()),
            value: report_s,
            unit: "s".into(),
            baseline: "bare GROUP BY merchant, category".into(),
            baseline_value: group_s,
            ratio: report_s / group_s,
            target: String::new(),
        });
    }
    Ok(rows)
}

pub(crate) fn merchants_len(v: &venue_domain::venue::Venue) -> u32 {
    v.config
        .contracts
        .iter()
        .filter(|c| c.cycle == "daily")
        .count() as u32
}
