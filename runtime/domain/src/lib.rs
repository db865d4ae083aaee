//! # venue-domain: the domain services of one zone's edge box
//!
//! What the venue does with tickets, scans, sales and money (docs/architecture.md, Layer 4),
//! over the crates below it: `venue_model` (typed values), `venue_wire` (the upload
//! format), `venue_store` (SQLite on its own thread) and `venue_plugin_host` (settlement
//! rules and payment connectors are plugins). It knows nothing of HTTP serving, MQTT or
//! the device pipeline: `venue-edge` calls it from those doors, and maps its
//! [`error::DomainError`] to HTTP answers in one place.
//!
//! Its modules, each referring only to modules below it in this table (no circles):
//!
//! | module | what it does |
//! |---|---|
//! | [`payouts`] | paying bills through payment-connector plugins, never twice |
//! | [`settlement`] | contracts, bills, rounding, review |
//! | [`sales`] | the POS sales journal: checks, idempotency, revenue facts |
//! | [`admission`] | the rules that admit or deny a scan, presence per ticket and area and day, the scan journal |
//! | [`reports`] | revenue, flow and presence reports |
//! | [`ticketing`] | orders, tickets, refunds, rebooking, capacity |
//! | [`ledger`], [`outbox`] | balanced double-entry transfers; the outbox of facts for HQ |
//! | [`audit`] | the audit log as a hash chain: append, verify |
//! | [`venue`] | the shared, read-only view of config, clock and ID vault |
//! | [`config`] | the venue's TOML configuration, read once and validated strictly |
//! | [`realname`], [`error`], [`actor`] | ID numbers at rest; the domain's error (no HTTP in it); who acted |
//! | [`https`] | the outbound HTTP client: HTTPS trusting one pinned CA file |

pub mod actor;
pub mod admission;
pub mod audit;
pub mod config;
pub mod error;
pub mod https;
pub mod ledger;
pub mod outbox;
pub mod payouts;
pub mod realname;
pub mod reports;
pub mod sales;
pub mod settlement;
pub mod ticketing;
pub mod venue;

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod migrated;
