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
//! | [`report`] | the revenue report's one definition, for the edge box and HQ |
//!
//! Modules here refer only to modules above them in this table.

pub mod clock;
pub mod csv;
pub mod date;
pub mod ids;
pub mod report;

pub use date::{BusinessDate, DateError};
