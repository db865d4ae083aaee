//! Settlement: contracts, bills and their lifecycle (settlement.md).
//!
//! | module | what |
//! |---|---|
//! | [`money`] | fen, basis points, rounding once, splits that sum |
//! | [`bill`] | a bill's amounts from a cycle's totals (pure) |
//! | [`contracts`] | versioned contracts: from config, from the API, the one in force on a day |
//! | [`settle`] | the store job that turns a business day's facts into draft bills |
//! | [`review`] | approve and reject, with their ledger postings |

pub mod bill;
pub mod contracts;
pub mod money;
pub mod review;
pub mod settle;

pub use bill::{Amounts, CategoryTotal, Line, Terms};
pub use contracts::{Contract, ContractTerms, Cycle};
pub use money::Rounding;
pub use settle::{BillView, PluginLines, settle_day};
