//! `venue-hq audit check`: whether the audit chain heads an edge box's batches carried
//! belong to one growing chain, and, given the box's exported chain (`venue-edge audit
//! export`), whether that chain is whole and holds every head HQ was sent. The rules are
//! `venue_wire::audit`'s, shared with the edge box.

use std::collections::HashMap;
use std::io::BufRead;

use serde::Serialize;
use venue_wire::audit::{Anchor, AuditRow, Broken, Walk, check_anchors};

/// What a check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checked {
    /// Heads kept for the box.
    pub anchors: usize,
    /// The latest head's row (0 when none was kept).
    pub latest_row: i64,
    /// Rows in the exported chain, when one was given.
    pub chain_rows: Option<u64>,
}

/// Checks the kept heads, and the exported chain when given (one JSON row a line, oldest
/// first). A chain line that does not read is a break at that line.
pub fn check(anchors: &[Anchor], chain: Option<&mut dyn BufRead>) -> Result<Checked, Broken> {
    let mut hashes: Option<HashMap<i64, String>> = None;
    let mut chain_rows = None;
    if let Some(chain) = chain {
        let mut walk = Walk::default();
        let mut seen = HashMap::new();
        for (i, line) in chain.lines().enumerate() {
            let unreadable = |why: String| Broken {
                row: i as i64 + 1,
                why: format!("line {} of the chain: {why}", i + 1),
            };
            let line = line.map_err(|e| unreadable(e.to_string()))?;
            if line.trim().is_empty() {
                continue;
            }
            let row: AuditRow =
                serde_json::from_str(&line).map_err(|e| unreadable(e.to_string()))?;
            let hash = walk.step(&row)?.to_owned();
            seen.insert(row.id, hash);
        }
        chain_rows = Some(walk.end().rows);
        hashes = Some(seen);
    }
    check_anchors(anchors, hashes.as_ref())?;
    Ok(Checked {
        anchors: anchors.len(),
        latest_row: anchors.last().map_or(0, |a| a.head.row),
        chain_rows,
    })
}
