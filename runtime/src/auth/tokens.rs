//! API tokens: issued to a user, shown once, kept as digests, with an id and an expiry.

use super::*;

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
