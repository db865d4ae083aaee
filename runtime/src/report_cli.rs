//! `venue-edge report revenue|flow|consumption`: the box's reports in a terminal, as tables
//! or (`--csv`) as the API's CSV, read from the store on a connection of their own (safe
//! while the box runs). Amounts in tables are yuan; in CSV, fen, as the API writes them.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use comfy_table::{CellAlignment, Table};

use venue_domain::config::Config;
use venue_domain::reports::consumption::{self, ConsumptionQuery};
use venue_domain::reports::flow::{self, FlowQuery};
use venue_domain::reports::{self, GroupBy, RevenueQuery};
use venue_domain::venue::Venue;

#[derive(Args)]
pub struct Source {
    /// The venue config file (its data folder holds the store).
    #[arg(long, env = "VENUE_EDGE_CONFIG")]
    config: PathBuf,
    /// The data folder, when not the config's (the demo's: `--config
    /// deploy/demo/venue.toml --data demo-data`).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Print CSV (amounts in fen, as the API's downloads) instead of a table.
    #[arg(long)]
    csv: bool,
}

#[derive(Subcommand)]
pub enum ReportCommand {
    /// Revenue by day, week or month and by product, area, category, party or merchant.
    #[command(
        after_help = "Example:\n  venue-edge report revenue --config venue.toml \
        --from 2026-12-01 --to 2026-12-07 --period day --by area\n  \
        venue-edge report revenue --config venue.toml --from 2026-01-01 --to 2026-12-31 \
        --period month --by party --csv > revenue-2026.csv"
    )]
    Revenue {
        #[command(flatten)]
        source: Source,
        /// First business day, YYYY-MM-DD.
        #[arg(long)]
        from: venue_model::BusinessDate,
        /// Last business day, YYYY-MM-DD (inclusive).
        #[arg(long)]
        to: venue_model::BusinessDate,
        /// day, week (from Monday) or month.
        #[arg(long, default_value = "day")]
        period: String,
        /// product, area, category, party or merchant.
        #[arg(long, default_value = "area")]
        by: String,
    },
    /// Entries, exits and who is inside, per area and hour (or 30m, 15m) of one day.
    #[command(after_help = "Example:\n  venue-edge report flow --config venue.toml \
        --date 2026-12-07 --interval hour")]
    Flow {
        #[command(flatten)]
        source: Source,
        /// The business day, YYYY-MM-DD.
        #[arg(long)]
        date: venue_model::BusinessDate,
        /// hour, 30m or 15m.
        #[arg(long, default_value = "hour")]
        interval: String,
    },
    /// How visitors spend: visitors, spend per visitor, categories, hours, top SKUs,
    /// stays, channels and origins (groups under 5 visitors folded into "other").
    #[command(
        after_help = "Example:\n  venue-edge report consumption --config venue.toml \
        --from 2026-12-01 --to 2026-12-31"
    )]
    Consumption {
        #[command(flatten)]
        source: Source,
        /// First business day, YYYY-MM-DD.
        #[arg(long)]
        from: venue_model::BusinessDate,
        /// Last business day, YYYY-MM-DD (inclusive; at most a year after --from).
        #[arg(long)]
        to: venue_model::BusinessDate,
    },
}

/// The venue of a config (its areas, parties, time zone) and a read-only store connection.
/// Reports decrypt nothing: the venue gets a key of its own, never the box's.
fn open(source: &Source) -> anyhow::Result<(std::sync::Arc<Venue>, rusqlite::Connection)> {
    let config = Config::load(&source.config)?;
    let data = source.data.as_ref().unwrap_or(&config.edge.data_dir);
    let path = data.join(crate::runtime::STORE_FILE);
    anyhow::ensure!(path.exists(), "no store at {}", path.display());
    let conn = venue_store::open_reader(&path)?;
    let venue = Venue::new(config, venue_domain::realname::IdVault::ephemeral());
    Ok((venue, conn))
}

fn yuan(fen: i64) -> String {
    venue_model::money::Fen::new(fen).yuan()
}

fn table(header: &[&str], rows: Vec<Vec<String>>, numeric_from: usize) -> Table {
    let mut t = Table::new();
    t.set_header(header.to_vec());
    for row in rows {
        t.add_row(row);
    }
    for (i, column) in t.column_iter_mut().enumerate() {
        if i >= numeric_from {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    t
}

pub fn run(command: ReportCommand) -> anyhow::Result<()> {
    match command {
        ReportCommand::Revenue {
            source,
            from,
            to,
            period,
            by,
        } => {
            let (venue, conn) = open(&source)?;
            let pairs: Vec<(String, String)> = [
                ("from", from.to_string()),
                ("to", to.to_string()),
                ("period", period),
                ("by", by),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
            let query = RevenueQuery::parse(&pairs, &GroupBy::EDGE)?;
            let days = reports::edge::revenue_by_day(&conn, &venue, &query)?;
            let report = reports::build(&query, &days)?;
            if source.csv {
                print!("{}", report.to_csv());
                return Ok(());
            }
            let mut rows: Vec<Vec<String>> = report
                .rows
                .iter()
                .map(|r| {
                    vec![
                        r.period.clone(),
                        r.key.clone(),
                        yuan(r.gross_fen),
                        yuan(r.refunds_fen),
                        yuan(r.net_fen),
                        r.count.to_string(),
                    ]
                })
                .collect();
            let t = &report.total;
            rows.push(vec![
                "total".into(),
                String::new(),
                yuan(t.gross_fen),
                yuan(t.refunds_fen),
                yuan(t.net_fen),
                t.count.to_string(),
            ]);
            println!(
                "Revenue {} to {} by {} and {} (yuan)",
                report.from, report.to, report.period, report.by
            );
            println!(
                "{}",
                table(
                    &["period", report.by, "gross", "refunds", "net", "count"],
                    rows,
                    2
                )
            );
        }
        ReportCommand::Flow {
            source,
            date,
            interval,
        } => {
            let (venue, conn) = open(&source)?;
            let pairs = vec![
                ("date".to_owned(), date.to_string()),
                ("interval".to_owned(), interval),
            ];
            let query = FlowQuery::parse(&pairs, venue.clock.today())?;
            let report = flow::flow(&conn, &venue, &query)?;
            let rows: Vec<Vec<String>> = report
                .areas
                .iter()
                .flat_map(|a| {
                    a.intervals.iter().map(move |i| {
                        vec![
                            a.area.clone(),
                            i.start.get(11..16).unwrap_or(&i.start).to_owned(),
                            i.entries.to_string(),
                            i.exits.to_string(),
                            i.inside.to_string(),
                        ]
                    })
                })
                .collect();
            if source.csv {
                print!(
                    "{}",
                    venue_model::csv::table(&["area", "start", "entries", "exits", "inside"], rows)
                );
                return Ok(());
            }
            println!("Visitor flow on {} per {}", report.date, report.interval);
            println!(
                "{}",
                table(&["area", "from", "entries", "exits", "inside"], rows, 2)
            );
            for a in &report.areas {
                println!(
                    "{}: {} entries, {} exits, {} inside now",
                    a.area, a.entries, a.exits, a.inside_now
                );
            }
        }
        ReportCommand::Consumption { source, from, to } => {
            let (venue, conn) = open(&source)?;
            let query = ConsumptionQuery::parse(&[
                ("from".to_owned(), from.to_string()),
                ("to".to_owned(), to.to_string()),
            ])?;
            let r = consumption::consumption(&conn, &venue, &query)?;
            if source.csv {
                print!("{}", r.to_csv());
                return Ok(());
            }
            println!("How visitors spent, {} to {}", r.from, r.to);
            println!(
                "visitors {}  tickets net ¥{}  POS net ¥{}  per visitor ¥{}  stay p50 {} min, p90 {} min ({} visits)",
                r.visitors,
                yuan(r.ticket_net_fen),
                yuan(r.pos_net_fen),
                yuan(r.spend_per_visitor_fen),
                r.dwell_min.p50,
                r.dwell_min.p90,
                r.dwell_min.visits
            );
            // Each part as its table; money columns in yuan.
            for t in r.tables().into_iter().skip(1) {
                let money: Vec<bool> = t.header.iter().map(|h| h.ends_with("_fen")).collect();
                let rows = t
                    .rows
                    .into_iter()
                    .map(|row| {
                        row.into_iter()
                            .zip(&money)
                            .map(|(v, m)| match (m, v.parse::<i64>()) {
                                (true, Ok(fen)) => yuan(fen),
                                _ => v,
                            })
                            .collect()
                    })
                    .collect();
                let header: Vec<&str> = t
                    .header
                    .iter()
                    .map(|h| h.strip_suffix("_fen").unwrap_or(h))
                    .collect();
                println!("\n{}", t.name);
                println!("{}", table(&header, rows, 1));
            }
        }
    }
    Ok(())
}
