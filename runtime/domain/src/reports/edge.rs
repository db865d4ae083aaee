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

/// The range's facts summed per day and per everything a key can be made of. A sale is
/// counted once: a POS sale under its first category (alphabetically), as HQ counts it.
/// A POS message writes its facts one per category in that order, with consecutive ids
/// (`sales.facts_first..facts_last`), so its first is the one whose id's predecessor is
/// not of the same message: a lookup by id, as there is no index by fact id.
pub(crate) const FACTS_BY_DAY: &str = "
    SELECT business_date, product, merchant, area, category,
           SUM(CASE WHEN kind = 'sale' THEN amount_fen ELSE 0 END),
           SUM(CASE WHEN kind = 'refund' THEN amount_fen ELSE 0 END),
           SUM(CASE WHEN kind = 'sale' AND (source = 'ticket' OR NOT EXISTS
                   (SELECT 1 FROM revenue_facts p
                    WHERE p.id = f.id - 1 AND p.source = 'pos' AND p.fact_id = f.fact_id))
               THEN count ELSE 0 END)
    FROM revenue_facts f
    WHERE business_date BETWEEN ?1 AND ?2 AND voided = 0
    GROUP BY business_date, source, product, merchant, area, category";

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
    /// The report finds a sale's first fact by id and the day's facts by their index:
    /// nothing in it scans the table (a day of a million sales took minutes when it did).
    #[test]
    fn the_report_reads_the_days_facts_through_indexes_only() {
        let conn = venue_store::migrated_in_memory();
        venue_store::assert_no_scan(
            &conn,
            super::FACTS_BY_DAY,
            rusqlite::params!["2026-11-25", "2026-11-25"],
        );
    }
}
