//! # venue-model: the values every layer of Venue Edge speaks in
//!
//! The bottom layer (docs/architecture.md, Layers): typed values parsed once at the door
//! and the vocabulary of the rules, with no I/O. Every other crate depends on it; it
//! depends on none of them.
//!
//! | module | what it holds |
//! |---|---|
//! | [`date`] | [`BusinessDate`]: a local calendar day, `YYYY-MM-DD` exactly |
//! | [`clock`] | the venue's clock: time zone, now, the business day of an instant |
//! | [`ids`] | record ids and unguessable ticket and group codes |
//! | [`csv`] | CSV as spreadsheets take it: RFC 4180, no formula cells |
//! | [`money`] | fen, basis points and the one rounding of a fraction of a fen |
//! | [`contract`] | a settlement contract version, a category's totals, a bill's lines |
//! | [`report`] | the revenue report's one definition, for the edge box and HQ |
//! | [`scan`] | the unified scan and verdict: directions, decisions, deny reasons |
//! | [`order`] | the unified order, ticket and whitelist entry |
//! | [`sale`] | the unified POS message (sale, refund, void) and its ack |
//! | [`alert`] | an alert for the zone's alert topic |
//!
//! Modules here refer only to modules above them in this table.

/// The text a state enum is written as (in the store, the API and the config), both
/// ways: `as_str`, a strict `parse`, `ALL`, `Display`, and, with the `sql` feature, SQLite
/// text that reads back strictly, so a row written any other way fails loudly instead of
/// naming a state of its own.
macro_rules! text_enum {
    ($ty:ident, $what:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $ty {
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $text,)+
                }
            }

            pub fn parse(text: &str) -> Option<$ty> {
                match text {
                    $($text => Some($ty::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        #[cfg(feature = "sql")]
        const _: () = {
            use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

            impl ToSql for $ty {
                fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                    Ok(ToSqlOutput::from(self.as_str()))
                }
            }

            impl FromSql for $ty {
                fn column_result(value: ValueRef<'_>) -> FromSqlResult<$ty> {
                    let text = value.as_str()?;
                    <$ty>::parse(text).ok_or_else(|| {
                        FromSqlError::Other(format!("{text:?} is not {}", $what).into())
                    })
                }
            }
        };
    };
}

pub mod alert;
pub mod clock;
pub mod contract;
pub mod csv;
pub mod date;
pub mod ids;
pub mod money;
pub mod order;
pub mod report;
pub mod sale;
pub mod scan;

pub use date::{BusinessDate, DateError};

#[cfg(test)]
mod fuzz;
