//! The analysis's arithmetic: half-up division, shares in basis points, nearest-rank
//! percentiles, folding small origin groups, a group code's visitors. Pure functions, with
//! their tables of cases below.

use std::collections::BTreeMap;

use super::{ORIGIN_GROUP_MIN, OriginRow};

/// `n / d` rounded half up (for non-negative `d`); 0 when `d` is 0.
pub fn div_half_up(n: i64, d: i64) -> i64 {
    if d == 0 {
        return 0;
    }
    let (n, d) = (i128::from(n), i128::from(d));
    let q = if n >= 0 {
        (2 * n + d) / (2 * d)
    } else {
        -((-2 * n + d) / (2 * d))
    };
    i64::try_from(q).unwrap_or(i64::MAX)
}

/// `part` of `whole` in basis points, half up; 0 when the whole is 0.
pub fn share_bp(part: i64, whole: i64) -> i64 {
    div_half_up(part.saturating_mul(10_000), whole)
}

/// The nearest-rank percentile `p` (1..=100) of `sorted` values; 0 when there are none.
pub fn percentile(sorted: &[i64], p: u32) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (u64::from(p) * sorted.len() as u64).div_ceil(100).max(1) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

/// Origin groups, largest first; groups under [`ORIGIN_GROUP_MIN`] folded into `other`
/// (last, when anything was folded).
pub fn fold_origin(counts: &BTreeMap<String, i64>) -> Vec<OriginRow> {
    let mut rows: Vec<OriginRow> = Vec::new();
    let mut other = 0;
    for (province, &visitors) in counts {
        if visitors < ORIGIN_GROUP_MIN || province == "other" {
            other += visitors;
        } else {
            rows.push(OriginRow {
                province: province.clone(),
                visitors,
            });
        }
    }
    rows.sort_by(|a, b| {
        b.visitors
            .cmp(&a.visitors)
            .then(a.province.cmp(&b.province))
    });
    if other > 0 {
        rows.push(OriginRow {
            province: "other".into(),
            visitors: other,
        });
    }
    rows
}

/// Visitors a group code brought: the most admitted into one area on one day (a party
/// that comes through in two batches adds up), at most the group's tickets.
pub fn group_visitors(admitted_per_area_day: &[i64], members: i64) -> i64 {
    admitted_per_area_day
        .iter()
        .copied()
        .max()
        .unwrap_or(0)
        .min(members)
        .max(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spend_and_shares_round_half_up() {
        // (numerator, denominator, expected)
        let cases = [
            (10, 4, 3),
            (10, 3, 3),
            (11, 2, 6),
            (9, 2, 5),
            (1, 3, 0),
            (2, 3, 1),
            (0, 7, 0),
            (5, 0, 0),
            (-10, 4, -3),
        ];
        for (n, d, want) in cases {
            assert_eq!(div_half_up(n, d), want, "{n}/{d}");
        }
        // (part, whole, basis points)
        let shares = [
            (1, 3, 3333),
            (2, 3, 6667),
            (1, 8, 1250),
            (1, 20_000, 1),
            (1, 20_001, 0),
            (5, 5, 10_000),
            (3, 0, 0),
        ];
        for (part, whole, want) in shares {
            assert_eq!(share_bp(part, whole), want, "{part} of {whole}");
        }
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<i64> = (1..=10).collect();
        // (values, p, expected)
        let cases: &[(&[i64], u32, i64)] = &[
            (&v, 50, 5),
            (&v, 90, 9),
            (&v, 100, 10),
            (&v, 1, 1),
            (&[42], 50, 42),
            (&[42], 90, 42),
            (&[10, 20], 50, 10),
            (&[10, 20], 90, 20),
            (&[], 50, 0),
        ];
        for (values, p, want) in cases {
            assert_eq!(percentile(values, *p), *want, "p{p} of {values:?}");
        }
    }

    #[test]
    fn small_origin_groups_fold_into_other() {
        let counts: BTreeMap<String, i64> = [("浙江", 12), ("北京", 5), ("上海", 4), ("广东", 1)]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        let rows: Vec<(String, i64)> = fold_origin(&counts)
            .into_iter()
            .map(|r| (r.province, r.visitors))
            .collect();
        assert_eq!(
            rows,
            [("浙江".into(), 12), ("北京".into(), 5), ("other".into(), 5)]
        );
        let few: BTreeMap<String, i64> = [("北京".to_owned(), 2)].into_iter().collect();
        assert_eq!(fold_origin(&few)[0].province, "other");
        assert!(fold_origin(&BTreeMap::new()).is_empty());
    }

    #[test]
    fn a_group_counts_its_admitted_members_once() {
        // (admitted per area and day, members, visitors)
        let cases: &[(&[i64], i64, i64)] = &[
            (&[10], 10, 10),
            (&[10, 10], 10, 10), // the park, then a ride: the same ten people
            (&[6, 4], 10, 6),
            (&[12], 10, 10), // re-entries never count more than the members
            (&[], 10, 0),
        ];
        for (admitted, members, want) in cases {
            assert_eq!(group_visitors(admitted, *members), *want, "{admitted:?}");
        }
    }
}
