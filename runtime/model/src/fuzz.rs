//! Property tests of the model's parsers of untrusted text: a business date is accepted
//! only in its one form, and nothing panics. `PROPTEST_CASES` sets the number of cases.

use proptest::prelude::*;

use crate::BusinessDate;

proptest! {
    #[test]
    fn a_business_date_is_accepted_only_as_it_prints(text in "\\PC{0,16}") {
        if let Ok(d) = BusinessDate::parse(&text) {
            prop_assert_eq!(d.to_string(), text);
        }
    }

    #[test]
    fn a_date_shaped_text_parses_exactly_when_the_day_exists(y in 0u32..10000, m in 0u32..14, d in 0u32..33) {
        let text = format!("{y:04}-{m:02}-{d:02}");
        let exists = chrono::NaiveDate::from_ymd_opt(y as i32, m, d).is_some();
        prop_assert_eq!(BusinessDate::parse(&text).is_ok(), exists, "{}", text);
    }

    #[test]
    fn any_timestamp_text_is_parsed_or_refused(text in "\\PC{0,40}") {
        let _ = crate::clock::parse_rfc3339(&text);
    }
}
