//! Staff users: names, roles, Argon2id passwords, and the password check of a sign-in.

use super::*;

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

/// What a sign-in checks a password against.
pub struct SignInRecord {
    password_hash: Option<String>,
    disabled: bool,
}

/// The sign-in record of `username`, if there is such a user.
pub fn sign_in_record(conn: &Connection, username: &str) -> rusqlite::Result<Option<SignInRecord>> {
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
