//! The revenue report, defined once for the edge box and HQ in [`venue_model::report`]:
//! HQ answers it over every box's uploaded revenue lines, and also `by=edge`.

pub use venue_model::report::{DayRow, GroupBy, ReportError, RevenueQuery, build};
