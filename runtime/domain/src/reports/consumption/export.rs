//! The analysis as tables, one per part: for CSV (a table after another) and XLSX (a sheet
//! each).

use super::Consumption;
pub use crate::reports::Table;

impl Consumption {
    /// The analysis as tables, one per part, for CSV and XLSX.
    pub fn tables(&self) -> Vec<Table> {
        let d = &self.dwell_min;
        vec![
            Table {
                name: "Summary",
                header: &[
                    "from",
                    "to",
                    "visitors",
                    "ticket_net_fen",
                    "pos_net_fen",
                    "spend_per_visitor_fen",
                    "dwell_visits",
                    "dwell_p50_min",
                    "dwell_p90_min",
                ],
                rows: vec![vec![
                    self.from.clone(),
                    self.to.clone(),
                    self.visitors.to_string(),
                    self.ticket_net_fen.to_string(),
                    self.pos_net_fen.to_string(),
                    self.spend_per_visitor_fen.to_string(),
                    d.visits.to_string(),
                    d.p50.to_string(),
                    d.p90.to_string(),
                ]],
            },
            Table {
                name: "By category",
                header: &["category", "net_fen", "count", "share_bp"],
                rows: self
                    .by_category
                    .iter()
                    .map(|c| {
                        vec![
                            c.category.clone(),
                            c.net_fen.to_string(),
                            c.count.to_string(),
                            c.share_bp.to_string(),
                        ]
                    })
                    .collect(),
            },
            Table {
                name: "By hour",
                header: &["hour", "pos_net_fen", "sales", "entries", "in_park"],
                rows: self
                    .by_hour
                    .iter()
                    .map(|h| {
                        vec![
                            h.hour.clone(),
                            h.pos_net_fen.to_string(),
                            h.sales.to_string(),
                            h.entries.to_string(),
                            h.in_park.to_string(),
                        ]
                    })
                    .collect(),
            },
            Table {
                name: "Top SKUs",
                header: &["sku", "merchant", "net_fen", "qty"],
                rows: self
                    .top_skus
                    .iter()
                    .map(|s| {
                        vec![
                            s.sku.clone(),
                            s.merchant.clone(),
                            s.net_fen.to_string(),
                            s.qty.to_string(),
                        ]
                    })
                    .collect(),
            },
            Table {
                name: "By channel",
                header: &["channel", "visitors", "ticket_net_fen"],
                rows: self
                    .by_channel
                    .iter()
                    .map(|c| {
                        vec![
                            c.channel.clone(),
                            c.visitors.to_string(),
                            c.ticket_net_fen.to_string(),
                        ]
                    })
                    .collect(),
            },
            Table {
                name: "Origin",
                header: &["province", "visitors"],
                rows: self
                    .origin
                    .iter()
                    .map(|o| vec![o.province.clone(), o.visitors.to_string()])
                    .collect(),
            },
        ]
    }

    /// The analysis as CSV: one table per part with its header row, a blank line between.
    pub fn to_csv(&self) -> String {
        self.tables()
            .iter()
            .map(|t| venue_model::csv::table(t.header, &t.rows))
            .collect::<Vec<_>>()
            .join("\r\n")
    }

    /// The analysis as a workbook: a sheet per part.
    pub fn to_xlsx(&self) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
        crate::reports::workbook(&self.tables())
    }
}
