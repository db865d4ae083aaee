//! Staff accounts, their API tokens and console sessions, and roles (protocol.md, Roles).
//!
//! - A user has a user name, a display name, one or more roles, and an Argon2id password
//!   hash (none: the account cannot sign in, only its tokens work). A disabled user's
//!   tokens and sessions stop working at once.
//! - A token is random, shown once, and kept as its SHA-256 digest; it belongs to a user,
//!   has a short public id (`tok_...`) for lists, audits and revocation, may carry one of
//!   its user's roles instead of all, and may expire.
//! - A session is the console's sign-in: a random cookie kept as its digest, a CSRF token
//!   every state-changing request must repeat, and an expiry.
//!
//! Every request is checked against the store, so a token revoked or a user disabled by
//! the command line while the box runs is refused on the next request.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::SaltString;
use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use chrono::{DateTime, Utc};
use rand::RngCore;
use rusqlite::{Connection, OptionalExtension, params};
use sha2::Digest;

use venue_domain::actor::Actor;
use venue_domain::error::{DomainError, ErrorKind};

/// A caller's role.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Role {
    Admin,
    Ticketing,
    FinanceReviewer,
    FinancePayer,
    Manager,
    Auditor,
    Integration,
    /// A ride operator or merchant: reads its own bills only.
    Operator(String),
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "admin" => Role::Admin,
            "ticketing" => Role::Ticketing,
            "finance-reviewer" => Role::FinanceReviewer,
            "finance-payer" => Role::FinancePayer,
            "manager" => Role::Manager,
            "auditor" => Role::Auditor,
            "integration" => Role::Integration,
            other => {
                let party = other.strip_prefix("operator:")?;
                if party.is_empty() || party.contains(char::is_whitespace) {
                    return None;
                }
                Role::Operator(party.to_owned())
            }
        })
    }

    pub fn as_string(&self) -> String {
        match self {
            Role::Admin => "admin".into(),
            Role::Ticketing => "ticketing".into(),
            Role::FinanceReviewer => "finance-reviewer".into(),
            Role::FinancePayer => "finance-payer".into(),
            Role::Manager => "manager".into(),
            Role::Auditor => "auditor".into(),
            Role::Integration => "integration".into(),
            Role::Operator(p) => format!("operator:{p}"),
        }
    }

    /// The name the role table uses: every `operator:{party}` is `operator`.
    pub fn kind(&self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Ticketing => "ticketing",
            Role::FinanceReviewer => "finance-reviewer",
            Role::FinancePayer => "finance-payer",
            Role::Manager => "manager",
            Role::Auditor => "auditor",
            Role::Integration => "integration",
            Role::Operator(_) => "operator",
        }
    }

    /// Every fixed role (operators are per party).
    pub const FIXED: [&'static str; 7] = [
        "admin",
        "ticketing",
        "finance-reviewer",
        "finance-payer",
        "manager",
        "auditor",
        "integration",
    ];
}

/// Roles as the store keeps them: space-separated.
fn roles_text(roles: &[Role]) -> String {
    roles
        .iter()
        .map(Role::as_string)
        .collect::<Vec<_>>()
        .join(" ")
}

fn parse_roles(text: &str) -> Vec<Role> {
    text.split_whitespace().filter_map(Role::parse).collect()
}

/// Who is calling, once authenticated: a user, the roles this request may use, and the
/// token or session it came through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user: String,
    pub roles: Vec<Role>,
    /// `tok_...` or `ses_...`.
    pub via: String,
    /// For a session: the CSRF token its state-changing requests must carry.
    pub csrf: Option<String>,
}

impl Caller {
    pub fn actor(&self) -> Actor {
        Actor::user(&self.user, &self.via)
    }

    pub fn has(&self, role: &Role) -> bool {
        self.roles.contains(role)
    }

    pub fn has_any(&self, roles: &[Role]) -> bool {
        roles.iter().any(|r| self.has(r))
    }

    /// The parties whose bills an `operator:{party}` role lets this caller read.
    pub fn operator_parties(&self) -> Vec<&str> {
        self.roles
            .iter()
            .filter_map(|r| match r {
                Role::Operator(p) => Some(p.as_str()),
                _ => None,
            })
            .collect()
    }

    pub fn roles_text(&self) -> String {
        roles_text(&self.roles)
    }
}

/// A user name: 2 to 64 of `a-z 0-9 . _ -`, starting with a letter or digit.
pub fn check_username(name: &str) -> Result<(), String> {
    let ok_len = (2..=64).contains(&name.len());
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
    let ok_start = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if ok_len && ok_chars && ok_start {
        Ok(())
    } else {
        Err(format!(
            "user name {name:?}: 2 to 64 of a-z, 0-9, '.', '_' and '-', starting with a letter or digit"
        ))
    }
}

/// The shortest password a user may set.
pub const PASSWORD_CHARS_MIN: usize = 10;
/// The longest (Argon2 takes any length; this bounds the work a sign-in can ask for).
pub const PASSWORD_BYTES_MAX: usize = 256;

fn check_password(password: &str) -> Result<(), String> {
    if password.chars().count() < PASSWORD_CHARS_MIN {
        return Err(format!(
            "a password has at least {PASSWORD_CHARS_MIN} characters"
        ));
    }
    if password.len() > PASSWORD_BYTES_MAX {
        return Err(format!("a password has at most {PASSWORD_BYTES_MAX} bytes"));
    }
    Ok(())
}

/// An Argon2id hash (PHC string: algorithm, parameters, salt and hash in one).
pub fn hash_password(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A password nobody knows, for the work a sign-in with an unknown user name does, so
/// that its answer takes as long as a wrong password's.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password(&random_text(24)).unwrap_or_default())
}

/// A random password for a new user: 20 characters without look-alikes.
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 20];
    rand::rng().fill_bytes(&mut bytes);
    bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

fn random_text(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

fn digest(secret: &str) -> String {
    hex::encode(sha2::Sha256::digest(secret.as_bytes()))
}

/// Times in these tables are UTC, `YYYY-MM-DDTHH:MM:SSZ`, so they compare as text.
fn utc(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A user as `user list` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UserView {
    pub username: String,
    pub display_name: String,
    pub roles: String,
    pub can_sign_in: bool,
    pub disabled: bool,
    pub tokens: i64,
}

pub struct NewUser<'a> {
    pub username: &'a str,
    pub display_name: &'a str,
    pub roles: &'a [Role],
    /// None: the user cannot sign in (tokens only).
    pub password: Option<&'a str>,
}

/// Adds a user. Refuses a taken or malformed user name, no roles, a short password.
pub fn add_user(conn: &Connection, user: &NewUser<'_>, now: DateTime<Utc>) -> Result<(), String> {
    check_username(user.username)?;
    if user.roles.is_empty() {
        return Err("a user needs at least one role".into());
    }
    if user.display_name.trim().is_empty() || user.display_name.len() > 200 {
        return Err("a display name of 1 to 200 bytes is needed".into());
    }
    let hash = match user.password {
        Some(p) => {
            check_password(p)?;
            Some(hash_password(p)?)
        }
        None => None,
    };
    let now = utc(now);
    let added = conn
        .execute(
            "INSERT OR IGNORE INTO users (username, display_name, roles, password_hash, disabled, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, 0, ?5, ?5)",
            params![user.username, user.display_name.trim(), roles_text(user.roles), hash, now],
        )
        .map_err(|e| e.to_string())?;
    if added == 0 {
        return Err(format!("user {} exists", user.username));
    }
    Ok(())
}

/// Sets a user's password (and so lets a tokens-only user sign in).
pub fn set_password(
    conn: &Connection,
    username: &str,
    password: &str,
    now: DateTime<Utc>,
) -> Result<(), String> {
    check_password(password)?;
    let hash = hash_password(password)?;
    let n = conn
        .execute(
            "UPDATE users SET password_hash = ?2, updated_at = ?3 WHERE username = ?1",
            params![username, hash, utc(now)],
        )
        .map_err(|e| e.to_string())?;
    if n == 0 {
        return Err(format!("no user {username}"));
    }
    // A new password ends the sessions the old one opened.
    conn.execute(
        "UPDATE sessions SET ended_at = ?2 WHERE username = ?1 AND ended_at IS NULL",
        params![username, utc(now)],
    )
    .map_err(|e| e.to_string())?;
    Ok(())
}

/// Disables (or enables again) a user: their tokens and sessions stop working at once.
pub fn set_disabled(
    conn: &Connection,
    username: &str,
    disabled: bool,
    now: DateTime<Utc>,
) -> Result<(), String> {
    let n = conn
        .execute(
            "UPDATE users SET disabled = ?2, updated_at = ?3 WHERE username = ?1",
            params![username, disabled, utc(now)],
        )
        .map_err(|e| e.to_string())?;
    if n == 0 {
        return Err(format!("no user {username}"));
    }
    Ok(())
}

pub fn list_users(conn: &Connection) -> rusqlite::Result<Vec<UserView>> {
    let mut stmt = conn.prepare(
        "SELECT u.username, u.display_name, u.roles, u.password_hash IS NOT NULL, u.disabled,
                (SELECT COUNT(*) FROM tokens t WHERE t.username = u.username AND t.revoked_at IS NULL)
         FROM users u ORDER BY u.username",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(UserView {
            username: r.get(0)?,
            display_name: r.get(1)?,
            roles: r.get(2)?,
            can_sign_in: r.get(3)?,
            disabled: r.get(4)?,
            tokens: r.get(5)?,
        })
    })?;
    rows.collect()
}

/// A token as `token list` shows it (never the token itself).
#[derive(Debug, Clone, serde::Serialize)]
pub struct TokenView {
    pub token_id: String,
    pub username: String,
    pub role: String,
    pub label: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
}

/// A new token's public id and the token itself (shown once).
pub struct IssuedToken {
    pub token_id: String,
    pub token: String,
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken")
            .field("token_id", &self.token_id)
            .finish_non_exhaustive()
    }
}

/// Issues a token to a user, for all of their roles or, with `role`, for that one only.
pub fn create_token(
    conn: &Connection,
    username: &str,
    role: Option<&Role>,
    label: &str,
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<IssuedToken, String> {
    let roles: Option<String> = conn
        .query_row(
            "SELECT roles FROM users WHERE username = ?1",
            params![username],
            |r| r.get(0),
        )
        .optional()
        .map_err(|e| e.to_string())?;
    let Some(roles) = roles else {
        return Err(format!(
            "no user {username}: add it with `venue-edge user add`"
        ));
    };
    if let Some(role) = role
        && !parse_roles(&roles).contains(role)
    {
        return Err(format!(
            "user {username} does not hold the role {} (it holds: {roles})",
            role.as_string()
        ));
    }
    let token = format!("ve_{}", random_text(24));
    let token_id = format!("tok_{}", &digest(&token)[..12]);
    conn.execute(
        "INSERT INTO tokens (token_sha256, role, label, created_at, token_id, username, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            digest(&token),
            role.map(Role::as_string).unwrap_or_default(),
            label,
            utc(now),
            token_id,
            username,
            expires_at.map(utc)
        ],
    )
    .map_err(|e| e.to_string())?;
    Ok(IssuedToken { token_id, token })
}

/// Revokes a token by its public id.
pub fn revoke_token(conn: &Connection, token_id: &str, now: DateTime<Utc>) -> Result<(), String> {
    let n = conn
        .execute(
            "UPDATE tokens SET revoked_at = ?2 WHERE token_id = ?1 AND revoked_at IS NULL",
            params![token_id, utc(now)],
        )
        .map_err(|e| e.to_string())?;
    if n == 0 {
        return Err(format!("no token {token_id} that is not revoked already"));
    }
    Ok(())
}

pub fn list_tokens(conn: &Connection) -> rusqlite::Result<Vec<TokenView>> {
    let mut stmt = conn.prepare(
        "SELECT token_id, username, role, label, created_at, expires_at, revoked_at
         FROM tokens ORDER BY username, created_at",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(TokenView {
            token_id: r.get(0)?,
            username: r.get(1)?,
            role: r.get(2)?,
            label: r.get(3)?,
            created_at: r.get(4)?,
            expires_at: r.get(5)?,
            revoked_at: r.get(6)?,
        })
    })?;
    rows.collect()
}

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

/// What a sign-in checks a password against.
pub struct SignInRecord {
    password_hash: Option<String>,
    disabled: bool,
}

fn sign_in_record(conn: &Connection, username: &str) -> rusqlite::Result<Option<SignInRecord>> {
    conn.prepare_cached("SELECT password_hash, disabled FROM users WHERE username = ?1")?
        .query_row(params![username], |r| {
            Ok(SignInRecord {
                password_hash: r.get(0)?,
                disabled: r.get(1)?,
            })
        })
        .optional()
}

/// Checks a password against a user's record (Argon2id; the same work for an unknown user
/// name or one without a password, so the answer's time tells nothing). Slow by design:
/// run it off the async threads and off the store's writer.
pub fn check_sign_in(
    username: &str,
    record: Option<&SignInRecord>,
    password: &str,
) -> Result<(), DomainError> {
    let refused = || DomainError::unauthorized("wrong user name or password");
    let hash = record.and_then(|r| r.password_hash.as_deref());
    let matches = password.len() <= PASSWORD_BYTES_MAX
        && verify_password(password, hash.unwrap_or_else(|| decoy_hash()));
    match record {
        Some(r) if matches && hash.is_some() => {
            if r.disabled {
                Err(DomainError::unauthorized(format!(
                    "user {username} is disabled"
                )))
            } else {
                Ok(())
            }
        }
        _ => Err(refused()),
    }
}

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

/// Checks the credentials of each request against the store.
pub struct Auth {
    reader: Mutex<Connection>,
}

impl Auth {
    /// Reads users, tokens and sessions through `conn` (a read-only connection to the
    /// store, which sees every commit).
    pub fn new(conn: Connection) -> Auth {
        Auth {
            reader: Mutex::new(conn),
        }
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, DomainError> {
        let conn = self
            .reader
            .lock()
            .map_err(|_| DomainError::internal("the credential reader is poisoned"))?;
        Ok(f(&conn)?)
    }

    /// The caller of an `Authorization: Bearer <token>` header.
    pub fn bearer(&self, header: Option<&str>, now: DateTime<Utc>) -> Result<Caller, DomainError> {
        let Some(header) = header else {
            return Err(DomainError::unauthorized(
                "missing Authorization: Bearer <token> header (or sign in)",
            ));
        };
        let Some(token) = header
            .strip_prefix("Bearer ")
            .map(str::trim)
            .filter(|t| !t.is_empty())
        else {
            return Err(DomainError::unauthorized(
                "the Authorization header must be `Bearer <token>`",
            ));
        };
        let row: Option<TokenRow> = self.with(|c| {
            c.prepare_cached(
                "SELECT t.token_id, t.username, t.role, t.expires_at, t.revoked_at, u.roles, u.disabled
                 FROM tokens t JOIN users u ON u.username = t.username WHERE t.token_sha256 = ?1",
            )?
            .query_row(params![digest(token)], |r| {
                Ok(TokenRow {
                    token_id: r.get(0)?,
                    username: r.get(1)?,
                    role: r.get(2)?,
                    expires_at: r.get(3)?,
                    revoked_at: r.get(4)?,
                    user_roles: r.get(5)?,
                    disabled: r.get(6)?,
                })
            })
            .optional()
        })?;
        let Some(t) = row else {
            return Err(DomainError::unauthorized("unknown token"));
        };
        check_token(&t, now)?;
        let roles = match Role::parse(&t.role) {
            // A token for one role works only while its user still holds it.
            Some(r) => parse_roles(&t.user_roles)
                .into_iter()
                .filter(|u| *u == r)
                .collect(),
            None => parse_roles(&t.user_roles),
        };
        Ok(Caller {
            user: t.username,
            roles,
            via: t.token_id,
            csrf: None,
        })
    }

    /// What a sign-in for `username` checks its password against (read under the lock;
    /// the slow check runs after it, see [`check_sign_in`]).
    pub fn sign_in_record(&self, username: &str) -> Result<Option<SignInRecord>, DomainError> {
        self.with(|c| sign_in_record(c, username))
    }

    /// The caller of a session cookie.
    pub fn session(&self, cookie: &str, now: DateTime<Utc>) -> Result<Caller, DomainError> {
        let row: Option<SessionRow> = self.with(|c| {
            c.prepare_cached(
                "SELECT s.session_id, s.username, s.csrf, s.expires_at, s.ended_at, u.roles, u.disabled
                 FROM sessions s JOIN users u ON u.username = s.username WHERE s.session_sha256 = ?1",
            )?
            .query_row(params![digest(cookie)], |r| {
                Ok(SessionRow {
                    session_id: r.get(0)?,
                    username: r.get(1)?,
                    csrf: r.get(2)?,
                    expires_at: r.get(3)?,
                    ended_at: r.get(4)?,
                    roles: r.get(5)?,
                    disabled: r.get(6)?,
                })
            })
            .optional()
        })?;
        let Some(SessionRow {
            session_id,
            username,
            csrf,
            expires_at,
            ended_at,
            roles,
            disabled,
        }) = row
        else {
            return Err(DomainError::unauthorized("not signed in (unknown session)"));
        };
        if ended_at.is_some() {
            return Err(DomainError::unauthorized("signed out: sign in again"));
        }
        if expires_at <= utc(now) {
            return Err(DomainError::unauthorized(
                "the session expired: sign in again",
            ));
        }
        if disabled {
            return Err(DomainError::unauthorized(format!(
                "user {username} is disabled"
            )));
        }
        Ok(Caller {
            user: username,
            roles: parse_roles(&roles),
            via: session_id,
            csrf: Some(csrf),
        })
    }
}

struct SessionRow {
    session_id: String,
    username: String,
    csrf: String,
    expires_at: String,
    ended_at: Option<String>,
    roles: String,
    disabled: bool,
}

struct TokenRow {
    token_id: String,
    username: String,
    role: String,
    expires_at: Option<String>,
    revoked_at: Option<String>,
    user_roles: String,
    disabled: bool,
}

fn check_token(t: &TokenRow, now: DateTime<Utc>) -> Result<(), DomainError> {
    if t.revoked_at.is_some() {
        return Err(DomainError::unauthorized(format!(
            "token {} was revoked",
            t.token_id
        )));
    }
    if let Some(exp) = &t.expires_at
        && *exp <= utc(now)
    {
        return Err(DomainError::unauthorized(format!(
            "token {} expired at {exp}",
            t.token_id
        )));
    }
    if t.disabled {
        return Err(DomainError::unauthorized(format!(
            "user {} is disabled",
            t.username
        )));
    }
    Ok(())
}

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

#[cfg(test)]
mod tests;
