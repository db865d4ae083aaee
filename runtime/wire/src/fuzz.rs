//! Property tests of the batch parser, HQ's door for untrusted bytes: whatever arrives, it
//! answers a batch or an error naming the line, and never panics. `PROPTEST_CASES` sets the
//! number of cases (256 in the test suite; `scripts/fuzz` runs far more).

use proptest::prelude::*;

use super::batch::parse;

fn good_line(seq: i64, event: &str, amount: i64) -> String {
    serde_json::json!({
        "edge_id": "edge-a", "seq": seq, "kind": "sale", "event_id": event,
        "business_date": "2026-11-25", "at": "2026-11-25T10:00:00+08:00",
        "data": {"revenue": [{"source": "pos", "merchant": "m-tea", "area": "park",
            "category": "food", "party": "p-tea", "kind": "sale", "amount_fen": amount, "count": 1}]}
    })
    .to_string()
}

proptest! {
    #[test]
    fn any_bytes_are_a_batch_or_an_error(body in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let _ = parse("edge-a", 1, &body);
    }

    #[test]
    fn a_good_body_damaged_anywhere_is_a_batch_or_an_error(
        amount in any::<i64>(),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8),
        cut in any::<usize>(),
    ) {
        let mut body = format!("{}\n{}\n", good_line(1, "e1", amount), good_line(2, "e2", -5)).into_bytes();
        for (at, byte) in flips {
            let i = at % body.len();
            body[i] = byte;
        }
        body.truncate(cut % (body.len() + 1));
        if let Ok(batch) = parse("edge-a", 1, &body) {
            // What parses is whole: every record kept as sent, no more than the lines.
            prop_assert!(batch.records.len() as u64 <= batch.sent);
        }
    }

    #[test]
    fn deep_nesting_and_long_strings_are_refused_or_kept_without_a_crash(depth in 0usize..2000, len in 0usize..100_000) {
        let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let line = format!(
            r#"{{"edge_id":"edge-a","seq":1,"kind":"sale","event_id":"{}","business_date":"2026-11-25","at":"t","data":{nested}}}"#,
            "x".repeat(len)
        );
        let _ = parse("edge-a", 1, line.as_bytes());
    }
}
