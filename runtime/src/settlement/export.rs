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
        b.period_start.clone(),
        b.period_end.clone(),
        b.version.to_string(),
        b.status.clone(),
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

/// A CSV field, quoted when it must be (RFC 4180).
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn push_row(out: &mut String, row: &[String]) {
    let fields: Vec<String> = row.iter().map(|f| field(f)).collect();
    out.push_str(&fields.join(","));
    out.push_str("\r\n");
}

/// One row per bill line, with the bill's columns first.
pub fn csv(bills: &[BillView]) -> String {
    let mut out = String::new();
    let header: Vec<String> = BILL_COLUMNS
        .iter()
        .chain(LINE_COLUMNS.iter().skip(1))
        .map(|s| s.to_string())
        .collect();
    push_row(&mut out, &header);
    for b in bills {
        for line in line_rows(b) {
            let mut row = bill_row(b);
            row.extend(line.into_iter().skip(1));
            push_row(&mut out, &row);
        }
    }
    out
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

    #[test]
    fn csv_fields_with_commas_are_quoted() {
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("plain"), "plain");
    }
}
