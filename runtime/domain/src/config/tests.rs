//! The configuration's parsing and checks, case by case.

use super::*;

const DEMO: &str = super::DEMO_VENUE;

#[test]
fn the_demo_venue_is_valid() {
    let c = Config::parse(DEMO, Path::new("demo")).expect("demo config");
    assert_eq!(c.venue.zone, "main");
    assert_eq!(
        c.product("park-day").map(|p| p.price_fen.get()),
        Some(12000)
    );
    assert_eq!(c.gates.len(), 5);
}

#[test]
fn plugin_signatures_need_trusted_keys_that_are_keys() {
    let key = "pSzHMNOiqUKTfHsKB3MLjlsY6D7/6g9UXmOyERGhYNo=";
    let cases = [
        ("require_signatures = true", Some("needs trusted_keys")),
        ("require_signatures = false", None),
        (
            "require_signatures = true\ntrusted_keys = [{ vendor = \"acme\", key = \"KEY\" }]",
            None,
        ),
        (
            "trusted_keys = [{ vendor = \"acme\", key = \"c2hvcnQ=\" }]",
            Some("is 32 bytes, this one 5"),
        ),
        (
            "trusted_keys = [{ vendor = \"acme\", key = \"not base64!\" }]",
            Some("not base64"),
        ),
    ];
    for (table, want) in cases {
        let text = format!("{DEMO}\n[plugins]\n{}\n", table.replace("KEY", key));
        match (Config::parse(&text, Path::new("t")), want) {
            (Ok(c), None) => assert_eq!(
                c.plugins.trusted_keys.len(),
                table.matches("vendor").count()
            ),
            (Err(e), Some(w)) => assert!(e.to_string().contains(w), "{table}: {e}"),
            (got, want) => panic!("{table}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn unknown_keys_are_refused() {
    let text = format!("{DEMO}\n[admission.extra]\nx = 1\n");
    let err = Config::parse(&text, Path::new("t")).unwrap_err();
    assert!(err.to_string().contains("unknown field"), "{err}");
}

#[test]
fn a_gate_in_an_unknown_area_is_refused() {
    let text = DEMO.replace("area = \"shuttle\"", "area = \"moon\"");
    let err = Config::parse(&text, Path::new("t")).unwrap_err();
    assert!(err.to_string().contains("moon"), "{err}");
}

#[test]
fn a_bad_time_zone_is_refused() {
    let text = DEMO.replace("Asia/Shanghai", "Mars/Olympus");
    let err = Config::parse(&text, Path::new("t")).unwrap_err();
    assert!(err.to_string().contains("Mars/Olympus"), "{err}");
}
