//! {{name}}: a settlement-rule plugin. For each category it bills the contract's rate
//! (its category rate, else its default rate) on what was sold less what was refunded,
//! rounded half up to the fen. Replace the arithmetic with your contract's.

wit_bindgen::generate!({ world: "settlement-rule", path: "wit" });

use exports::venue::edge::rules::{Guest, SettlementInput};
use venue::edge::types::{BillLine, Contract};

struct Plugin;

/// `basis * rate_bp / 10_000`, halves away from zero.
fn apply(basis: i64, rate_bp: u32) -> Option<i64> {
    let product = (basis as i128).checked_mul(rate_bp as i128)?;
    let half = if product >= 0 { 5_000 } else { -5_000 };
    i64::try_from((product + half) / 10_000).ok()
}

impl Guest for Plugin {
    fn compute_lines(contract: Contract, input: SettlementInput) -> Result<Vec<BillLine>, String> {
        input
            .categories
            .iter()
            .map(|c| {
                let rate_bp = contract
                    .rates
                    .iter()
                    .find(|r| r.category == c.category)
                    .map_or(contract.default_rate_bp, |r| r.rate_bp);
                let basis = c.sales_fen - c.refunds_fen;
                let amount = apply(basis, rate_bp)
                    .ok_or_else(|| format!("{}: {basis} fen at {rate_bp} bp overflows", c.category))?;
                Ok(BillLine {
                    kind: "category".into(),
                    category: Some(c.category.clone()),
                    basis_fen: basis,
                    rate_bp,
                    amount_fen: amount,
                    note: None,
                })
            })
            .collect()
    }
}

export!(Plugin);
