//! The CPU priority of the store's threads: the writer raised, the checkpointer lowered.
//!
//! Every device message waits for the writer thread's commit before it is answered, so the
//! writer is on the critical path of each scan and each sale. On a box with two cores it
//! competes with the async workers (and, with the embedded broker, with the broker's
//! sessions): each reply the writer sends wakes a worker, and the scheduler's wakeup
//! preemption then lets that worker run while the writer, with scans queued behind it,
//! waits for a slice. Measured on the gate benchmark (200 turnstiles, 1,000 scans/s): with
//! the writer at nice -10 the scans slower than 0.8 ms in a 20 s run fell from 280-350 to
//! about 180, and the embedded broker's round-trip p99 over 60 s from 2.0 to 1.35 ms
//! (BENCHMARKS.md has the spread).
//!
//! Raising a priority needs `CAP_SYS_NICE` or a nice limit (`LimitNICE=-10` in the systemd
//! unit under `deploy/`). Without either the writer runs at the default priority and the
//! box says so once at start; nothing else changes.

use std::sync::atomic::{AtomicBool, Ordering};

/// The writer thread's nice value: ahead of the async workers, below anything the system
/// itself runs at -20.
pub const WRITER_NICE: i32 = -10;

/// The nice value of the store's background threads (the checkpointer): the lowest, so
/// that copying the log never takes a core from a scan or a sale. Lowering needs no
/// privilege.
pub const BACKGROUND_NICE: i32 = 19;

/// Whether a refusal was already logged (several stores may open in one process).
static REFUSAL_LOGGED: AtomicBool = AtomicBool::new(false);

/// Gives the calling thread the writer's nice value. Returns whether it took effect.
pub fn raise_writer() -> bool {
    match set_thread_nice(WRITER_NICE) {
        Ok(()) => true,
        Err(e) => {
            if !REFUSAL_LOGGED.swap(true, Ordering::Relaxed) {
                tracing::info!(
                    error = %e,
                    nice = WRITER_NICE,
                    "store: the writer thread keeps the default CPU priority (grant LimitNICE=-10 or CAP_SYS_NICE to raise it)"
                );
            }
            false
        }
    }
}

/// Gives the calling thread the background nice value. Returns whether it took effect.
pub fn lower_background() -> bool {
    match set_thread_nice(BACKGROUND_NICE) {
        Ok(()) => true,
        Err(e) => {
            tracing::debug!(error = %e, "store: a background thread keeps its CPU priority");
            false
        }
    }
}

/// Sets the nice value of the calling thread only (Linux keeps one per thread).
#[cfg(target_os = "linux")]
fn set_thread_nice(nice: i32) -> std::io::Result<()> {
    // SAFETY: gettid and setpriority take plain integers and touch no memory of ours.
    let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, nice) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn set_thread_nice(_nice: i32) -> std::io::Result<()> {
    Err(std::io::Error::other(
        "per-thread priority is set on Linux only",
    ))
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// The nice value of thread `tid` of this process (field 19 of its stat line).
    fn nice_of(tid: &str) -> i32 {
        let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).unwrap();
        // The command name, in parentheses, may hold spaces: count from after it.
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        after.split(' ').nth(16).unwrap().parse().unwrap()
    }

    /// The nice values of this process's threads named `name`.
    fn nices_of_threads_named(name: &str) -> Vec<i32> {
        std::fs::read_dir("/proc/self/task")
            .unwrap()
            .filter_map(|t| t.ok())
            .map(|t| t.file_name().to_string_lossy().into_owned())
            .filter(|tid| {
                std::fs::read_to_string(format!("/proc/self/task/{tid}/comm"))
                    .is_ok_and(|c| c.trim() == name)
            })
            .map(|tid| nice_of(&tid))
            .collect()
    }

    #[test]
    fn the_writer_thread_runs_ahead_of_the_workers_where_the_box_may_raise_it() {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let raised = raise_writer();
            let tid = unsafe { libc::gettid() }.to_string();
            tx.send((raised, nice_of(&tid))).unwrap();
        })
        .join()
        .unwrap();
        let (raised, nice) = rx.recv().unwrap();
        if raised {
            assert_eq!(nice, WRITER_NICE);
        } else {
            // Refused (no CAP_SYS_NICE, no nice limit): the thread is left as it was.
            assert_eq!(nice, nice_of(&std::process::id().to_string()));
        }
        // The rest of the process keeps its priority.
        assert_ne!(nice_of(&std::process::id().to_string()), WRITER_NICE);
    }

    #[test]
    fn an_opened_store_raises_its_own_writer_thread() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::Store::open(&dir.path().join("t.sqlite3")).unwrap();
        // A job answered means the thread is past its start.
        store
            .write_blocking(|_| -> Result<(), crate::StoreError> { Ok(()) })
            .unwrap();
        let writers = nices_of_threads_named("venue-store");
        assert!(!writers.is_empty(), "no venue-store thread found");
        // Whether this box lets a thread raise itself, asked of a thread of its own.
        let allowed = std::thread::spawn(|| set_thread_nice(WRITER_NICE).is_ok())
            .join()
            .unwrap();
        let expected = if allowed {
            WRITER_NICE
        } else {
            nice_of(&std::process::id().to_string())
        };
        assert!(writers.contains(&expected), "writer threads at {writers:?}");
    }

    #[test]
    fn an_opened_store_runs_its_checkpointer_at_the_lowest_priority() {
        let dir = tempfile::tempdir().unwrap();
        let _store = crate::Store::open(&dir.path().join("t.sqlite3")).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            // The kernel keeps 15 bytes of a thread's name.
            let nices = nices_of_threads_named("venue-checkpoin");
            if nices.contains(&BACKGROUND_NICE) {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no checkpointer at nice {BACKGROUND_NICE}: {nices:?}"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}
