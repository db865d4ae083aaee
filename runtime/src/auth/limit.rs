//! The sign-in limit: failed sign-ins per user name and per address over a window.

use super::*;

/// Failed sign-ins a user name may have in [`SIGN_IN_WINDOW`] before it must wait.
pub const SIGN_IN_FAILURES_PER_USER: usize = 5;
/// Failed sign-ins one address may have in [`SIGN_IN_WINDOW`] (across user names).
pub const SIGN_IN_FAILURES_PER_ADDRESS: usize = 20;
pub const SIGN_IN_WINDOW: Duration = Duration::from_secs(15 * 60);

/// Counts failed sign-ins per user name and per address over a sliding window.
#[derive(Default)]
pub struct SignInLimiter {
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl SignInLimiter {
    /// Whether a sign-in for `username` from `address` may be tried at `now`; if not, how
    /// long until it may.
    pub fn check(&self, username: &str, address: &str, now: Instant) -> Result<(), Duration> {
        let Ok(mut map) = self.failures.lock() else {
            return Ok(());
        };
        let keys = [
            (format!("user:{username}"), SIGN_IN_FAILURES_PER_USER),
            (format!("addr:{address}"), SIGN_IN_FAILURES_PER_ADDRESS),
        ];
        let mut wait = Duration::ZERO;
        for (key, limit) in keys {
            if let Some(q) = map.get_mut(&key) {
                while q
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= SIGN_IN_WINDOW)
                {
                    q.pop_front();
                }
                if q.len() >= limit
                    && let Some(oldest) = q.front()
                {
                    wait = wait.max(SIGN_IN_WINDOW - now.duration_since(*oldest));
                }
            }
        }
        map.retain(|_, q| !q.is_empty());
        if wait.is_zero() { Ok(()) } else { Err(wait) }
    }

    pub fn failed(&self, username: &str, address: &str, now: Instant) {
        if let Ok(mut map) = self.failures.lock() {
            for key in [format!("user:{username}"), format!("addr:{address}")] {
                map.entry(key).or_default().push_back(now);
            }
        }
    }

    /// A good sign-in clears its user name's failures (not its address's).
    pub fn succeeded(&self, username: &str) {
        if let Ok(mut map) = self.failures.lock() {
            map.remove(&format!("user:{username}"));
        }
    }
}

/// The answer to a sign-in past its limit.
pub fn too_many_attempts(wait: Duration) -> DomainError {
    DomainError::new(
        ErrorKind::TooManyRequests,
        "too_many_attempts",
        format!(
            "too many failed sign-ins: try again in {} s",
            wait.as_secs().max(1)
        ),
    )
}
