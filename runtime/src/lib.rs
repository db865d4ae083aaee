//! # venue-edge: the host runtime of one zone's edge box
//!
//! A map of the crate, following the data (see ARCHITECTURE.md for the picture). Below it
//! are `venue_model` (business dates, the clock, ids, CSV, the revenue report) and
//! `venue_wire` (the upload format shared with HQ); this crate depends on them, never the
//! other way. The demo's simulated devices are `venue-devices` processes, not linked here.
//!
//! | module | what it does |
//! |---|---|
//! | [`config`] | the venue's TOML configuration, read once and validated strictly |
//! | [`venue`] | the shared, read-only view of config, clock and ID vault |
//! | [`store`] | SQLite in WAL mode on its own thread; group commit; migrations |
//! | [`bus`] | MQTT: the runtime's client, the topic scheme, the embedded broker |
//! | [`plugin`] | the wasmtime host: manifests, pins, grants, limits, hot replacement |
//! | [`gate`] | a turnstile's scan through its plugin, admission and back as a verdict |
//! | [`admission`] | the rules that admit or deny a scan, and the scan journal |
//! | [`ticketing`] | orders, tickets, refunds, rebooking, capacity |
//! | [`whitelist`] | per-gate whitelist deltas for offline fallback |
//! | [`pos`] | a POS terminal's sale through its plugin, the journal, and back as an ack |
//! | [`sales`] | the POS sales journal: checks, idempotency, revenue facts |
//! | [`payouts`] | paying bills through payment-connector plugins, never twice |
//! | [`ledger`] | balanced double-entry transfers, trial balance |
//! | [`settlement`] | contracts, bills, rounding, review |
//! | [`alerts`] | alerts to `venue/{zone}/alerts` |
//! | [`http`] | the HTTP API: routing, bearer tokens and roles, handlers |
//! | [`auth`] | tokens and roles |
//! | [`runtime`] | start-up and ordered shutdown of all of the above |
//! | [`demo`] | the demo venue: config, plugins, tokens, simulated devices |
//! | [`realname`], [`error`] | small shared pieces |

pub mod admission;
pub mod alerts;
pub mod auth;
pub mod bus;
pub mod config;
pub mod demo;
pub mod error;
pub mod gate;
pub mod http;
pub mod ledger;
pub mod metrics;
pub mod outbox;
pub mod payouts;
pub mod plugin;
pub mod pos;
pub mod realname;
pub mod reports;
pub mod runtime;
pub mod sales;
pub mod settlement;
pub mod store;
pub mod ticketing;
pub mod uplink;
pub mod venue;
pub mod whitelist;
