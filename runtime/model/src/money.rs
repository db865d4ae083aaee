//! Money arithmetic (settlement.md, Money rules): amounts are [`Fen`] (a whole number of
//! fen in an `i64`), rates are basis points, a fraction appears only when a rate is
//! applied, it is computed exactly with `rust_decimal` and rounded once to a whole fen by
//! the contract's rounding mode, and a split is always computed as one side plus
//! `total - side`. Sums are checked: an overflow is an error, never a wrap.

use std::fmt;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

/// An amount of money in fen (分, a hundredth of a yuan). It is written as a JSON integer
/// and nothing else (`1250`, never `12.5` or `"1250"`), stored as an SQLite integer, and
/// shown to people as yuan with two decimals (`12.50`). Arithmetic on it is checked.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Fen(i64);

impl Fen {
    pub const ZERO: Fen = Fen(0);

    pub const fn new(fen: i64) -> Fen {
        Fen(fen)
    }

    /// The whole number of fen.
    pub const fn get(self) -> i64 {
        self.0
    }

    pub fn is_negative(self) -> bool {
        self.0 < 0
    }

    pub fn checked_add(self, other: Fen, what: &'static str) -> Result<Fen, MoneyError> {
        add(self.0, other.0, what).map(Fen)
    }

    pub fn checked_sub(self, other: Fen, what: &'static str) -> Result<Fen, MoneyError> {
        sub(self.0, other.0, what).map(Fen)
    }

    /// `self * n` (a unit price times a quantity).
    pub fn times(self, n: i64, what: &'static str) -> Result<Fen, MoneyError> {
        self.0
            .checked_mul(n)
            .map(Fen)
            .ok_or(MoneyError::Overflow(what))
    }

    /// The checked sum of amounts.
    pub fn sum(
        amounts: impl IntoIterator<Item = Fen>,
        what: &'static str,
    ) -> Result<Fen, MoneyError> {
        amounts
            .into_iter()
            .try_fold(Fen::ZERO, |acc, a| acc.checked_add(a, what))
    }

    /// `self * rate_bp / 10000`, exactly, rounded once (see [`apply_rate`]).
    pub fn rated(self, rate_bp: u32, rounding: Rounding) -> Result<Fen, MoneyError> {
        apply_rate(self.0, rate_bp, rounding).map(Fen)
    }

    /// Yuan with two decimals, for people: `12.50`, `-0.05`, `0.00`.
    pub fn yuan(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        format!("{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

/// The whole number of fen, as every `*_fen` field is written (`1250`); people are shown
/// [`Fen::yuan`].
impl fmt::Display for Fen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl From<Fen> for i64 {
    fn from(fen: Fen) -> i64 {
        fen.0
    }
}

#[cfg(feature = "sql")]
const _: () = {
    use rusqlite::types::{FromSql, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

    impl ToSql for Fen {
        fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
            self.0.to_sql()
        }
    }

    /// An integer column only: a stored amount that is text or real fails loudly.
    impl FromSql for Fen {
        fn column_result(value: ValueRef<'_>) -> FromSqlResult<Fen> {
            value.as_i64().map(Fen)
        }
    }
};

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
    pub total: Fen,
    pub party: Fen,
    pub rest: Fen,
}

pub fn split(total_fen: Fen, party_rate_bp: u32, rounding: Rounding) -> Result<Split, MoneyError> {
    let party = total_fen.rated(party_rate_bp, rounding)?;
    let rest = total_fen.checked_sub(party, "a split")?;
    let s = Split {
        total: total_fen,
        party,
        rest,
    };
    debug_assert_eq!(
        i128::from(s.party.0) + i128::from(s.rest.0),
        i128::from(s.total.0)
    );
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
        let s = split(Fen(85001), 5000, Rounding::HalfUp).unwrap();
        assert_eq!((s.party, s.rest), (Fen(42501), Fen(42500)));
        let s = split(Fen(85001), 5000, Rounding::HalfEven).unwrap();
        assert_eq!((s.party, s.rest), (Fen(42500), Fen(42501)));
        assert!(apply_rate(i64::MAX, 10000, Rounding::HalfUp).is_ok());
        assert!(split(Fen(i64::MIN), 10000, Rounding::HalfUp).is_ok());
    }

    #[test]
    fn fen_is_shown_as_yuan_with_two_decimals() {
        let table = [
            (0, "0.00"),
            (5, "0.05"),
            (-5, "-0.05"),
            (1250, "12.50"),
            (-123_456, "-1234.56"),
            (i64::MIN, "-92233720368547758.08"),
            (i64::MAX, "92233720368547758.07"),
        ];
        for (fen, yuan) in table {
            assert_eq!(Fen(fen).yuan(), yuan, "{fen} fen");
            assert_eq!(Fen(fen).to_string(), fen.to_string());
        }
    }

    #[test]
    fn fen_is_a_json_integer_and_nothing_else() {
        assert_eq!(serde_json::from_str::<Fen>("1250").unwrap(), Fen(1250));
        assert_eq!(serde_json::from_str::<Fen>("-3").unwrap(), Fen(-3));
        for bad in ["12.5", "\"1250\"", "1e3", "null", "92233720368547758070"] {
            assert!(
                serde_json::from_str::<Fen>(bad).is_err(),
                "{bad} was taken as fen"
            );
        }
        assert_eq!(serde_json::to_string(&Fen(1250)).unwrap(), "1250");
    }

    #[test]
    fn fen_arithmetic_fails_instead_of_wrapping() {
        assert_eq!(Fen(2).checked_add(Fen(3), "x"), Ok(Fen(5)));
        assert!(Fen(i64::MAX).checked_add(Fen(1), "x").is_err());
        assert!(Fen(i64::MIN).checked_sub(Fen(1), "x").is_err());
        assert_eq!(Fen(250).times(3, "x"), Ok(Fen(750)));
        assert!(Fen(i64::MAX / 2 + 1).times(2, "x").is_err());
        assert_eq!(Fen::sum([Fen(1), Fen(2), Fen(3)], "x"), Ok(Fen(6)));
        assert!(Fen::sum([Fen(i64::MAX), Fen(1)], "x").is_err());
        assert_eq!(Fen(12345).rated(1000, Rounding::HalfUp), Ok(Fen(1235)));
    }
}
