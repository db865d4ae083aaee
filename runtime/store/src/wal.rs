//! The write-ahead log's upkeep: a checkpointer thread copies it into the database, and
//! the writer restarts it from the top when it grows too long, so that its file stays
//! bounded under any load (docs/deployment.md, "Disk").
//!
//! Two things keep that upkeep out of a scan's way (ARCHITECTURE.md, "WAL upkeep stays off
//! the scan path"; BENCHMARKS.md has the measurements):
//! - the checkpointer runs at the lowest CPU priority ([`super::priority::lower_background`]):
//!   its copying otherwise took one of the box's two cores from the scan path for ~12 ms
//!   every [`CHECKPOINT_INTERVAL`];
//! - it reads the log ahead of the writer into the page cache ([`warm_ahead`]). A frame
//!   (24 bytes of header and a page) never fills whole file blocks, so when the writer
//!   overwrites the log after a restart, the kernel must first read each block it only
//!   partly rewrites; where the block is no longer cached (memory reclaim judged it cold)
//!   the commit waited for the disk, ~46 times a second at 1,000 scans/s.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::thread;

use rusqlite::Connection;

/// WAL frames (pages) past which the writer restarts the log from the top (about 64 MiB of
/// 4 KiB pages). A checkpoint that runs beside a busy writer never catches up on its own:
/// new frames arrive while it copies, so the log would only ever grow. A restart holds the
/// writer for two fsyncs, so it is kept rare: at the gate benchmark's 1,000 scans/s (about
/// 23 MiB of log a second) one every three seconds or so. Four times as often was worse;
/// two and four times as rare (with [`SIZE_LIMIT_BYTES`] raised to match) were not
/// measurably better (BENCHMARKS.md, the sweep of this value).
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
/// Bytes the WAL file is cut back to when the log restarts after a burst. Above the log's
/// length at a usual restart ([`WAL_RESTART_FRAMES`]): a file cut back at every restart and
/// grown again in every cycle took the gate's p99.9 from ~3.5 ms to ~21 ms.
pub(super) const SIZE_LIMIT_BYTES: i64 = 128 * 1024 * 1024;
/// How long the writer waits for readers on an old snapshot before giving a restart up
/// (it tries again after the next checkpoint).
const RESTART_WAIT: std::time::Duration = std::time::Duration::from_millis(20);

/// How often the checkpointer copies the write-ahead log into the database.
pub const CHECKPOINT_INTERVAL: std::time::Duration = std::time::Duration::from_millis(500);

/// How often the checkpointer reads ahead of the writer ([`warm_ahead`]); a divisor of
/// [`CHECKPOINT_INTERVAL`].
pub const WARM_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);

/// How far ahead of the writer the log is brought into the page cache: more than the writer
/// covers in a [`WARM_INTERVAL`] plus a checkpoint round at the sales benchmark's rate
/// (~160 MB of log a second).
pub const WARM_AHEAD_BYTES: u64 = 32 * 1024 * 1024;

/// The WAL file's header, before its first frame.
const WAL_HEADER_BYTES: u64 = 32;
/// Each frame's header, before its page.
const FRAME_HEADER_BYTES: u64 = 24;

/// The bytes of a log of `frames` frames of `page_size` bytes: where its writer writes next.
fn log_bytes(frames: i64, page_size: u64) -> u64 {
    WAL_HEADER_BYTES + frames.max(0) as u64 * (FRAME_HEADER_BYTES + page_size)
}

/// Where in the WAL file the writer writes next, and how many bytes from there to bring
/// into the page cache: the log holds `frames` frames of `page_size` bytes.
pub(super) fn warm_range(frames: i64, page_size: u64) -> (u64, u64) {
    (log_bytes(frames, page_size), WARM_AHEAD_BYTES)
}

/// Asks the kernel to read the part of the log the writer reaches next into the page
/// cache (what is cached already costs nothing; past the file's end there is nothing to
/// read, and the writer's appends there need no read either).
fn warm_ahead(wal: &std::fs::File, frames: i64, page_size: u64) {
    let (at, len) = warm_range(frames, page_size);
    advise_willneed(wal, at, len);
}

#[cfg(target_os = "linux")]
fn advise_willneed(file: &std::fs::File, at: u64, len: u64) {
    use std::os::fd::AsRawFd;
    let (Ok(at), Ok(len)) = (libc::off_t::try_from(at), libc::off_t::try_from(len)) else {
        return;
    };
    // SAFETY: posix_fadvise only reads its integer arguments; the descriptor is open for
    // as long as `file` is borrowed. It is a hint: a failure changes nothing.
    let _ = unsafe { libc::posix_fadvise(file.as_raw_fd(), at, len, libc::POSIX_FADV_WILLNEED) };
}

#[cfg(not(target_os = "linux"))]
fn advise_willneed(_file: &std::fs::File, _at: u64, _len: u64) {}

/// Copies committed WAL frames into the database every [`CHECKPOINT_INTERVAL`]. PASSIVE:
/// it never waits for, nor blocks, the writer. The log restarts from the top only when a
/// write begins after a checkpoint has copied every frame, which a steady stream of
/// commits never allows; so when more than [`WAL_RESTART_FRAMES`] remain after a
/// checkpoint, it asks the writer (through `restart`) to finish the job between two group
/// commits, where only the frames written meanwhile are left to copy. Between two
/// checkpoints it reads the log ahead of the writer every [`WARM_INTERVAL`]; `position`
/// is the writer's log length in frames after its last commit.
pub(super) fn start_checkpointer(
    path: &Path,
    writer_alive: Weak<()>,
    restart: Arc<AtomicBool>,
    position: Arc<AtomicI64>,
) {
    let path = path.to_owned();
    let spawned = thread::Builder::new().name("venue-checkpoint".into()).spawn(move || {
        super::priority::lower_background();
        let conn = match Connection::open(&path) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "store: cannot open the checkpoint connection; the WAL will grow");
                return;
            }
        };
        let _ = conn.busy_timeout(std::time::Duration::from_millis(100));
        let page_size = conn
            .query_row("PRAGMA page_size", [], |r| r.get::<_, u64>(0))
            .unwrap_or(4096);
        let mut wal_path = path.clone().into_os_string();
        wal_path.push("-wal");
        let mut wal: Option<std::fs::File> = None;
        let warm_rounds = (CHECKPOINT_INTERVAL.as_millis() / WARM_INTERVAL.as_millis()).max(1);
        // Runs as long as the writer thread does; a last checkpoint after it stopped.
        loop {
            for _ in 0..warm_rounds {
                thread::sleep(WARM_INTERVAL);
                if wal.is_none() {
                    // The file appears with the writer's first commit.
                    wal = std::fs::File::open(&wal_path).ok();
                }
                if let Some(file) = &wal {
                    warm_ahead(file, position.load(Ordering::Relaxed), page_size);
                }
            }
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
    /// The log's length in frames after the last commit, for the checkpointer.
    position: Arc<AtomicI64>,
}

impl Restarts {
    pub(super) fn new(position: Arc<AtomicI64>) -> Restarts {
        Restarts {
            force_at: WAL_FRAMES_MAX,
            position,
        }
    }

    pub(super) fn after_commit(&mut self, conn: &Connection, asked: &AtomicBool) {
        let frames = WAL_FRAMES.with(|f| f.get());
        self.position.store(frames, Ordering::Relaxed);
        let over = frames > self.force_at;
        if asked.swap(false, Ordering::Relaxed) || over {
            let restarted = restart_wal(conn, over);
            if restarted {
                // The hook counts again from the next commit that writes frames.
                WAL_FRAMES.with(|f| f.set(0));
                self.position.store(0, Ordering::Relaxed);
            }
            self.force_at = next_forced_restart(self.force_at, frames, over, restarted);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Store, StoreError};

    #[test]
    fn the_warmed_range_starts_where_the_writer_writes_its_next_frame() {
        assert_eq!(warm_range(0, 4096), (32, WARM_AHEAD_BYTES));
        assert_eq!(warm_range(3, 4096), (32 + 3 * 4120, WARM_AHEAD_BYTES));
        assert_eq!(warm_range(-1, 4096).0, 32);
    }

    #[test]
    fn the_log_at_a_usual_restart_fits_the_size_it_is_cut_back_to() {
        let length = log_bytes(WAL_RESTART_FRAMES, 4096);
        assert!(length < SIZE_LIMIT_BYTES as u64, "{length}");
    }

    /// The checkpointer reads ahead from the position the writer publishes: that must be
    /// the log's real length after each commit, and its top again after a restart.
    #[test]
    fn the_writer_publishes_the_log_length_after_each_commit_and_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join("t.sqlite3")).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        conn.wal_hook(Some(count_frames));
        let position = Arc::new(AtomicI64::new(-1));
        let mut restarts = Restarts::new(position.clone());
        let asked = AtomicBool::new(false);
        conn.execute_batch("CREATE TABLE t (b BLOB)").unwrap();
        restarts.after_commit(&conn, &asked);
        for _ in 0..3 {
            conn.execute("INSERT INTO t VALUES (zeroblob(10000))", [])
                .unwrap();
            restarts.after_commit(&conn, &asked);
            let in_log: i64 = conn
                .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))
                .unwrap();
            assert_eq!(position.load(Ordering::Relaxed), in_log);
        }
        assert!(position.load(Ordering::Relaxed) > 3);
        asked.store(true, Ordering::Relaxed);
        restarts.after_commit(&conn, &asked);
        assert_eq!(position.load(Ordering::Relaxed), 0);
    }

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
