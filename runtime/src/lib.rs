//! # venue-edge: the host runtime of one zone's edge box
//!
//! The edges of the box (docs/architecture.md, Layers 5-6): the HTTP API, the device
//! pipeline, the uplink to HQ, the timers, start-up and shutdown, over the crates below
//! them: `venue_domain` (ticketing, admission, sales, ledger, settlement, payouts,
//! reports, config), `venue_model` (typed values: business dates, fen and rounding, scans,
//! sales, orders, contracts, alerts), `venue_wire` (the upload format shared with HQ),
//! `venue_store` (SQLite on its own thread), `venue_plugin_host` (wasmtime and the WIT
//! bindings) and `venue_bus` (MQTT). This crate depends on them, never the other way; the
//! demo's simulated devices are `venue-devices` processes, not linked here.
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
//! | [`accounts`] | the `user`, `token` and `device` commands |
//! | [`device_logins`] | devices' MQTT credentials, and the embedded broker's view of them |
//! | [`auth`] | staff accounts, tokens, sessions, roles, the sign-in limit |
//! | [`tls`] | the HTTPS certificate and key, read at start |
//! | [`keys`] | the `keys rotate` command: a new ID-number key, every number re-sealed |
//! | [`report_cli`] | the `report` command: revenue, flow and consumption in a terminal |

pub mod accounts;
pub mod alerts;
pub mod auth;
pub mod closing;
pub mod demo;
pub mod device_logins;
pub mod gate;
pub mod http;
pub mod intake;
pub mod keys;
pub mod metrics;
pub mod pipeline;
pub mod plugin_cli;
pub mod pos;
pub mod report_cli;
pub mod runtime;
pub mod scaffold;
pub mod tls;
pub mod uplink;
pub mod whitelist;
