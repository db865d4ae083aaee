//! The write-ahead log's upkeep: a checkpointer thread copies it into the database, and
//! the writer restarts it from the top when it grows too long, so that its file stays
//! bounded under any load (docs/deployment.md, "Disk").

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::thread;

use rusqlite::Connection;

/// WAL frames (pages) past which the writer restarts the log from the top (about 64 MiB of
/// 4 KiB pages). A checkpoint that runs beside a busy writer never catches up on its own:
/// new frames arrive while it copies, so the log would only ever grow. A restart holds the
/// writer for two fsyncs, so it is kept rare: at the gate benchmark's 1,000 scans/s (about
/// 30 MiB of log a second) one every two seconds or so.
pub const WAL_RESTART_FRAMES: i64 = 16_384;
/// WAL frames past which the writer restarts the log itself after its next commit, without
/// waiting for the checkpointer (about 128 MiB). The checkpointer looks every
/// [`CHECKPOINT_INTERVAL`]; a burst of writes faster than that would otherwise grow the log
/// by the interval times the write rate (`the_wal_stays_bounded_under_a_writer_that_never_pauses`
/// saw 470 MiB at 330 MB/s). Here the writer pays for the copy itself, which holds the
/// burst back.
pub const WAL_FRAMES_MAX: i64 = 2 * WAL_RESTART_FRAMES;
/// How long the writer keeps asking for a restart once the log passed [`WAL_FRAMES_MAX`].
const RESTART_PATIENCE: std::time::Duration = std::time::Duration::from_secs(1);
/// Bytes the WAL file is cut back to when the log restarts after a burst.
pub(super) const SIZE_LIMIT_BYTES: i64 = 128 * 1024 * 1024;
/// How long the writer waits for readers on an old snapshot before giving a restart up
/// (it tries again after the next checkpoint).
const RESTART_WAIT: std::time::Duration = std::time::Duration::from_millis(20);

/// How often the checkpointer copies the write-ahead log into the database.
pub const CHECKPOINT_INTERVAL: std::time::Duration = std::time::Duration::from_millis(500);

/// Copies committed WAL frames into the database every [`CHECKPOINT_INTERVAL`]. PASSIVE:
/// it never waits for, nor blocks, the writer. The log restarts from the top only when a
/// write begins after a checkpoint has copied every frame, which a steady stream of
/// commits never allows; so when more than [`WAL_RESTART_FRAMES`] remain after a
/// checkpoint, it asks the writer (through `restart`) to finish the job between two group
/// commits, where only the frames written meanwhile are left to copy.
pub(super) fn start_checkpointer(path: &Path, writer_alive: Weak<()>, restart: Arc<AtomicBool>) {
    let path = path.to_owned();
    let spawned = thread::Builder::new().name("venue-checkpoint".into()).spawn(move || {
        let conn = match Connection::open(&path) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "store: cannot open the checkpoint connection; the WAL will grow");
                return;
            }
        };
        let _ = conn.busy_timeout(std::time::Duration::from_millis(100));
        // Runs as long as the writer thread does; a last checkpoint after it stopped.
        loop {
            thread::sleep(CHECKPOINT_INTERVAL);
            let stopping = writer_alive.upgrade().is_none();
            // (busy, frames in the log, frames copied)
            let passive = || conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1));
            match passive() {
                Ok(frames) if frames > WAL_RESTART_FRAMES => {
                    // Copy what arrived during that checkpoint too, so that the writer is
                    // left only the frames of the last moments: its pause stays short.
                    let _ = passive();
                    restart.store(true, Ordering::Relaxed);
                }
                Ok(_) => {}
                Err(e) => tracing::debug!(error = %e, "store: checkpoint skipped"),
            }
            if stopping {
                return;
            }
        }
    });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "store: cannot start the checkpointer");
    }
}

thread_local! {
    /// Frames in the WAL after this thread's last commit (each store's writer is a thread
    /// of its own, so this is that store's log).
    static WAL_FRAMES: std::cell::Cell<i64> = const { std::cell::Cell::new(0) };
}

/// Pages the writers appended to their logs since start, for `/metrics` (per job: how many
/// pages a write costs the disk). A restart of the log that SQLite makes by itself between
/// two commits can leave one commit's count short.
pub static FRAMES_WRITTEN: AtomicU64 = AtomicU64::new(0);

/// SQLite's WAL hook: runs on the committing thread after each commit.
pub(super) fn count_frames(
    _: &rusqlite::hooks::Wal,
    frames: std::ffi::c_int,
) -> rusqlite::Result<()> {
    let frames = i64::from(frames);
    let before = WAL_FRAMES.with(|f| f.replace(frames));
    // A log that restarted from its top holds only this commit's frames.
    let written = if frames > before {
        frames - before
    } else {
        frames
    };
    FRAMES_WRITTEN.fetch_add(written.max(0) as u64, Ordering::Relaxed);
    Ok(())
}

/// The log's size (in frames) past which the writer next forces a restart, after one was
/// tried at `frames` (`forced`: past the bound `at`) and did or did not happen. A reader on
/// an old snapshot (a long export, a backup) can hold a restart off for longer than the
/// writer waits; then the writer waits again only once the log has grown by another
/// restart's worth, not after every commit, nor after the checkpointer's next request.
fn next_forced_restart(at: i64, frames: i64, forced: bool, restarted: bool) -> i64 {
    if restarted {
        WAL_FRAMES_MAX
    } else if forced {
        frames + WAL_RESTART_FRAMES
    } else {
        at
    }
}

/// Copies what the last checkpoint left and starts the log again from the top, waiting
/// [`RESTART_WAIT`] at most for readers still on an older snapshot (and, when `must`,
/// asking again for up to [`RESTART_PATIENCE`]). True if the log restarted.
fn restart_wal(conn: &Connection, must: bool) -> bool {
    let _ = conn.busy_timeout(RESTART_WAIT);
    let started = std::time::Instant::now();
    let restarted = loop {
        match conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| r.get::<_, i64>(0)) {
            Ok(0) => break true,
            // Busy: a reader on an old snapshot, or the checkpointer in the middle of its
            // round (which never waits for a lock, so ask again shortly).
            Ok(_) if must && started.elapsed() < RESTART_PATIENCE => {
                thread::sleep(std::time::Duration::from_millis(1));
            }
            Ok(_) => {
                tracing::debug!(
                    "store: WAL restart postponed (a reader or the checkpointer is busy)"
                );
                break false;
            }
            Err(e) => {
                tracing::warn!(error = %e, "store: WAL restart failed");
                break false;
            }
        }
    };
    let _ = conn.busy_timeout(std::time::Duration::from_millis(super::BUSY_TIMEOUT_MS));
    restarted
}

/// The writer's side of the log's bound: after each group commit, restart the log if the
/// checkpointer asked for it or if it grew past the bound (which a reader holding a restart
/// off raises for a while).
pub(super) struct Restarts {
    force_at: i64,
}

impl Default for Restarts {
    fn default() -> Restarts {
        Restarts {
            force_at: WAL_FRAMES_MAX,
        }
    }
}

impl Restarts {
    pub(super) fn after_commit(&mut self, conn: &Connection, asked: &AtomicBool) {
        let frames = WAL_FRAMES.with(|f| f.get());
        let over = frames > self.force_at;
        if asked.swap(false, Ordering::Relaxed) || over {
            let restarted = restart_wal(conn, over);
            if restarted {
                // The hook counts again from the next commit that writes frames.
                WAL_FRAMES.with(|f| f.set(0));
            }
            self.force_at = next_forced_restart(self.force_at, frames, over, restarted);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Store, StoreError};

    /// Under a writer that never pauses, a passive checkpoint never catches up; the log
    /// must still restart from the top instead of growing for as long as the load lasts.
    #[test]
    fn the_wal_stays_bounded_under_a_writer_that_never_pauses() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sqlite3");
        let store = Store::open(&path).unwrap();
        store
            .write_blocking(|c| -> Result<(), StoreError> {
                Ok(c.execute_batch("CREATE TABLE t (n INTEGER PRIMARY KEY, b BLOB)")?)
            })
            .unwrap();
        let blob = vec![7u8; 64 * 1024];
        let wal = dir.path().join("t.sqlite3-wal");
        let started = std::time::Instant::now();
        let (mut written, mut wal_max) = (0u64, 0u64);
        // At least 768 MiB through the log and several checkpoint intervals.
        while written < 768 << 20 || started.elapsed() < CHECKPOINT_INTERVAL * 6 {
            let b = blob.clone();
            store
                .write_blocking(move |c| -> Result<(), StoreError> {
                    c.execute("INSERT INTO t (b) VALUES (?1)", [b])?;
                    // Keep the table small: the log, not the database, is under test.
                    c.execute("DELETE FROM t WHERE n < (SELECT MAX(n) FROM t) - 16", [])?;
                    Ok(())
                })
                .unwrap();
            written += blob.len() as u64;
            wal_max = wal_max.max(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
        }
        assert!(
            wal_max < 256 << 20,
            "{} MiB written, the WAL grew to {} MiB",
            written >> 20,
            wal_max >> 20
        );
    }

    #[test]
    fn a_forced_restart_that_a_reader_holds_off_is_not_forced_again_until_the_log_grows() {
        let past = WAL_FRAMES_MAX + 10;
        let raised = past + WAL_RESTART_FRAMES;
        assert_eq!(
            next_forced_restart(WAL_FRAMES_MAX, past, true, false),
            raised
        );
        // The checkpointer's next request, held off by the same reader, keeps it raised.
        assert_eq!(next_forced_restart(raised, past + 5, false, false), raised);
        // Any restart that happens brings the bound back.
        assert_eq!(
            next_forced_restart(raised, past, false, true),
            WAL_FRAMES_MAX
        );
        assert_eq!(
            next_forced_restart(raised, raised + 1, true, true),
            WAL_FRAMES_MAX
        );
    }
}
