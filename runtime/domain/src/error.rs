//! The error every domain operation returns: what kind of refusal it is, a stable
//! snake_case code and a message that says what was wrong and what to do. It knows
//! nothing of HTTP: the HTTP layer maps each [`ErrorKind`] to a status in one place
//! (`http::status_of`), as protocol.md's error shapes say.

use venue_model::report::ReportError;
use venue_store::StoreError;

/// What kind of refusal an error is; each maps to one HTTP status at the door.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request itself is malformed.
    BadRequest,
    /// No valid credentials.
    Unauthorized,
    /// Valid credentials without the role the operation needs.
    Forbidden,
    NotFound,
    /// The operation is not one the target takes (a method on a path).
    NotAllowed,
    /// The request conflicts with the current state.
    Conflict,
    /// The request body is larger than its limit.
    TooLarge,
    /// A business rule refuses the request.
    Rule,
    /// Too many attempts in a while (sign-in); try again later.
    TooManyRequests,
    /// The request did not arrive in time.
    Timeout,
    /// A vendor plugin failed or answered something the box cannot use.
    Plugin,
    Internal,
    /// The store or another part of the box cannot serve now; try again.
    Unavailable,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct DomainError {
    pub kind: ErrorKind,
    pub code: String,
    pub message: String,
}

impl DomainError {
    pub fn new(kind: ErrorKind, code: &str, message: impl Into<String>) -> DomainError {
        DomainError {
            kind,
            code: code.to_owned(),
            message: message.into(),
        }
    }
    pub fn bad_request(code: &str, message: impl Into<String>) -> DomainError {
        Self::new(ErrorKind::BadRequest, code, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> DomainError {
        Self::new(ErrorKind::Unauthorized, "unauthorized", message)
    }
    pub fn forbidden(message: impl Into<String>) -> DomainError {
        Self::new(ErrorKind::Forbidden, "forbidden", message)
    }
    pub fn not_found(code: &str, message: impl Into<String>) -> DomainError {
        Self::new(ErrorKind::NotFound, code, message)
    }
    pub fn conflict(code: &str, message: impl Into<String>) -> DomainError {
        Self::new(ErrorKind::Conflict, code, message)
    }
    pub fn rule(code: &str, message: impl Into<String>) -> DomainError {
        Self::new(ErrorKind::Rule, code, message)
    }
    pub fn plugin(code: &str, message: impl Into<String>) -> DomainError {
        Self::new(ErrorKind::Plugin, code, message)
    }
    pub fn internal(message: impl Into<String>) -> DomainError {
        Self::new(ErrorKind::Internal, "internal", message)
    }
    pub fn unavailable(code: &str, message: impl Into<String>) -> DomainError {
        Self::new(ErrorKind::Unavailable, code, message)
    }
}

impl From<ReportError> for DomainError {
    fn from(e: ReportError) -> DomainError {
        match e {
            ReportError::BadQuery(m) => DomainError::bad_request("bad_query", m),
            other => {
                tracing::error!(error = %other, "a report failed");
                DomainError::internal(other.to_string())
            }
        }
    }
}

impl From<StoreError> for DomainError {
    fn from(e: StoreError) -> DomainError {
        tracing::error!(error = %e, "store failure");
        DomainError::unavailable("store_unavailable", e.to_string())
    }
}

impl From<rusqlite::Error> for DomainError {
    fn from(e: rusqlite::Error) -> DomainError {
        DomainError::from(StoreError::from(e))
    }
}

impl From<venue_plugin_host::PluginError> for DomainError {
    fn from(e: venue_plugin_host::PluginError) -> DomainError {
        use venue_plugin_host::PluginError;
        match e {
            PluginError::NotFound(_) => DomainError::not_found("plugin_not_found", e.to_string()),
            PluginError::WrongWorld { .. } => {
                DomainError::bad_request("wrong_plugin", e.to_string())
            }
            PluginError::Call { .. } => DomainError::plugin("plugin_error", e.to_string()),
            other => DomainError::bad_request("plugin_invalid", other.to_string()),
        }
    }
}
