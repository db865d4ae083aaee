//! Bearer tokens and roles (protocol.md, section 2, Roles). Tokens are random, shown once,
//! and kept only as SHA-256 digests in the store.

use std::collections::HashMap;
use std::sync::RwLock;

use rand::RngCore;
use rusqlite::{Connection, params};
use sha2::Digest;

use venue_domain::error::DomainError;

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
                if party.is_empty() {
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

/// The tokens the box accepts, in memory; the store keeps their digests.
#[derive(Default)]
pub struct Tokens {
    by_digest: RwLock<HashMap<String, Role>>,
}

impl Tokens {
    /// Loads every token digest from the store.
    pub fn load(conn: &Connection) -> rusqlite::Result<Tokens> {
        let mut stmt = conn.prepare("SELECT token_sha256, role FROM tokens")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        let mut map = HashMap::new();
        for row in rows {
            let (digest, role) = row?;
            if let Some(role) = Role::parse(&role) {
                map.insert(digest, role);
            }
        }
        Ok(Tokens {
            by_digest: RwLock::new(map),
        })
    }

    /// The role of an `Authorization` header's bearer token.
    pub fn authenticate(&self, header: Option<&str>) -> Result<Role, DomainError> {
        let Some(header) = header else {
            return Err(DomainError::unauthorized(
                "missing Authorization: Bearer <token> header",
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
        self.by_digest
            .read()
            .ok()
            .and_then(|m| m.get(&digest(token)).cloned())
            .ok_or_else(|| DomainError::unauthorized("unknown or revoked token"))
    }

    /// Remembers a token created by [`create_token`].
    pub fn insert(&self, token: &str, role: Role) {
        if let Ok(mut m) = self.by_digest.write() {
            m.insert(digest(token), role);
        }
    }
}

/// Creates a token for `role` in the store and returns it (the only time it is seen).
pub fn create_token(
    conn: &Connection,
    role: &Role,
    label: &str,
    now: &str,
) -> rusqlite::Result<String> {
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    let token = format!("ve_{}", hex::encode(bytes));
    conn.execute(
        "INSERT INTO tokens (token_sha256, role, label, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![digest(&token), role.as_string(), label, now],
    )?;
    Ok(token)
}

fn digest(token: &str) -> String {
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_and_print_alike() {
        for r in Role::FIXED {
            assert_eq!(Role::parse(r).unwrap().as_string(), r);
        }
        assert_eq!(
            Role::parse("operator:p-coaster-co"),
            Some(Role::Operator("p-coaster-co".into()))
        );
        assert_eq!(Role::parse("operator:"), None);
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn only_a_known_bearer_token_authenticates() {
        let tokens = Tokens::default();
        tokens.insert("ve_abc", Role::Ticketing);
        assert_eq!(
            tokens.authenticate(Some("Bearer ve_abc")).unwrap(),
            Role::Ticketing
        );
        assert_eq!(
            tokens.authenticate(Some("Bearer ve_abd")).unwrap_err().kind,
            venue_domain::error::ErrorKind::Unauthorized
        );
        assert_eq!(
            tokens.authenticate(Some("Basic ve_abc")).unwrap_err().kind,
            venue_domain::error::ErrorKind::Unauthorized
        );
        assert_eq!(
            tokens.authenticate(None).unwrap_err().kind,
            venue_domain::error::ErrorKind::Unauthorized
        );
    }
}
