//! Bills for finance's spreadsheets: CSV (one row per bill line, the bill's identity and
//! totals repeated) and an XLSX workbook (a `Bills` sheet and a `Lines` sheet). Amounts stay
//! integer fen, as everywhere.

use rust_xlsxwriter::{Format, Workbook};

use super::settle::BillView;

const BILL_COLUMNS: [&str; 18] = [
    "bill_id",
    "party",
    "contract",
    "contract_version",
    "kind",
    "period_start",
    "period_end",
    "version",
    "status",
    "gross_fen",
    "refunds_fen",
    "cost_fen",
    "net_fen",
    "share_fen",
    "commission_fen",
    "carry_in_fen",
    "carry_out_fen",
    "payable_fen",
];
const LINE_COLUMNS: [&str; 7] = [
    "bill_id",
    "line_kind",
    "category",
    "basis_fen",
    "rate_bp",
    "amount_fen",
    "note",
];

fn bill_row(b: &BillView) -> Vec<String> {
    let a = &b.amounts;
    vec![
        b.bill_id.clone(),
        b.party.clone(),
        b.contract.clone(),
        b.contract_version.to_string(),
        b.kind.clone(),
        b.period_start.to_string(),
        b.period_end.to_string(),
        b.version.to_string(),
        b.status.to_string(),
        a.gross_fen.to_string(),
        a.refunds_fen.to_string(),
        a.cost_fen.to_string(),
        a.net_fen.to_string(),
        a.share_fen.to_string(),
        a.commission_fen.to_string(),
        a.carry_in_fen.to_string(),
        a.carry_out_fen.to_string(),
        a.payable_fen.to_string(),
    ]
}

fn line_rows(b: &BillView) -> Vec<Vec<String>> {
    b.amounts
        .lines
        .iter()
        .map(|l| {
            vec![
                b.bill_id.clone(),
                l.kind.clone(),
                l.category.clone().unwrap_or_default(),
                l.basis_fen.to_string(),
                l.rate_bp.to_string(),
                l.amount_fen.to_string(),
                l.note.clone().unwrap_or_default(),
            ]
        })
        .collect()
}

/// One row per bill line, with the bill's columns first; a bill without lines (nothing
/// sold in its cycle) is one row with the line columns empty, so every bill is in the file.
/// Written by [`venue_model::csv`]: CRLF, quoting, no cell a spreadsheet runs as a formula.
pub fn csv(bills: &[BillView]) -> String {
    let header: Vec<&str> = BILL_COLUMNS
        .iter()
        .chain(LINE_COLUMNS.iter().skip(1))
        .copied()
        .collect();
    let rows = bills.iter().flat_map(|b| {
        let mut lines = line_rows(b);
        if lines.is_empty() {
            lines.push(vec![String::new(); LINE_COLUMNS.len()]);
        }
        lines.into_iter().map(move |line| {
            let mut row = bill_row(b);
            row.extend(line.into_iter().skip(1));
            row
        })
    });
    venue_model::csv::table(&header, rows)
}

/// A workbook with a `Bills` sheet and a `Lines` sheet.
pub fn xlsx(bills: &[BillView]) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut book = Workbook::new();
    let bold = Format::new().set_bold();
    let sheet = book.add_worksheet().set_name("Bills")?;
    write_table(sheet, &bold, &BILL_COLUMNS, bills.iter().map(bill_row), 9)?;
    let sheet = book.add_worksheet().set_name("Lines")?;
    write_table(
        sheet,
        &bold,
        &LINE_COLUMNS,
        bills.iter().flat_map(line_rows),
        3,
    )?;
    book.save_to_buffer()
}

/// Writes a header and rows; columns from `numeric_from` on (and `rate_bp`) are numbers.
fn write_table(
    sheet: &mut rust_xlsxwriter::Worksheet,
    bold: &Format,
    header: &[&str],
    rows: impl Iterator<Item = Vec<String>>,
    numeric_from: usize,
) -> Result<(), rust_xlsxwriter::XlsxError> {
    for (c, h) in header.iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, *h, bold)?;
    }
    for (r, row) in rows.enumerate() {
        for (c, value) in row.iter().enumerate() {
            let numeric =
                c >= numeric_from || header[c].ends_with("_version") || header[c] == "version";
            match value.parse::<i64>() {
                // A spreadsheet cell is an IEEE double: integers up to 2^53 fen (90 trillion
                // yuan) are exact, so amounts stay exact whole fen.
                Ok(n) if numeric => sheet.write_number((r + 1) as u32, c as u16, n as f64)?,
                _ => sheet.write_string((r + 1) as u32, c as u16, value)?,
            };
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settlement::bill::Amounts;

    fn bill(id: &str, party: &str, lines: Vec<crate::settlement::bill::Line>) -> BillView {
        BillView {
            bill_id: id.into(),
            party: party.into(),
            contract: "c-1".into(),
            contract_version: 1,
            kind: "commission".into(),
            period_start: venue_model::BusinessDate::parse("2026-11-25").unwrap(),
            period_end: venue_model::BusinessDate::parse("2026-11-25").unwrap(),
            version: 1,
            status: venue_model::contract::BillStatus::Draft,
            amounts: Amounts {
                lines,
                ..Amounts::default()
            },
            approved_by: None,
            reason: None,
            payout: None,
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    #[test]
    fn every_bill_is_in_the_csv_even_one_without_lines() {
        let with_line = bill(
            "b-1",
            "p-tea",
            vec![crate::settlement::bill::Line {
                kind: "category".into(),
                category: Some("food".into()),
                basis_fen: venue_model::money::Fen::new(12345),
                rate_bp: 1000,
                amount_fen: venue_model::money::Fen::new(1235),
                note: None,
            }],
        );
        let empty = bill("b-2", "=cmd|' /C calc'!A0", Vec::new());
        let out = csv(&[with_line, empty]);
        let rows: Vec<&str> = out.split("\r\n").filter(|r| !r.is_empty()).collect();
        assert_eq!(rows.len(), 3, "{out}");
        assert!(
            rows[1].starts_with("b-1,p-tea,") && rows[1].contains(",food,12345,1000,1235,"),
            "{out}"
        );
        assert!(
            rows[2].starts_with("b-2,'=cmd"),
            "a formula-like party is text: {out}"
        );
        assert!(
            rows[2].ends_with(",,,,,"),
            "its line columns are empty: {out}"
        );
    }
}
