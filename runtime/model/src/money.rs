//! Money arithmetic (settlement.md, Money rules): amounts are `i64` fen, rates are basis
//! points, a fraction appears only when a rate is applied, it is computed exactly with
//! `rust_decimal` and rounded once to a whole fen by the contract's rounding mode, and a
//! split is always computed as one side plus `total - side`.

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

/// Basis points in one whole: 10000 bp = 100%.
pub const BP_PER_UNIT: i64 = 10_000;

/// How a fraction of a fen becomes a whole fen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    /// 四舍五入: halves away from zero (1234.5 -> 1235, -0.5 -> -1).
    #[default]
    HalfUp,
    /// Banker's rounding: halves to the even neighbour (1234.5 -> 1234).
    HalfEven,
}

impl Rounding {
    pub fn as_str(self) -> &'static str {
        match self {
            Rounding::HalfUp => "half_up",
            Rounding::HalfEven => "half_even",
        }
    }

    fn strategy(self) -> RoundingStrategy {
        match self {
            Rounding::HalfUp => RoundingStrategy::MidpointAwayFromZero,
            Rounding::HalfEven => RoundingStrategy::MidpointNearestEven,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("amount overflow computing {0}")]
    Overflow(&'static str),
}

/// `amount * rate_bp / 10000`, exactly, rounded once.
pub fn apply_rate(amount_fen: i64, rate_bp: u32, rounding: Rounding) -> Result<i64, MoneyError> {
    let exact = exact_rate(amount_fen, rate_bp)?;
    let rounded = exact.round_dp_with_strategy(0, rounding.strategy());
    i64::try_from(rounded).map_err(|_| MoneyError::Overflow("a rated amount"))
}

/// The exact product before rounding, for display (`1234.5`).
pub fn exact_rate(amount_fen: i64, rate_bp: u32) -> Result<Decimal, MoneyError> {
    Decimal::from(amount_fen)
        .checked_mul(Decimal::from(rate_bp))
        .and_then(|p| p.checked_div(Decimal::from(BP_PER_UNIT)))
        .map(|d| d.normalize())
        .ok_or(MoneyError::Overflow("a rated amount"))
}

/// A total split in two: the party's side by rate, the other side as the remainder, so
/// the two always sum to the total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    pub total: i64,
    pub party: i64,
    pub rest: i64,
}

pub fn split(total_fen: i64, party_rate_bp: u32, rounding: Rounding) -> Result<Split, MoneyError> {
    let party = apply_rate(total_fen, party_rate_bp, rounding)?;
    let rest = total_fen
        .checked_sub(party)
        .ok_or(MoneyError::Overflow("a split"))?;
    let s = Split {
        total: total_fen,
        party,
        rest,
    };
    debug_assert_eq!(s.party + s.rest, s.total);
    Ok(s)
}

/// Adds, failing on overflow instead of wrapping.
pub fn add(a: i64, b: i64, what: &'static str) -> Result<i64, MoneyError> {
    a.checked_add(b).ok_or(MoneyError::Overflow(what))
}

pub fn sub(a: i64, b: i64, what: &'static str) -> Result<i64, MoneyError> {
    a.checked_sub(b).ok_or(MoneyError::Overflow(what))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_round_once_by_the_contracts_mode() {
        assert_eq!(apply_rate(12345, 1000, Rounding::HalfUp), Ok(1235));
        assert_eq!(apply_rate(12345, 1000, Rounding::HalfEven), Ok(1234));
        assert_eq!(apply_rate(9999, 1200, Rounding::HalfUp), Ok(1200));
        assert_eq!(apply_rate(9999, 1200, Rounding::HalfEven), Ok(1200));
        assert_eq!(apply_rate(2000, 1500, Rounding::HalfUp), Ok(300));
        assert_eq!(exact_rate(12345, 1000).unwrap().to_string(), "1234.5");
        assert_eq!(exact_rate(9999, 1200).unwrap().to_string(), "1199.88");
    }

    #[test]
    fn negative_halves_round_away_from_zero_or_to_even() {
        assert_eq!(apply_rate(-1, 1500, Rounding::HalfUp), Ok(0)); // -0.15
        assert_eq!(apply_rate(-5, 1000, Rounding::HalfUp), Ok(-1)); // -0.5
        assert_eq!(apply_rate(-5, 1000, Rounding::HalfEven), Ok(0));
    }

    #[test]
    fn a_split_always_sums_to_its_total() {
        let s = split(85001, 5000, Rounding::HalfUp).unwrap();
        assert_eq!((s.party, s.rest), (42501, 42500));
        let s = split(85001, 5000, Rounding::HalfEven).unwrap();
        assert_eq!((s.party, s.rest), (42500, 42501));
        assert!(apply_rate(i64::MAX, 10000, Rounding::HalfUp).is_ok());
        assert!(split(i64::MIN, 10000, Rounding::HalfUp).is_ok());
    }
}
