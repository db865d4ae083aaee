//! Console sessions: a random cookie kept as its digest, a CSRF token, an expiry.

use super::*;

/// A new session: the cookie value (shown once, kept as its digest) and what the console
/// needs to know.
pub struct NewSession {
    pub cookie: String,
    pub session_id: String,
    pub csrf: String,
    pub expires_at: DateTime<Utc>,
    pub username: String,
    pub display_name: String,
    pub roles: String,
}

impl std::fmt::Debug for NewSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSession")
            .field("session_id", &self.session_id)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// How long a console session lasts.
pub const SESSION_TTL: Duration = Duration::from_secs(8 * 3600);
/// The cookie that carries a session.
pub const SESSION_COOKIE: &str = "ve_session";

/// Opens a session for a user whose password was checked.
pub fn open_session(
    conn: &Connection,
    username: &str,
    now: DateTime<Utc>,
) -> Result<NewSession, DomainError> {
    let (display_name, roles): (String, String) = conn.query_row(
        "SELECT display_name, roles FROM users WHERE username = ?1",
        params![username],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let cookie = random_text(32);
    let session_id = format!("ses_{}", &digest(&cookie)[..12]);
    let csrf = random_text(16);
    let expires_at = now
        + chrono::Duration::from_std(SESSION_TTL).unwrap_or_else(|_| chrono::Duration::hours(8));
    conn.execute(
        "INSERT INTO sessions (session_sha256, session_id, username, csrf, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            digest(&cookie),
            session_id,
            username,
            csrf,
            utc(now),
            utc(expires_at)
        ],
    )?;
    Ok(NewSession {
        cookie,
        session_id,
        csrf,
        expires_at,
        username: username.to_owned(),
        display_name,
        roles,
    })
}

/// Checks a user name and password and opens a session (one connection; tests and tools).
pub fn sign_in(
    conn: &Connection,
    username: &str,
    password: &str,
    now: DateTime<Utc>,
) -> Result<NewSession, DomainError> {
    let record = sign_in_record(conn, username)?;
    check_sign_in(username, record.as_ref(), password)?;
    open_session(conn, username, now)
}

/// Ends a session (sign-out).
pub fn sign_out(conn: &Connection, session_id: &str, now: DateTime<Utc>) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE sessions SET ended_at = ?2 WHERE session_id = ?1 AND ended_at IS NULL",
        params![session_id, utc(now)],
    )?;
    Ok(())
}
