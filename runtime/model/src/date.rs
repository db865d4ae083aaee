//! A business day: a local calendar date of the venue, written `YYYY-MM-DD` and nothing
//! else. It is parsed once where it enters the box (an HTTP body or query, a plugin's
//! decoded order, a stored row) and travels inward as this type, so two spellings of one
//! day (`2027-1-5`, `2027-01-05`, ` 2027-01-05`) can never become two days.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};

/// The one accepted form, named in every refusal.
pub const FORM: &str = "YYYY-MM-DD";

/// A business day (see the module's doc). Orders as the calendar does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BusinessDate(NaiveDate);

/// Why a text is not a business date.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not a date written {FORM} (for example 2026-12-05): {why}")]
pub struct DateError {
    /// The text as given, cut to 40 characters.
    pub input: String,
    pub why: &'static str,
}

impl BusinessDate {
    /// Parses exactly `YYYY-MM-DD`: four digits, a dash, two, a dash, two, and a day the
    /// calendar has. No spaces, no other separators, no time, no missing zeros.
    pub fn parse(text: &str) -> Result<BusinessDate, DateError> {
        let refuse = |why| DateError {
            input: text.chars().take(40).collect(),
            why,
        };
        let b = text.as_bytes();
        if b.len() != FORM.len() {
            return Err(refuse("it must be 10 characters long"));
        }
        let digits_at = |range: std::ops::Range<usize>| b[range].iter().all(u8::is_ascii_digit);
        if b[4] != b'-' || b[7] != b'-' || !digits_at(0..4) || !digits_at(5..7) || !digits_at(8..10)
        {
            return Err(refuse("digits and dashes in the places of YYYY-MM-DD"));
        }
        let number = |range: std::ops::Range<usize>| {
            b[range]
                .iter()
                .fold(0u32, |n, d| n * 10 + u32::from(d - b'0'))
        };
        let year = number(0..4) as i32;
        NaiveDate::from_ymd_opt(year, number(5..7), number(8..10))
            .map(BusinessDate)
            .ok_or_else(|| refuse("the calendar has no such day"))
    }

    /// A calendar date the box computed itself (today, a cycle's end, a day plus one).
    /// Years outside 0..=9999 cannot be written in the form and are clamped to its ends.
    pub fn from_naive(date: NaiveDate) -> BusinessDate {
        let first = NaiveDate::from_ymd_opt(0, 1, 1).unwrap_or(NaiveDate::MIN);
        let last = NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or(NaiveDate::MAX);
        BusinessDate(date.clamp(first, last))
    }

    pub fn naive(self) -> NaiveDate {
        self.0
    }

    /// The next calendar day (the last writable day stays itself).
    pub fn succ(self) -> BusinessDate {
        self.0.succ_opt().map_or(self, BusinessDate::from_naive)
    }
}

impl fmt::Display for BusinessDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        write!(f, "{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
    }
}

impl FromStr for BusinessDate {
    type Err = DateError;
    fn from_str(s: &str) -> Result<BusinessDate, DateError> {
        BusinessDate::parse(s)
    }
}

impl From<BusinessDate> for NaiveDate {
    fn from(d: BusinessDate) -> NaiveDate {
        d.0
    }
}

impl PartialEq<NaiveDate> for BusinessDate {
    fn eq(&self, other: &NaiveDate) -> bool {
        self.0 == *other
    }
}

impl serde::Serialize for BusinessDate {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for BusinessDate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<BusinessDate, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = BusinessDate;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a date written {FORM}")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<BusinessDate, E> {
                BusinessDate::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_str(Visitor)
    }
}

/// Stored as its text, `YYYY-MM-DD`; read back strictly, so a row written any other way
/// fails loudly instead of naming a day of its own.
#[cfg(feature = "sql")]
mod sql {
    use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

    use super::BusinessDate;

    impl ToSql for BusinessDate {
        fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
            Ok(ToSqlOutput::from(self.to_string()))
        }
    }

    impl FromSql for BusinessDate {
        fn column_result(value: ValueRef<'_>) -> FromSqlResult<BusinessDate> {
            BusinessDate::parse(value.as_str()?).map_err(|e| FromSqlError::Other(Box::new(e)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_full_form_with_a_real_day_is_a_business_date() {
        let table: &[(&str, Option<&str>)] = &[
            ("2027-01-05", Some("2027-01-05")),
            ("2026-12-05", Some("2026-12-05")),
            ("2028-02-29", Some("2028-02-29")),
            ("0001-01-01", Some("0001-01-01")),
            ("2027-1-5", None),
            ("2026-12-5", None),
            ("2027-01-5", None),
            (" 2027-01-05", None),
            ("2027-01-05 ", None),
            ("2027/01/05", None),
            ("20270105", None),
            ("2027-01-05T00:00:00+08:00", None),
            ("2027-02-29", None),
            ("2027-13-01", None),
            ("2027-00-10", None),
            ("2027-01-32", None),
            ("+2027-01-05", None),
            ("２０２７-01-05", None),
            ("", None),
        ];
        for (text, canonical) in table {
            let parsed = BusinessDate::parse(text).ok().map(|d| d.to_string());
            assert_eq!(parsed.as_deref(), *canonical, "{text:?}");
        }
    }

    #[test]
    fn a_refusal_names_the_expected_form_and_the_input() {
        let e = BusinessDate::parse("2027-1-5").unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("YYYY-MM-DD") && text.contains("\"2027-1-5\""),
            "{text}"
        );
    }

    #[test]
    fn json_takes_and_gives_the_same_form() {
        let d: BusinessDate = serde_json::from_str("\"2027-01-05\"").unwrap();
        assert_eq!(serde_json::to_string(&d).unwrap(), "\"2027-01-05\"");
        let e = serde_json::from_str::<BusinessDate>("\"2027-1-5\"").unwrap_err();
        assert!(e.to_string().contains("YYYY-MM-DD"), "{e}");
        assert!(serde_json::from_str::<BusinessDate>("20270105").is_err());
    }

    #[test]
    fn days_order_as_the_calendar_and_step_forward() {
        let a = BusinessDate::parse("2026-12-31").unwrap();
        let b = BusinessDate::parse("2027-01-01").unwrap();
        assert!(a < b);
        assert_eq!(a.succ(), b);
    }
}
