//! Runtime RSS with the reference plugins (six at least) and a million tickets.

use super::*;

pub(crate) fn rss_kib(pid: u32) -> anyhow::Result<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Ok((field("VmRSS:"), field("VmHWM:")))
}

pub(crate) async fn memory(tickets: u32) -> anyhow::Result<Vec<Row>> {
    let edge = Edge::start(EdgeOptions::default()).await;
    // The demo loads every reference plugin (seven; the issue asks for six at least).
    let plugins = edge
        .api
        .get("/api/v1/plugins", Some(edge.token("admin")))
        .await?
        .json();
    let loaded = plugins.as_array().map(Vec::len).unwrap_or(0);
    anyhow::ensure!(loaded >= 6, "expected six plugins at least: {plugins}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let pid = edge.pid().ok_or_else(|| anyhow::anyhow!("no pid"))?;
    let (empty_rss, _) = rss_kib(pid)?;

    let started = Instant::now();
    let per_order = 1000u32;
    let orders = tickets.div_ceil(per_order);
    let api = edge.api.clone();
    let token = edge.token("ticketing").to_owned();
    let today = Edge::today();
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (api, token, today, next) = (api.clone(), token.clone(), today.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= orders as u64 {
                    return anyhow::Ok(());
                }
                let body = order(
                    &format!("mem-{n}"),
                    "web",
                    &today,
                    "shuttle-day",
                    per_order,
                    false,
                );
                let r = api.post_json("/api/v1/orders", Some(&token), &body).await?;
                anyhow::ensure!(r.status == 201, "order refused: {}", r.text());
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    let issue_s = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (full_rss, peak) = rss_kib(pid)?;
    let metrics = edge.api.get("/metrics", None).await?.text();
    let sqlite_heap = metrics
        .lines()
        .find(|l| l.starts_with("venue_edge_sqlite_heap_bytes "))
        .unwrap_or("")
        .to_owned();
    eprintln!("memory: {sqlite_heap}");
    // VENUE_BENCH_DEBUG=1: watch RSS settle and list the largest mappings.
    if std::env::var("VENUE_BENCH_DEBUG").is_ok() {
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_secs(5)).await;
            eprintln!("later RSS {:?}", rss_kib(pid)?);
        }
        let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps"))?;
        let mut maps: Vec<(u64, String)> = Vec::new();
        let mut current = String::new();
        for line in smaps.lines() {
            if line.contains('-') && !line.starts_with(|c: char| c.is_ascii_uppercase()) {
                current = line.to_owned();
            } else if let Some(v) = line.strip_prefix("Rss:") {
                let kb: u64 = v.trim().trim_end_matches(" kB").trim().parse().unwrap_or(0);
                maps.push((kb, current.clone()));
            }
        }
        maps.sort_by_key(|m| std::cmp::Reverse(m.0));
        for (kb, m) in maps.iter().take(12) {
            eprintln!("{kb:>8} kB  {m}");
        }
    }
    let db_bytes = std::fs::metadata(edge.data_dir().join("venue-edge.sqlite3"))
        .map(|m| m.len())
        .unwrap_or(0);
    eprintln!(
        "memory: {tickets} tickets issued in {issue_s:.1} s; RSS {full_rss} KiB (peak {peak} KiB), empty {empty_rss} KiB; store {} MiB",
        db_bytes / (1 << 20)
    );
    Ok(vec![Row {
        bench: format!("memory, {loaded} plugins, {tickets} tickets (issued in {issue_s:.0} s)"),
        measure: format!("runtime RSS (peak {:.0} MiB)", peak as f64 / 1024.0),
        value: full_rss as f64 / 1024.0,
        unit: "MiB".into(),
        baseline: "same runtime, no tickets".into(),
        baseline_value: empty_rss as f64 / 1024.0,
        ratio: full_rss as f64 / empty_rss.max(1) as f64,
        target: "< 256 MiB".into(),
    }])
}
