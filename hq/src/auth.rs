//! Bearer tokens and roles. A token is random, shown once by `venue-hq token add`, and kept
//! only as its SHA-256 digest in the database. An edge token uploads for its own edge box
//! only; manager, finance and auditor tokens read reports.

use std::collections::HashMap;
use std::sync::RwLock;

use rand::RngCore;
use sha2::Digest;

use crate::error::ApiError;
use crate::store::Store;

pub use crate::role::{HQ_ROLES, Role};

/// A new random token (`vh_` and 48 hex digits).
pub fn new_token() -> String {
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    format!("vh_{}", hex::encode(bytes))
}

/// The hex SHA-256 digest under which a token is stored.
pub fn digest(token: &str) -> String {
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}

/// Known tokens, remembered after their first successful look-up. A token created by
/// `venue-hq token add` while the server runs is found in the database on first use.
#[derive(Default)]
pub struct TokenCache {
    by_digest: RwLock<HashMap<String, Role>>,
}

impl TokenCache {
    /// The role of an `Authorization: Bearer <token>` header; 401 if missing or unknown.
    pub async fn authenticate(
        &self,
        header: Option<&str>,
        store: &Store,
    ) -> Result<Role, ApiError> {
        let token = bearer(header)?;
        let key = digest(token);
        if let Some(role) = self
            .by_digest
            .read()
            .ok()
            .and_then(|m| m.get(&key).cloned())
        {
            return Ok(role);
        }
        match store.role_of(&key).await? {
            Some(role) => {
                if let Ok(mut m) = self.by_digest.write() {
                    m.insert(key, role.clone());
                }
                Ok(role)
            }
            None => Err(ApiError::unauthorized(
                "unknown token: create one with `venue-hq token add` and send it as Authorization: Bearer <token>",
            )),
        }
    }
}

fn bearer(header: Option<&str>) -> Result<&str, ApiError> {
    let Some(header) = header else {
        return Err(ApiError::unauthorized(
            "missing Authorization: Bearer <token> header",
        ));
    };
    header
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::unauthorized("the Authorization header must be `Bearer <token>`"))
}

/// Fails with 403 unless the role is one of the HQ roles in `allowed`.
pub fn require(role: &Role, allowed: &[Role]) -> Result<(), ApiError> {
    if allowed.contains(role) {
        return Ok(());
    }
    let names: Vec<&str> = allowed.iter().map(|r| r.to_columns().0).collect();
    Err(ApiError::forbidden(format!(
        "this needs a token with the role {}; the request used {}",
        names.join(", "),
        role.describe()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_their_columns() {
        for role in [
            Role::Edge("edge-main".into()),
            Role::Manager,
            Role::Finance,
            Role::Auditor,
        ] {
            let (name, edge) = role.to_columns();
            assert_eq!(
                Role::from_columns(name, edge.map(str::to_owned)),
                Some(role)
            );
        }
        assert_eq!(Role::from_columns("edge", None), None);
        assert_eq!(Role::from_columns("root", None), None);
    }

    #[test]
    fn tokens_are_random_and_digested() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert!(a.starts_with("vh_") && a.len() == 51);
        assert_eq!(digest(&a).len(), 64);
        assert_eq!(digest(&a), digest(&a));
    }

    #[test]
    fn only_a_bearer_header_carries_a_token() {
        assert_eq!(bearer(Some("Bearer vh_x")).unwrap(), "vh_x");
        assert_eq!(bearer(Some("Basic vh_x")).unwrap_err().status, 401);
        assert_eq!(bearer(Some("Bearer  ")).unwrap_err().status, 401);
        assert_eq!(bearer(None).unwrap_err().status, 401);
    }

    #[test]
    fn edge_tokens_do_not_read_reports() {
        let readers = [Role::Manager, Role::Finance, Role::Auditor];
        assert!(require(&Role::Finance, &readers).is_ok());
        let e = require(&Role::Edge("edge-main".into()), &readers).unwrap_err();
        assert_eq!(e.status, 403);
        assert!(e.message.contains("edge-main"), "{}", e.message);
    }
}
