//! # venue-edge: the host runtime of one zone's edge box
//!
//! The domain services and the edges of the box (docs/architecture.md, Layers 4-6), over
//! the crates below them: `venue_model` (typed values: business dates, fen and rounding,
//! scans, sales, orders, contracts, alerts), `venue_wire` (the upload format shared with
//! HQ), `venue_store` (SQLite on its own thread), `venue_plugin_host` (wasmtime and the
//! WIT bindings) and `venue_bus` (MQTT). This crate depends on them, never the other way;
//! the demo's simulated devices are `venue-devices` processes, not linked here.
//!
//! Its modules, each referring only to modules below it in this table (no circles):
//!
//! | module | what it does |
//! |---|---|
//! | [`runtime`] | start-up and ordered shutdown of all of the below |
//! | [`demo`] | the demo venue: config, plugins, tokens, simulated devices |
//! | [`http`] | the HTTP API: routing, roles per route, handlers; domain errors become HTTP answers here, in one place |
//! | [`intake`] | the bus's deliveries to the device pipeline of their kind |
//! | [`gate`], [`pos`] | the two device kinds: a turnstile's scan, a POS terminal's sale |
//! | [`pipeline`] | one device pipeline: decode, decide in a store job, encode, reply, ack after commit |
//! | [`uplink`] | batches of the outbox to HQ |
//! | [`closing`] | closing each business day at local midnight: who never scanned out, as an alert |
//! | [`whitelist`], [`alerts`], [`metrics`] | per-gate whitelist deltas, alerts, Prometheus metrics |
//! | [`payouts`] | paying bills through payment-connector plugins, never twice |
//! | [`settlement`] | contracts, bills, rounding, review |
//! | [`sales`] | the POS sales journal: checks, idempotency, revenue facts |
//! | [`admission`] | the rules that admit or deny a scan, presence per ticket and area and day, the scan journal |
//! | [`reports`] | revenue, flow and presence reports |
//! | [`ticketing`] | orders, tickets, refunds, rebooking, capacity |
//! | [`auth`] | tokens and roles |
//! | [`ledger`], [`outbox`] | balanced double-entry transfers; the outbox of facts for HQ |
//! | [`venue`] | the shared, read-only view of config, clock and ID vault |
//! | [`config`] | the venue's TOML configuration, read once and validated strictly |
//! | [`realname`], [`error`] | ID numbers at rest; the domain's error (no HTTP in it) |

pub mod admission;
pub mod alerts;
pub mod auth;
pub mod closing;
pub mod config;
pub mod demo;
pub mod error;
pub mod gate;
pub mod http;
pub mod intake;
pub mod ledger;
pub mod metrics;
pub mod outbox;
pub mod payouts;
pub mod pipeline;
pub mod pos;
pub mod realname;
pub mod reports;
pub mod runtime;
pub mod sales;
pub mod settlement;
pub mod ticketing;
pub mod uplink;
pub mod venue;
pub mod whitelist;

#[cfg(test)]
mod migrated;
