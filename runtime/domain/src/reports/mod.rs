//! Reports of the edge box (docs/protocol.md, section 2, Reports).
//!
//! The revenue report's definition (query, periods, keys, sums, CSV) is the model's
//! ([`venue_model::report`]), shared with HQ; [`edge`] answers it from the box's own
//! `revenue_facts`. The flow report (entries and exits per area and interval) is the edge
//! box's alone: [`flow`].

pub mod consumption;
pub mod edge;
pub mod flow;

pub use venue_model::report::{
    DayRow, GroupBy, Period, RANGE_DAYS_MAX, ReportError, RevenueQuery, RevenueReport, Row, Totals,
    build,
};
