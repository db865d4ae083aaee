//! The audit log as a hash chain (the row hash and the walk are defined once, in
//! `venue_wire::audit`, for the edge box and HQ): every row carries the hash of the row
//! before it and its own, over its id, time, actor, channel, action, subject and detail.
//! Editing, removing or reordering a row breaks the chain at that row, and [`verify`]
//! names the first one; cutting the end off is caught by HQ, which keeps the head every
//! upload carries ([`anchor`]). Rows are appended only inside store jobs (one writer), so
//! the chain has one head.

use std::io::Write;

use rusqlite::{Connection, OptionalExtension, params};
use venue_wire::audit::row_hash;
pub use venue_wire::audit::{AuditRow, Broken, GENESIS, Head, Walk, Whole};

use crate::actor::Actor;

const COLUMNS: &str = "id, at, actor, via, action, subject, detail, prev_hash, hash";

/// The chain's last hash (the genesis value for an empty log).
pub fn head(conn: &Connection) -> rusqlite::Result<String> {
    Ok(anchor(conn)?.hash)
}

/// The chain's last row and hash: what an upload to HQ carries.
pub fn anchor(conn: &Connection) -> rusqlite::Result<Head> {
    Ok(conn
        .prepare_cached(
            "SELECT id, hash FROM audit WHERE hash IS NOT NULL ORDER BY id DESC LIMIT 1",
        )?
        .query_row([], |r| {
            Ok(Head {
                row: r.get(0)?,
                hash: r.get(1)?,
            })
        })
        .optional()?
        .unwrap_or_else(Head::empty))
}

/// Appends a row. Call inside the store job that makes the change it records.
pub fn append(
    conn: &Connection,
    at: &str,
    actor: &Actor,
    action: &str,
    subject: &str,
    detail: &str,
) -> rusqlite::Result<()> {
    let prev = head(conn)?;
    conn.prepare_cached(
        "INSERT INTO audit (at, actor, via, action, subject, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![at, actor.user, actor.via, action, subject, detail])?;
    let row = AuditRow {
        id: conn.last_insert_rowid(),
        at: at.to_owned(),
        actor: actor.user.clone(),
        via: actor.via.clone(),
        action: action.to_owned(),
        subject: subject.to_owned(),
        detail: detail.to_owned(),
        prev_hash: None,
        hash: None,
    };
    let hash = row_hash(&prev, &row);
    conn.prepare_cached("UPDATE audit SET prev_hash = ?2, hash = ?3 WHERE id = ?1")?
        .execute(params![row.id, prev, hash])?;
    Ok(())
}

/// Chains the rows written before the chain existed (once, at start after the migration).
pub fn chain_unchained(conn: &Connection) -> rusqlite::Result<usize> {
    let mut prev = head(conn)?;
    let rows: Vec<AuditRow> = conn
        .prepare(&format!(
            "SELECT {COLUMNS} FROM audit WHERE hash IS NULL ORDER BY id"
        ))?
        .query_map([], read_row)?
        .collect::<Result<_, _>>()?;
    for r in &rows {
        let hash = row_hash(&prev, r);
        conn.execute(
            "UPDATE audit SET prev_hash = ?2, hash = ?3 WHERE id = ?1",
            params![r.id, prev, hash],
        )?;
        prev = hash;
    }
    Ok(rows.len())
}

fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditRow> {
    Ok(AuditRow {
        id: r.get(0)?,
        at: r.get(1)?,
        actor: r.get(2)?,
        via: r.get(3)?,
        action: r.get(4)?,
        subject: r.get(5)?,
        detail: r.get(6)?,
        prev_hash: r.get(7)?,
        hash: r.get(8)?,
    })
}

/// Walks the whole log from the first row.
pub fn verify(conn: &Connection) -> rusqlite::Result<Result<Whole, Broken>> {
    let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM audit ORDER BY id"))?;
    let mut rows = stmt.query([])?;
    let mut walk = Walk::default();
    while let Some(r) = rows.next()? {
        if let Err(broken) = walk.step(&read_row(r)?) {
            return Ok(Err(broken));
        }
    }
    Ok(Ok(walk.end()))
}

/// Writes the whole log, oldest row first, one JSON object a line (`venue-hq audit check
/// --chain` reads it). Returns how many rows.
pub fn export(conn: &Connection, out: &mut dyn Write) -> std::io::Result<u64> {
    let sql = std::io::Error::other;
    let mut stmt = conn
        .prepare(&format!("SELECT {COLUMNS} FROM audit ORDER BY id"))
        .map_err(sql)?;
    let mut rows = stmt.query([]).map_err(sql)?;
    let mut n = 0u64;
    while let Some(r) = rows.next().map_err(sql)? {
        serde_json::to_writer(&mut *out, &read_row(r).map_err(sql)?)?;
        out.write_all(b"\n")?;
        n += 1;
    }
    out.flush()?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(n: usize) -> Connection {
        let conn = venue_store::migrated_in_memory();
        for i in 0..n {
            append(
                &conn,
                "2026-12-07T09:00:00+08:00",
                &Actor::user("li.na", "tok_1"),
                "order.create",
                &format!("ord-{i}"),
                "total_fen=100",
            )
            .unwrap();
        }
        conn
    }

    #[test]
    fn a_whole_chain_verifies_and_any_edit_removal_or_reordering_is_named() {
        let conn = log(5);
        let whole = verify(&conn).unwrap().unwrap();
        assert_eq!(whole.rows, 5);
        assert_eq!(whole.head.hash, head(&conn).unwrap());
        assert_eq!(anchor(&conn).unwrap().row, 5);
        // (tampering, first bad row, what is said)
        let cases: [(&str, i64, &str); 5] = [
            (
                "UPDATE audit SET detail = 'total_fen=1' WHERE id = 3",
                3,
                "edited",
            ),
            (
                "UPDATE audit SET actor = 'wang.fang' WHERE id = 2",
                2,
                "edited",
            ),
            ("DELETE FROM audit WHERE id = 2", 3, "removed"),
            ("DELETE FROM audit WHERE id = 5", 0, ""),
            (
                "UPDATE audit SET id = 99 WHERE id = 2; UPDATE audit SET id = 2 WHERE id = 4; UPDATE audit SET id = 4 WHERE id = 99",
                2,
                "does not point",
            ),
        ];
        for (sql, row, says) in cases {
            let conn = log(5);
            conn.execute_batch(sql).unwrap();
            match verify(&conn).unwrap() {
                Ok(whole) if row == 0 => {
                    // Cutting the end leaves a whole, shorter chain: only HQ's copy of the
                    // head can tell (the upload carries it).
                    assert_eq!(whole.rows, 4, "{sql}");
                }
                Ok(whole) => panic!("{sql}: not caught ({whole:?})"),
                Err(b) => {
                    assert_eq!(b.row, row, "{sql}: {}", b.why);
                    assert!(b.why.contains(says), "{sql}: {}", b.why);
                }
            }
        }
    }

    #[test]
    fn rows_from_before_the_chain_are_chained_once() {
        let conn = venue_store::migrated_in_memory();
        conn.execute_batch(
            "INSERT INTO audit (at, actor, action, subject, detail) VALUES ('t1', 'ticketing', 'order.create', 'o-1', '');
             INSERT INTO audit (at, actor, action, subject, detail) VALUES ('t2', 'ticketing', 'order.create', 'o-2', '');",
        )
        .unwrap();
        assert!(
            verify(&conn).unwrap().is_err(),
            "unchained rows are not whole"
        );
        assert_eq!(chain_unchained(&conn).unwrap(), 2);
        assert_eq!(chain_unchained(&conn).unwrap(), 0);
        append(
            &conn,
            "t3",
            &Actor::system("bank"),
            "payout.succeeded",
            "b-1",
            "",
        )
        .unwrap();
        assert_eq!(verify(&conn).unwrap().unwrap().rows, 3);
    }
}
