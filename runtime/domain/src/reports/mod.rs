//! Reports of the edge box (docs/protocol.md, section 2, Reports).
//!
//! The revenue report's definition (query, periods, keys, sums, CSV) is the model's
//! ([`venue_model::report`]), shared with HQ; [`edge`] answers it from the box's own
//! `revenue_facts`. The flow report (entries and exits per area and interval) is the edge
//! box's alone: [`flow`]. So are the [`consumption`] analysis and the one-code day of a
//! ticket ([`visitor`]).

pub mod consumption;
pub mod edge;
pub mod flow;
pub mod visitor;

pub use venue_model::report::{
    DayRow, GroupBy, Period, RANGE_DAYS_MAX, ReportError, RevenueQuery, RevenueReport, Row, Totals,
    build,
};

/// A report's part as a table: its name (a sheet's), header and rows.
pub struct Table {
    pub name: &'static str,
    pub header: &'static [&'static str],
    pub rows: Vec<Vec<String>>,
}

/// Tables as a workbook, a sheet each; integer cells (amounts in fen, counts) are numbers,
/// exact in a spreadsheet's double below 2^53.
pub fn workbook(tables: &[Table]) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let bold = rust_xlsxwriter::Format::new().set_bold();
    for t in tables {
        let sheet = book.add_worksheet().set_name(t.name)?;
        for (c, h) in t.header.iter().enumerate() {
            sheet.write_string_with_format(0, c as u16, *h, &bold)?;
        }
        for (r, row) in t.rows.iter().enumerate() {
            for (c, value) in row.iter().enumerate() {
                match value.parse::<i64>() {
                    Ok(n) => sheet.write_number((r + 1) as u32, c as u16, n as f64)?,
                    Err(_) => sheet.write_string((r + 1) as u32, c as u16, value)?,
                };
            }
        }
    }
    book.save_to_buffer()
}

/// The revenue report's rows as a table (the same columns as its CSV).
pub fn revenue_table(report: &RevenueReport) -> Table {
    Table {
        name: "Revenue",
        header: &RevenueReport::COLUMNS,
        rows: report.cells(),
    }
}
