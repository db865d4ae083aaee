//! `venue-edge keys rotate`'s work: a new key in the ring, every stored number re-sealed
//! and re-indexed under it in batches, the old keys retired, and a last sweep for a number
//! sealed with an old key just before the box read the new one.

use std::path::Path;
use std::sync::RwLock;

use super::{IdVault, Key, Source, TAGGED, VaultError, open_with, read_ring, seal, write_ring};

/// How far a rotation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotated {
    pub new_key: u16,
    pub resealed: u64,
    pub retired: usize,
}

/// Rotates the ring in `path`: adds a key (which seals from now on, for the running box
/// too: it reads the file again when it changes), then, batch by batch, re-seals and
/// re-indexes every stored number under it, in one transaction per batch, calling
/// `progress(done, left)` after each; once no number is under an older key, retires the
/// older keys from the file. Safe while the box runs; run it again to finish a rotation
/// that was stopped (the new key is then kept, not added twice).
pub fn rotate(
    path: &Path,
    conn: &mut rusqlite::Connection,
    batch: usize,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Rotated, VaultError> {
    let mut ring = read_ring(path, false)?;
    let vault = IdVault {
        ring: RwLock::new(read_ring(path, false)?),
        source: Source::File(path.to_owned()),
    };
    // A rotation that was stopped before it retired anything: finish with its key.
    let unfinished = ring.keys.len() > 1;
    let new_key = if unfinished {
        ring.current().id
    } else {
        let id = ring
            .current()
            .id
            .checked_add(1)
            .ok_or_else(|| VaultError::Rotate("the key ids are used up".into()))?;
        ring.keys.push(Key::random(id));
        write_ring(path, &ring)?;
        id
    };
    vault.refresh(true);
    let mut resealed = reseal(conn, &vault, new_key, batch, progress)?;
    let mut ring = read_ring(path, false)?;
    let retired = ring.keys.len() - 1;
    ring.keys.retain(|k| k.id == new_key);
    if ring.keys.is_empty() {
        return Err(VaultError::Rotate(format!(
            "key {new_key} vanished from the file"
        )));
    }
    write_ring(path, &ring)?;
    // A number the box sealed with an old key in the instant before it read the new one,
    // and stored after the last batch: re-sealed now, with the old key this rotation still
    // holds in memory.
    resealed += reseal(conn, &vault, new_key, batch, progress)?;
    Ok(Rotated {
        new_key,
        resealed,
        retired,
    })
}

/// Re-seals and re-indexes, batch by batch, every stored number not under `new_key`;
/// returns how many.
fn reseal(
    conn: &mut rusqlite::Connection,
    vault: &IdVault,
    new_key: u16,
    batch: usize,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<u64, VaultError> {
    let store = |e: rusqlite::Error| VaultError::Rotate(format!("the store: {e}"));
    let prefix = [TAGGED, (new_key >> 8) as u8, new_key as u8];
    let left_sql = "SELECT COUNT(*) FROM tickets WHERE id_cipher IS NOT NULL AND substr(id_cipher, 1, 3) != ?1";
    let mut resealed = 0u64;
    loop {
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(store)?;
        let rows: Vec<(String, Vec<u8>)> = tx
            .prepare(
                "SELECT ticket_id, id_cipher FROM tickets WHERE id_cipher IS NOT NULL AND substr(id_cipher, 1, 3) != ?1 LIMIT ?2",
            )
            .and_then(|mut st| {
                st.query_map(rusqlite::params![&prefix[..], batch as i64], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?
                .collect()
            })
            .map_err(store)?;
        if rows.is_empty() {
            return Ok(resealed);
        }
        {
            let ring = vault.ring.read().map_err(|_| VaultError::Encrypt)?;
            let key = ring.get(new_key).ok_or_else(|| {
                VaultError::Rotate(format!("key {new_key} vanished from the file"))
            })?;
            let mut update = tx
                .prepare("UPDATE tickets SET id_cipher = ?2, id_index = ?3 WHERE ticket_id = ?1")
                .map_err(store)?;
            for (ticket, sealed) in &rows {
                let number = open_with(&ring, sealed).ok_or_else(|| {
                    VaultError::Rotate(format!(
                        "ticket {ticket}'s ID number opens with no key in the file; nothing more was changed"
                    ))
                })?;
                update
                    .execute(rusqlite::params![
                        ticket,
                        seal(key, &number)?,
                        key.digest(&number)
                    ])
                    .map_err(store)?;
            }
        }
        tx.commit().map_err(store)?;
        resealed += rows.len() as u64;
        let left: i64 = conn
            .query_row(left_sql, [&prefix[..]], |r| r.get(0))
            .map_err(store)?;
        progress(resealed, left as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::super::*;
    use super::*;

    fn tickets(vault: &IdVault, numbers: &[&str]) -> rusqlite::Connection {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE tickets (ticket_id TEXT PRIMARY KEY, id_cipher BLOB, id_index TEXT)",
        )
        .unwrap();
        for (i, n) in numbers.iter().enumerate() {
            conn.execute(
                "INSERT INTO tickets VALUES (?1, ?2, ?3)",
                rusqlite::params![format!("t-{i}"), vault.encrypt(n).unwrap(), vault.index(n)],
            )
            .unwrap();
        }
        conn.execute("INSERT INTO tickets VALUES ('t-anon', NULL, NULL)", [])
            .unwrap();
        conn
    }

    fn stored(conn: &rusqlite::Connection) -> Vec<(Vec<u8>, String)> {
        conn.prepare("SELECT id_cipher, id_index FROM tickets WHERE id_cipher IS NOT NULL ORDER BY ticket_id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn a_rotation_reseals_every_number_and_the_running_box_still_matches_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("id.key");
        let running = IdVault::open(&path).unwrap();
        let numbers = [
            "110101199000000000",
            "110101199000000001",
            "11010119900000000X",
            "E1234567",
            "G7654321",
        ];
        let mut conn = tickets(&running, &numbers);
        let mut seen = Vec::new();
        let r = rotate(&path, &mut conn, 2, &mut |done, left| {
            seen.push((done, left))
        })
        .unwrap();
        assert_eq!(
            r,
            Rotated {
                new_key: 2,
                resealed: 5,
                retired: 1
            }
        );
        assert_eq!(
            seen,
            vec![(2, 3), (4, 1), (5, 0)],
            "progress after each batch"
        );
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text.lines().filter(|l| !l.starts_with('#')).count(),
            1,
            "{text}"
        );
        assert!(text.lines().any(|l| l.starts_with("2 ")), "{text}");
        for ((sealed, index), number) in stored(&conn).iter().zip(numbers) {
            assert!(sealed.starts_with(&[TAGGED, 0, 2]), "resealed under key 2");
            assert!(index.starts_with("k2:"), "{index}");
            // The box that started with key 1 alone: reads the file again, opens, matches.
            assert_eq!(
                running.decrypt(sealed).as_deref(),
                Some(normalise(number).as_str())
            );
            assert!(running.matches(number, index));
            assert!(!running.matches("110101199000000009", index));
        }
        assert_eq!(
            running.current_key(),
            2,
            "new numbers are sealed with key 2"
        );
        // Again: key 3, key 2 retired.
        let r = rotate(&path, &mut conn, 100, &mut |_, _| {}).unwrap();
        assert_eq!(
            r,
            Rotated {
                new_key: 3,
                resealed: 5,
                retired: 1
            }
        );
        assert!(
            stored(&conn)
                .iter()
                .all(|(s, i)| s.starts_with(&[TAGGED, 0, 3]) && i.starts_with("k3:"))
        );
        assert!(running.matches(numbers[0], &stored(&conn)[0].1));
    }

    #[test]
    fn a_rotation_stopped_half_way_finishes_with_the_key_it_added() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("id.key");
        let running = IdVault::open(&path).unwrap();
        let mut conn = tickets(&running, &["110101199000000000", "110101199000000001"]);
        // As if stopped after adding key 2: both keys in the file, nothing re-sealed.
        let mut ring = read_ring(&path, false).unwrap();
        ring.keys.push(Key::random(2));
        write_ring(&path, &ring).unwrap();
        let r = rotate(&path, &mut conn, 10, &mut |_, _| {}).unwrap();
        assert_eq!(
            r,
            Rotated {
                new_key: 2,
                resealed: 2,
                retired: 1
            }
        );
    }

    #[test]
    fn a_number_sealed_with_the_old_key_after_the_last_batch_is_swept_up_from_memory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("id.key");
        let (one, two) = (Key::random(1), Key::random(2));
        let held = IdVault {
            ring: RwLock::new(Ring {
                keys: vec![Key::new(1, &one.bytes), Key::new(2, &two.bytes)],
                read_at: None,
            }),
            source: Source::File(path.clone()),
        };
        // The file already holds key 2 alone (retired); a row sealed with key 1 arrives.
        write_ring(
            &path,
            &Ring {
                keys: vec![two],
                read_at: None,
            },
        )
        .unwrap();
        let conn_vault = IdVault {
            ring: RwLock::new(Ring {
                keys: vec![one],
                read_at: None,
            }),
            source: Source::Memory,
        };
        let mut conn = tickets(&conn_vault, &["110101199000000007"]);
        assert_eq!(reseal(&mut conn, &held, 2, 10, &mut |_, _| {}).unwrap(), 1);
        let (sealed, index) = stored(&conn).remove(0);
        assert!(sealed.starts_with(&[TAGGED, 0, 2]) && index.starts_with("k2:"));
        let fresh = IdVault::open(&path).unwrap();
        assert_eq!(
            fresh.decrypt(&sealed).as_deref(),
            Some("110101199000000007")
        );
        assert!(fresh.matches("110101199000000007", &index));
    }
}
