//! The audit chain, defined once for the edge box and HQ: how a row is hashed, the head an
//! upload carries (header `Venue-Audit-Head: {row} {hash}`), the export a chain is handed
//! over in (one JSON object a line, oldest first), and the two checks: a walk over a chain
//! that names the first row edited, removed or reordered, and HQ's check that the heads it
//! was sent over time belong to one growing chain.
//!
//! Cutting the end off a log leaves a shorter chain that still walks whole; only someone
//! who kept an earlier head can tell. HQ keeps every head it is sent: a head older than one
//! already seen, or a row that now hashes differently, shows the log was cut back or
//! rebuilt.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The hash before the first row.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The upload header that carries the head.
pub const HEADER: &str = "venue-audit-head";

/// One row of the log as it is hashed and exported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRow {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub via: String,
    pub action: String,
    pub subject: String,
    pub detail: String,
    /// The stored links (absent on rows written before the chain existed).
    #[serde(default)]
    pub prev_hash: Option<String>,
    #[serde(default)]
    pub hash: Option<String>,
}

/// The row's hash after `prev`, over its id, time, actor, channel, action, subject and
/// detail, each length-prefixed so no two rows hash alike by moving text between fields.
pub fn row_hash(prev: &str, r: &AuditRow) -> String {
    let mut h = Sha256::new();
    for field in [
        prev,
        &r.id.to_string(),
        &r.at,
        &r.actor,
        &r.via,
        &r.action,
        &r.subject,
        &r.detail,
    ] {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field.as_bytes());
    }
    hex::encode(h.finalize())
}

/// The last row of a chain and its hash (row 0 and [`GENESIS`] for an empty log).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    pub row: i64,
    pub hash: String,
}

impl Head {
    pub fn empty() -> Head {
        Head {
            row: 0,
            hash: GENESIS.to_owned(),
        }
    }

    /// Reads the header's value: a row number, one space, 64 lowercase hex digits.
    pub fn parse(text: &str) -> Result<Head, String> {
        let refuse = || {
            format!(
                "Venue-Audit-Head {:?} is not \"ROW HASH\" (a whole number, a space, 64 lowercase hex digits)",
                text.chars().take(100).collect::<String>()
            )
        };
        let (row, hash) = text.trim().split_once(' ').ok_or_else(refuse)?;
        let row: i64 = row.parse().ok().filter(|n| *n >= 0).ok_or_else(refuse)?;
        let hex_ok = hash.len() == 64
            && hash
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !hex_ok {
            return Err(refuse());
        }
        Ok(Head {
            row,
            hash: hash.to_owned(),
        })
    }
}

/// The header's value.
impl fmt::Display for Head {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.row, self.hash)
    }
}

/// A whole chain: how many rows, and its head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Whole {
    pub rows: u64,
    pub head: Head,
}

/// Where a chain breaks: the first row that was edited, removed before, or moved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Broken {
    pub row: i64,
    pub why: String,
}

/// A walk over a chain, oldest row first: [`Walk::step`] each row, then [`Walk::end`].
#[derive(Debug, Clone)]
pub struct Walk {
    prev: String,
    rows: u64,
    last_id: i64,
}

impl Default for Walk {
    fn default() -> Walk {
        Walk {
            prev: GENESIS.to_owned(),
            rows: 0,
            last_id: 0,
        }
    }
}

impl Walk {
    /// Checks the next row against the ones before it; returns its recomputed hash.
    pub fn step(&mut self, row: &AuditRow) -> Result<&str, Broken> {
        let broken = |why: String| Broken { row: row.id, why };
        if row.id != self.last_id + 1 {
            return Err(broken(format!(
                "row {} follows row {}: rows between them were removed",
                row.id, self.last_id
            )));
        }
        if row.prev_hash.as_deref() != Some(self.prev.as_str()) {
            return Err(broken(format!(
                "row {} does not point at the row before it (removed, reordered or rewritten)",
                row.id
            )));
        }
        let computed = row_hash(&self.prev, row);
        if row.hash.as_deref() != Some(computed.as_str()) {
            return Err(broken(format!(
                "row {} was edited after it was written",
                row.id
            )));
        }
        self.prev = computed;
        self.last_id = row.id;
        self.rows += 1;
        Ok(&self.prev)
    }

    pub fn end(self) -> Whole {
        Whole {
            rows: self.rows,
            head: Head {
                row: self.last_id,
                hash: self.prev,
            },
        }
    }
}

/// A head HQ was sent with one batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Anchor {
    pub batch_seq: i64,
    pub head: Head,
}

/// Whether anchors, in batch order, belong to one growing chain: a head never goes back
/// to an earlier row, and a row keeps the hash it was first sent with. With the box's
/// exported chain (`chain`: each row's recomputed hash by id, from a whole walk), every
/// anchored head must be in it too: a rebuilt log that grew past the old heads is caught
/// there. Names the first anchor that does not fit.
pub fn check_anchors(
    anchors: &[Anchor],
    chain: Option<&HashMap<i64, String>>,
) -> Result<(), Broken> {
    let mut seen: Option<&Anchor> = None;
    for a in anchors {
        if let Some(before) = seen {
            if a.head.row < before.head.row {
                return Err(Broken {
                    row: a.head.row,
                    why: format!(
                        "batch {} carried head row {} after batch {} carried row {}: the log was cut back",
                        a.batch_seq, a.head.row, before.batch_seq, before.head.row
                    ),
                });
            }
            if a.head.row == before.head.row && a.head.hash != before.head.hash {
                return Err(Broken {
                    row: a.head.row,
                    why: format!(
                        "row {} hashed {} in batch {} and {} in batch {}: the log was rewritten",
                        a.head.row,
                        short(&before.head.hash),
                        before.batch_seq,
                        short(&a.head.hash),
                        a.batch_seq
                    ),
                });
            }
        }
        if let Some(chain) = chain
            && a.head.row > 0
        {
            match chain.get(&a.head.row) {
                Some(hash) if *hash == a.head.hash => {}
                Some(hash) => {
                    return Err(Broken {
                        row: a.head.row,
                        why: format!(
                            "batch {} anchored row {} as {}, the chain has {}: the log was rewritten at or before row {}",
                            a.batch_seq,
                            a.head.row,
                            short(&a.head.hash),
                            short(hash),
                            a.head.row
                        ),
                    });
                }
                None => {
                    return Err(Broken {
                        row: a.head.row,
                        why: format!(
                            "batch {} anchored row {}, which the chain does not have: the log was cut back",
                            a.batch_seq, a.head.row
                        ),
                    });
                }
            }
        }
        seen = Some(a);
    }
    Ok(())
}

fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64, detail: &str) -> Vec<AuditRow> {
        let mut prev = GENESIS.to_owned();
        (1..=n)
            .map(|id| {
                let mut r = AuditRow {
                    id,
                    at: format!("2026-12-07T09:00:{id:02}+08:00"),
                    actor: "li.na".into(),
                    via: "tok_1".into(),
                    action: "order.create".into(),
                    subject: format!("ord-{id}"),
                    detail: detail.into(),
                    prev_hash: Some(prev.clone()),
                    hash: None,
                };
                let h = row_hash(&prev, &r);
                r.hash = Some(h.clone());
                prev = h;
                r
            })
            .collect()
    }

    fn walk(rows: &[AuditRow]) -> Result<(Whole, HashMap<i64, String>), Broken> {
        let mut w = Walk::default();
        let mut hashes = HashMap::new();
        for r in rows {
            let h = w.step(r)?.to_owned();
            hashes.insert(r.id, h);
        }
        Ok((w.end(), hashes))
    }

    fn anchor(batch_seq: i64, rows: &[AuditRow], row: i64) -> Anchor {
        let hash = rows[row as usize - 1].hash.clone().unwrap();
        Anchor {
            batch_seq,
            head: Head { row, hash },
        }
    }

    #[test]
    fn the_head_header_reads_back_and_refuses_anything_else() {
        let h = Head {
            row: 42,
            hash: "ab".repeat(32),
        };
        assert_eq!(Head::parse(&h.to_string()), Ok(h));
        assert_eq!(Head::parse(&format!("0 {GENESIS}")), Ok(Head::empty()));
        for bad in [
            "",
            "42",
            "-1 0000",
            &format!("x {GENESIS}"),
            &format!("1 {}", "AB".repeat(32)),
            &format!("1 {}", "a".repeat(63)),
            &format!("1  {GENESIS}"),
        ] {
            assert!(Head::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn growing_heads_pass_and_a_cut_or_a_rebuild_is_named() {
        let rows = chain(6, "total_fen=100");
        let (whole, hashes) = walk(&rows).unwrap();
        assert_eq!(whole.head.row, 6);
        let good = [
            anchor(1, &rows, 2),
            anchor(2, &rows, 2),
            anchor(3, &rows, 5),
        ];
        assert_eq!(check_anchors(&good, None), Ok(()));
        assert_eq!(check_anchors(&good, Some(&hashes)), Ok(()));

        // The log cut back to 4 rows and rebuilt with other content up to 6.
        let rebuilt = chain(6, "total_fen=1");
        let (_, rebuilt_hashes) = walk(&rebuilt).unwrap();
        let mut cut = hashes.clone();
        cut.remove(&6);
        type Case<'a> = (
            &'a str,
            Vec<Anchor>,
            Option<&'a HashMap<i64, String>>,
            i64,
            &'a str,
        );
        let cases: Vec<Case> = vec![
            (
                "a later batch with an earlier head",
                vec![anchor(1, &rows, 5), anchor(2, &rows, 3)],
                None,
                3,
                "cut back",
            ),
            (
                "one row, two hashes",
                vec![anchor(1, &rows, 5), anchor(2, &rebuilt, 5)],
                None,
                5,
                "rewritten",
            ),
            (
                "heads of the old log against the rebuilt chain",
                good.to_vec(),
                Some(&rebuilt_hashes),
                2,
                "rewritten",
            ),
            (
                "a head past the end of the chain",
                vec![anchor(1, &rows, 6)],
                Some(&cut),
                6,
                "cut back",
            ),
        ];
        for (case, anchors, chain, row, says) in cases {
            let b = check_anchors(&anchors, chain).unwrap_err();
            assert_eq!(b.row, row, "{case}: {}", b.why);
            assert!(b.why.contains(says), "{case}: {}", b.why);
        }
    }

    #[test]
    fn a_walk_names_the_first_edited_removed_or_moved_row() {
        let rows = chain(5, "x");
        assert_eq!(walk(&rows).unwrap().0.rows, 5);
        let mut edited = rows.clone();
        edited[2].detail = "y".into();
        let mut removed = rows.clone();
        removed.remove(1);
        let mut moved = rows.clone();
        moved.swap(1, 3);
        moved[1].id = 2;
        moved[3].id = 4;
        for (case, rows, row, says) in [
            ("edited", edited, 3, "edited"),
            ("removed", removed, 3, "removed"),
            ("moved", moved, 2, "does not point"),
        ] {
            let b = walk(&rows).unwrap_err();
            assert_eq!(
                (b.row, b.why.contains(says)),
                (row, true),
                "{case}: {}",
                b.why
            );
        }
    }
}
