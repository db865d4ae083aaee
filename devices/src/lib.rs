//! # venue-devices: simulated devices that speak MQTT like real ones
//!
//! | module | what it simulates |
//! |---|---|
//! | [`formats`] | the two turnstile vendors' wire formats: std-json and the compact `TP1` line format |
//! | [`turnstile`] | a turnstile: publishes scans, waits for verdicts, keeps its whitelist, falls back to it offline |
//! | [`pos`] | a POS terminal: publishes sales, refunds and voids, waits for acks |
//! | [`pos_load`] | many POS terminals keeping sales in flight, for the sales-ingest benchmark |
//! | [`http`] | a minimal JSON-over-HTTP client (a ticket office buying tickets) |
//! | [`bank`] | a payout bank: pays once per payout id, can fail, be slow, or time out |
//! | [`demo`] | the demo's traffic: visitors buying tickets and walking through gates |
//! | [`loadgen`] | a load generator: many turnstiles at a fixed scan rate, with latency histograms |
//!
//! These are written from the protocol documents, independently of the runtime's plugins,
//! so that a test using them checks the plugins against the documented formats.

pub mod bank;
pub mod demo;
pub mod formats;
pub mod http;
pub mod link;
pub mod loadgen;
pub mod mqtt;
pub mod pos;
pub mod pos_load;
pub mod turnstile;
