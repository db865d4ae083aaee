//! A bill's amounts from a cycle's totals, exactly per settlement.md (Bills). Pure
//! functions: the store gathers the totals, these compute, the store writes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use venue_model::contract::{CategoryTotal, Contract, Line};
use venue_model::money::{self, Fen, MoneyError, Rounding};

/// The money terms of a contract version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Terms {
    RevenueShare {
        cost_bp: u32,
        cost_fixed_fen: Fen,
        share_bp: u32,
        rounding: Rounding,
    },
    Commission {
        rates: BTreeMap<String, u32>,
        default_rate_bp: u32,
        rounding: Rounding,
    },
}

/// A contract version's money terms.
impl From<&Contract> for Terms {
    fn from(contract: &Contract) -> Terms {
        if contract.kind == "revenue_share" {
            Terms::RevenueShare {
                cost_bp: contract.cost_bp,
                cost_fixed_fen: contract.cost_fixed_fen,
                share_bp: contract.share_bp,
                rounding: contract.rounding,
            }
        } else {
            Terms::Commission {
                rates: contract.rates.clone(),
                default_rate_bp: contract.default_rate_bp,
                rounding: contract.rounding,
            }
        }
    }
}

/// The amounts of a bill (field names as in protocol.md, Bills).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Amounts {
    pub gross_fen: Fen,
    pub refunds_fen: Fen,
    pub cost_fen: Fen,
    pub net_fen: Fen,
    pub share_fen: Fen,
    pub commission_fen: Fen,
    pub carry_in_fen: Fen,
    pub carry_out_fen: Fen,
    pub payable_fen: Fen,
    pub lines: Vec<Line>,
}

impl Amounts {
    /// The bill's totals add up (settlement.md, Bills): checked before a bill is written
    /// and after it is read, so a bill that does not add up is never shown or paid.
    pub fn check(&self, kind: &str) -> Result<(), String> {
        let fail = |what: &str| Err(format!("bill amounts do not add up: {what} ({self:?})"));
        let zero = Fen::ZERO;
        if self.payable_fen < zero || self.carry_out_fen > zero || self.carry_in_fen > zero {
            return fail("payable >= 0, carry_in <= 0, carry_out <= 0");
        }
        if self.gross_fen < zero || self.refunds_fen < zero {
            return fail("gross and refunds are not negative");
        }
        let sum = |kind: &str| -> i128 {
            self.lines
                .iter()
                .filter(|l| l.kind == kind)
                .map(|l| i128::from(l.amount_fen.get()))
                .sum()
        };
        let i = |fen: Fen| i128::from(fen.get());
        match kind {
            "revenue_share" => {
                let net = i(self.gross_fen) - i(self.refunds_fen) - i(self.cost_fen)
                    + i(self.carry_in_fen);
                if i(self.net_fen) != net {
                    return fail("net = gross - refunds - cost + carry_in");
                }
                if self.payable_fen != self.share_fen {
                    return fail("payable = share");
                }
                if self.net_fen < zero && self.carry_out_fen != self.net_fen {
                    return fail("a negative net is carried out whole");
                }
            }
            "commission" => {
                if sum("category") != i(self.commission_fen) {
                    return fail("commission = the sum of the category lines");
                }
                let owed = i(self.net_fen) - i(self.commission_fen) + i(self.carry_in_fen);
                if i(self.payable_fen) + i(self.carry_out_fen) != owed {
                    return fail("payable + carry_out = basis - commission + carry_in");
                }
            }
            other => return Err(format!("bill of an unknown kind {other:?}")),
        }
        Ok(())
    }
}

/// Revenue share: the party's share of its net income after operating cost.
pub fn revenue_share(
    cost_bp: u32,
    cost_fixed_fen: Fen,
    share_bp: u32,
    rounding: Rounding,
    gross_fen: Fen,
    refunds_fen: Fen,
    carry_in_fen: Fen,
) -> Result<Amounts, MoneyError> {
    let net_sales = gross_fen.checked_sub(refunds_fen, "net sales")?;
    let cost = net_sales
        .rated(cost_bp, rounding)?
        .max(Fen::ZERO)
        .checked_add(cost_fixed_fen, "cost")?;
    let net = net_sales
        .checked_sub(cost, "net")?
        .checked_add(carry_in_fen, "net")?;
    let (share, carry_out) = if net > Fen::ZERO {
        let s = money::split(net, share_bp, rounding)?;
        assert_eq!(
            s.party.checked_add(s.rest, "a split"),
            Ok(net),
            "a split sums to its total"
        );
        (s.party, Fen::ZERO)
    } else {
        (Fen::ZERO, net.min(Fen::ZERO))
    };
    Ok(Amounts {
        gross_fen,
        refunds_fen,
        cost_fen: cost,
        net_fen: net,
        share_fen: share,
        commission_fen: Fen::ZERO,
        carry_in_fen,
        carry_out_fen: carry_out,
        payable_fen: share,
        lines: vec![
            Line {
                kind: "cost".into(),
                category: None,
                basis_fen: net_sales,
                rate_bp: cost_bp,
                amount_fen: cost,
                note: None,
            },
            Line {
                kind: "share".into(),
                category: None,
                basis_fen: net,
                rate_bp: share_bp,
                amount_fen: share,
                note: None,
            },
        ],
    })
}

/// Commission: the party's sales back, minus the venue's commission per category.
/// Categories are rounded each on its own (never per sale line).
pub fn commission(
    rates: &BTreeMap<String, u32>,
    default_rate_bp: u32,
    rounding: Rounding,
    categories: &[CategoryTotal],
    carry_in_fen: Fen,
) -> Result<Amounts, MoneyError> {
    let mut lines = Vec::with_capacity(categories.len());
    let (mut gross, mut refunds, mut basis_sum, mut commission_sum) =
        (Fen::ZERO, Fen::ZERO, Fen::ZERO, Fen::ZERO);
    for c in categories {
        let basis = c.sales_fen.checked_sub(c.refunds_fen, "category basis")?;
        let rate = rates.get(&c.category).copied().unwrap_or(default_rate_bp);
        let amount = basis.rated(rate, rounding)?;
        gross = gross.checked_add(c.sales_fen, "gross")?;
        refunds = refunds.checked_add(c.refunds_fen, "refunds")?;
        basis_sum = basis_sum.checked_add(basis, "basis")?;
        commission_sum = commission_sum.checked_add(amount, "commission")?;
        lines.push(Line {
            kind: "category".into(),
            category: Some(c.category.clone()),
            basis_fen: basis,
            rate_bp: rate,
            amount_fen: amount,
            note: None,
        });
    }
    commission_from_lines(
        gross,
        refunds,
        basis_sum,
        commission_sum,
        lines,
        carry_in_fen,
    )
}

/// Finishes a commission bill from its category lines (also for lines a settlement-rule
/// plugin computed).
pub fn commission_from_lines(
    gross_fen: Fen,
    refunds_fen: Fen,
    basis_fen: Fen,
    commission_fen: Fen,
    lines: Vec<Line>,
    carry_in_fen: Fen,
) -> Result<Amounts, MoneyError> {
    let owed = basis_fen
        .checked_sub(commission_fen, "payable")?
        .checked_add(carry_in_fen, "payable")?;
    let (payable, carry_out) = if owed >= Fen::ZERO {
        (owed, Fen::ZERO)
    } else {
        (Fen::ZERO, owed)
    };
    Ok(Amounts {
        gross_fen,
        refunds_fen,
        cost_fen: Fen::ZERO,
        net_fen: basis_fen,
        share_fen: Fen::ZERO,
        commission_fen,
        carry_in_fen,
        carry_out_fen: carry_out,
        payable_fen: payable,
        lines,
    })
}

/// The bill functions over plain fen, so the tables below read as settlement.md's worked
/// examples do.
#[cfg(test)]
pub(crate) mod plain {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Raw {
        pub gross_fen: i64,
        pub refunds_fen: i64,
        pub cost_fen: i64,
        pub net_fen: i64,
        pub share_fen: i64,
        pub commission_fen: i64,
        pub carry_in_fen: i64,
        pub carry_out_fen: i64,
        pub payable_fen: i64,
    }

    pub fn raw(a: &Amounts) -> (Raw, Vec<(i64, u32, i64)>) {
        let lines = a
            .lines
            .iter()
            .map(|l| (l.basis_fen.get(), l.rate_bp, l.amount_fen.get()))
            .collect();
        let r = Raw {
            gross_fen: a.gross_fen.get(),
            refunds_fen: a.refunds_fen.get(),
            cost_fen: a.cost_fen.get(),
            net_fen: a.net_fen.get(),
            share_fen: a.share_fen.get(),
            commission_fen: a.commission_fen.get(),
            carry_in_fen: a.carry_in_fen.get(),
            carry_out_fen: a.carry_out_fen.get(),
            payable_fen: a.payable_fen.get(),
        };
        (r, lines)
    }

    #[allow(clippy::too_many_arguments)]
    pub fn rs(
        cost_bp: u32,
        fixed: i64,
        share_bp: u32,
        r: Rounding,
        gross: i64,
        refunds: i64,
        carry_in: i64,
    ) -> Raw {
        let f = Fen::new;
        raw(&revenue_share(
            cost_bp,
            f(fixed),
            share_bp,
            r,
            f(gross),
            f(refunds),
            f(carry_in),
        )
        .unwrap())
        .0
    }

    pub fn cat(category: &str, sales: i64, refunds: i64) -> CategoryTotal {
        CategoryTotal {
            category: category.into(),
            sales_fen: Fen::new(sales),
            refunds_fen: Fen::new(refunds),
        }
    }

    /// A commission bill and its lines' amounts.
    pub fn cm(
        rates: &BTreeMap<String, u32>,
        default_bp: u32,
        r: Rounding,
        cats: &[CategoryTotal],
        carry_in: i64,
    ) -> (Raw, Vec<(i64, u32, i64)>) {
        raw(&commission(rates, default_bp, r, cats, Fen::new(carry_in)).unwrap())
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::plain::{cat, cm, rs};
    use super::*;

    fn rounding() -> impl Strategy<Value = Rounding> {
        prop_oneof![Just(Rounding::HalfUp), Just(Rounding::HalfEven)]
    }

    const FEN: std::ops::Range<i64> = -1_000_000_000_000..1_000_000_000_000;

    proptest! {
        #[test]
        fn every_split_sums_to_its_total(total in FEN, bp in 0u32..=10_000, r in rounding()) {
            let s = money::split(Fen::new(total), bp, r).unwrap();
            prop_assert_eq!(s.party.get() + s.rest.get(), total);
            prop_assert!((s.party.get().abs() as i128) <= (total.abs() as i128));
        }

        #[test]
        fn a_revenue_share_bill_reconciles(
            gross in 0i64..1_000_000_000_000, refunds in 0i64..1_000_000_000_000,
            cost_bp in 0u32..=10_000, fixed in 0i64..10_000_000, share_bp in 0u32..=10_000,
            carry_in in -1_000_000_000i64..=0, r in rounding(),
        ) {
            let a = rs(cost_bp, fixed, share_bp, r, gross, refunds, carry_in);
            let net_sales = gross - refunds;
            prop_assert_eq!(a.net_fen, net_sales - a.cost_fen + carry_in);
            prop_assert!(a.cost_fen >= fixed);
            if a.net_fen > 0 {
                prop_assert!(a.share_fen >= 0 && a.share_fen <= a.net_fen);
                prop_assert_eq!(a.carry_out_fen, 0);
            } else {
                prop_assert_eq!((a.share_fen, a.carry_out_fen), (0, a.net_fen));
            }
            prop_assert_eq!(a.payable_fen, a.share_fen);
            // What the ledger posts on approval balances: revenue out = payable + kept + carry.
            let kept = a.cost_fen + if a.net_fen > 0 { a.net_fen - a.share_fen } else { 0 };
            prop_assert_eq!(net_sales, a.payable_fen + kept - (a.carry_in_fen - a.carry_out_fen));
        }

        #[test]
        fn a_commission_bill_reconciles(
            cats in prop::collection::vec((0usize..4, 0i64..100_000_000, 0i64..100_000_000), 0..8),
            default_bp in 0u32..=10_000, food_bp in 0u32..=10_000,
            carry_in in -1_000_000i64..=0, r in rounding(),
        ) {
            let names = ["food", "drink", "souvenir", "lodging"];
            let mut totals: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
            for (i, s, f) in cats {
                let e = totals.entry(names[i]).or_default();
                e.0 += s;
                e.1 += f;
            }
            let categories: Vec<CategoryTotal> = totals
                .into_iter()
                .map(|(c, (s, f))| cat(c, s, f))
                .collect();
            let rates: BTreeMap<String, u32> = [("food".to_owned(), food_bp)].into();
            let (a, lines) = cm(&rates, default_bp, r, &categories, carry_in);
            let basis: i64 = categories.iter().map(|c| c.sales_fen.get() - c.refunds_fen.get()).sum();
            prop_assert_eq!(a.net_fen, basis);
            prop_assert_eq!(a.commission_fen, lines.iter().map(|l| l.2).sum::<i64>());
            prop_assert_eq!(basis - a.commission_fen + carry_in, a.payable_fen + a.carry_out_fen);
            prop_assert!(a.payable_fen >= 0 && a.carry_out_fen <= 0);
            for (basis, rate, amount) in lines {
                let exact = money::exact_rate(basis, rate).unwrap();
                prop_assert!((rust_decimal::Decimal::from(amount) - exact).abs() <= rust_decimal::Decimal::new(5, 1), "rounded once, by at most half a fen");
            }
        }
    }
}

#[cfg(test)]
mod checks {
    use super::plain::cat;
    use super::*;

    #[test]
    fn computed_bills_add_up_and_edited_ones_do_not() {
        let f = Fen::new;
        let rs = revenue_share(
            1_000,
            f(500),
            3_000,
            Rounding::HalfUp,
            f(200_000),
            f(1_000),
            f(-300),
        )
        .unwrap();
        let cats = [cat("food", 10_000, 500), cat("gift", 3_333, 0)];
        let rates = BTreeMap::from([("food".to_owned(), 1_500)]);
        let cm = commission(&rates, 1_000, Rounding::HalfEven, &cats, f(-20_000)).unwrap();
        let one = f(1);
        assert_eq!(rs.check("revenue_share"), Ok(()));
        assert_eq!(cm.check("commission"), Ok(()));
        let edits: Vec<(&str, Amounts, &str)> = vec![
            (
                "payable raised",
                Amounts {
                    payable_fen: rs.payable_fen.checked_add(one, "test").unwrap(),
                    ..rs.clone()
                },
                "revenue_share",
            ),
            (
                "net edited",
                Amounts {
                    net_fen: rs.net_fen.checked_sub(one, "test").unwrap(),
                    ..rs.clone()
                },
                "revenue_share",
            ),
            (
                "negative payable",
                Amounts {
                    payable_fen: f(-1),
                    ..cm.clone()
                },
                "commission",
            ),
            (
                "commission edited",
                Amounts {
                    commission_fen: cm.commission_fen.checked_add(one, "test").unwrap(),
                    ..cm.clone()
                },
                "commission",
            ),
            (
                "a category line dropped",
                Amounts {
                    lines: cm.lines[1..].to_vec(),
                    ..cm.clone()
                },
                "commission",
            ),
            ("unknown kind", rs.clone(), "gift"),
        ];
        for (case, amounts, kind) in edits {
            assert!(amounts.check(kind).is_err(), "{case}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::plain::{cat, cm, rs};
    use super::*;

    #[test]
    fn revenue_share_worked_examples() {
        // settlement.md: cost_bp 1500, share_bp 7000, half_up.
        let a = rs(1500, 0, 7000, Rounding::HalfUp, 100_001, 0, 0);
        assert_eq!(
            (a.cost_fen, a.net_fen, a.share_fen, a.net_fen - a.share_fen),
            (15000, 85001, 59501, 25500)
        );
        assert_eq!((a.carry_out_fen, a.payable_fen), (0, 59501));
        let a = rs(1500, 0, 7000, Rounding::HalfUp, 200_000, 200_001, 0);
        assert_eq!(
            (
                a.cost_fen,
                a.net_fen,
                a.share_fen,
                a.carry_out_fen,
                a.payable_fen
            ),
            (0, -1, 0, -1, 0)
        );
        // cost_bp 0, share_bp 5000, net 85001.
        assert_eq!(
            rs(0, 0, 5000, Rounding::HalfUp, 85001, 0, 0).share_fen,
            42501
        );
        assert_eq!(
            rs(0, 0, 5000, Rounding::HalfEven, 85001, 0, 0).share_fen,
            42500
        );
    }

    #[test]
    fn a_negative_carry_is_taken_from_the_next_bill() {
        let a = rs(1500, 0, 7000, Rounding::HalfUp, 100_001, 0, -1);
        assert_eq!((a.net_fen, a.share_fen), (85000, 59500));
    }

    #[test]
    fn commission_worked_example() {
        let rates: BTreeMap<String, u32> =
            [("food".to_owned(), 1000), ("drink".to_owned(), 1200)].into();
        let cats = [
            cat("food", 12345, 0),
            cat("drink", 9999, 0),
            cat("souvenir", 2000, 0),
        ];
        let (up, lines) = cm(&rates, 1500, Rounding::HalfUp, &cats, 0);
        let amounts: Vec<i64> = lines.iter().map(|l| l.2).collect();
        assert_eq!(amounts, vec![1235, 1200, 300]);
        assert_eq!(
            (up.gross_fen, up.commission_fen, up.payable_fen),
            (24344, 2735, 21609)
        );
        let (even, lines) = cm(&rates, 1500, Rounding::HalfEven, &cats, 0);
        let amounts: Vec<i64> = lines.iter().map(|l| l.2).collect();
        assert_eq!(amounts, vec![1234, 1200, 300]);
        assert_eq!((even.commission_fen, even.payable_fen), (2734, 21610));
    }

    #[test]
    fn refunds_beyond_sales_carry_forward() {
        let cats = [cat("food", 0, 1000)];
        let (a, _) = cm(&BTreeMap::new(), 1000, Rounding::HalfUp, &cats, 0);
        assert_eq!(
            (a.commission_fen, a.payable_fen, a.carry_out_fen),
            (-100, 0, -900)
        );
    }
}
