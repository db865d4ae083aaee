//! Settlement: contracts, bills and their lifecycle (settlement.md).
//!
//! | module | what |
//! |---|---|
//! | [`money`] | fen, basis points, rounding once, splits that sum |
//! | [`bill`] | a bill's amounts from a cycle's totals (pure) |
//! | [`contracts`] | versioned contracts: from config, from the API, the one in force on a day |
//! | [`settle`] | the store job that turns a business day's facts into draft bills |
//! | [`review`] | approve and reject, with their ledger postings |
//! | [`export`] | bills as CSV and as an XLSX workbook |

pub mod bill;
pub mod contracts;
pub mod export;
#[cfg(test)]
mod properties;
pub mod review;
pub mod settle;

pub use bill::{Amounts, CategoryTotal, Line, Terms};
pub use contracts::{Contract, Cycle};
pub use settle::{BillView, PluginLines, settle_day};
pub use venue_model::money::{self, Rounding};

/// Settles a day: settlement-rule plugins compute their contracts' lines first (outside
/// the store), then one store job writes every bill.
pub async fn settle_with_plugins(
    venue: &crate::venue::SharedVenue,
    store: &venue_store::Store,
    plugins: &venue_plugin_host::PluginHost,
    day: venue_model::BusinessDate,
    actor: &crate::actor::Actor,
) -> Result<Vec<BillView>, crate::error::DomainError> {
    let inputs = store.write(move |c| settle::plugin_inputs(c, day)).await?;
    let mut lines = PluginLines::new();
    for input in inputs {
        let id = input.contract.plugin.clone().unwrap_or_default();
        let plugin = plugins.get(&id)?;
        lines.insert(
            input.contract.id.clone(),
            plugin.compute_lines(&input).await?,
        );
    }
    let (venue, actor) = (venue.clone(), actor.to_owned());
    store
        .write(move |c| settle_day(c, &venue, day, &lines, &actor))
        .await
}
