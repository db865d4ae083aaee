//! The revenue report of one edge box, from its own journal: `revenue_facts`, the facts
//! settlement bills from. Ticket revenue counts under its product and the product's
//! area, POS revenue under its merchant, category and the merchant's area; `party` is the
//! party whose contract in the venue config covers the product or merchant.
//!
//! A voided POS sale is left out (its facts are marked voided, as in the bills); HQ is
//! sent the void as a negative sale of the same business day (a void of another day is
//! refused), so both come to the same sums.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rusqlite::{Connection, params};

use super::{DayRow, GroupBy, ReportError, RevenueQuery};
use crate::venue::Venue;

/// The range's revenue per day and per everything a key can be made of, from the rollup
/// `revenue_daily` that triggers keep on every fact's insert and void (migration 16): a
/// year is a few thousand rows, not millions of facts. A POS sale counts once, under its
/// first category (alphabetically), as HQ counts it; voided sales are taken back out.
/// A key whose sales were all voided sums to zero and is left out, as its facts were.
pub(crate) const FACTS_BY_DAY: &str = "
    SELECT business_date, NULLIF(product, ''), NULLIF(merchant, ''), NULLIF(area, ''), category,
           gross_fen, refunds_fen, count
    FROM revenue_daily
    WHERE business_date BETWEEN ?1 AND ?2
      AND (gross_fen <> 0 OR refunds_fen <> 0 OR count <> 0)";

/// The rows `reports::build` folds into the report asked for.
pub fn revenue_by_day(
    conn: &Connection,
    venue: &Venue,
    query: &RevenueQuery,
) -> Result<Vec<DayRow>, ReportError> {
    let sql = |e: rusqlite::Error| ReportError::Store(e.to_string());
    let mut stmt = conn.prepare_cached(FACTS_BY_DAY).map_err(sql)?;
    let rows = stmt
        .query_map(params![query.from.to_string(), query.to.to_string()], |r| {
            Ok(Facts {
                day: r.get(0)?,
                product: r.get(1)?,
                merchant: r.get(2)?,
                area: r.get(3)?,
                category: r.get(4)?,
                gross: r.get(5)?,
                refunds: r.get(6)?,
                count: r.get(7)?,
            })
        })
        .map_err(sql)?;
    let mut sums: BTreeMap<(NaiveDate, String), [i128; 3]> = BTreeMap::new();
    for row in rows {
        let f = row.map_err(sql)?;
        let day = venue_model::BusinessDate::parse(&f.day)
            .map_err(|e| ReportError::Store(format!("a fact's business day: {e}")))?
            .naive();
        let s = sums.entry((day, f.key(venue, query.by))).or_default();
        s[0] += i128::from(f.gross);
        s[1] += i128::from(f.refunds);
        s[2] += i128::from(f.count);
    }
    let fit = |v: i128| i64::try_from(v).map_err(|_| ReportError::Overflow);
    sums.into_iter()
        .map(|((day, key), [gross, refunds, count])| {
            Ok(DayRow {
                day,
                key,
                gross_fen: fit(gross)?,
                refunds_fen: fit(refunds)?,
                count: fit(count)?,
            })
        })
        .collect()
}

struct Facts {
    day: String,
    product: Option<String>,
    merchant: Option<String>,
    area: Option<String>,
    category: String,
    gross: i64,
    refunds: i64,
    count: i64,
}

impl Facts {
    fn key(&self, venue: &Venue, by: GroupBy) -> String {
        let key = match by {
            GroupBy::Product => self.product.clone(),
            GroupBy::Area => self.area.clone(),
            GroupBy::Category => Some(self.category.clone()),
            GroupBy::Merchant => self.merchant.clone(),
            GroupBy::Party => crate::outbox::party_covering(
                venue,
                self.product.as_deref(),
                self.merchant.as_deref(),
            ),
            // Not offered by the edge box (GroupBy::EDGE): it is the only box here.
            GroupBy::Edge => Some(venue.config.edge.id.clone()),
        };
        key.unwrap_or_else(|| "-".into())
    }
}

#[cfg(test)]
mod tests {
    /// The report reads the rollup's days by its key: nothing in it scans a table (a day of
    /// a million sales took minutes when it did).
    #[test]
    fn the_report_reads_the_days_facts_through_indexes_only() {
        let conn = venue_store::migrated_in_memory();
        venue_store::assert_no_scan(
            &conn,
            super::FACTS_BY_DAY,
            rusqlite::params!["2026-11-25", "2026-11-25"],
        );
    }

    /// The rollup the triggers keep is what summing the facts gives, after sales, a POS sale
    /// of two categories (counted once), refunds and a void.
    #[test]
    fn the_daily_rollup_is_the_sum_of_the_facts_after_sales_refunds_and_a_void() {
        let conn = venue_store::migrated_in_memory();
        let fact = |source: &str,
                    id: &str,
                    kind: &str,
                    merchant: Option<&str>,
                    category: &str,
                    fen: i64| {
            conn.execute(
                "INSERT INTO revenue_facts (source, fact_id, kind, product, merchant, area, category, business_date, amount_fen, count)
                 VALUES (?1, ?2, ?3, CASE WHEN ?1 = 'ticket' THEN 'park-day' END, ?4, 'park', ?5, '2026-12-07', ?6, 1)",
                rusqlite::params![source, id, kind, merchant, category, fen],
            )
            .unwrap();
        };
        fact("ticket", "t1", "sale", None, "ticket", 12000);
        fact("ticket", "t2", "sale", None, "ticket", 12000);
        fact("ticket", "t2", "refund", None, "ticket", 12000);
        fact("pos", "s1", "sale", Some("m-tea"), "drink", 800);
        fact("pos", "s1", "sale", Some("m-tea"), "food", 10000);
        fact("pos", "s2", "sale", Some("m-gift"), "souvenir", 5000);
        fact("pos", "s3", "sale", Some("m-gift"), "souvenir", 2500);
        fact("pos", "s3", "refund", Some("m-gift"), "souvenir", 1000);
        conn.execute(
            "UPDATE revenue_facts SET voided = 1 WHERE fact_id = 's2'",
            [],
        )
        .unwrap();
        let rows = |sql: &str| -> Vec<(String, i64, i64, i64)> {
            conn.prepare(sql)
                .unwrap()
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        let rollup = rows(
            "SELECT category, gross_fen, refunds_fen, count FROM revenue_daily
             WHERE gross_fen <> 0 OR refunds_fen <> 0 OR count <> 0 ORDER BY category",
        );
        assert_eq!(
            rollup,
            [
                ("drink".to_owned(), 800, 0, 1),
                ("food".to_owned(), 10000, 0, 0),
                ("souvenir".to_owned(), 2500, 1000, 1),
                ("ticket".to_owned(), 24000, 12000, 2),
            ]
        );
    }
}
