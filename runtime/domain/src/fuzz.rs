//! Property tests of the domain's doors for untrusted text: the config file and the order,
//! refund and rebooking bodies. Whatever arrives is parsed or refused with a message, never
//! a panic. `PROPTEST_CASES` sets the number of cases (`scripts/fuzz` runs more).

use std::path::Path;

use proptest::prelude::*;

use crate::config::{Config, DEMO_VENUE};
use crate::ticketing::{OrderRequest, RebookRequest, RefundRequest};

proptest! {
    #[test]
    fn any_config_text_is_a_config_or_an_error(text in "\\PC{0,400}") {
        let _ = Config::parse(&text, Path::new("venue.toml"));
    }

    #[test]
    fn the_demo_config_damaged_anywhere_is_a_config_or_an_error(
        flips in proptest::collection::vec((any::<usize>(), any::<char>()), 1..6),
    ) {
        let mut chars: Vec<char> = DEMO_VENUE.chars().collect();
        for (at, c) in flips {
            let i = at % chars.len();
            chars[i] = c;
        }
        let text: String = chars.into_iter().collect();
        if let Err(e) = Config::parse(&text, Path::new("venue.toml")) {
            prop_assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn any_body_is_an_order_refund_rebooking_or_an_error(body in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = serde_json::from_slice::<OrderRequest>(&body);
        let _ = serde_json::from_slice::<RefundRequest>(&body);
        let _ = serde_json::from_slice::<RebookRequest>(&body);
    }

    #[test]
    fn an_order_with_any_visit_date_text_parses_only_with_a_real_date(date in "\\PC{0,12}") {
        let body = serde_json::json!({
            "order_ref": "f-1", "channel": "web", "visit_date": date,
            "items": [{"product": "park-day", "qty": 1}],
            "payment": {"method": "cash", "ref": "c1"}
        });
        if let Ok(order) = serde_json::from_value::<OrderRequest>(body) {
            prop_assert_eq!(order.visit_date.to_string(), date);
        }
    }
}
