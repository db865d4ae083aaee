//! CSV as finance opens it: RFC 4180 through the `csv` crate (CRLF line ends, quoting
//! where needed), and no cell a spreadsheet would run as a formula. A text cell that
//! begins with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`
//! (OWASP's advice on CSV injection), so a merchant named `=HYPERLINK(...)` shows as text.
//! Integers (a negative amount keeps its minus sign) and the reports' lone `-` for "no
//! key" are left as they are.

/// The characters a spreadsheet reads as the start of a formula.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// A cell as a spreadsheet should show it: text starting like a formula is escaped,
/// integers (including negative amounts) are kept as they are.
pub fn cell(text: &str) -> std::borrow::Cow<'_, str> {
    let is_integer = text
        .strip_prefix('-')
        .unwrap_or(text)
        .bytes()
        .all(|b| b.is_ascii_digit())
        && text.len() > usize::from(text.starts_with('-'));
    // A lone "-" is the reports' mark for "no such key" and no formula.
    if text.starts_with(FORMULA_STARTS) && !is_integer && text != "-" {
        std::borrow::Cow::Owned(format!("'{text}"))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// A whole table: the header, then each row, every cell passed through [`cell`].
pub fn table<R, C>(header: &[&str], rows: impl IntoIterator<Item = R>) -> String
where
    R: IntoIterator<Item = C>,
    C: AsRef<str>,
{
    let mut w = ::csv::WriterBuilder::new()
        .terminator(::csv::Terminator::CRLF)
        .from_writer(Vec::new());
    // Writing to a Vec cannot fail; a row of another width is the caller's bug, kept
    // visible by writing what came rather than panicking.
    let _ = w.write_record(header);
    for row in rows {
        let cells: Vec<String> = row
            .into_iter()
            .map(|c| cell(c.as_ref()).into_owned())
            .collect();
        let _ = w.write_record(&cells);
    }
    let bytes = w.into_inner().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_that_start_like_a_formula_are_shown_as_text() {
        let table: &[(&str, &str)] = &[
            ("=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"),
            ("+1+2", "'+1+2"),
            ("-A1", "'-A1"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("-1200", "-1200"),
            ("1200", "1200"),
            ("-", "-"),
            ("--", "'--"),
            ("m-tea-house", "m-tea-house"),
            ("茶馆", "茶馆"),
        ];
        for (text, shown) in table {
            assert_eq!(cell(text), *shown, "{text:?}");
        }
    }

    #[test]
    fn a_table_is_rfc_4180_with_crlf_and_quotes() {
        let out = table(&["key", "n"], [["a,b", "1"], ["say \"hi\"", "-2"]]);
        assert_eq!(out, "key,n\r\n\"a,b\",1\r\n\"say \"\"hi\"\"\",-2\r\n");
    }
}
