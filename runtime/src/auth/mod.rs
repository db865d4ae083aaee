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
//!
//! Here: roles, the caller, and [`Auth`], which checks each request. Beside it: `users`
//! (accounts, password hashing, the password check), `tokens`, `sessions` and `limit` (the
//! sign-in limit).

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

mod limit;
mod sessions;
mod tokens;
mod users;

pub use limit::*;
pub use sessions::*;
pub use tokens::*;
pub use users::*;

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

#[cfg(test)]
mod tests;
