//! A batch on the wire: NDJSON, one record a line, each
//! `{"edge_id","seq","kind","event_id","business_date","at","data"}` (docs/protocol.md,
//! section 3). Money records (`sale`, `order`, `refund`) carry `data.revenue`, an array of
//! revenue lines; HQ keeps `data` as sent and reads nothing else of it.
//!
//! Both ends use this module: the edge box writes each line with [`write_line`], HQ reads a
//! body with [`parse`], which checks every line before anything is stored: one bad line
//! refuses the whole batch, naming the line.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashSet};

use chrono::{Datelike, NaiveDate};
use serde::Deserialize;
use serde_json::value::RawValue;
use venue_model::BusinessDate;

use crate::record::{Kind, LineKind, RevenueLine};

/// The longest `event_id` HQ keeps, in bytes.
pub const EVENT_ID_BYTES_MAX: usize = 256;
/// The longest `at` and revenue-line field (`source`, `product`, ...), in bytes.
pub const FIELD_BYTES_MAX: usize = 256;
/// The largest amount of one revenue line, in fen either way (10 billion yuan). Keeps every
/// sum a report makes far from overflowing an `i64`.
pub const AMOUNT_FEN_MAX: i64 = 1_000_000_000_000;
/// The largest count of one revenue line, either way.
pub const COUNT_MAX: i64 = 1_000_000_000;

/// One checked record.
#[derive(Debug, Clone)]
pub struct Record {
    pub kind: Kind,
    pub event_id: String,
    /// The record's own outbox sequence number on its edge box.
    pub seq: i64,
    pub business_date: NaiveDate,
    /// When it happened, as the edge box wrote it (RFC 3339).
    pub at: String,
    /// `data` exactly as sent (a JSON object).
    pub data: String,
    pub revenue: Vec<RevenueLine>,
}

/// A checked batch: its records, each `(kind, event_id)` once (a repeat within the body
/// is a duplicate and is dropped here).
#[derive(Debug, Clone)]
pub struct Batch {
    pub edge_id: String,
    pub seq: i64,
    pub records: Vec<Record>,
    /// How many records the body had, repeats included.
    pub sent: u64,
    /// The sender's audit chain head as the batch left (the `Venue-Audit-Head` header;
    /// none from a box that does not send it). The body's parser leaves it empty.
    pub audit_head: Option<crate::audit::Head>,
}

impl Batch {
    /// The business days the batch's records fall on.
    pub fn days(&self) -> BTreeSet<NaiveDate> {
        self.records.iter().map(|r| r.business_date).collect()
    }

    /// Revenue lines in the batch.
    pub fn revenue_lines(&self) -> usize {
        self.records.iter().map(|r| r.revenue.len()).sum()
    }
}

/// Why a batch is refused: the first bad line (1-based) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct BadRecord {
    pub line: usize,
    pub message: String,
}

#[derive(Deserialize)]
struct WireRecord<'a> {
    #[serde(borrow)]
    edge_id: Cow<'a, str>,
    seq: u64,
    #[serde(borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    event_id: Cow<'a, str>,
    #[serde(borrow)]
    business_date: Cow<'a, str>,
    #[serde(borrow)]
    at: Cow<'a, str>,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct WireData {
    #[serde(default)]
    revenue: Option<Vec<WireLine>>,
}

#[derive(Deserialize)]
struct WireLine {
    source: String,
    #[serde(default)]
    product: Option<String>,
    #[serde(default)]
    merchant: Option<String>,
    #[serde(default)]
    area: Option<String>,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    party: Option<String>,
    kind: String,
    amount_fen: i64,
    count: i64,
}

/// Appends one record as an NDJSON line (with its newline) to `out`: the one encoder of
/// the edge box's uploads. `edge_id_json` is the box's id already as a JSON string (it is
/// the same on every line of a batch), `data_json` the record's data, a JSON object.
#[allow(clippy::too_many_arguments)]
pub fn write_line(
    out: &mut Vec<u8>,
    edge_id_json: &str,
    seq: i64,
    kind: &str,
    event_id: &str,
    business_date: &str,
    at: &str,
    data_json: &str,
) -> Result<(), serde_json::Error> {
    out.extend_from_slice(b"{\"edge_id\":");
    out.extend_from_slice(edge_id_json.as_bytes());
    out.extend_from_slice(b",\"seq\":");
    out.extend_from_slice(seq.to_string().as_bytes());
    for (key, value) in [
        (",\"kind\":", kind),
        (",\"event_id\":", event_id),
        (",\"business_date\":", business_date),
        (",\"at\":", at),
    ] {
        out.extend_from_slice(key.as_bytes());
        serde_json::to_writer(&mut *out, value)?;
    }
    out.extend_from_slice(b",\"data\":");
    out.extend_from_slice(data_json.as_bytes());
    out.extend_from_slice(b"}\n");
    Ok(())
}

/// Parses and checks a whole NDJSON body sent by `edge_id` as batch `batch_seq`. Blank
/// lines are skipped.
pub fn parse(edge_id: &str, batch_seq: i64, body: &[u8]) -> Result<Batch, BadRecord> {
    let mut records = Vec::with_capacity(body.len() / 256 + 1);
    let mut seen: HashSet<(Kind, String)> = HashSet::with_capacity(body.len() / 256 + 1);
    let mut sent = 0u64;
    for (i, line) in body.split(|b| *b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        sent += 1;
        let record = parse_line(edge_id, line).map_err(|message| BadRecord {
            line: i + 1,
            message,
        })?;
        if seen.insert((record.kind, record.event_id.clone())) {
            records.push(record);
        }
    }
    Ok(Batch {
        edge_id: edge_id.to_owned(),
        seq: batch_seq,
        records,
        sent,
        audit_head: None,
    })
}

fn parse_line(edge_id: &str, line: &[u8]) -> Result<Record, String> {
    let wire: WireRecord = serde_json::from_slice(line).map_err(|e| json_message(&e))?;
    if wire.edge_id != edge_id {
        return Err(format!(
            "edge_id {:?} is not the Venue-Edge-Id header's {edge_id:?}; a batch carries one edge box's records",
            wire.edge_id
        ));
    }
    let seq = i64::try_from(wire.seq)
        .map_err(|_| format!("seq {} is larger than {}", wire.seq, i64::MAX))?;
    let kind = Kind::parse(&wire.kind).ok_or_else(|| {
        format!(
            "kind {:?} is not one of scan, sale, order, refund, rebook, bill, payout",
            wire.kind
        )
    })?;
    let event_id = text("event_id", &wire.event_id, EVENT_ID_BYTES_MAX)?;
    if event_id.is_empty() {
        return Err("event_id is empty".into());
    }
    let business_date = business_date(&wire.business_date)?;
    let at = text("at", &wire.at, FIELD_BYTES_MAX)?;
    if at.is_empty() {
        return Err("at is empty".into());
    }
    let data = match wire.data {
        None => "{}".to_owned(),
        Some(raw) => {
            let text = raw.get();
            if !text.starts_with('{') {
                return Err("data must be a JSON object".into());
            }
            if has_nul_escape(text) {
                return Err("data contains the escape \\u0000, which HQ cannot store".into());
            }
            text.to_owned()
        }
    };
    let revenue = if kind.carries_revenue() {
        revenue(&data)?
    } else {
        Vec::new()
    };
    Ok(Record {
        kind,
        event_id,
        seq,
        business_date,
        at,
        data,
        revenue,
    })
}

fn revenue(data: &str) -> Result<Vec<RevenueLine>, String> {
    let wire: WireData =
        serde_json::from_str(data).map_err(|e| format!("data.revenue: {}", json_message(&e)))?;
    let lines = wire.revenue.unwrap_or_default();
    let mut out = Vec::with_capacity(lines.len());
    for (i, l) in lines.into_iter().enumerate() {
        let at = |m: String| format!("data.revenue[{i}]: {m}");
        let kind = match l.kind.as_str() {
            "sale" => LineKind::Sale,
            "refund" => LineKind::Refund,
            other => return Err(at(format!("kind {other:?} is not sale or refund"))),
        };
        if l.amount_fen.abs() > AMOUNT_FEN_MAX {
            return Err(at(format!(
                "amount_fen {} is beyond ±{AMOUNT_FEN_MAX}",
                l.amount_fen
            )));
        }
        if l.count.abs() > COUNT_MAX {
            return Err(at(format!("count {} is beyond ±{COUNT_MAX}", l.count)));
        }
        let field = |name: &str, v: Option<String>| -> Result<Option<String>, String> {
            v.map(|v| text(name, &v, FIELD_BYTES_MAX))
                .transpose()
                .map_err(&at)
        };
        out.push(RevenueLine {
            source: Cow::Owned(text("source", &l.source, FIELD_BYTES_MAX).map_err(&at)?),
            product: field("product", l.product)?,
            merchant: field("merchant", l.merchant)?,
            area: field("area", l.area)?,
            category: field("category", l.category)?,
            party: field("party", l.party)?,
            kind,
            amount_fen: l.amount_fen,
            count: l.count,
        });
    }
    Ok(out)
}

/// A text field HQ stores: bounded, and without NUL (which PostgreSQL text cannot hold).
fn text(name: &str, value: &str, max: usize) -> Result<String, String> {
    if value.len() > max {
        return Err(format!("{name} is longer than {max} bytes"));
    }
    if value.contains('\0') {
        return Err(format!("{name} contains a NUL character"));
    }
    Ok(value.to_owned())
}

/// A `YYYY-MM-DD` business day between 1900 and 2999.
fn business_date(s: &str) -> Result<NaiveDate, String> {
    let day = BusinessDate::parse(s)
        .map_err(|e| format!("business_date: {e}"))?
        .naive();
    if !(1900..=2999).contains(&day.year()) {
        return Err(format!(
            "business_date {s} is out of range (1900-01-01 to 2999-12-31)"
        ));
    }
    Ok(day)
}

/// serde_json's message without its "at line 1 column N" (every record is line 1 to it).
fn json_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => format!("{} (column {})", &text[..i], e.column()),
        None => text,
    }
}

/// Whether JSON text holds the escape `\u0000` (not an escaped backslash before `u0000`).
fn has_nul_escape(json: &str) -> bool {
    let bytes = json.as_bytes();
    let mut from = 0;
    while let Some(pos) = json[from..].find("\\u0000") {
        let slash = from + pos;
        let run = bytes[..=slash]
            .iter()
            .rev()
            .take_while(|b| **b == b'\\')
            .count();
        if run % 2 == 1 {
            return true;
        }
        from = slash + 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sale(event_id: &str, day: &str, amount: i64) -> String {
        serde_json::json!({
            "edge_id": "edge-a", "seq": 7, "kind": "sale", "event_id": event_id,
            "business_date": day, "at": format!("{day}T10:00:00+08:00"),
            "data": {"merchant": "m-tea", "extra": [1, 2], "revenue": [{
                "source": "pos", "product": null, "merchant": "m-tea", "area": "park",
                "category": "food", "party": "p-tea", "kind": "sale",
                "amount_fen": amount, "count": 1, "unknown": true
            }]}
        })
        .to_string()
    }

    #[test]
    fn a_good_body_parses_with_its_revenue_lines_and_data_as_sent() {
        let body = format!(
            "{}\n\n{}\n",
            sale("s1", "2026-11-24", 1200),
            sale("s2", "2026-11-25", -1200)
        );
        let batch = parse("edge-a", 3, body.as_bytes()).unwrap();
        assert_eq!((batch.sent, batch.records.len(), batch.seq), (2, 2, 3));
        let r = &batch.records[1];
        assert_eq!(r.kind, Kind::Sale);
        assert_eq!(r.revenue[0].amount_fen, -1200);
        assert_eq!(r.revenue[0].product, None);
        assert_eq!(r.revenue[0].merchant.as_deref(), Some("m-tea"));
        assert!(r.data.contains("\"extra\":[1,2]"));
        assert_eq!(batch.days().len(), 2);
        assert_eq!(batch.revenue_lines(), 2);
    }

    #[test]
    fn a_repeat_within_a_body_is_kept_once() {
        let body = format!(
            "{}\n{}\n",
            sale("s1", "2026-11-24", 1),
            sale("s1", "2026-11-24", 1)
        );
        let batch = parse("edge-a", 1, body.as_bytes()).unwrap();
        assert_eq!((batch.sent, batch.records.len()), (2, 1));
    }

    #[test]
    fn a_bad_line_is_named() {
        let body = format!(
            "{}\n{{\"edge_id\":\"edge-a\"\n",
            sale("s1", "2026-11-24", 1)
        );
        let e = parse("edge-a", 1, body.as_bytes()).unwrap_err();
        assert_eq!(e.line, 2);
        let e = parse("edge-b", 1, sale("s1", "2026-11-24", 1).as_bytes()).unwrap_err();
        assert!(e.message.contains("Venue-Edge-Id"), "{e}");
        let e = parse("edge-a", 1, sale("s1", "2026-13-01", 1).as_bytes()).unwrap_err();
        assert!(e.message.contains("business_date"), "{e}");
        let changed = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut v: serde_json::Value =
                serde_json::from_str(&sale("s1", "2026-11-24", 1)).unwrap();
            f(&mut v);
            parse("edge-a", 1, v.to_string().as_bytes()).map(|_| ())
        };
        let e = changed(&|v| v["data"]["revenue"][0]["kind"] = "gift".into()).unwrap_err();
        assert!(e.message.contains("data.revenue[0]"), "{e}");
        let e = changed(&|v| v["kind"] = "tip".into()).unwrap_err();
        assert!(e.message.contains("\"tip\""), "{e}");
        let e = changed(&|v| v["data"]["revenue"][0]["amount_fen"] = 1.5.into()).unwrap_err();
        assert!(
            e.message.contains("amount_fen") || e.message.contains("float"),
            "money is never a float: {e}"
        );
        let e = changed(&|v| v["data"] = serde_json::json!([1])).unwrap_err();
        assert!(e.message.contains("object"), "{e}");
        let e = changed(&|v| v["event_id"] = "".into()).unwrap_err();
        assert!(e.message.contains("event_id"), "{e}");
        assert!(changed(&|v| v["data"]["revenue"] = serde_json::Value::Null).is_ok());
    }

    #[test]
    fn records_without_money_keep_any_revenue_field_uncounted() {
        let scan = r#"{"edge_id":"edge-a","seq":1,"kind":"bill","event_id":"b1","business_date":"2026-11-24","at":"x","data":{"revenue":12}}"#;
        let batch = parse("edge-a", 1, scan.as_bytes()).unwrap();
        assert!(batch.records[0].revenue.is_empty());
        let no_data = r#"{"edge_id":"edge-a","seq":1,"kind":"scan","event_id":"c1","business_date":"2026-11-24","at":"x"}"#;
        assert_eq!(
            parse("edge-a", 1, no_data.as_bytes()).unwrap().records[0].data,
            "{}"
        );
    }

    #[test]
    fn what_the_edge_writes_hq_reads_back_unchanged() {
        let line = RevenueLine {
            source: Cow::Borrowed("pos"),
            product: None,
            merchant: Some("m-tea".into()),
            area: Some("park".into()),
            category: Some("food".into()),
            party: Some("p-tea".into()),
            kind: LineKind::Refund,
            amount_fen: 1800,
            count: 1,
        };
        let data = serde_json::json!({ "merchant": "m-tea", "revenue": [&line] }).to_string();
        let mut body = Vec::new();
        let edge = serde_json::to_string("edge-\"a\"").unwrap();
        write_line(
            &mut body,
            &edge,
            41,
            "refund",
            "pos-1-9",
            "2026-11-25",
            "2026-11-25T12:00:00+08:00",
            &data,
        )
        .unwrap();
        write_line(
            &mut body,
            &edge,
            42,
            "scan",
            "g-1-7",
            "2026-11-25",
            "2026-11-25T12:00:01+08:00",
            "{}",
        )
        .unwrap();
        let batch = parse("edge-\"a\"", 9, &body).unwrap();
        assert_eq!(batch.records.len(), 2);
        let r = &batch.records[0];
        assert_eq!(
            (r.kind, r.seq, r.event_id.as_str()),
            (Kind::Refund, 41, "pos-1-9")
        );
        assert_eq!(r.business_date.to_string(), "2026-11-25");
        assert_eq!(r.data, data);
        assert_eq!(r.revenue, vec![line]);
        assert_eq!(batch.records[1].kind, Kind::Scan);
    }

    #[test]
    fn nul_escapes_are_found_but_escaped_backslashes_are_not() {
        assert!(has_nul_escape(r#"{"a":"x\u0000"}"#));
        assert!(!has_nul_escape(r#"{"a":"x\\u0000"}"#));
        assert!(has_nul_escape(r#"{"a":"x\\\u0000"}"#));
        assert!(!has_nul_escape(r#"{"a":"u0000"}"#));
    }
}
