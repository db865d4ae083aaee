//! A settlement rule with tiered commission: the more a party sold in the cycle, the lower
//! the venue's rate. The tiers are plugin config: `tiers = "0:1500,100000:1200,500000:1000"`
//! (from a cycle net of 0 fen: 15%; from 1,000 yuan: 12%; from 5,000 yuan: 10%). Each
//! category is rounded once by the contract's rounding. The host checks the lines.
//!
//! Grants needed: `config`.

use venue_plugin_sdk::settlement::exports::venue::edge::rules::{Guest, SettlementInput};
use venue_plugin_sdk::settlement::venue::edge::config;
use venue_plugin_sdk::settlement::venue::edge::types::{BillLine, Contract, Rounding};

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct TieredCommission;

/// `"0:1500,100000:1200"` -> [(0, 1500), (100000, 1200)], sorted by threshold.
pub fn parse_tiers(text: &str) -> Result<Vec<(i64, u32)>, String> {
    let mut tiers = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (from, bp) = part
            .split_once(':')
            .ok_or_else(|| format!("tier {part:?} is not from_fen:rate_bp"))?;
        let from: i64 = from
            .trim()
            .parse()
            .map_err(|_| format!("tier {part:?}: bad threshold"))?;
        let bp: u32 = bp
            .trim()
            .parse()
            .map_err(|_| format!("tier {part:?}: bad rate"))?;
        if bp > 10_000 {
            return Err(format!("tier {part:?}: rate above 10000 bp"));
        }
        tiers.push((from, bp));
    }
    if tiers.is_empty() {
        return Err("no tiers configured".into());
    }
    tiers.sort();
    Ok(tiers)
}

/// `amount * bp / 10000` rounded once (exact integer arithmetic).
pub fn rate(amount: i64, bp: u32, rounding: Rounding) -> i64 {
    let n = amount as i128 * bp as i128;
    let (q, r) = (n.div_euclid(10_000), n.rem_euclid(10_000));
    let up = match r.cmp(&5_000) {
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Less => false,
        std::cmp::Ordering::Equal => match rounding {
            // Halves away from zero: up for positives, down (toward -inf from the floor) for negatives.
            Rounding::HalfUp => n >= 0,
            Rounding::HalfEven => q % 2 != 0,
        },
    };
    (q + up as i128) as i64
}

pub fn lines(contract: &Contract, input: &SettlementInput, tiers: &[(i64, u32)]) -> Vec<BillLine> {
    let total: i64 = input
        .categories
        .iter()
        .map(|c| c.sales_fen - c.refunds_fen)
        .sum();
    let bp = tiers
        .iter()
        .rev()
        .find(|(from, _)| total >= *from)
        .map(|t| t.1)
        .unwrap_or(tiers[0].1);
    input
        .categories
        .iter()
        .map(|c| {
            let basis = c.sales_fen - c.refunds_fen;
            BillLine {
                kind: "category".into(),
                category: Some(c.category.clone()),
                basis_fen: basis,
                rate_bp: bp,
                amount_fen: rate(basis, bp, contract.rounding),
                note: Some(format!("tier for a cycle net of {total} fen")),
            }
        })
        .collect()
}

impl Guest for TieredCommission {
    fn compute_lines(contract: Contract, input: SettlementInput) -> Result<Vec<BillLine>, String> {
        let tiers = parse_tiers(&config::get("tiers").unwrap_or_default())?;
        Ok(lines(&contract, &input, &tiers))
    }
}

// Exported only when built as a component; native builds are for unit tests.
#[cfg(target_arch = "wasm32")]
venue_plugin_sdk::settlement::export_settlement_rule!(TieredCommission);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_matches_the_contracts_modes() {
        assert_eq!(rate(12345, 1000, Rounding::HalfUp), 1235);
        assert_eq!(rate(12345, 1000, Rounding::HalfEven), 1234);
        assert_eq!(rate(-5, 1000, Rounding::HalfUp), -1);
        assert_eq!(rate(-5, 1000, Rounding::HalfEven), 0);
        assert_eq!(rate(9999, 1200, Rounding::HalfUp), 1200);
    }

    #[test]
    fn tiers_parse_and_sort() {
        assert_eq!(
            parse_tiers("100000:1200, 0:1500").unwrap(),
            vec![(0, 1500), (100000, 1200)]
        );
        assert!(parse_tiers("").is_err());
        assert!(parse_tiers("0:20000").is_err());
    }
}
