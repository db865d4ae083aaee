//! # venue-wire: the edge-to-HQ record format, defined once
//!
//! The edge box queues facts in its outbox and uploads them in numbered batches; HQ
//! receives them. Both sides compile this crate, so what one writes the other reads
//! (docs/protocol.md, section 3). It depends on the model only.
//!
//! | module | what it holds |
//! |---|---|
//! | [`record`] | record kinds and the revenue lines money records carry |
//! | [`batch`] | a batch's NDJSON lines: the edge's encoder and HQ's checking parser, with their limits |
//! | [`audit`] | the audit chain: a row's hash, the head an upload carries, the walk, HQ's anchor check |
//!
//! `batch` refers to `record`, never the other way; `audit` refers to neither.

pub mod audit;
pub mod batch;
pub mod record;

pub use record::{Kind, LineKind, RevenueLine};

#[cfg(test)]
mod fuzz;
