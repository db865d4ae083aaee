//! The audit log as a hash chain: every row carries the hash of the row before it and its
//! own, over its id, time, actor, channel, action, subject and detail. Editing, removing or
//! reordering a row breaks the chain at that row, and [`verify`] names the first one.
//! Rows are appended only inside store jobs (one writer), so the chain has one head.

use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

use crate::actor::Actor;

/// The hash before the first row.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One row's content, as hashed.
struct Row {
    id: i64,
    at: String,
    actor: String,
    via: String,
    action: String,
    subject: String,
    detail: String,
}

fn row_hash(prev: &str, r: &Row) -> String {
    let mut h = Sha256::new();
    // Each field length-prefixed, so no two rows hash alike by moving text between fields.
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

/// The chain's last hash (the genesis value for an empty log).
pub fn head(conn: &Connection) -> rusqlite::Result<String> {
    Ok(conn
        .prepare_cached("SELECT hash FROM audit WHERE hash IS NOT NULL ORDER BY id DESC LIMIT 1")?
        .query_row([], |r| r.get::<_, String>(0))
        .optional()?
        .unwrap_or_else(|| GENESIS.to_owned()))
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
    let row = Row {
        id: conn.last_insert_rowid(),
        at: at.to_owned(),
        actor: actor.user.clone(),
        via: actor.via.clone(),
        action: action.to_owned(),
        subject: subject.to_owned(),
        detail: detail.to_owned(),
    };
    let hash = row_hash(&prev, &row);
    conn.prepare_cached("UPDATE audit SET prev_hash = ?2, hash = ?3 WHERE id = ?1")?
        .execute(params![row.id, prev, hash])?;
    Ok(())
}

/// Chains the rows written before the chain existed (once, at start after the migration).
pub fn chain_unchained(conn: &Connection) -> rusqlite::Result<usize> {
    let mut prev = head(conn)?;
    let rows: Vec<Row> = conn
        .prepare("SELECT id, at, actor, via, action, subject, detail FROM audit WHERE hash IS NULL ORDER BY id")?
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

fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok(Row {
        id: r.get(0)?,
        at: r.get(1)?,
        actor: r.get(2)?,
        via: r.get(3)?,
        action: r.get(4)?,
        subject: r.get(5)?,
        detail: r.get(6)?,
    })
}

/// A whole chain: how many rows, and the last hash.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Whole {
    pub rows: u64,
    pub head: String,
}

/// Where a chain breaks: the first row that was edited, removed before, or moved.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Broken {
    pub row: i64,
    pub why: String,
}

/// Walks the whole log from the first row.
pub fn verify(conn: &Connection) -> rusqlite::Result<Result<Whole, Broken>> {
    let mut stmt = conn.prepare(
        "SELECT id, at, actor, via, action, subject, detail, prev_hash, hash FROM audit ORDER BY id",
    )?;
    let mut rows = stmt.query([])?;
    let (mut prev, mut n, mut last_id) = (GENESIS.to_owned(), 0u64, 0i64);
    while let Some(r) = rows.next()? {
        let row = read_row(r)?;
        let (stored_prev, stored): (Option<String>, Option<String>) = (r.get(7)?, r.get(8)?);
        let broken = |why: String| Ok(Err(Broken { row: row.id, why }));
        if row.id != last_id + 1 {
            return broken(format!(
                "row {} follows row {last_id}: rows between them were removed",
                row.id
            ));
        }
        if stored_prev.as_deref() != Some(prev.as_str()) {
            return broken(format!(
                "row {} does not point at the row before it (removed, reordered or rewritten)",
                row.id
            ));
        }
        let computed = row_hash(&prev, &row);
        if stored.as_deref() != Some(computed.as_str()) {
            return broken(format!("row {} was edited after it was written", row.id));
        }
        prev = computed;
        last_id = row.id;
        n += 1;
    }
    Ok(Ok(Whole {
        rows: n,
        head: prev,
    }))
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
        assert_eq!(whole.head, head(&conn).unwrap());
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
